"""A queue of the test's own on an exchange: what a subscriber would receive."""
from __future__ import annotations

from dataclasses import dataclass

import orjson
from kombu import Connection, Queue


@dataclass(frozen=True)
class Received:
    """One message as it reached the subscriber's queue: what a client library hands over."""

    content_type: str | None
    headers: dict
    body: bytes

    @property
    def event(self) -> dict:
        return orjson.loads(self.body)


class Tap:
    """A queue of the test's own on an exchange: what a subscriber would receive.

    A topic or direct exchange takes a `routing_key`; a headers exchange the
    binding's `arguments` (``{"x-match": "all", "ce-procedure": ...}``)."""

    def __init__(self, amqp_uri, exchange, routing_key="", arguments=None, name=None):
        self.amqp_uri = amqp_uri
        self.name = name or f"test.tap.{routing_key}"
        with Connection(amqp_uri) as conn:
            queue = Queue(self.name, exchange=exchange, routing_key=routing_key, binding_arguments=arguments,
                          durable=False)
            queue.bind(conn.default_channel).declare()

    def received(self) -> list[Received]:
        out = []
        with Connection(self.amqp_uri) as conn:
            while (message := conn.default_channel.basic_get(self.name, no_ack=True)) is not None:
                body = message.body  # py-amqp decodes a body sent with a content encoding
                out.append(Received(message.properties.get("content_type"),
                                    dict(message.properties.get("application_headers") or {}),
                                    body.encode("utf-8") if isinstance(body, str) else bytes(body)))
        return out

    def messages(self):
        return [r.event for r in self.received()]
