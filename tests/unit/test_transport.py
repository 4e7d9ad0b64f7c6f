"""py-amqp's frames read through the buffered transport: the same bytes, in order,
however the socket happens to cut them."""
import socket

import pytest
from amqp.transport import TCPTransport
from hypothesis import given, strategies as st

import onestop.messaging  # noqa: F401  (installs the buffered read)


class FakeSocket:
    def __init__(self, chunks):
        self.chunks, self.calls = list(chunks), 0

    def sendall(self, data):
        pass

    def recv(self, n):
        self.calls += 1
        if not self.chunks:
            raise socket.timeout()
        chunk = self.chunks.pop(0)
        head, rest = chunk[:n], chunk[n:]
        if rest:
            self.chunks.insert(0, rest)
        return head


def transport_over(chunks):
    t = TCPTransport.__new__(TCPTransport)
    t.sock = FakeSocket(chunks)
    t.raise_on_initial_eintr = True
    t._setup_transport()
    return t


def frame(kind, channel, payload: bytes) -> bytes:
    return bytes([kind]) + channel.to_bytes(2, "big") + len(payload).to_bytes(4, "big") + payload + b"\xce"


@given(st.lists(st.binary(max_size=300), min_size=1, max_size=12), st.data())
def test_frames_come_out_whole_and_in_order_whatever_the_cuts(payloads, data):
    stream = b"".join(frame(3, 1, p) for p in payloads)
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(1, len(stream) - 1)), max_size=10))))
    chunks = [stream[a:b] for a, b in zip([0] + cuts, cuts + [len(stream)]) if stream[a:b]]
    t = transport_over(chunks)
    assert [t.read_frame()[2] for _ in payloads] == payloads


def test_a_timeout_in_the_middle_of_a_frame_loses_nothing():
    whole = frame(1, 1, b"x" * 50) + frame(1, 1, b"y" * 20)
    t = transport_over([whole[:30]])
    with pytest.raises(socket.timeout):
        t.read_frame()
    t.sock.chunks.append(whole[30:])
    assert t.read_frame()[2] == b"x" * 50 and t.read_frame()[2] == b"y" * 20


def test_many_frames_take_one_system_call():
    t = transport_over([b"".join(frame(3, 1, b"z" * 100) for _ in range(50))])
    for _ in range(50):
        t.read_frame()
    assert t.sock.calls == 1
