"""`reliable_handler`: a nameko entrypoint that never loses a message.

nameko's `event_handler` acks a message whose handler raised (nameko#387).
This entrypoint instead:

- consumes one quorum queue per center the worker serves (``CENTERS``), each
  with a delivery limit and a dead-letter exchange, declared at start-up;
- on success, acks;
- on a `PermanentError`, a domain error (`onestop.errors.DomainError`: an
  invalid input, a refusal, a conflict, ...; all but `Unavailable`, which is
  about the platform, not the message) or a schema error, publishes the
  message to the center's dead-letter queue with the reason (``permanent``,
  or the error kind's own, e.g. ``unknown_dossier``), then acks;
- on any other error, republishes it to a delay queue (exponential backoff
  with jitter, ``RETRY_DELAYS``) that feeds back into the work queue, then
  acks; once the delays are used up it is dead-lettered (``retries_exhausted``);
- if it cannot even republish (broker trouble), or the worker dies, the message
  is requeued / redelivered and the quorum delivery limit bounds the loop.

Every republish is confirmed before the ack, so a crash at any point leaves
at least one copy; consumers are idempotent by event id.
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from functools import partial

from amqp.exceptions import ConnectionError as AMQPConnectionError
from kombu import Connection
from kombu.exceptions import OperationalError
from marshmallow import ValidationError
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import Entrypoint
from nameko.messaging import QueueConsumer

from contracts import CONTENT_TYPE, current_form, parse_envelope, parse_event
from onestop import metrics
from onestop.catalog import load_catalog
from onestop.config import Settings
from onestop.errors import DomainError, PermanentError, Unavailable
from onestop.messaging.chaos import Chaos, ChaosError
from onestop.messaging.publisher import get_publisher
from onestop.messaging.topology import ServiceQueues, declare_service
from onestop.timestamps import iso, utcnow

log = logging.getLogger(__name__)

ATTEMPT = "x-onestop-attempt"
REASON = "x-onestop-reason"
ERROR = "x-onestop-error"
HISTORY = "x-onestop-history"


class OneStopQueueConsumer(QueueConsumer):
    """nameko's queue consumer, with two fixes:

    - a body that cannot be decoded is dead-lettered by the broker (reject
      without requeue) instead of killing the consumer thread;
    - heartbeats keep the connection alive whatever the heartbeat interval.
      kombu's loop checks them only when `drain_events` has waited a whole
      second for nothing, and py-amqp counts the silence from that check, not
      from the last frame: an idle consumer could stay silent for three
      seconds, and RabbitMQ closes a connection with a 2 s heartbeat after as
      little as two ("missed heartbeats from client"), redelivering every
      unacked message. So the loop wakes every eighth of the interval, and
      frames go out at four times the rate: never more than half an interval
      of silence.
    """

    HEARTBEAT_RATE = 4  # heartbeat frames per interval when the connection is otherwise idle
    _live = None
    _checked_at = 0.0

    @property
    def prefetch_count(self):
        """nameko's (the container's max_workers), or more where an entrypoint takes its deliveries
        in batches (`batch_handler`): a batch can only be as large as what the broker lets in."""
        wanted = [getattr(p, "prefetch", 0) for p in self._providers]
        return max([self.container.max_workers, *wanted])

    def consume(self, limit=None, timeout=None, safety_interval=1, **kwargs):
        heartbeat = self.connection.heartbeat
        if heartbeat:
            safety_interval = min(safety_interval, heartbeat / (2 * self.HEARTBEAT_RATE))
        return super().consume(limit=limit, timeout=timeout, safety_interval=safety_interval, **kwargs)

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        self._live = connection  # the established connection (self.connection is a fresh declaration)
        super().on_consume_ready(connection, channel, consumers, **kwargs)

    def on_iteration(self):
        super().on_iteration()
        live = self._live
        interval = live.get_heartbeat_interval() if live is not None else 0  # as negotiated
        if interval:
            now = time.monotonic()
            if now - self._checked_at >= interval / (2 * self.HEARTBEAT_RATE):
                self._checked_at = now
                live.heartbeat_check(rate=self.HEARTBEAT_RATE)  # raises if the broker went silent

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for consumer in consumers:
            consumer.on_decode_error = self._on_decode_error
            if consumer.accept is not None:  # CloudEvents' structured mode, beside nameko's own serializer
                consumer.accept = set(consumer.accept) | {CONTENT_TYPE}
        return consumers

    @staticmethod
    def _on_decode_error(message, exc):
        log.error("undecodable message dead-lettered: %s", exc)
        try:
            message.reject(requeue=False)
        except Exception as error:  # noqa: BLE001  (connection lost: redelivery follows)
            log.warning("could not reject an undecodable message (%r); it will come back", error)


class _CenterQueue:
    """What nameko's QueueConsumer needs of a provider: a queue and a callback."""

    def __init__(self, entrypoint: "ReliableHandler", queues: ServiceQueues):
        self.entrypoint = entrypoint
        self.queues = queues
        self.queue = queues.work_queue()
        self.prefetch = entrypoint.prefetch

    def handle_message(self, body, message):
        self.entrypoint.handle_message(self.queues, body, message)


