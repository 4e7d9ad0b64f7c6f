"""Run CPU-bound work without starving the service's event loop.

nameko runs every worker as a green thread on one eventlet hub. A handler that
computes for seconds keeps the hub from running anything else, including the
AMQP heartbeats and acks: the broker closes the connection, every unacked
message is redelivered, and the work is done twice.

A real thread is not enough in Python: it holds the GIL, and the hub thread,
which gives the GIL up at every socket call, gets it back only every few
milliseconds (measured by the fault suite's scenario 8: a 10 s computation in
`eventlet.tpool` still cost the consumer its connection with a 2 s heartbeat).
So `offload` runs the function in a pool of worker *processes*, and the green
thread waits for it without blocking the hub.

Offload pure computation only (hashing, rendering, report maths): the function
and its arguments must be picklable (a module-level function, plain data), and
it must not touch the store or the broker. Read before, write after, in the
handler::

    verdict = offload(verify_chain, center, entries, head)

`OFFLOAD_PROCESSES` (default 1) sets the pool size; the pool starts on first use.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor

from eventlet import tpool

__all__ = ["offload"]

_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            # "spawn": a fresh interpreter, not a fork of an eventlet-patched one
            _pool = ProcessPoolExecutor(max_workers=int(os.environ.get("OFFLOAD_PROCESSES", "1")),
                                        mp_context=multiprocessing.get_context("spawn"))
        return _pool


def offload(fn, *args, **kwargs):
    """fn(*args, **kwargs) in a worker process; returns its result or raises its exception."""
    future = _executor().submit(fn, *args, **kwargs)
    return tpool.execute(future.result)  # a real thread waits; the hub carries on
