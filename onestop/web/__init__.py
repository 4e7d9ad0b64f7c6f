"""The HTTP edge: JSON bodies and errors, staff tokens, health checks."""