def classify(exc: BaseException) -> str | None:
    """The dead letter's reason for errors retrying cannot fix, None for transient ones:
    'permanent', or the ``dlq_reason`` of a `PermanentError`'s kind ('unknown_dossier').

    A domain error is deterministic: the same message gets the same refusal on
    every try. `Unavailable` is the exception: the platform, not the message, is
    at fault, and it may be back by the next try."""
    if isinstance(exc, Unavailable):
        return None
    if isinstance(exc, PermanentError):
        return exc.dlq_reason
    if isinstance(exc, (DomainError, ValidationError)):
        return "permanent"
    return None


def backoff(delays: tuple, attempt: int) -> float:
    """The delay queue for the given retry attempt (1-based). Jitter comes from
    picking the neighbouring delay now and then, since each delay is a queue."""
    index = min(attempt - 1, len(delays) - 1)
    if index + 1 < len(delays) and random.random() < 0.1:
        index += 1
    return delays[index]


class ReliableHandler(Entrypoint):
    queue_consumer = OneStopQueueConsumer()
    prefetch = 0  # deliveries unacked per queue beyond nameko's max_workers: none (BatchHandler wants more)

    def __init__(self, *patterns, queue: str | None = None, any_type: bool = False, verbatim: bool = False,
                 **kwargs):
        """patterns: ("public" | "private", "dossier.*.v1") pairs the queue binds to.

        ``any_type=True`` checks only the envelope, so events of types this
        service's code does not know yet are handled too (audit keeps every
        event; a producer may ship a new type before audit is redeployed).
        Otherwise the data is checked against its type's schema as well.
        ``verbatim=True`` hands the worker the body exactly as it came, once checked
        (webhooks forwards the event itself, attributes it does not know included)."""
        self.patterns = tuple(patterns)
        check = parse_envelope if any_type else parse_event
        self.parse = _verbatim(check) if verbatim else check
        self.queue_name = queue
        self.center_queues: list[_CenterQueue] = []
        super().__init__(**kwargs)

    def setup(self):
        settings = Settings.load(self.container.config)
        known = list(load_catalog().centers)
        served = settings.center_ids(known)
        service = self.queue_name or self.container.service_name
        twins = [e.method_name for e in self.container.entrypoints
                 if isinstance(e, ReliableHandler) and e is not self
                 and (e.queue_name or self.container.service_name) == service]
        if twins:  # they would consume each other's events from the one queue
            raise RuntimeError(f"{self.method_name} and {', '.join(twins)} of {self.container.service_name} share the "
                               f"queues {service}.<center>: use one reliable_handler that dispatches on "
                               "event['type'], or give one a queue_name of its own")
        self.settings = settings
        self.chaos = Chaos(settings.chaos)
        queues = {center: ServiceQueues(service, center, self.patterns, settings.retry_delays,
                                        settings.delivery_limit) for center in known}
        # Declare every center's queues, not just the served ones: a center whose
        # workers are down must still have its events kept for when they return.
        declare_with_retry(settings.amqp_uri, list(queues.values()))
        self.center_queues = [_CenterQueue(self, queues[center]) for center in served]
        for cq in self.center_queues:
            self.queue_consumer.register_provider(cq)

    def stop(self):
        for cq in self.center_queues:
            self.queue_consumer.unregister_provider(cq)

    def _parsed(self, queues: ServiceQueues, body, message) -> dict | None:
        """The event, or None once a body that is not a valid event was dead-lettered (invalid_event)."""
        try:
            return self.parse(body)
        except ValidationError as exc:
            self._settle_failure(queues, body, message, exc, "invalid_event")
            return None

    def handle_message(self, queues: ServiceQueues, body, message):
        started = time.perf_counter()
        if (event := self._parsed(queues, body, message)) is None:
            return
        handle_result = partial(self.handle_result, queues, body, message, started=started)
        if self.chaos.strike("before"):
            handle_result(None, exc_info=(ChaosError, ChaosError("injected failure at before"), None))
            return
        try:
            self.container.spawn_worker(self, (event,), {}, context_data={
                "correlation_id": event["correlationid"], "center": event["center"],
                "event_id": event["id"], "code": event["subject"]},  # what the worker's log records carry
                handle_result=handle_result)
        except ContainerBeingKilled:
            self._requeue(message)
            self._count(queues, body, "requeued")

    def _ack(self, message) -> None:
        self._settle(self.queue_consumer.ack_message, message)

    def _requeue(self, message) -> None:
        self._settle(self.queue_consumer.requeue_message, message)

    @staticmethod
    def _settle(action, message) -> None:
        """Ack or requeue, or, if the connection it came on is gone, leave it: the
        broker redelivers every unacked message of a lost connection. Never raises,
        since an exception here would kill the whole container (nameko treats a
        failed worker thread as fatal)."""
        try:
            action(message)
        except Exception as exc:  # noqa: BLE001  (connection lost: redelivery follows)
            log.warning("could not settle message %s (%r); the broker will redeliver it",
                        message.properties.get("message_id"), exc)

    def handle_result(self, queues, body, message, worker_ctx, result=None, exc_info=None, started=None):
        if exc_info is None and self.chaos.strike("after"):
            exc_info = (ChaosError, ChaosError("injected failure after the handler's work"), None)
        if exc_info is None:
            if self.chaos.strike("requeue"):
                self._requeue(message)
                self._count(queues, body, "requeued", started)
            else:
                self._ack(message)
                self._count(queues, body, "ok", started)
            return result, exc_info
        self._settle_failure(queues, body, message, exc_info[1], started=started)
        return result, exc_info

    def _count(self, queues, body, outcome: str, started: float | None = None) -> None:
        """onestop.metrics: this delivery's outcome and, when a worker ran, its time."""
        seconds = None if started is None else time.perf_counter() - started
        metrics.consumed(self.container.service_name, body, queues.center, outcome, seconds)

    def _settle_failure(self, queues, body, message, exc, reason=None, started=None):
        """Move a failed message to its delay or dead-letter queue, or, if even
        that fails, hand it back to the broker (the delivery limit bounds that)."""
        try:
            self.chaos.check("republish")
            reason = reason or classify(exc)
            if reason:
                self._dead_letter(queues, body, message, reason, repr(exc))
                outcome = "dead_lettered"
            else:
                outcome = "dead_lettered" if self._retry(queues, body, message, exc) else "retried"
        except Exception:  # broker trouble: leave it to redelivery and the delivery limit
            log.exception("could not republish a failed message; requeueing it")
            self._requeue(message)
            outcome = "requeued"
        self._count(queues, body, outcome, started)

    def _retry(self, queues: ServiceQueues, body, message, exc) -> bool:
        """Send it to a delay queue; False, or True if its retries were used up and it was dead-lettered."""
        headers = dict(message.headers or {})
        attempt = int(headers.get(ATTEMPT, 0)) + 1
        history = list(headers.get(HISTORY, []))[-9:] + [f"{iso(utcnow())} {exc!r}"[:500]]
        if attempt > len(queues.retry_delays):
            self._dead_letter(queues, body, message, "retries_exhausted", repr(exc), history)
            return True
        delay = backoff(queues.retry_delays, attempt)
        headers.update({ATTEMPT: attempt, HISTORY: history, ERROR: repr(exc)[:500]})
        get_publisher(self.settings.amqp_uri).publish(
            body, exchange="", routing_key=queues.retry_name(delay), headers=headers,
            message_id=message.properties.get("message_id"))
        self._ack(message)
        return False

    def _dead_letter(self, queues: ServiceQueues, body, message, reason: str, error: str,
                     history: list | None = None):
        headers = dict(message.headers or {})
        headers.update({REASON: reason, ERROR: error[:2000], HISTORY: history or headers.get(HISTORY, []),
                        "x-onestop-dead-lettered-at": iso(utcnow()),
                        "x-onestop-routing-key": message.delivery_info.get("routing_key", "")})
        log.error("dead-lettering a message from %s: %s %s", queues.name, reason, error[:300])
        get_publisher(self.settings.amqp_uri).publish(
            body, exchange="", routing_key=queues.dlq_name, headers=headers,
            message_id=message.properties.get("message_id"))
        self._ack(message)
        metrics.dead_lettered(self.container.service_name, reason)


