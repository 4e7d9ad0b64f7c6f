"""Token buckets per client address (the rate-limited endpoints) and per caller (intake of
dossiers), and who the client or the caller is.

Framework-free: the clock is injected, so the tests need no sleeps.

>>> now = [0.0]
>>> limiter = RateLimiter(*parse_rate("2/10"), clock=lambda: now[0])
>>> [limiter.take("10.0.0.1") for _ in range(3)]
[(True, 0.0), (True, 0.0), (False, 5.0)]
>>> now[0] = 5.0; limiter.take("10.0.0.1")
(True, 0.0)
"""
from __future__ import annotations

import ipaddress
import re
import threading
import time
from collections import OrderedDict
from typing import Callable

RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*$")


def parse_rate(text: str) -> tuple[int, float]:
    """``"30/60"`` -> (30 requests, per 60 seconds); ValueError names the expected form."""
    match = RATE.match(text or "")
    if not match or int(match.group(1)) < 1 or float(match.group(2)) <= 0:
        raise ValueError(f"a rate limit is '<requests>/<seconds>' with both above 0, e.g. '30/60'; got {text!r}")
    return int(match.group(1)), float(match.group(2))


class TokenBucket:
    """`capacity` tokens, refilled continuously at capacity/period per second."""

    __slots__ = ("capacity", "rate", "tokens", "stamp")

    def __init__(self, capacity: int, period: float, now: float):
        self.capacity, self.rate = float(capacity), capacity / period
        self.tokens, self.stamp = float(capacity), now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def take(self, now: float) -> float:
        """0.0 if a token was taken, else the seconds until one will be there."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.capacity


class RateLimiter:
    """One bucket per key (a client address), with bounded memory: past
    `max_keys` the buckets that have refilled completely are forgotten (a
    fresh one is identical), then the least recently used ones."""

    def __init__(self, capacity: int, period: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000):
        self.capacity, self.period, self.clock, self.max_keys = capacity, period, clock, max_keys
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> tuple[bool, float]:
        """(allowed, seconds to wait before the next request would be allowed)."""
        with self._lock:
            now = self.clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                self._prune(now, room_for=1)
                bucket = self._buckets[key] = TokenBucket(self.capacity, self.period, now)
            self._buckets.move_to_end(key)
            wait = bucket.take(now)
            return wait == 0.0, wait

    def __len__(self) -> int:
        return len(self._buckets)

    def _prune(self, now: float, room_for: int) -> None:
        """Down to 90% of `max_keys`, so that a flood of new addresses costs one
        scan per tenth of `max_keys` of them, not one per request."""
        if len(self._buckets) + room_for <= self.max_keys:
            return
        for key in [k for k, b in self._buckets.items() if b.full(now)]:
            del self._buckets[key]
        target = min(self.max_keys - room_for, int(self.max_keys * 0.9))
        while self._buckets and len(self._buckets) > target:
            self._buckets.popitem(last=False)


def caller_key(principal, client: str) -> str:
    """The bucket of a caller: a token's role and user id (any principal), or, with no token,
    the client address, so that no caller shares another's bucket.

    >>> from onestop.web.auth import Principal
    >>> caller_key(Principal("counter-01", "counter_staff", frozenset({"hue-vyda"})), "10.0.0.1")
    'counter_staff:counter-01'
    >>> caller_key(None, "203.0.113.7")
    'address:203.0.113.7'
    """
    return f"address:{client}" if principal is None else f"{principal.role}:{principal.user}"


def _networks(trusted) -> list:
    return [ipaddress.ip_network(t.strip(), strict=False) for t in trusted if t and t.strip()]


def parse_trusted(trusted) -> tuple:
    """IP addresses or CIDRs -> networks; ValueError names a bad entry."""
    try:
        return tuple(_networks(trusted))
    except ValueError as exc:
        raise ValueError(f"TRUSTED_PROXIES must list IP addresses or networks (CIDR): {exc}") from None


def _ip(text: str | None):
    try:
        return ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None


def client_address(remote_addr: str | None, forwarded_for: str | None, trusted: tuple = ()) -> str:
    """The client a request comes from.

    `X-Forwarded-For` is believed only when the peer is a trusted proxy; it is
    then read from the right (each proxy appends the address it saw), skipping
    trusted proxies, so a client cannot choose its address by sending the
    header itself.

    >>> client_address("10.0.0.9", "1.2.3.4, 203.0.113.7", parse_trusted(["10.0.0.0/8"]))
    '203.0.113.7'
    >>> client_address("198.51.100.2", "1.2.3.4", parse_trusted(["10.0.0.0/8"]))
    '198.51.100.2'
    """
    peer = (remote_addr or "").strip() or "unknown"
    peer_ip = _ip(peer)
    if not forwarded_for or peer_ip is None or not any(peer_ip in net for net in trusted):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        hop_ip = _ip(hop)
        if hop_ip is None:
            return peer  # a garbled chain: fall back to the proxy itself
        if not any(hop_ip in net for net in trusted):
            return str(hop_ip)
    return str(_ip(hops[0])) if hops else peer
