"""Messaging on RabbitMQ: topology, confirmed publishing, reliable consumers, the outbox relay."""
