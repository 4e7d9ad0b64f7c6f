"""Development tools: the local launcher, the SMTP and SMS sinks, sample data, the docs generator."""
