"""Revoked staff tokens, sessions and users: published to a RabbitMQ stream, read by every service.

``revoke(amqp_uri, jti=... | sid=... | user=..., until=..., by=actor)`` appends one record to the
stream queue ``onestop.revocations`` (onestop.messaging.topology.REVOCATIONS_QUEUE)::

    {"v": 1, "id": "9f1c...", "at": 1770941000.25, "until": 1770944400,
     "jti": "6f0c..."  |  "sid": "2b1e..."  |  "user": "officer-07",
     "by": {"id": "ops-01", "role": "operator"}}

Every service's ``Revocations`` consumes the stream from its first record (a stream keeps its records
for every reader, so a service that starts late still learns every revocation of the last 32 days)
and then each new one as it is appended, into an in-memory map the verifier checks on every request
(onestop.web.auth.TokenVerifier): "at once on every service" is the broker's push, well under a second.

- a ``jti`` or ``sid`` entry refuses that token or every token of that sign-in session until
  ``until`` (the token's exp; after it the token is refused as expired anyway, and the entry is dropped);
- a ``user`` entry refuses every token of that user issued before the revocation (``iat < at``); a
  token minted after it (the person signed in again, or got a new one) works.

Fail-closed at start: until the stream has been read through once, ``ready`` is false and the staff
endpoints answer 503 (a staff request waits up to AUTH_REVOCATIONS_WAIT seconds for it first:
onestop.dependencies.StaffGuard). After that, a lost connection keeps the map it has and reconnects with backoff, reading the
stream from the first record again (applying a record twice changes nothing).
"""
from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid

from amqp.exceptions import AccessRefused, NotFound
from kombu import Connection, Consumer, Producer, Queue

from onestop.messaging.topology import REVOCATIONS_QUEUE

log = logging.getLogger(__name__)

KINDS = ("jti", "sid", "user")
MAX_VALUE_CHARS = 256
QUIET_S = 0.3  # a read with nothing new for this long has caught up with the stream
SWEEP_S = 60  # how often entries past their `until` are dropped
BACKOFF_S = (0.5, 1, 2, 5, 10)


def record(*, jti: str | None = None, sid: str | None = None, user: str | None = None, until: int, by: dict,
           now: float | None = None) -> dict:
    """One revocation record; ValueError unless exactly one of jti/sid/user is given and `until` is ahead."""
    named = {k: v for k, v in (("jti", jti), ("sid", sid), ("user", user)) if v is not None}
    if len(named) != 1:
        raise ValueError("revoke exactly one of jti, sid or user")
    (kind, value), = named.items()
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_VALUE_CHARS:
        raise ValueError(f"{kind} must be a non-empty string of at most {MAX_VALUE_CHARS} characters")
    at = time.time() if now is None else now
    if not isinstance(until, int) or until <= at:
        raise ValueError("until (epoch seconds) must be in the future: the token's exp, or the longest lifetime")
    if not isinstance(by, dict) or not by.get("id"):
        raise ValueError("by must be the actor {'id': ..., 'role': ...} who revokes")
    return {"v": 1, "id": uuid.uuid4().hex, "at": at, "until": until, kind: value,
            "by": {"id": str(by["id"]), "role": str(by.get("role", ""))}}


