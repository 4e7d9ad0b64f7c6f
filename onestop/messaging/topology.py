"""The broker topology, declared up front so that no dispatch is ever dropped.

- ``onestop.events`` (topic): public dossier events, routing key ``<type>.<center>``.
- ``onestop.private`` (topic): data only the notification service may read
  (citizen contact details), same routing-key scheme. In production the
  notification user alone gets read permission on it.
- ``onestop.events.match`` (headers): every public event again, for a
  subscriber to match the ``ce-`` headers exactly (``x-match: all``,
  ``ce-center``, ``ce-procedure``, ``ce-field``, ``ce-type``). Published to
  beside ``onestop.events``, not bound to it: an exchange-to-exchange binding
  counts as a route, so ``onestop.events`` would no longer hand an event no
  queue wants to its alternate exchange.
- ``onestop.events.legacy`` (topic): the deprecated form of the public events,
  same routing keys, while ``EVENTS_LEGACY_FORM`` is on; nothing binds it
  inside the platform.
- ``onestop.revocations`` (a stream queue): revoked staff tokens, sessions and users, read by every
  service from the first record (onestop.web.revocation).
- ``onestop.events`` and ``onestop.private`` have the alternate exchange ``onestop.unrouted`` (fanout) whose queue
  keeps any message no queue was bound for, so nothing vanishes silently.
- Each consuming service has, per center, a quorum work queue
  ``onestop.<service>.<center>`` with a delivery limit and dead-lettering
  (at-least-once) to ``onestop.dlx`` -> ``onestop.<service>.<center>.dlq``,
  and delay queues ``onestop.<service>.<center>.retry.<ms>`` whose expired
  messages dead-letter back to the work queue.

The shared exchanges belong to the broker's administrator (definitions at boot,
or whoever may configure them): a service's own user may not configure them
(onestop.messaging.users), so a service only checks that they exist and
declares its own queues, bound to them without declaring them again.
"""
from __future__ import annotations

from dataclasses import dataclass

from amqp.exceptions import AccessRefused, NotFound
from kombu import Exchange, Queue, binding

from contracts import PUBLIC, current_form, filter_headers, legacy_form

EVENTS = Exchange("onestop.events", type="topic", durable=True,
                  arguments={"alternate-exchange": "onestop.unrouted"})
PRIVATE = Exchange("onestop.private", type="topic", durable=True,
                   arguments={"alternate-exchange": "onestop.unrouted"})
MATCH = Exchange("onestop.events.match", type="headers", durable=True)
LEGACY = Exchange("onestop.events.legacy", type="topic", durable=True)
UNROUTED = Exchange("onestop.unrouted", type="fanout", durable=True)
DLX = Exchange("onestop.dlx", type="direct", durable=True)
UNROUTED_QUEUE = Queue("onestop.unrouted", exchange=UNROUTED, durable=True,
                       queue_arguments={"x-queue-type": "quorum"})
# Staff token revocations (onestop.web.revocation), issue 17: a stream every service reads from its start;
# its records outlive the longest token (onestop.web.auth.MAX_TTL_S, 30 days). Published to through the
# default exchange.
REVOCATIONS_QUEUE = Queue("onestop.revocations", durable=True,
                          queue_arguments={"x-queue-type": "stream", "x-max-age": "32D"})

EXCHANGES = {"public": EVENTS, "private": PRIVATE}
DEPRECATION = {"deprecation": "true", "link": "docs/events.md#migrating-to-cloudevents"}  # on each legacy copy
SHARED_EXCHANGES = (UNROUTED, DLX, EVENTS, PRIVATE, MATCH, LEGACY)  # in this order: each one's alternate exchange first
QUORUM_SAFE_DLX = {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}


def work_queue_name(service: str, center: str) -> str:
    return f"onestop.{service}.{center}"


def dlq_queue_name(service: str, center: str) -> str:
    return f"{work_queue_name(service, center)}.dlq"


