"""CircuitBreaker: opens after N consecutive provider failures, fails fast
without calling the provider, lets one trial through after the timeout."""
from __future__ import annotations

import eventlet
import pytest

from onestop.circuit import CircuitBreaker, CircuitOpen
from onestop.errors import PermanentError, TransientError


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Provider:
    """Counts calls; raises the queued outcomes (None: answers), then answers "ok"."""

    def __init__(self, *outcomes):
        self.calls, self.outcomes = 0, list(outcomes)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return ("ok", args, kwargs)


@pytest.fixture
def clock():
    return Clock()


def breaker(clock, failures=3, reset=10.0):
    return CircuitBreaker("sms", failure_threshold=failures, reset_timeout=reset, clock=clock)


def fail(b, provider, times):
    for _ in range(times):
        with pytest.raises(TransientError):
            b.call(provider)


def test_closed_passes_calls_and_results_through(clock):
    b, provider = breaker(clock), Provider()
    assert b.call(provider, 1, x=2) == ("ok", (1,), {"x": 2})
    assert b.state == "closed" and b.snapshot()["consecutive_failures"] == 0


def test_opens_after_the_threshold_of_consecutive_failures(clock):
    b = breaker(clock, failures=3)
    provider = Provider(*[TransientError("down")] * 3)
    fail(b, provider, 2)
    assert b.state == "closed" and b.failures == 2
    fail(b, provider, 1)
    assert b.state == "open" and provider.calls == 3


def test_a_success_resets_the_count(clock):
    b = breaker(clock, failures=3)
    provider = Provider(TransientError("1"), TransientError("2"), None, TransientError("3"), TransientError("4"))
    fail(b, provider, 2)
    b.call(provider)
    fail(b, provider, 2)
    assert b.state == "closed" and b.failures == 2


def test_open_fails_fast_without_calling_the_provider(clock):
    b, provider = breaker(clock, failures=2), Provider(TransientError("a"), TransientError("b"))
    fail(b, provider, 2)
    for _ in range(5):
        with pytest.raises(CircuitOpen) as info:
            b.call(provider)
        assert isinstance(info.value, TransientError)  # so the consumer retries the message later
    assert provider.calls == 2
    snap = b.snapshot()
    assert snap["state"] == "open" and snap["calls_refused"] == 5 and snap["opens"] == 1
    assert snap["consecutive_failures"] == 2 and snap["opened_at"] and snap["retry_in_seconds"] == 10.0


def test_after_the_timeout_one_trial_success_closes_it(clock):
    b, provider = breaker(clock, failures=1, reset=10.0), Provider(TransientError("down"))
    fail(b, provider, 1)
    clock.now += 9.9
    with pytest.raises(CircuitOpen):
        b.call(provider)
    clock.now += 0.1
    assert b.state == "half_open"
    assert b.call(provider)[0] == "ok"
    snap = b.snapshot()
    assert snap["state"] == "closed" and snap["consecutive_failures"] == 0 and snap["opened_at"] is None
    assert provider.calls == 2


def test_a_failed_trial_reopens_for_another_full_timeout(clock):
    b, provider = breaker(clock, failures=2, reset=10.0), Provider(*[TransientError("down")] * 3)
    fail(b, provider, 2)
    clock.now += 10
    fail(b, provider, 1)  # the trial
    assert b.state == "open" and provider.calls == 3 and b.snapshot()["opens"] == 2
    clock.now += 9.9
    with pytest.raises(CircuitOpen):
        b.call(provider)
    assert provider.calls == 3
    clock.now += 0.1
    assert b.call(provider)[0] == "ok" and b.state == "closed"


def test_half_open_lets_exactly_one_trial_through_at_a_time(clock):
    """Green threads: while the trial is in flight, every other call is refused."""
    b = breaker(clock, failures=1, reset=5.0)
    fail(b, Provider(TransientError("down")), 1)
    clock.now += 5
    release, entered = eventlet.event.Event(), []

    def slow_provider():
        entered.append(1)
        release.wait()  # a green switch, as a real network call would be
        return "sent"

    trial = eventlet.spawn(b.call, slow_provider)
    eventlet.sleep(0)  # let the trial start and block
    assert entered == [1] and b.state == "half_open"
    others = Provider()
    for _ in range(3):
        with pytest.raises(CircuitOpen):
            b.call(others)
    assert others.calls == 0
    release.send()
    assert trial.wait() == "sent" and b.state == "closed"
    assert b.call(others)[0] == "ok"


def test_a_permanent_error_means_the_provider_is_up(clock):
    b = breaker(clock, failures=2)
    provider = Provider(TransientError("a"), PermanentError("550 no such mailbox"), TransientError("b"),
                        *[PermanentError("550")] * 5)
    fail(b, provider, 1)
    with pytest.raises(PermanentError):
        b.call(provider)
    assert b.failures == 0
    fail(b, provider, 1)
    for _ in range(5):
        with pytest.raises(PermanentError):
            b.call(provider)
    assert b.state == "closed" and provider.calls == 8


def test_a_permanent_error_on_the_trial_closes_it(clock):
    b, provider = breaker(clock, failures=1), Provider(TransientError("down"), PermanentError("refused"))
    fail(b, provider, 1)
    clock.now += 10
    with pytest.raises(PermanentError):
        b.call(provider)
    assert b.state == "closed"


def test_an_unexpected_error_neither_counts_nor_keeps_the_trial_slot(clock):
    b = breaker(clock, failures=1)
    provider = Provider(TransientError("down"), KeyError("bug"), KeyError("bug"))
    fail(b, provider, 1)
    clock.now += 10
    with pytest.raises(KeyError):
        b.call(provider)  # the trial: its slot is freed, the circuit stays half-open
    assert b.state == "half_open"
    with pytest.raises(KeyError):
        b.call(provider)  # the next call is the next trial, not refused
    assert b.call(provider)[0] == "ok" and b.state == "closed" and b.refused == 0


def test_a_late_failure_of_a_call_admitted_earlier_does_not_extend_the_open_time(clock):
    b = breaker(clock, failures=1, reset=10.0)
    release = eventlet.event.Event()

    def slow_failure():
        release.wait()
        raise TransientError("timed out")

    slow = eventlet.spawn(b.call, slow_failure)
    eventlet.sleep(0)
    fail(b, Provider(TransientError("down")), 1)  # opens at t=1000
    clock.now += 6
    release.send()
    with pytest.raises(TransientError):
        slow.wait()
    clock.now += 4
    assert b.state == "half_open"  # still 10 s from the first opening


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        CircuitBreaker("x", failure_threshold=0)
