"""A circuit breaker: stop calling a provider that is down; framework-free.

closed    -> calls go through; `failure_threshold` consecutive provider
             failures (a `TransientError`) open the circuit.
open      -> calls fail fast with `CircuitOpen` without touching the provider,
             for `reset_timeout` seconds.
half-open -> exactly one trial call at a time goes through; success closes
             the circuit, failure opens it again for another `reset_timeout`.

`CircuitOpen` is a `TransientError`, so a refused message is retried later
with backoff like any provider outage. A `PermanentError` (a refused
recipient) means the provider answered, so it counts as a success.

Eventlet: green threads only switch on I/O, and no state update here does
I/O, so each transition is atomic without a lock; the only switch point is
inside the wrapped call.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from onestop import metrics
from onestop.errors import PermanentError, TransientError

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitOpen(TransientError):
    """The provider is considered down; the call was not attempted."""


class CircuitBreaker:
    def __init__(self, name: str, failure_threshold: int = 5, reset_timeout: float = 30.0,
                 clock=time.monotonic):
        if failure_threshold < 1 or reset_timeout < 0:
            raise ValueError("failure_threshold must be >= 1 and reset_timeout >= 0")
        self.name, self.failure_threshold, self.reset_timeout, self.clock = (
            name, failure_threshold, reset_timeout, clock)
        self._state = CLOSED
        self._trial = False  # a half-open trial call is in flight
        self._opened = 0.0  # clock() when last opened
        self.failures = 0  # consecutive provider failures
        self.opened_at: str | None = None  # wall-clock time, for people reading /healthz
        self.refused = 0  # calls failed fast since start
        self.opens = 0  # times the circuit opened since start
        metrics.track_breaker(self)  # onestop_breaker_state / _opened_total

    @property
    def state(self) -> str:
        if self._state == OPEN and self.clock() - self._opened >= self.reset_timeout:
            return HALF_OPEN  # becomes real when the next call takes the trial
        return self._state

    def call(self, fn, *args, **kwargs):
        trial = self._admit()
        try:
            result = fn(*args, **kwargs)
        except PermanentError:
            self._success()
            raise
        except TransientError:
            self._failure(trial)
            raise
        finally:  # any other exception is a bug, not evidence about the provider
            if trial:
                self._trial = False
        self._success()
        return result

    def snapshot(self) -> dict:
        state = self.state
        retry_in = max(0.0, self.reset_timeout - (self.clock() - self._opened)) if state == OPEN else None
        return {"name": self.name, "state": state, "consecutive_failures": self.failures,
                "opened_at": self.opened_at if state != CLOSED else None,
                "retry_in_seconds": None if retry_in is None else round(retry_in, 3),
                "calls_refused": self.refused, "opens": self.opens,
                "failure_threshold": self.failure_threshold, "reset_timeout": self.reset_timeout}

    def _admit(self) -> bool:
        """True if this call is the half-open trial; raise CircuitOpen if refused."""
        state = self.state
        if state == CLOSED:
            return False
        if state == HALF_OPEN and not self._trial:
            self._state, self._trial = HALF_OPEN, True
            return True
        self.refused += 1
        wait = max(0.0, self.reset_timeout - (self.clock() - self._opened))
        raise CircuitOpen(f"{self.name} circuit open after {self.failures} failures; "
                          f"next trial in {wait:.1f}s")

    def _success(self) -> None:
        if self._state != CLOSED:
            log.warning("%s circuit closed: the provider answers again", self.name)
        self._state, self.failures, self.opened_at = CLOSED, 0, None

    def _failure(self, trial: bool) -> None:
        self.failures += 1
        # A late failure of a call admitted before the circuit opened changes nothing more.
        if (trial and self._state == HALF_OPEN) or (self._state == CLOSED and self.failures >= self.failure_threshold):
            self._state, self._opened, self.opens = OPEN, self.clock(), self.opens + 1
            metrics.breaker_opened(self.name)
            self.opened_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
            log.warning("%s circuit open after %d consecutive failures; next trial in %.1fs",
                        self.name, self.failures, self.reset_timeout)
