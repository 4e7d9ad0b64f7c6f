"""Fault injection for the reliable consumer, off unless ``CHAOS`` is set.

The fault suite uses it to make every code path of every handler fail:

    CHAOS="before=0.05,after=0.05,republish=0.05,requeue=0.05"

- ``before``: the handler fails before it does anything;
- ``after``: the handler did its work, then "crashes" before the ack (its
  side effects must not happen twice when the message comes back);
- ``republish``: moving a failed message to its delay or dead-letter queue
  fails (the broker must redeliver it);
- ``requeue``: a finished message is requeued instead of acked (a lost ack).
"""
from __future__ import annotations

import random

POINTS = ("before", "after", "republish", "requeue")


class ChaosError(Exception):
    """An injected failure (transient: it is retried like any other)."""


class Chaos:
    def __init__(self, spec: str = "", rng=random.random):
        self.rates = {}
        for part in filter(None, (p.strip() for p in (spec or "").split(","))):
            point, _, rate = part.partition("=")
            if point not in POINTS:
                raise ValueError(f"CHAOS: unknown point {point!r}; known: {', '.join(POINTS)}")
            self.rates[point] = float(rate)
        self.rng = rng
        self.strikes = dict.fromkeys(POINTS, 0)

    def strike(self, point: str) -> bool:
        hit = self.rates.get(point, 0.0) > 0 and self.rng() < self.rates[point]
        if hit:
            self.strikes[point] += 1
        return hit

    def check(self, point: str) -> None:
        if self.strike(point):
            raise ChaosError(f"injected failure at {point}")
