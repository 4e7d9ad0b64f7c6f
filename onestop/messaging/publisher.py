"""Publishing with publisher confirms.

Every body is a CloudEvent in structured mode (content type
`application/cloudevents+json`) unless a caller names another serializer (the
deprecated form's copy is plain `application/json`).

One `ConfirmedPublisher` per process and broker URI, safe to use from many
green threads. Two ways to publish, both returning only once the broker has
confirmed every message (so the caller may then delete its outbox entries or
ack the message they came from):

- `publish`: one message, waiting for its confirm before returning; each call
  borrows a producer and connection from a pool. For the odd message (a retry,
  a dead letter, a replay).
- `publish_many`: a batch on one channel, every message sent before any
  confirm is awaited (pipelined confirms). The broker confirms them in a few
  frames instead of one round trip each, which is what carries the outbox
  relay's load. Any failure (a nack, a lost connection, a timeout, e.g. while
  a resource alarm blocks publishers) raises, and the whole batch counts as
  unconfirmed: the caller keeps it and publishes it again (consumers dedupe
  by event id, so a message that did get through is harmless twice).
"""
from __future__ import annotations

import threading
import time

from kombu import Connection, Producer
from kombu.pools import producers

from onestop.messaging.codec import CLOUDEVENTS

RETRY_POLICY = {"max_retries": 5, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 3}
CONFIRM_TIMEOUT = 30.0  # seconds a batch may wait for its confirms before it counts as unconfirmed

_publishers: dict[str, "ConfirmedPublisher"] = {}
_lock = threading.Lock()


class Unconfirmed(Exception):
    """The broker did not confirm every message of a batch."""


class ConfirmedPublisher:
    def __init__(self, amqp_uri: str):
        self.amqp_uri = amqp_uri
        self.connection = Connection(amqp_uri, transport_options={"confirm_publish": True})
        self._batch_lock = threading.Lock()
        self._batch = None  # (connection, producer on its confirm-mode channel, confirms) of publish_many

    def publish(self, body: dict, *, exchange, routing_key: str, headers: dict | None = None,
                message_id: str | None = None, declare=None, serializer: str = CLOUDEVENTS) -> None:
        """Publish persistently and wait for the broker's confirm (raises if nacked)."""
        with producers[self.connection].acquire(block=True, timeout=30) as producer:
            producer.publish(
                body, exchange=exchange, routing_key=routing_key, serializer=serializer,
                delivery_mode=2, headers=headers or {}, message_id=message_id,
                content_encoding="utf-8", retry=True, retry_policy=RETRY_POLICY,
                declare=declare or [],
            )

    def publish_many(self, messages: list[dict], timeout: float = CONFIRM_TIMEOUT) -> None:
        """Publish each {"body", "exchange", "routing_key", "message_id", "headers"?, "serializer"?}
        persistently (a CloudEvent unless the serializer says otherwise), then wait until the broker has confirmed them all."""
        if not messages:
            return
        with self._batch_lock:
            try:
                self._publish_many(messages, timeout)
            except BaseException:
                self._drop_batch_channel()  # its confirm accounting can no longer be trusted
                raise

    def _publish_many(self, messages: list[dict], timeout: float) -> None:
        connection, producer, state = self._batch_channel()
        for message in messages:
            producer.publish(message["body"], exchange=message["exchange"], routing_key=message["routing_key"],
                             serializer=message.get("serializer", CLOUDEVENTS), delivery_mode=2, headers=message.get("headers") or {},
                             message_id=message.get("message_id"), content_encoding="utf-8")
            state.next_tag += 1
        last = state.next_tag - 1
        deadline = time.monotonic() + timeout
        while state.upto < last:
            if state.nacked:
                raise Unconfirmed(f"the broker refused {len(state.nacked)} of {len(messages)} messages")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Unconfirmed(f"no confirm for {last - state.upto} of {len(messages)} "
                                  f"messages after {timeout:.0f}s (is the broker blocking publishers?)")
            try:
                connection.drain_events(timeout=min(remaining, 1.0))
            except TimeoutError:
                pass
        if state.nacked:
            raise Unconfirmed(f"the broker refused {len(state.nacked)} of {len(messages)} messages")

    def _batch_channel(self):
        if self._batch is None:
            connection = Connection(self.amqp_uri, connect_timeout=5)
            connection.ensure_connection(max_retries=1)
            channel = connection.channel()
            channel.confirm_select()
            state = _Confirms()
            channel.events["basic_ack"].add(state.ack)
            channel.events["basic_nack"].add(state.nack)
            self._batch = (connection, Producer(channel), state)
        return self._batch

    def _drop_batch_channel(self) -> None:
        batch, self._batch = self._batch, None
        if batch is not None:
            try:
                batch[0].release()
            except Exception:  # noqa: BLE001  (already broken: nothing left to close)
                pass


class _Confirms:
    """Delivery tags of one confirm-mode channel: 1, 2, 3... in publish order.

    The broker acks a tag alone or, with `multiple`, every tag up to it, in any
    grouping; `done` holds the single acks above the contiguous run `upto`."""

    def __init__(self):
        self.next_tag = 1
        self.upto = 0
        self.done: set[int] = set()
        self.nacked: set[int] = set()

    def ack(self, tag: int, multiple: bool) -> None:
        if multiple:
            self.upto = max(self.upto, tag)
            self.done = {t for t in self.done if t > self.upto}
        else:
            self.done.add(tag)
        while self.upto + 1 in self.done:
            self.upto += 1
            self.done.discard(self.upto)

    def nack(self, tag: int, multiple: bool) -> None:
        if multiple:
            self.nacked.update(t for t in range(self.upto + 1, tag + 1) if t not in self.done)
        else:
            self.nacked.add(tag)


def get_publisher(amqp_uri: str) -> ConfirmedPublisher:
    with _lock:
        if amqp_uri not in _publishers:
            _publishers[amqp_uri] = ConfirmedPublisher(amqp_uri)
        return _publishers[amqp_uri]
