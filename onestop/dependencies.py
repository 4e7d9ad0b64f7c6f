"""Small nameko dependency providers shared by every service."""
from __future__ import annotations

import os
import re
import socket
import uuid

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Request

from onestop import logs
from onestop.config import Settings
from onestop.errors import Unavailable
from onestop.web import access
from onestop.web.auth import Principal, TokenVerifier
from onestop.web.revocation import Revocations
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
    """The service runs without AUTH_JWKS_URL (or with a wrong AUTH_* setting), so its staff endpoints are off."""

    error = "staff_access_not_configured"

    def __init__(self, problem: str = "AUTH_JWKS_URL is not set"):
        super().__init__(f"Staff endpoints are off: {problem} (AUTH_JWKS_URL: the staff sign-in provider's JWKS; "
                         "docs/identity.md).")


class RevocationsNotLoaded(Unavailable):
    """The revocations stream has not been read through once since the start: fail closed."""

    error = "revocations_not_loaded"

    def __init__(self):
        super().__init__("Staff endpoints wait for the list of revoked tokens (onestop.revocations) to be read; "
                         "try again shortly.")


class StaffGuard:
    """``guard(request, endpoint=None) -> Principal``: the caller behind the bearer token (401 on a bad
    or revoked one), and with an ``endpoint`` id of onestop.web.access, whose role may call it (403
    otherwise); ``guard.token(token, endpoint=None)`` the same for a token the caller holds server-side
    (the console's session). 503 when the service has no verifier, its revocations are not read yet (a
    request in the first moments after the start waits up to `wait_s` for them), or the provider's keys
    cannot be fetched."""

    def __init__(self, verifier: TokenVerifier | None, problem: str = "AUTH_JWKS_URL is not set", revocations=None,
                 wait_s: float = 3):
        self.verifier, self.problem, self.revocations, self.wait_s = verifier, problem, revocations, wait_s

    def __call__(self, request, endpoint: str | None = None) -> Principal:
        return self._allowed(self._ready().authenticate(request.headers.get("Authorization")), endpoint)

    def token(self, token: str, endpoint: str | None = None) -> Principal:
        return self._allowed(self._ready().verify(token), endpoint)

    def _ready(self) -> TokenVerifier:
        if self.verifier is None:
            raise StaffNotConfigured(self.problem)
        if self.revocations is not None and not self.revocations.ready.wait(self.wait_s):
            raise RevocationsNotLoaded()
        return self.verifier

    @staticmethod
    def _allowed(principal: Principal, endpoint: str | None) -> Principal:
        return access.require(principal, endpoint) if endpoint else principal


class StaffAuth(DependencyProvider):
    """Injects a `StaffGuard` for token-holding callers: ``guard(request, endpoint=None)``, and
    ``guard.token(token, endpoint=None)`` for a token held server-side.

    Reads AUTH_JWKS_URL, AUTH_ISSUER, AUTH_AUDIENCE, AUTH_ALGORITHMS, AUTH_LEEWAY and the claim names
    (onestop.web.auth.TokenVerifier); without AUTH_JWKS_URL the service still runs, and its staff
    endpoints answer 503. Reads the revocations stream (onestop.web.revocation) in a thread of its
    own; until its first read, a staff request waits up to AUTH_REVOCATIONS_WAIT seconds (default 3)
    for it, then answers 503 (fail closed)."""

    def setup(self):
        config = self.container.config
        self.revocations = Revocations(Settings.load(config).amqp_uri)
        wait = float(config.get("AUTH_REVOCATIONS_WAIT") or os.environ.get("AUTH_REVOCATIONS_WAIT") or 3)
        try:
            verifier = TokenVerifier.load(config, revocations=self.revocations)
            self.guard = StaffGuard(verifier, revocations=self.revocations, wait_s=wait)
        except ValueError as exc:
            self.revocations = None
            self.guard = StaffGuard(None, str(exc))

    def start(self):
        if self.revocations is None:
            return
        self.container.spawn_managed_thread(self.revocations.run)

    def stop(self):
        if self.revocations is not None:
            self.revocations.stop()

    def kill(self):
        self.stop()

    def get_dependency(self, worker_ctx):
        return self.guard


def worker_address(config: dict) -> str:
    """This worker's place: its host and web address (one process at a time can listen there), which a
    worker started again after a crash has again (else, without a web server, its pid)."""
    return f"{socket.gethostname()}:{config.get('WEB_SERVER_ADDRESS') or os.getpid()}"


class LeaseHolder(DependencyProvider):
    """Injects ``(address, boot)``: the worker's address (`worker_address`) and an id new at every start.
    A lease taken under an address whose boot differs was taken by a process that is dead now (only one
    can listen at the address), so the worker there may take it back at once instead of waiting for it
    to run out; two workers of one process share the boot, so neither takes the other's lease."""

    def setup(self):
        self.holder = (worker_address(self.container.config), uuid.uuid4().hex)

    def get_dependency(self, worker_ctx):
        return self.holder


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
