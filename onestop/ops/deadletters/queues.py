"""Dead-letter queues for operators: list, browse, replay (audited) and purge.

Framework-free (kombu/py-amqp and the management HTTP API), used by ``onestop dlq``.

Browsing has to give every message back, in order, without pushing it toward
a delivery limit. What RabbitMQ's quorum queues do (checked on 3.10.8):

- a message returned by closing the channel goes back to the head, but when
  more than a few are returned at once they come back in hash order;
- ``basic.nack(requeue)`` of a queue without a delivery limit (our DLQs)
  puts the message at the *back*: getting the whole queue and nacking each in
  turn rotates it once and leaves the order as it was;
- every return adds 1 to ``x-delivery-count`` on 3.x (harmless: DLQs have no
  limit); from 4.3 only ``basic.reject`` and channel closes count, nack does
  not, which is why this nacks instead of rejecting.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from amqp import spec
from amqp.exceptions import AMQPError, NotFound
from kombu import Connection

from contracts import PUBLIC, routing_key
from onestop.config import Settings
from onestop.messaging.publisher import get_publisher
from onestop.messaging.topology import event_messages
from onestop.ops.deadletters.letter import NAME, DeadLetter, DlqName, audit_event, describe, fresh_headers, parse_queue

__all__ = ["DeadLetter", "DlqName", "QueueRow", "ReplayReport", "UnknownQueue", "browse", "depth",
           "list_queues", "parse_queue", "purge", "replay"]


class UnknownQueue(LookupError):
    """No such dead-letter queue (or vhost); the message says which."""


def vhost_of(amqp_uri: str) -> str:
    return Connection(amqp_uri).virtual_host or "/"


class QueueRow(NamedTuple):
    service: str
    center: str
    queue: str
    messages: int


def list_queues(amqp_uri: str, mgmt_url: str, service: str | None = None,
                center: str | None = None) -> list[QueueRow]:
    """Every ``onestop.*.dlq`` of the URI's vhost, with the number of messages ready."""
    vhost = vhost_of(amqp_uri)
    base, auth = management(mgmt_url, amqp_uri)
    response = requests.get(f"{base}/api/queues/{quote(vhost, safe='')}", params={"columns": "name"},
                            auth=auth, timeout=30)
    if response.status_code == 404:
        raise UnknownQueue(f"no vhost {vhost!r} on {urlsplit(base).netloc}")
    response.raise_for_status()
    names = sorted(n for n in (_dlq(q["name"]) for q in response.json())
                   if n and service in (None, n.service) and center in (None, n.center))
    # The management API's counts lag by its stats interval (5 s); ask the queues themselves.
    with Connection(amqp_uri, connect_timeout=10) as conn:
        depths = [(n, queue_depth(conn, n.name)) for n in names]
    return [QueueRow(n.service, n.center, n.name, depth) for n, depth in depths if depth is not None]


def _dlq(name: str) -> DlqName | None:
    match = NAME.match(name)
    return DlqName(*match.groups()) if match else None


def management(mgmt_url: str, amqp_uri: str) -> tuple[str, tuple]:
    """The base URL without credentials, and the credentials (else the AMQP user's)."""
    parts = urlsplit(mgmt_url.rstrip("/"))
    amqp = Connection(amqp_uri)
    auth = (parts.username or amqp.userid, parts.password or amqp.password)
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")), auth


def queue_depth(conn, name: str) -> int | None:
    """The messages in queue `name` now, from the queue itself (the management API lags); None if it
    was deleted since it was listed."""
    try:
        with conn.channel() as channel:
            return channel.queue_declare(name, passive=True).message_count
    except NotFound:  # deleted since it was listed
        return None


