"""offload() computes in a worker process while the event loop keeps running."""
import time

import eventlet
import pytest

from onestop.offload import OffloadError, offload


def spin(seconds):
    end = time.process_time() + seconds
    n = 0
    while time.process_time() < end:
        n += 1
    return n


def fail(message):
    raise ValueError(message)


def die():
    import os
    os._exit(3)


def test_the_hub_keeps_running_while_a_worker_computes():
    ticks = []

    def ticker():
        while True:
            ticks.append(time.monotonic())
            eventlet.sleep(0.05)

    beat = eventlet.spawn(ticker)
    try:
        assert offload(spin, 1.0) > 0
    finally:
        beat.kill()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert len(ticks) >= 10 and max(gaps) < 0.5  # a heartbeat every 50 ms went on


def test_an_exception_in_the_worker_is_raised_in_the_caller():
    with pytest.raises(ValueError, match="bad input"):
        offload(fail, "bad input")
    assert offload(sum, [1, 2, 3]) == 6  # the worker survives it


def test_a_worker_that_dies_mid_call_is_replaced():
    with pytest.raises(OffloadError):
        offload(die)
    assert offload(sum, [4, 5]) == 9


def test_calls_from_many_green_threads_each_get_their_own_answer():
    pool = eventlet.GreenPool()
    assert sorted(pool.imap(lambda n: offload(sum, range(n)), range(20))) == sorted(sum(range(n)) for n in range(20))
