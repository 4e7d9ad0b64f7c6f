"""The rate limits at an HTTP service's edge, for nameko: per client address, and per caller
on the intake of dossiers.

Per client address: one token bucket per address, shared by the endpoints that
call the injected throttle and by every worker of the container. The rate is a
setting named by the provider: intake's citizen endpoints (status lookup,
rating) use ``STATUS_RATE_LIMIT`` (default 30 requests per 60 s), audit's API
``AUDIT_RATE_LIMIT``. The address is the peer's, or, when the peer is listed in
``TRUSTED_PROXIES``, the one the proxies put in ``X-Forwarded-For``.

Intake of dossiers: one bucket per caller (its token's role and user id), so a
flood from one portal client or one counter token is refused at the door and
never queues ahead of other callers' dossiers: ``PORTAL_SUBMIT_LIMIT`` (default
600 per 60 s) for portal clients, ``COUNTER_SUBMIT_LIMIT`` (default 60 per
60 s) for counter staff. Each intake process counts on its own.
"""
from __future__ import annotations

import math

from nameko.extensions import DependencyProvider

from onestop.config import Settings
from onestop.errors import TooManyRequests
from onestop.web.ratelimit import RateLimiter, caller_key, client_address, parse_rate, parse_trusted

PORTAL = "portal"  # the role of a portal client's token; a caller without a token is counted as one


def _refused(limiter: RateLimiter, wait: float, message: str, field: str, what: str,
             per: str = "") -> TooManyRequests:
    seconds = max(1, math.ceil(wait))
    return TooManyRequests(f"{message}; try again in {seconds} second{'' if seconds == 1 else 's'}.",
                           retry_after=seconds,
                           fields=[{"field": field, "reason": f"at most {limiter.capacity} {what} "
                                                             f"every {limiter.period:g} seconds{per}"}])


class ClientThrottle:
    """``throttle(request)``: take a token for the request's client, or TooManyRequests."""

    def __init__(self, limiter: RateLimiter, trusted: tuple = ()):
        self.limiter, self.trusted = limiter, trusted

    def __call__(self, request) -> None:
        client = client_address(request.remote_addr, request.headers.get("X-Forwarded-For"), self.trusted)
        allowed, wait = self.limiter.take(client)
        if not allowed:
            raise _refused(self.limiter, wait, "Too many requests from this address", "client", "requests")


class CallerThrottle:
    """``throttle(principal, request)``: take a token for the caller of a dossier intake,
    or TooManyRequests; portal clients and counter staff each have their own limit."""

    def __init__(self, portal: RateLimiter, counter: RateLimiter, trusted: tuple = ()):
        self.portal, self.counter, self.trusted = portal, counter, trusted

    def __call__(self, principal, request) -> None:
        client = client_address(request.remote_addr, request.headers.get("X-Forwarded-For"), self.trusted)
        limiter = self.portal if principal is None or principal.role == PORTAL else self.counter
        allowed, wait = limiter.take(caller_key(principal, client))
        if not allowed:
            who, per = (("this address", " per address") if principal is None else
                        (f"{principal.role} {principal.user}", f" per {principal.role} token"))
            raise _refused(limiter, wait, f"Too many dossiers from {who}", "caller", "dossiers", per)


class Throttle(DependencyProvider):
    """Injects a `ClientThrottle` at the rate of the setting `rate` (a ``Settings`` field);
    a malformed setting stops the service at start-up."""

    def __init__(self, rate: str = "status_rate_limit"):
        self.rate = rate

    def setup(self):
        settings = Settings.load(self.container.config)
        self.throttle = ClientThrottle(RateLimiter(*parse_rate(getattr(settings, self.rate))),
                                       parse_trusted(settings.trusted_proxies))

    def get_dependency(self, worker_ctx):
        return self.throttle


class SubmitThrottle(DependencyProvider):
    """Injects a `CallerThrottle`; a malformed setting stops the service at start-up."""

    def setup(self):
        settings = Settings.load(self.container.config)
        self.throttle = CallerThrottle(RateLimiter(*_rate("PORTAL_SUBMIT_LIMIT", settings.portal_submit_limit)),
                                       RateLimiter(*_rate("COUNTER_SUBMIT_LIMIT", settings.counter_submit_limit)),
                                       parse_trusted(settings.trusted_proxies))

    def get_dependency(self, worker_ctx):
        return self.throttle


def _rate(name: str, text: str) -> tuple[int, float]:
    try:
        return parse_rate(text)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
