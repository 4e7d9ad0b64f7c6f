"""A queue of the test's own on an exchange: what a subscriber would receive."""
from __future__ import annotations

import orjson
from kombu import Connection, Queue


class Tap:
    """A queue of the test's own on an exchange: what a subscriber would receive."""

    def __init__(self, amqp_uri, exchange, routing_key):
        self.amqp_uri, self.name = amqp_uri, f"test.tap.{routing_key}"
        with Connection(amqp_uri) as conn:
            queue = Queue(self.name, exchange=exchange, routing_key=routing_key, durable=False)
            queue.bind(conn.default_channel).declare()

    def messages(self):
        out = []
        with Connection(self.amqp_uri) as conn:
            while (message := conn.default_channel.basic_get(self.name, no_ack=True)) is not None:
                out.append(orjson.loads(message.body))
        return out
