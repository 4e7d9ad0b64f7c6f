"""Small nameko dependency providers shared by every service."""
from __future__ import annotations

import re

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Request

from onestop import logs
from onestop.config import Settings
from onestop.errors import Unavailable
from onestop.web import access
from onestop.web.auth import Principal, TokenIssuer
from onestop.web.health import BrokerCheck, report


class SettingsProvider(DependencyProvider):
    """Injects the `Settings` of this container (config first, then environment)."""

    def setup(self):
        self.settings = Settings.load(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.settings


class Health(DependencyProvider):
    """Injects ``check(db, **extra) -> (status, body)`` for `/healthz`."""

    def setup(self):
        self.broker = BrokerCheck(Settings.load(self.container.config).amqp_uri)

    def get_dependency(self, worker_ctx):
        service = self.container.service_name
        return lambda db, **extra: report(service, self.broker, db, **extra)


class StaffNotConfigured(Unavailable):
    """The service runs without a usable JWT_SECRET, so its staff endpoints are off."""

    error = "staff_access_not_configured"

    def __init__(self, problem: str = "JWT_SECRET is not set"):
        super().__init__(f"Staff endpoints are off: {problem} (JWT_SECRET needs at least 32 bytes).")


def staff_guard(issuer: TokenIssuer | None, problem: str = "JWT_SECRET is not set"):
    """``authenticate(request, endpoint=None) -> Principal``: the caller behind the bearer
    token (401 on a bad one), and with an ``endpoint`` id of onestop.web.access, whose
    role may call it (403 otherwise); 503 when the service has no usable secret."""
    def authenticate(request, endpoint: str | None = None) -> Principal:
        if issuer is None:
            raise StaffNotConfigured(problem)
        principal = issuer.authenticate(request.headers.get("Authorization"))
        return access.require(principal, endpoint) if endpoint else principal
    return authenticate


class StaffAuth(DependencyProvider):
    """Injects `staff_guard`'s ``authenticate(request, endpoint=None)`` for token-holding callers.

    Reads JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE, JWT_LEEWAY (onestop.web.auth); without
    a secret the service still runs, and its staff endpoints answer 503."""

    def setup(self):
        try:
            self.guard = staff_guard(TokenIssuer.load(self.container.config))
        except ValueError as exc:
            self.guard = staff_guard(None, str(exc))

    def get_dependency(self, worker_ctx):
        return self.guard


class LogContext(DependencyProvider):
    """Gives each worker's log records the service, center, dossier code, event id and
    correlation id (onestop.logs): from the context data a reliable_handler spawns the worker
    with, or from an HTTP request's URL (``<code>``) and its ``X-Correlation-Id`` header."""

    def setup(self):
        logs.set_service(self.container.service_name)

    def worker_setup(self, worker_ctx):
        logs.bind(service=self.container.service_name, **_worker_fields(worker_ctx))

    def worker_teardown(self, worker_ctx):
        logs.clear()


CORRELATION_ID = re.compile(r"^[\w.:-]{1,128}$")


def _worker_fields(worker_ctx) -> dict:
    request = worker_ctx.args[0] if worker_ctx.args and isinstance(worker_ctx.args[0], Request) else None
    if request is None:
        return {key: worker_ctx.data.get(key) for key in ("center", "code", "event_id", "correlation_id")}
    code = str(worker_ctx.kwargs.get("code") or "").upper()
    correlation = request.headers.get("X-Correlation-Id", "")
    return {"code": code if logs.DOSSIER_CODE.fullmatch(code) else None,
            "correlation_id": correlation if CORRELATION_ID.match(correlation) else None}
