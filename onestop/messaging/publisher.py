"""Publishing with publisher confirms over a pool of kombu connections.

One `ConfirmedPublisher` per process and broker URI; it is safe to use from
many green threads (each publish borrows its own producer and connection).
A publish returns only once the broker has confirmed it, so the caller may
then delete its outbox entry or ack the message it came from.
"""
from __future__ import annotations

import threading

from kombu import Connection
from kombu.pools import producers

RETRY_POLICY = {"max_retries": 5, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 3}

_publishers: dict[str, "ConfirmedPublisher"] = {}
_lock = threading.Lock()


class ConfirmedPublisher:
    def __init__(self, amqp_uri: str):
        self.connection = Connection(amqp_uri, transport_options={"confirm_publish": True})

    def publish(self, body: dict, *, exchange, routing_key: str, headers: dict | None = None,
                message_id: str | None = None, declare=None) -> None:
        """Publish persistently and wait for the broker's confirm (raises if nacked)."""
        with producers[self.connection].acquire(block=True, timeout=30) as producer:
            producer.publish(
                body, exchange=exchange, routing_key=routing_key, serializer="json",
                delivery_mode=2, headers=headers or {}, message_id=message_id,
                content_encoding="utf-8", retry=True, retry_policy=RETRY_POLICY,
                declare=declare or [],
            )


def get_publisher(amqp_uri: str) -> ConfirmedPublisher:
    with _lock:
        if amqp_uri not in _publishers:
            _publishers[amqp_uri] = ConfirmedPublisher(amqp_uri)
        return _publishers[amqp_uri]
