"""Times as the platform stores and sends them: aware UTC, to the millisecond, ISO 8601 with Z."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    """Now, in UTC, to the millisecond: what MongoDB stores, so a time read back
    from the store equals the time in the event."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def as_utc(moment: datetime) -> datetime:
    """An aware time; a naive one is UTC (MongoDB and py-amqp hand times back naive)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    """``2026-02-13T02:15:00.000Z``"""
    return as_utc(moment).astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """The envelope's ISO 8601 UTC time back to an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
