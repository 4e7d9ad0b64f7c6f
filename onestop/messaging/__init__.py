"""Messaging on RabbitMQ: topology, confirmed publishing, reliable consumers, the outbox relay."""
from onestop.messaging import codec, transport

codec.install()
transport.install()