def revoke(amqp_uri: str, *, jti: str | None = None, sid: str | None = None, user: str | None = None,
           until: int, by: dict, timeout: float = 10) -> dict:
    """Append a revocation to the stream (publisher-confirmed) and return the record."""
    entry = record(jti=jti, sid=sid, user=user, until=until, by=by)
    with Connection(amqp_uri, connect_timeout=timeout, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        try:
            channel.queue_declare(REVOCATIONS_QUEUE.name, passive=True)
        except NotFound:
            raise RuntimeError(f"{REVOCATIONS_QUEUE.name} does not exist on this broker: load the broker's "
                               "definitions (docs/security.md) or start a service once") from None
        channel = conn.channel()  # a failed passive declare would have closed it
        Producer(channel).publish(json.dumps(entry), exchange="", routing_key=REVOCATIONS_QUEUE.name,
                                  content_type="application/json", delivery_mode=2, timeout=timeout)
    return entry


class Revocations:
    """The revocations known to this process, kept current by ``run()`` (a thread) from the stream."""

    def __init__(self, amqp_uri: str | None = None, clock=time.time):
        self.amqp_uri, self.clock = amqp_uri, clock
        self.entries = {"jti": {}, "sid": {}}  # value -> until
        self.users = {}  # user -> (at, until): tokens issued before `at` are refused
        self.ready = threading.Event()
        self.stopped = threading.Event()
        self.applied = 0
        self._swept = clock()

    # --- the map --------------------------------------------------------------------------------
    def apply(self, entry: dict) -> None:
        """Add one record (unknown shapes are logged and skipped: a bad record must not stop the reader)."""
        kind = next((k for k in KINDS if isinstance(entry.get(k), str)), None)
        until, at = entry.get("until"), entry.get("at")
        if kind is None or not isinstance(until, (int, float)) or not isinstance(at, (int, float)):
            log.warning("skipped a revocation record of an unknown shape: %s", sorted(entry)[:8])
            return
        if until <= self.clock():
            return
        if kind == "user":
            was_at, was_until = self.users.get(entry[kind], (0, 0))
            self.users[entry[kind]] = (max(was_at, at), max(was_until, until))
        else:
            self.entries[kind][entry[kind]] = max(until, self.entries[kind].get(entry[kind], 0))
        self.applied += 1

    def refuses(self, principal) -> bool:
        """True if the principal's token, session or user (for tokens issued before) was revoked."""
        now = self.clock()
        if now - self._swept > SWEEP_S:
            self.sweep(now)
        for kind, value in (("jti", principal.jti), ("sid", principal.sid)):
            if value is not None and self.entries[kind].get(value, 0) > now:
                return True
        at, until = self.users.get(principal.user, (0, 0))
        return until > now and (principal.issued_at is None or principal.issued_at < at)

    def sweep(self, now: float | None = None) -> None:
        """Drop entries past their `until`: those tokens are refused as expired anyway."""
        now = self.clock() if now is None else now
        for kind in ("jti", "sid"):
            self.entries[kind] = {v: u for v, u in self.entries[kind].items() if u > now}
        self.users = {v: (a, u) for v, (a, u) in self.users.items() if u > now}
        self._swept = now

    # --- the reader -----------------------------------------------------------------------------
    def run(self) -> None:
        """Read the stream until ``stop()``: from the first record, then as records come; reconnects
        with backoff. Never raises (a nameko managed thread that raised would kill the service)."""
        failures = 0
        while not self.stopped.is_set():
            try:
                self._read()
                failures = 0
            except Exception as exc:  # noqa: BLE001 (any broker or network failure: reconnect)
                delay = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
                failures += 1
                log.warning("revocations stream: %s: %s; reconnecting in %ss", type(exc).__name__, exc, delay)
                self.stopped.wait(delay)

    def stop(self) -> None:
        self.stopped.set()

    def _read(self) -> None:
        with Connection(self.amqp_uri, connect_timeout=10, heartbeat=30) as conn:
            channel = _stream_channel(conn)
            channel.basic_qos(0, 500, False)  # a stream consumer must set a prefetch and ack
            queue = Queue(REVOCATIONS_QUEUE.name, no_declare=True,
                          consumer_arguments={"x-stream-offset": "first"})
            with Consumer(channel, queues=[queue], callbacks=[self._on_message], accept=["json"]):
                while not self.stopped.is_set():
                    try:
                        conn.drain_events(timeout=QUIET_S)
                    except socket.timeout:
                        self.ready.set()  # caught up: nothing new for QUIET_S
                        conn.heartbeat_check()

    def _on_message(self, body, message) -> None:
        try:
            self.apply(body if isinstance(body, dict) else json.loads(body))
        except (TypeError, ValueError) as exc:
            log.warning("skipped an unreadable revocation record: %s", exc)
        message.ack()


def _stream_channel(conn):
    """A channel on which the stream exists: declared when missing and this user may (tests, make run's
    admin), else an error that says what to do (a service's own user may not configure it)."""
    channel = conn.channel()
    try:
        channel.queue_declare(REVOCATIONS_QUEUE.name, passive=True)
        return channel
    except NotFound:
        channel = conn.channel()
    try:
        REVOCATIONS_QUEUE.bind(channel).declare()
    except AccessRefused as exc:
        raise RuntimeError(f"{REVOCATIONS_QUEUE.name} does not exist and this broker user may not create it: "
                           f"load the broker's definitions (docs/security.md); {exc}") from exc
    return channel
