"""The broker's own limit on this machine: what any OneStop hop is measured against.

kombu publishes 1 KB persistent messages to a durable queue and a consumer on
its own connection takes them with acks. Two publishers:

- ``per_message``: publisher confirms, each publish waits for its confirm
  (kombu's ``confirm_publish``), as the outbox relay did at first;
- ``pipelined``: publisher confirms with up to ``window`` messages in flight
  (the best a publisher can do while still knowing each message is safe).

Single-hop latency is publish start -> consumer receives, on one clock.
"""
from __future__ import annotations

import os
import threading
import time
import uuid

from kombu import Connection, Exchange, Queue

BODY = b"x" * 1024


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def _consume(amqp_uri: str, queue: Queue, n: int, latencies: list, ready: threading.Event, done: threading.Event):
    with Connection(amqp_uri) as conn:
        def on_message(body, message):
            latencies.append(time.time() - float(message.headers["sent"]))
            message.ack()
            if len(latencies) >= n:
                done.set()

        with conn.Consumer(queue, callbacks=[on_message], accept=None, prefetch_count=256):
            ready.set()
            while not done.is_set():
                try:
                    conn.drain_events(timeout=1)
                except TimeoutError:
                    pass


def _publish_per_message(amqp_uri: str, queue: Queue, n: int) -> None:
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        for _ in range(n):
            producer.publish(BODY, routing_key=queue.name, delivery_mode=2, content_type="application/octet-stream",
                             content_encoding="binary", headers={"sent": repr(time.time())})


def _publish_pipelined(amqp_uri: str, queue: Queue, n: int, window: int) -> None:
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        channel.confirm_select()
        confirmed = [0]
        nacked = []

        def on_ack(tag, multiple):
            confirmed[0] = max(confirmed[0], tag)

        channel.events["basic_ack"].add(on_ack)
        channel.events["basic_nack"].add(lambda tag, multiple: nacked.append(tag))
        producer = conn.Producer(channel)
        for sent in range(1, n + 1):
            producer.publish(BODY, routing_key=queue.name, delivery_mode=2, content_type="application/octet-stream",
                             content_encoding="binary", headers={"sent": repr(time.time())})
            while sent - confirmed[0] >= window:
                conn.drain_events(timeout=10)
        while confirmed[0] < n:
            conn.drain_events(timeout=10)
        if nacked:
            raise RuntimeError(f"the broker refused {len(nacked)} messages")


def hop(amqp_uri: str, n: int, mode: str, queue_type: str = "classic", window: int = 256) -> dict:
    """Publish n messages one way and consume them; msgs/s and single-hop latency."""
    args = {"x-queue-type": "quorum"} if queue_type == "quorum" else {}
    queue = Queue(f"bench.baseline.{uuid.uuid4().hex[:8]}", Exchange(""), durable=True, queue_arguments=args)
    with Connection(amqp_uri) as conn:
        queue(conn.default_channel).declare()
    latencies: list[float] = []
    ready, done = threading.Event(), threading.Event()
    consumer = threading.Thread(target=_consume, args=(amqp_uri, queue, n, latencies, ready, done), daemon=True)
    consumer.start()
    ready.wait(30)
    start = time.monotonic()
    if mode == "per_message":
        _publish_per_message(amqp_uri, queue, n)
    else:
        _publish_pipelined(amqp_uri, queue, n, window)
    published = time.monotonic() - start
    done.wait(120)
    elapsed = time.monotonic() - start
    consumer.join(5)
    with Connection(amqp_uri) as conn:
        queue(conn.default_channel).delete()
    return {"mode": mode, "queue_type": queue_type, "messages": n, "window": 1 if mode == "per_message" else window,
            "publish_msgs_per_s": round(n / published, 1), "msgs_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(pct(latencies, 0.50) * 1000, 2), "p99_ms": round(pct(latencies, 0.99) * 1000, 2)}


def run(amqp_uri: str, smoke: bool = False) -> dict:
    n = int(os.environ.get("BENCH_BASELINE_MESSAGES", 500 if smoke else 5000))
    out = {}
    for queue_type in ("classic", "quorum"):
        out[f"per_message_{queue_type}"] = hop(amqp_uri, n, "per_message", queue_type)
        out[f"pipelined_{queue_type}"] = hop(amqp_uri, n * 4, "pipelined", queue_type)
    return out
