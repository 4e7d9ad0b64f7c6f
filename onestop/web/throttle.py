"""The rate limit per client address on an HTTP service's endpoints, for nameko.

One token bucket per client address, shared by the endpoints that call the
injected throttle and by every worker of the container. The rate is a setting
named by the provider: intake's citizen endpoints (status lookup, rating) use
``STATUS_RATE_LIMIT`` (default 30 requests per 60 s), audit's API
``AUDIT_RATE_LIMIT``. The address is the peer's, or, when the peer is listed in
``TRUSTED_PROXIES``, the one the proxies put in ``X-Forwarded-For``.
"""
from __future__ import annotations

import math

from nameko.extensions import DependencyProvider

from onestop.config import Settings
from onestop.errors import TooManyRequests
from onestop.web.ratelimit import RateLimiter, client_address, parse_rate, parse_trusted


class ClientThrottle:
    """``throttle(request)``: take a token for the request's client, or TooManyRequests."""

    def __init__(self, limiter: RateLimiter, trusted: tuple = ()):
        self.limiter, self.trusted = limiter, trusted

    def __call__(self, request) -> None:
        client = client_address(request.remote_addr, request.headers.get("X-Forwarded-For"), self.trusted)
        allowed, wait = self.limiter.take(client)
        if not allowed:
            seconds = max(1, math.ceil(wait))
            raise TooManyRequests(f"Too many requests from this address; try again in {seconds} seconds.",
                                  retry_after=seconds,
                                  fields=[{"field": "client", "reason": f"at most {self.limiter.capacity} requests "
                                                                        f"every {self.limiter.period:g} seconds"}])


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
