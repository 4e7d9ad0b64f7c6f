"""Run CPU-bound work without starving the service's event loop.

nameko runs every worker as a green thread on one eventlet hub. A handler that
computes for seconds keeps the hub from running anything else, including the
AMQP heartbeats and acks: the broker closes the connection, every unacked
message is redelivered, and the work is done twice.

A real thread is not enough in Python: it holds the GIL, and the hub thread,
which gives the GIL up at every socket call, gets it back only every few
milliseconds (measured by the fault suite's scenario 8: a 10 s computation in
`eventlet.tpool` still cost the consumer its connection with a 2 s heartbeat).
`concurrent.futures.ProcessPoolExecutor` is no way out either: under eventlet's
monkey-patching its management thread is a green thread that the waiting
caller starves.

So `offload` keeps a few worker *processes* of its own (`python -m
onestop.offload`, spawned, not forked from the patched interpreter) and talks
to each over a pair of pipes: one length-prefixed pickle out, one back. The
pipes are eventlet's green ones, so the green thread waiting for a result
parks on the hub like any socket read, and heartbeats keep flowing.

Offload pure computation only (hashing, rendering, report maths): the function
and its arguments must be picklable (a module-level function, plain data), and
it must not touch the store or the broker. Read before, write after, in the
handler::

    verdict = offload(verify_chain, center, entries, head)

`OFFLOAD_PROCESSES` (default 1) caps the worker processes; they start on first
use and live as long as the service. They run at a lower CPU priority
(`OFFLOAD_NICE`, default 10) so that on a busy machine the services' own
latency-bound work, and the broker, come first. A worker that dies mid-call is replaced,
and the call raises `OffloadError`.
"""
from __future__ import annotations

import os
import pickle
import struct
import sys

__all__ = ["offload", "OffloadError", "shutdown"]

_HEADER = struct.Struct("!Q")


class OffloadError(RuntimeError):
    """The worker process died or answered garbage; the computation did not complete."""


def _read_exactly(stream, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("offload pipe closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _send(stream, obj) -> None:
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _receive(stream):
    (size,) = _HEADER.unpack(_read_exactly(stream, _HEADER.size))
    return pickle.loads(_read_exactly(stream, size))


class _Worker:
    def __init__(self):
        from eventlet.green import subprocess  # green pipes: reads park on the hub
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self.proc = subprocess.Popen([sys.executable, "-m", "onestop.offload"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                     close_fds=True)

    def call(self, fn, args, kwargs):
        _send(self.proc.stdin, (fn, args, kwargs))
        return _receive(self.proc.stdout)

    def close(self):
        try:
            self.proc.kill()
            self.proc.wait()
        except OSError:
            pass


class _Pool:
    def __init__(self, size: int):
        from eventlet.queue import LightQueue
        from eventlet.semaphore import Semaphore
        self.size, self.idle, self.slots, self.workers = size, LightQueue(), Semaphore(size), []

    def run(self, fn, args, kwargs):
        with self.slots:
            worker = self.idle.get_nowait() if self.idle.qsize() else _Worker()
            try:
                ok, value = worker.call(fn, args, kwargs)
            except (EOFError, OSError, pickle.UnpicklingError, struct.error) as exc:
                worker.close()  # never reuse a worker whose pipe is in an unknown state
                raise OffloadError(f"offload worker failed running {getattr(fn, '__qualname__', fn)}: {exc}") from exc
            except BaseException:  # killed while waiting (GreenletExit): the worker is mid-call
                worker.close()
                raise
            self.idle.put(worker)
        if ok:
            return value
        raise value

    def close(self):
        while self.idle.qsize():
            self.idle.get_nowait().close()


_pool: _Pool | None = None


def offload(fn, *args, **kwargs):
    """fn(*args, **kwargs) in a worker process; returns its result or raises its exception."""
    global _pool
    if _pool is None:
        _pool = _Pool(max(1, int(os.environ.get("OFFLOAD_PROCESSES", "1"))))
    return _pool.run(fn, args, kwargs)


def shutdown() -> None:
    """Stop the idle worker processes (they also exit when their parent's pipe closes)."""
    global _pool
    if _pool is not None:
        _pool.close()
        _pool = None


def _serve() -> None:  # the worker process: one call at a time until the parent closes stdin
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    os.nice(int(os.environ.get("OFFLOAD_NICE", "10")))
    sys.stdout = sys.stderr  # a print() in offloaded code must not corrupt the pipe
    while True:
        try:
            fn, args, kwargs = _receive(stdin)
        except EOFError:
            return
        try:
            reply = (True, fn(*args, **kwargs))
        except Exception as exc:  # the caller re-raises it
            reply = (False, exc)
        try:
            _send(stdout, reply)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            _send(stdout, (False, OffloadError(f"result or exception not picklable: {exc!r}")))


if __name__ == "__main__":
    _serve()
