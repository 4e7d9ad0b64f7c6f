"""Fault injection for the reliable consumer and the outbox relay, off unless ``CHAOS`` is set.

The fault suite uses it to make every code path of every handler fail:

    CHAOS="before=0.05,after=0.05,republish=0.05,requeue=0.05"

- ``before``: the handler fails before it does anything;
- ``after``: the handler did its work, then "crashes" before the ack (its
  side effects must not happen twice when the message comes back);
- ``republish``: moving a failed message to its delay or dead-letter queue
  fails (the broker must redeliver it);
- ``requeue``: a finished message is requeued instead of acked (a lost ack);
- ``relay_confirmed``: the outbox relay's batch was confirmed by the broker
  and the process dies (SIGKILL of itself, no clean-up of any kind) before the
  outbox is cleared: the one window in which a restart publishes the same
  events again, so consumers must dedupe them. Each rate is per occasion: per
  message for the consumer's points, per published batch for the relay's.
"""
from __future__ import annotations

import os
import random
import signal

POINTS = ("before", "after", "republish", "requeue", "relay_confirmed")


class ChaosError(Exception):
    """An injected failure (transient: it is retried like any other)."""


class Chaos:
    """The fault points a spec turns on; `kill` is how `die` ends the process (passed in by tests)."""

    def __init__(self, spec: str = "", rng=random.random, kill=os.kill):
        self.rates = {}
        for part in filter(None, (p.strip() for p in (spec or "").split(","))):
            point, _, rate = part.partition("=")
            if point not in POINTS:
                raise ValueError(f"CHAOS: unknown point {point!r}; known: {', '.join(POINTS)}")
            self.rates[point] = _rate(point, rate)
        self.rng, self.kill = rng, kill
        self.strikes = dict.fromkeys(POINTS, 0)

    def strike(self, point: str) -> bool:
        hit = self.rates.get(point, 0.0) > 0 and self.rng() < self.rates[point]
        if hit:
            self.strikes[point] += 1
        return hit

    def check(self, point: str) -> None:
        if self.strike(point):
            raise ChaosError(f"injected failure at {point}")

    def die(self, point: str) -> None:
        """SIGKILL this process at `point` when it strikes: what a crash there would do
        (no finally blocks, no acks, no flush), not an exception something could catch."""
        if self.strike(point):
            self.kill(os.getpid(), signal.SIGKILL)


def _rate(point: str, text: str) -> float:
    """A probability; ValueError naming the point otherwise (the service does not start).

    >>> _rate("before", "0.05")
    0.05
    """
    try:
        rate = float(text)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"CHAOS: {point} needs a rate between 0 and 1, like {point}=0.05; got {text!r}")
    return rate
