"""How many messages one phone or email address may get; over the limit a message is held.

A citizen's address gets at most ``CITIZEN_MESSAGES_PER_HOUR`` messages in any
60 minutes and ``CITIZEN_MESSAGES_PER_DAY`` in any 24 hours (sliding windows,
every center together). A message over a limit is **held**: not sent, not
dropped, recorded with the limit and the count, until an operator releases it
(`services.notification.held`). Staff escalations are not limited.

Counting is exact with several workers and with redelivery: an address's
recent sends are one document, changed only by a conditional write on its
version, and each entry is a delivery id, so a retried delivery is found
there and not counted twice. A released message is not counted: the operator
sent it over the limit on purpose, and counting it would hold the citizen's
next messages for it.

    >>> limits = RecipientLimits((Window("hour", 3600, 2),))
    >>> log = [{"id": "e1:sms", "at": NOW}, {"id": "e2:sms", "at": NOW}]
    >>> decide(limits, log, "e1:sms", NOW).allowed, decide(limits, log, "e3:sms", NOW).reason
    (True, {'limit': 'hour', 'max': 2, 'window_seconds': 3600, 'count': 2})
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from onestop import metrics
from onestop.errors import TransientError

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)  # for the examples
WRITE_ATTEMPTS = 8  # conditional writes lost to other workers before the event is retried later


@dataclass(frozen=True)
class Window:
    name: str  # "hour" | "day": what operators read
    seconds: int
    max: int


@dataclass(frozen=True)
class RecipientLimits:
    windows: tuple

    @classmethod
    def from_settings(cls, settings) -> "RecipientLimits":
        return cls((Window("hour", 3600, settings.citizen_messages_per_hour),
                    Window("day", 86400, settings.citizen_messages_per_day)))

    def horizon(self) -> timedelta:
        """How far back a send still counts."""
        return timedelta(seconds=max(w.seconds for w in self.windows))


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    log: list | None = None  # the address's new log to write; None: nothing to write
    reason: dict | None = None  # why it is held


def recipient_key(channel: str, address: str) -> str:
    """The address's log, by a hash: the log itself keeps no phone or email."""
    digest = hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()
    return f"{channel}:{digest}"


def decide(limits: RecipientLimits, log: list, delivery_id: str, now: datetime) -> Verdict:
    """Send now (and the log with it counted), or hold with the first limit reached."""
    if any(entry["id"] == delivery_id for entry in log):
        return Verdict(True)  # counted on an earlier attempt of this delivery
    recent = [entry for entry in log if now - entry["at"] < limits.horizon()]
    for window in limits.windows:
        count = sum(1 for entry in recent if now - entry["at"] < timedelta(seconds=window.seconds))
        if count >= window.max:
            return Verdict(False, reason={"limit": window.name, "max": window.max,
                                          "window_seconds": window.seconds, "count": count})
    return Verdict(True, log=recent + [{"id": delivery_id, "at": now}])


def admitted(event: dict, out, record: dict, *, repo, limits: RecipientLimits | None, now: datetime) -> bool:
    """True if this claimed delivery may go out now; else it is held (with its
    reason, its message and what a release needs) and False."""
    if limits is None or out.staff_id is not None or record.get("released_at"):
        return True
    key = recipient_key(out.message.channel, out.message.to)
    for _ in range(WRITE_ATTEMPTS):
        version, log = repo.recipient_log(key)
        verdict = decide(limits, log, out.delivery_id, now)
        if not verdict.allowed:
            repo.hold(out.delivery_id, held_fields(event, out, verdict.reason, now))
            metrics.held(event["center"], verdict.reason["limit"])
            return False
        if verdict.log is None or repo.save_recipient_log(key, version, verdict.log, now):
            return True
    raise TransientError(f"{out.message.channel}: {WRITE_ATTEMPTS} workers at once counted sends to one address")


def held_fields(event: dict, out, reason: dict, now: datetime) -> dict:
    """What the store keeps of a held message: the message itself (for the release; it is
    removed once the message is sent) and the trigger a release sends it for."""
    message = out.message
    return {"held_at": now, "hold_reason": reason,
            "held_message": {"channel": message.channel, "to": message.to, "subject": message.subject,
                             "text": message.text},
            "trigger": {"id": event["id"], "center": event["center"],
                        "correlation_id": event.get("correlationid"), "procedure": event.get("procedure"),
                        "field": event.get("field"), "code": event["data"]["code"]}}


def reason_text(reason: dict) -> str:
    """The reason as operators read it.

    >>> reason_text({"limit": "hour", "max": 10, "window_seconds": 3600, "count": 10})
    'already 10 messages to this address in the last hour (at most 10 per hour)'
    """
    return (f"already {reason['count']} messages to this address in the last {reason['limit']} "
            f"(at most {reason['max']} per {reason['limit']})")