@contextlib.contextmanager
def _held(amqp_uri: str, queue: DlqName, also_needs: tuple = ()):
    """Take every message of the queue (unacked) and yield them; whatever the caller
    did not ack is given back in order (see the module docstring)."""
    with Connection(amqp_uri, connect_timeout=10) as conn:
        for other in also_needs:
            _existing(conn, other)
        channel, depth = _existing(conn, queue.name)
        letters = []
        try:
            # Bounded by the depth now: a replayed poison message that is dead-lettered
            # again meanwhile must not be picked up a second time by the same run.
            while len(letters) < depth and (message := channel.basic_get(queue.name, no_ack=False)) is not None:
                body = message.body if isinstance(message.body, bytes) else message.body.encode()
                letters.append(describe(body, message.headers, message.properties, message.delivery_tag))
            yield channel, letters
        finally:
            _give_back(channel, [letter.delivery_tag for letter in letters if letter.delivery_tag is not None])


def _existing(conn, name: str):
    """A channel, and the queue's depth; UnknownQueue if there is no such queue."""
    channel = conn.channel()
    try:
        return channel, channel.queue_declare(name, passive=True).message_count
    except NotFound:
        raise UnknownQueue(f"no queue {name} in vhost {conn.virtual_host!r}") from None


def _give_back(channel, delivery_tags: list) -> None:
    # py-amqp has no basic_nack. One at a time with a round trip after each: a burst
    # of returns is batched by the broker and put back in hash order.
    try:
        for tag in delivery_tags:
            channel.send_method(spec.Basic.Nack, "Lbb", (tag, False, True))
            channel.basic_qos(0, 0, False)
    except (OSError, ConnectionError, AMQPError):
        pass  # the channel is gone: the broker gave every unacked message back itself (order not kept)


def browse(amqp_uri: str, queue: str, limit: int | None = None) -> list[DeadLetter]:
    """The first ``limit`` dead letters (all if None); every one stays in the queue, in order."""
    with _held(amqp_uri, parse_queue(queue)) as (_channel, letters):
        return letters[:limit] if limit is not None else list(letters)


@dataclass
class ReplayReport:
    replayed: list = field(default_factory=list)  # DeadLetter
    skipped: list = field(default_factory=list)  # (DeadLetter, why)
    missing: list = field(default_factory=list)  # ids not in the queue


def replay(amqp_uri: str, queue: str, ids=None, actor: str = "unknown") -> ReplayReport:
    """Put the chosen dead letters (``ids``; None for all) back on their work queue.

    For each: publish to the work queue (confirmed), then the audit event
    (confirmed), then ack it here. A crash in between leaves it in the DLQ and
    a second replay is harmless: consumers and the audit dedupe by event id."""
    name, wanted, report = parse_queue(queue), None if ids is None else set(ids), ReplayReport()
    publisher, legacy = get_publisher(amqp_uri), Settings.load().events_legacy_form
    with _held(amqp_uri, name, also_needs=(name.work_queue,)) as (channel, letters):
        for letter in letters:
            if wanted is not None and letter.id not in wanted:
                continue
            if letter.envelope is None:
                report.skipped.append((letter, "the body is not an event (no JSON object with an id and a type)"))
                continue
            publisher.publish(letter.envelope, exchange="", routing_key=name.work_queue,
                              headers=fresh_headers(letter, name), message_id=letter.id)
            event = audit_event(letter, name, actor)
            publisher.publish_many(event_messages([{"exchange": PUBLIC, "routing_key": routing_key(event),
                                                    "id": event["id"], "event": event}], legacy=legacy))
            channel.basic_ack(letter.delivery_tag)
            letter.delivery_tag = None
            report.replayed.append(letter)
    found = {letter.id for letter in letters}
    report.missing = sorted((wanted or set()) - found)
    return report


def depth(amqp_uri: str, queue: str) -> int:
    """How many dead letters are ready in the queue; UnknownQueue if there is none."""
    with Connection(amqp_uri, connect_timeout=10) as conn:
        return _existing(conn, parse_queue(queue).name)[1]


def purge(amqp_uri: str, queue: str) -> int:
    """Delete every ready message of the queue; the number deleted."""
    name = parse_queue(queue)
    with Connection(amqp_uri, connect_timeout=10) as conn:
        channel, _depth_now = _existing(conn, name.name)
        return channel.queue_purge(name.name) or 0
