"""The working-time domain: working days, office hours, statutory deadlines (framework-free)."""
