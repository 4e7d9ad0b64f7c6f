"""Buffered reads for py-amqp's TCP transport.

py-amqp reads each frame with three exact-size `recv` calls (the 7-byte
header, the payload, the end octet), so one delivered message (method, header
and body frames) costs nine system calls, each through eventlet's green socket
in the services. This reads whatever the socket has, up to 64 KiB, and serves
the frames from the buffer: under load many frames arrive per call. The bytes
and their order are untouched; what is left over waits in the transport's
own read buffer, which py-amqp already keeps between frames.

Installed when `onestop.messaging` is first imported. The TLS transport is
left as it is.
"""
from __future__ import annotations

import errno

from amqp.transport import TCPTransport

CHUNK = 65536
_EMPTY = b""


def _read(self, n, initial=False, _errnos=(errno.EAGAIN, errno.EINTR)):
    """Read exactly n bytes, taking from the socket as much as it has."""
    rbuf = self._read_buffer
    if len(rbuf) >= n:
        self._read_buffer = rbuf[n:]
        return rbuf[:n]
    recv = self._quick_recv
    try:
        while len(rbuf) < n:
            try:
                s = recv(max(CHUNK, n - len(rbuf)))
            except OSError as exc:
                if exc.errno in _errnos:
                    if initial and self.raise_on_initial_eintr:
                        raise TimeoutError() from exc
                    continue
                raise
            if not s:
                raise OSError("Server unexpectedly closed connection")
            rbuf += s
    except:  # noqa: E722  (as py-amqp: keep what was read for the next try, whatever happened)
        self._read_buffer = rbuf
        raise
    result, self._read_buffer = rbuf[:n], rbuf[n:]
    return result


def install() -> None:
    TCPTransport._read = _read
