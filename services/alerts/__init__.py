"""The alerts service: tells the operators, once per incident, by email and by event, what needs a person."""
