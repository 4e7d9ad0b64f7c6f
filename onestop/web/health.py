"""`/healthz` for every service: is the broker reachable, is the store answering.

A service reports 503 while it cannot reach either; load balancers and
docker-compose healthchecks read that.
"""
from __future__ import annotations

import time

from kombu import Connection
from marshmallow import fields, validate

from onestop.storage.mongo import ping
from onestop.web.http import Answer


class BrokerCheck:
    """Connects at most every `ttl` seconds; the answer is cached in between."""

    def __init__(self, amqp_uri: str, ttl: float = 2.0):
        self.amqp_uri, self.ttl = amqp_uri, ttl
        self._at, self._ok = 0.0, False

    def ok(self) -> bool:
        if time.monotonic() - self._at > self.ttl:
            try:
                with Connection(self.amqp_uri, connect_timeout=2) as conn:
                    conn.ensure_connection(max_retries=1, timeout=2)
                self._ok = True
            except Exception:  # any failure: unhealthy until the next check
                self._ok = False
            self._at = time.monotonic()
        return self._ok


def report(service: str, broker: BrokerCheck, db, **extra) -> tuple[int, dict]:
    checks = {"broker": broker.ok(), "store": ping(db)}
    healthy = all(checks.values())
    return (200 if healthy else 503), {"service": service, "status": "ok" if healthy else "unhealthy",
                                       "checks": checks, **extra}


class HealthSchema(Answer):
    """What `/healthz` answers (200 healthy, 503 not); a service adds its own figures."""

    service = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["ok", "unhealthy"]))
    checks = fields.Dict(keys=fields.String(), values=fields.Boolean(), required=True)