@dataclass(frozen=True)
class ServiceQueues:
    """The queues one service uses for one center."""

    service: str
    center: str
    patterns: tuple  # ((exchange name "public"/"private", type pattern), ...)
    retry_delays: tuple  # seconds
    delivery_limit: int

    @property
    def name(self) -> str:
        return work_queue_name(self.service, self.center)

    @property
    def dlq_name(self) -> str:
        return dlq_queue_name(self.service, self.center)

    def retry_name(self, delay: float) -> str:
        return f"{self.name}.retry.{int(delay * 1000)}"

    def work_queue(self) -> Queue:
        bindings = [binding(_existing(EXCHANGES[ex]), routing_key=f"{pattern}.{self.center}")
                    for ex, pattern in self.patterns]
        return Queue(self.name, bindings=bindings, durable=True, queue_arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": self.delivery_limit,
            "x-dead-letter-exchange": DLX.name,
            "x-dead-letter-routing-key": self.name,
            **QUORUM_SAFE_DLX,
        })

    def dead_letter_queue(self) -> Queue:
        return Queue(self.dlq_name, exchange=_existing(DLX), routing_key=self.name, durable=True,
                     queue_arguments={"x-queue-type": "quorum"})

    def retry_queues(self) -> list[Queue]:
        # Expired messages go back through the default exchange to the work queue.
        return [Queue(self.retry_name(delay), durable=True, queue_arguments={
            "x-queue-type": "quorum",
            "x-message-ttl": int(delay * 1000),
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": self.name,
            **QUORUM_SAFE_DLX,
        }) for delay in self.retry_delays]

    def all_queues(self) -> list[Queue]:
        return [self.work_queue(), self.dead_letter_queue(), *self.retry_queues()]


def _existing(exchange: Exchange) -> Exchange:
    """The exchange as a queue binds to it: named, never declared (declare_exchanges does that)."""
    return Exchange(exchange.name, type=exchange.type, durable=exchange.durable, no_declare=True)


def _exists(channel, kind: str, name: str) -> bool:
    """A passive declare on a channel of its own (a miss closes the channel); needs no permission."""
    probe = channel.connection.channel()
    try:
        if kind == "queue":
            probe.queue_declare(name, passive=True)
        else:
            probe.exchange_declare(name, "topic", passive=True)  # a passive declare ignores the type
        return True
    except NotFound:
        return False
    finally:
        probe.close()  # py-amqp reopens a channel the broker closed: close it either way


def declare_exchanges(channel) -> None:
    """Make the shared exchanges, the unrouted queue and the revocations stream where they are missing. A user that
    may not configure them (a service's own) is told what to do instead of a bare 403."""
    wanted = [("exchange", e.name, e.bind(channel).declare) for e in SHARED_EXCHANGES]
    queues = [("queue", q.name, q.bind(channel).declare) for q in (UNROUTED_QUEUE, REVOCATIONS_QUEUE)]
    for kind, name, declare in [*wanted, *queues]:
        if _exists(channel, kind, name):
            continue
        try:
            declare()
        except AccessRefused as exc:
            raise RuntimeError(f"{name} does not exist and this broker user may not create it: load the "
                               f"broker's definitions first (docs/security.md); {exc}") from exc


def declare_service(channel, queues: list[ServiceQueues]) -> None:
    """Declare exchanges and every queue (with bindings) of a service's centers."""
    declare_exchanges(channel)
    for sq in queues:
        for queue in sq.all_queues():
            queue.bind(channel).declare()


def event_messages(entries: list[dict], legacy: bool = False) -> list[dict]:
    """What the broker gets for these outbox entries (confirmed as one batch): each
    event as a CloudEvent with its filter headers; a public one also to the headers
    exchange and, with `legacy`, in its deprecated form to onestop.events.legacy."""
    out = []
    for e in entries:
        event = current_form(e["event"])  # an outbox written before the upgrade holds the old form
        message = {"body": event, "exchange": EXCHANGES[e["exchange"]], "routing_key": e["routing_key"],
                   "message_id": e["id"], "headers": filter_headers(event)}
        out.append(message)
        if e["exchange"] != PUBLIC:
            continue
        out.append({**message, "exchange": MATCH})
        if legacy:
            out.append({"body": legacy_form(event), "exchange": LEGACY, "routing_key": e["routing_key"],
                        "message_id": e["id"], "serializer": "json", "headers": DEPRECATION})
    return out
