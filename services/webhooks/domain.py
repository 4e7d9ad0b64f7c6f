"""Webhooks' pure rules: which events a subscription wants, when to try again, what an answer means.

No framework, no I/O: the dispatcher and the handlers pass in the clock, the
random source and what the receiver answered.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

ACTIVE, PAUSED, DISABLED, DELETED = "active", "paused", "disabled", "deleted"
PENDING, DELIVERED, CANCELLED = "pending", "delivered", "cancelled"


@dataclass(frozen=True)
class Filter:
    """What a subscription receives: events of its centers, and of its types, procedures and
    fields when it names any (an empty list means every one).

    >>> f = Filter(("hue-vyda",), ("dossier.received.v1",), ("1.001193",), ())
    >>> f.wants({"type": "dossier.received.v1", "center": "hue-vyda", "procedure": "1.001193"})
    True
    >>> f.wants({"type": "dossier.received.v1", "center": "hue-vyda", "procedure": "1.013978"})
    False
    """

    centers: tuple
    event_types: tuple = ()
    procedures: tuple = ()
    fields: tuple = ()

    @classmethod
    def of(cls, subscription: dict) -> "Filter":
        return cls(*(tuple(subscription.get(k) or ()) for k in ("centers", "event_types", "procedures", "fields")))

    def wants(self, event: dict) -> bool:
        return (event.get("center") in self.centers
                and _among(event.get("type"), self.event_types)
                and _among(event.get("procedure"), self.procedures)
                and _among(event.get("field"), self.fields))


def _among(value, allowed: tuple) -> bool:
    return not allowed or value in allowed


EVERY_TYPE = "#"  # the topic pattern of a subscription that names no type


def wanted_patterns(subscriptions: list[dict], center: str) -> set[str]:
    """The type patterns the center's webhooks queue must be bound with, for these (live)
    subscriptions: each type one of the center's subscriptions names, or only ``#`` when one
    names none (it wants every type, filtering on procedures or fields if at all). Empty when
    no subscription wants the center: its events then never reach webhooks.

    >>> sorted(wanted_patterns([{"centers": ["hue-vyda"], "event_types": ["dossier.received.v1"]},
    ...   {"centers": ["hue-vyda", "hue-thuanhoa"], "event_types": ["dossier.rated.v1"]}], "hue-vyda"))
    ['dossier.rated.v1', 'dossier.received.v1']
    >>> wanted_patterns([{"centers": ["hue-vyda"], "event_types": [], "fields": ["justice"]}], "hue-vyda")
    {'#'}
    >>> wanted_patterns([{"centers": ["hue-thuanhoa"], "event_types": []}], "hue-vyda")
    set()
    """
    wanted = set()
    for subscription in subscriptions:
        if center not in (subscription.get("centers") or ()):
            continue
        types = subscription.get("event_types") or ()
        if not types:
            return {EVERY_TYPE}
        wanted.update(types)
    return wanted


@dataclass(frozen=True)
class Schedule:
    """The delays after the 1st, 2nd, ... failed attempt at one event, each with +-jitter.

    After ``len(delays)`` failures the event's schedule is exhausted (``next_delay`` None):
    with the default schedule that is 11 attempts over about 3.7 days.

    >>> s = Schedule((5.0, 300.0), jitter=0.0)
    >>> s.next_delay(1), s.next_delay(2), s.next_delay(3)
    (5.0, 300.0, None)
    """

    delays: tuple
    jitter: float = 0.2
    retry_after_max: float = 86400.0

    def next_delay(self, failures: int, retry_after: float | None = None, rng=random) -> float | None:
        """Seconds until the next attempt after `failures` failed ones, None when none is left;
        never sooner than the receiver's Retry-After (up to ``retry_after_max``)."""
        if failures > len(self.delays):
            return None
        base = self.delays[failures - 1]
        delay = base * rng.uniform(1 - self.jitter, 1 + self.jitter) if self.jitter else base
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.retry_after_max))
        return delay

    def total(self) -> float:
        return sum(self.delays)


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: delivered, try again (maybe after `retry_after` s), or gone (410)."""

    kind: str  # "delivered" | "retry" | "gone"
    error: str = ""
    status: int | None = None
    retry_after: float | None = None


def outcome(status: int, headers: dict | None = None, now: datetime | None = None) -> Outcome:
    """The meaning of a receiver's status: 2xx delivered, 410 gone, anything else retried
    (429 and 503 with their Retry-After).

    >>> outcome(204).kind, outcome(410).kind, outcome(429, {"retry-after": "120"}).retry_after
    ('delivered', 'gone', 120.0)
    """
    if 200 <= status < 300:
        return Outcome("delivered", status=status)
    if status == 410:
        return Outcome("gone", f"HTTP {status}", status)
    after = retry_after((headers or {}).get("retry-after"), now) if status in (429, 503) else None
    return Outcome("retry", f"HTTP {status}", status, after)


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or unreadable.

    >>> retry_after("30"), retry_after("soon")
    (30.0, None)
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - (now or datetime.now(timezone.utc))).total_seconds())


def signing_secrets(subscription: dict, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and rotated-out ones inside their grace period."""
    return [s["secret"] for s in subscription["secrets"] if s.get("expires_at") is None or s["expires_at"] > now]


def rotated(secrets: list[dict], new_secret: str, now: datetime, grace: float) -> list[dict]:
    """The secrets after a rotation: the new one first, each older one expiring `grace` s from now
    (or sooner, if it already was to), expired ones dropped."""
    until = now + timedelta(seconds=grace)
    kept = [{**s, "expires_at": min(s.get("expires_at") or until, until)} for s in secrets if s.get("expires_at") is None or s["expires_at"] > now]
    return [{"secret": new_secret, "created_at": now, "expires_at": None}, *kept]