@dataclass(slots=True)
class _Delivery:
    """One delivery waiting for, or in, a batch."""

    queues: ServiceQueues
    body: object
    message: object
    event: dict
    started: float


class BatchHandler(ReliableHandler):
    """`reliable_handler` for a service that does one thing with many events at once (audit appends
    them to its log): the worker gets a list of events, and their deliveries are settled together.

    - Deliveries that arrive while a batch is being handled wait, and the next batch is all of them
      (up to ``batch``): one at a time when the service keeps up, as many as came in meanwhile when it
      does not. Nothing waits for a batch to fill.
    - On success, the batch is acked with one ``multiple`` ack per channel, after the worker returned,
      so what it wrote is durable before the broker forgets a message. One batch is in hand at a time
      and each takes every delivery before its last, so a multiple ack covers only the batch: hence
      the rule that a batch handler is the only reliable entrypoint of its container.
    - If a batch of several fails, its deliveries go again one by one through `ReliableHandler`'s own
      outcome (ack, retry queue or dead letter), so one bad event costs only itself.
    - ``prefetch`` (default four batches) lets the broker hand over enough for a batch.
    """

    def __init__(self, *patterns, batch: int = 100, prefetch: int | None = None, **kwargs):
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self.batch = batch
        self.prefetch = prefetch or 4 * batch
        self._waiting: list[_Delivery] = []
        self._singles: list[_Delivery] = []  # a failed batch's deliveries, going again one by one
        self._busy = False
        super().__init__(*patterns, **kwargs)

    def setup(self):
        others = [e.method_name for e in self.container.entrypoints
                  if isinstance(e, ReliableHandler) and e is not self]
        if others:  # their unacked deliveries share the channel, and a multiple ack would take them
            raise RuntimeError(f"{self.method_name} of {self.container.service_name} takes its deliveries in "
                               f"batches and must be its container's only reliable entrypoint; also: "
                               f"{', '.join(others)}")
        super().setup()

    def handle_message(self, queues: ServiceQueues, body, message):
        started = time.perf_counter()
        if (event := self._parsed(queues, body, message)) is None:
            return
        self._waiting.append(_Delivery(queues, body, message, event, started))
        if not self._busy:
            self._next()

    def _next(self) -> None:
        """Hand the next batch (or the next single of a failed one) to a worker, if there is any."""
        self._busy = False
        if self._singles:
            batch, self._singles = self._singles[:1], self._singles[1:]
        elif self._waiting:
            batch, self._waiting = self._waiting[:self.batch], self._waiting[self.batch:]
        else:
            return
        self._busy = True
        if self.chaos.strike("before"):
            self._done(batch, None, exc_info=(ChaosError, ChaosError("injected failure at before"), None))
            return
        first = batch[0].event
        try:
            self.container.spawn_worker(self, ([d.event for d in batch],), {}, context_data={
                "correlation_id": first["correlationid"], "center": first["center"], "event_id": first["id"],
                "code": first["subject"], "batch": len(batch)}, handle_result=partial(self._done, batch))
        except ContainerBeingKilled:
            for d in batch + self._singles + self._waiting:
                self._requeue(d.message)
                self._count(d.queues, d.body, "requeued")
            self._singles, self._waiting, self._busy = [], [], False

    def _done(self, batch: list[_Delivery], worker_ctx, result=None, exc_info=None):
        try:
            if len(batch) == 1:
                d = batch[0]
                return self.handle_result(d.queues, d.body, d.message, worker_ctx, result, exc_info, d.started)
            if exc_info is None and self.chaos.strike("after"):
                exc_info = (ChaosError, ChaosError("injected failure after the handler's work"), None)
            if exc_info is not None:
                log.warning("a batch of %d failed (%r); its deliveries go again one by one", len(batch), exc_info[1])
                self._singles = batch + self._singles
                return result, exc_info
            self._ack_all(batch)
            return result, exc_info
        finally:
            self._next()

    def _ack_all(self, batch: list[_Delivery]) -> None:
        """One ack with ``multiple`` per channel the batch came on (one, unless the connection was
        made again meanwhile), for the highest delivery tag there."""
        last: dict = {}
        for d in batch:
            channel = d.message.channel
            if channel not in last or d.message.delivery_tag > last[channel].delivery_tag:
                last[channel] = d.message
        for channel, message in last.items():
            try:
                if channel.connection:  # else the broker has taken them back and redelivers them
                    channel.basic_ack(message.delivery_tag, multiple=True)
            except Exception as exc:  # noqa: BLE001  (connection lost: redelivery follows)
                log.warning("could not ack a batch (%r); the broker will redeliver it", exc)
        for d in batch:
            self._count(d.queues, d.body, "ok", d.started)


def _verbatim(check):
    def parse(body):
        check(body)
        return current_form(body)  # as it came, but an event of the deprecated form in the current one
    return parse


def declare_with_retry(amqp_uri: str, queues: list[ServiceQueues], attempts: int = 30) -> None:
    """Declare the topology; wait for the broker with backoff rather than fail start-up."""
    for attempt in range(attempts):
        try:
            with Connection(amqp_uri, connect_timeout=5) as conn:
                declare_service(conn.default_channel, queues)
            return
        except (OSError, OperationalError, AMQPConnectionError) as exc:
            wait = min(2 ** attempt * 0.2, 5)
            log.warning("broker not reachable for topology (%s); retrying in %.1fs", exc, wait)
            time.sleep(wait)
    raise RuntimeError(f"could not declare the topology on {amqp_uri}")


reliable_handler = ReliableHandler.decorator
batch_handler = BatchHandler.decorator
