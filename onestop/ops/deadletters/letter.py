"""One dead letter: the queue it is in, what it says, and what its replay carries.

Pure (no broker): a dead letter is read the same way whoever dead-lettered it,
our consumer (``x-onestop-*`` headers, see onestop.messaging.consumer) or
RabbitMQ itself (``x-death``, e.g. ``delivery_limit`` on a quorum work queue).
"""
from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import orjson

from contracts import make_event
from contracts.operations import REASONS
from onestop.messaging.topology import dlq_queue_name, work_queue_name
from onestop.timestamps import iso, utcnow

REPLAYED_FROM = "x-onestop-replayed-from"
REPLAY_COUNT = "x-onestop-replay-count"
NAME = re.compile(r"^onestop\.([a-z0-9_-]+)\.([a-z0-9_-]+)\.dlq$")
_SHORT = re.compile(r"^([a-z0-9_-]+)/([a-z0-9_-]+)$")


class DlqName(NamedTuple):
    service: str
    center: str

    @property
    def name(self) -> str:
        return dlq_queue_name(self.service, self.center)

    @property
    def work_queue(self) -> str:
        return work_queue_name(self.service, self.center)


def parse_queue(text: str) -> DlqName:
    """``onestop.routing.hue-vyda.dlq`` or the shorthand ``routing/hue-vyda``."""
    match = NAME.match(text.strip()) or _SHORT.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a dead-letter queue: give onestop.<service>.<center>.dlq "
                         "or <service>/<center> (e.g. routing/hue-vyda)")
    return DlqName(*match.groups())


@dataclass
class DeadLetter:
    id: str
    reason: str
    error: str
    history: list
    dead_lettered_at: str
    routing_key: str
    event_type: str
    subject: str
    center: str
    envelope: dict | None  # None when the body is not an event (it cannot be replayed)
    replay_count: int = 0
    body: bytes = field(default=b"", repr=False)
    headers: dict = field(default_factory=dict, repr=False)
    delivery_tag: int | None = field(default=None, repr=False, compare=False)


def describe(body: bytes, headers: dict | None, properties: dict | None, delivery_tag=None) -> DeadLetter:
    """A dead letter as an operator reads it, whoever dead-lettered it: our consumer
    (``x-onestop-*`` headers) or the broker itself (``x-death``, e.g. delivery_limit)."""
    headers, properties = dict(headers or {}), properties or {}
    envelope = _json_object(body)
    death = (headers.get("x-death") or [{}])[0]
    error = headers.get("x-onestop-error", "")
    if "x-onestop-reason" not in headers and death:
        error = (f"RabbitMQ dead-lettered it from {death.get('queue')} ({death.get('reason')}, "
                 f"{death.get('count', 1)}x)" + (f"; last handler error: {error}" if error else ""))
    env = envelope or {}
    return DeadLetter(
        id=properties.get("message_id") or str(env.get("id") or "") or "sha1-" + hashlib.sha1(body).hexdigest()[:16],
        reason=str(headers.get("x-onestop-reason") or death.get("reason") or "unknown"),
        error=error, history=[str(h) for h in headers.get("x-onestop-history") or []],
        dead_lettered_at=str(headers.get("x-onestop-dead-lettered-at") or _when(death.get("time"))),
        routing_key=str(headers.get("x-onestop-routing-key") or (death.get("routing-keys") or [""])[0]),
        event_type=str(env.get("type", "")), subject=str(env.get("subject", "")), center=str(env.get("center", "")),
        envelope=envelope, replay_count=int(headers.get(REPLAY_COUNT, 0)), body=body, headers=headers,
        delivery_tag=delivery_tag)


def _json_object(body: bytes) -> dict | None:
    """The envelope, if the body looks like an event at all (an object with an id and a type)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) and "id" in value and "type" in value else None


def _when(moment) -> str:
    if not isinstance(moment, datetime):
        return str(moment or "")
    return iso(moment)  # py-amqp decodes AMQP timestamps as naive UTC; iso() reads them so


def fresh_headers(letter: DeadLetter, queue: DlqName) -> dict:
    """Only where it came from and how often: no attempt count, history or x-death,
    so the consumer's retries (and the work queue's delivery count) start from zero."""
    return {REPLAYED_FROM: queue.name, REPLAY_COUNT: letter.replay_count + 1}


def audit_event(letter: DeadLetter, queue: DlqName, actor: str, now=None) -> dict:
    """``deadletter.replayed.v1`` for this replay of this dead letter."""
    return replayed_event(service=queue.service, center=queue.center, queue=queue.name, event_id=letter.id,
                          event_type=letter.event_type, reason=letter.reason, subject=letter.subject,
                          replay_count=letter.replay_count + 1, replayed_by=actor,
                          dead_lettered_at=letter.dead_lettered_at,
                          correlation_id=_correlation(letter.envelope or {}), now=now)


def _correlation(envelope: dict) -> str | None:
    # a letter dead-lettered before the CloudEvents upgrade carries the deprecated name
    return envelope.get("correlationid") or envelope.get("correlation_id")


_REPLAY_IDS = uuid.UUID("5b0e6a4c-3f7d-4f0b-9a51-2d8c1e0f7a13")  # namespace of replay event ids


def replayed_event(*, service: str, center: str, queue: str, event_id: str, event_type: str, reason: str,
                   subject: str, replay_count: int, replayed_by: str, dead_lettered_at: str,
                   correlation_id: str | None = None, now=None) -> dict:
    """The audit record of one replay. Its id is derived from what was replayed, so
    publishing it again (a crash before the dead letter was acked) is deduplicated."""
    audit_id = str(uuid.uuid5(_REPLAY_IDS, f"{queue}|{event_id}|{dead_lettered_at}|{replay_count}"))
    event = make_event("deadletter.replayed.v1", center=center, subject=subject or "unknown", time=now,
                       actor={"id": replayed_by, "role": "operator"}, correlation_id=correlation_id or audit_id,
                       data={"service": service, "center": center, "queue": queue, "event_id": event_id,
                             "event_type": event_type or "unknown",
                             "reason": reason if reason in REASONS else "unknown",
                             "replay_count": replay_count, "replayed_by": replayed_by,
                             "replayed_at": iso(now or utcnow())})
    return {**event, "id": audit_id}
