"""The transactional outbox and its relay.

A producer writes its events into an ``outbox`` array *inside the same
document* it changes, in one single-document write, which MongoDB applies
atomically without transactions. The relay publishes pending entries, a batch
at a time with pipelined publisher confirms, and only then removes them, so an
event is published at least once even if the process dies at any point
(consumers dedupe by id).

A document with events waiting also carries ``outbox_pending: true`` (an
indexable flag: the relay finds pending documents without scanning), set by
`with_outbox` / `push_outbox` in the same write as the entries.

An outbox entry::

    {"id": "<event id>", "exchange": "public", "routing_key": "dossier.received.v1.hue-vyda",
     "at": <datetime>, "event": {<envelope>}}
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import eventlet
from nameko.extensions import DependencyProvider
from pymongo import UpdateMany

from contracts import REGISTRY, routing_key
from onestop import metrics
from onestop.config import Settings
from onestop.messaging.chaos import Chaos
from onestop.messaging.publisher import get_publisher
from onestop.messaging.topology import event_messages
from onestop.storage.mongo import database
from onestop.timers import Wakeup
from onestop.timestamps import as_utc

log = logging.getLogger(__name__)
PENDING = {"outbox_pending": True}


class _Queued:
    """How many outbox entries this process has built (with_outbox, push_outbox): a worker during
    which the count did not move queued no event, so its end need not wake the relay."""

    count = 0


def outbox_entry(event: dict, at: datetime | None = None) -> dict:
    """Wrap an envelope for the outbox; its exchange follows the type's visibility."""
    _Queued.count += 1
    return {
        "id": event["id"],
        "exchange": REGISTRY[event["type"]].visibility,
        "routing_key": routing_key(event),
        "at": at or datetime.now(timezone.utc),
        "event": event,
    }


def with_outbox(document: dict, events: list, at: datetime | None = None) -> dict:
    """A new document carrying these events in its outbox."""
    return {**document, "outbox": [outbox_entry(e, at) for e in events], "outbox_pending": True}


def push_outbox(update: dict, events: list, at: datetime | None = None) -> dict:
    """An update that also queues these events (same single-document write)."""
    update = {k: dict(v) for k, v in update.items()}
    update.setdefault("$push", {})["outbox"] = {"$each": [outbox_entry(e, at) for e in events]}
    update.setdefault("$set", {})["outbox_pending"] = True
    return update


def ensure_outbox_index(collection) -> None:
    collection.create_index("outbox_pending", sparse=True)


class Relay:
    """Framework-free core: drain the outboxes of some collections once.

    ``publish_many(entries)`` must return only once the broker has confirmed
    every entry (and raise otherwise): a batch is removed from the outboxes
    only after that, so a crash or an error at any point leaves it pending.
    ``chaos`` (onestop.messaging.chaos, ``relay_confirmed``) kills the process in
    the window between the two, for the fault suite.
    """

    def __init__(self, db, collections: tuple, publish_many, batch: int = 200, chaos: Chaos | None = None,
                 service: str = "other"):
        self.db, self.collections, self.publish_many, self.batch = db, collections, publish_many, batch
        self.chaos = chaos or Chaos()
        self.service = service  # the label of its onestop_events_published_total

    def drain(self) -> int:
        sent = 0
        for name in self.collections:
            coll = self.db[name]
            docs = self.fair_batch(coll)
            if not docs:
                continue
            entries = [entry for doc in docs for entry in doc["outbox"]]
            self.publish_many(entries)
            metrics.published(self.service, entries)
            self.chaos.die("relay_confirmed")  # confirmed, not yet cleared: a restart publishes them again
            # One ordered bulk write for the whole batch (one transaction, one commit on the embedded
            # store; one round trip on MongoDB). Event ids are unique, so pulling them all from each
            # document pulls exactly its own; the flag drops only where nothing was queued meanwhile.
            ids = [doc["_id"] for doc in docs]
            coll.bulk_write([
                UpdateMany({"_id": {"$in": ids}}, {"$pull": {"outbox": {"id": {"$in": [e["id"] for e in entries]}}}}),
                UpdateMany({"_id": {"$in": ids}, "outbox": {"$size": 0}}, {"$set": {"outbox_pending": False}}),
            ])
            sent += len(entries)
        return sent

    def fair_batch(self, coll) -> list[dict]:
        """Up to `batch` pending documents, taken in turn from each center: a center
        with a backlog (a flood, its workers away) never holds back another center's
        events behind it. Documents with no center take a turn of their own."""
        first = list(coll.find(PENDING, {"outbox": 1}).limit(self.batch))
        if len(first) < self.batch:  # no backlog: everything pending goes now, no turns to take
            return first
        centers = [c for c in coll.distinct("center", PENDING) if c is not None]
        if len(centers) <= 1:
            return first
        groups = [{**PENDING, "center": c} for c in centers] + [{**PENDING, "center": None}]
        share = max(1, self.batch // len(groups))
        queues = [list(coll.find(query, {"outbox": 1}).limit(share)) for query in groups]
        out = []
        while any(queues):  # round robin: one of each center, then the next of each
            for queue in queues:
                if queue:
                    out.append(queue.pop(0))
        return out

    def lag_seconds(self) -> float:
        """Age of the oldest pending event (0 when nothing is pending)."""
        oldest = None
        for name in self.collections:
            for doc in self.db[name].find(PENDING, {"outbox.at": 1}).limit(self.batch):
                for entry in doc["outbox"]:
                    at = as_utc(entry["at"])
                    oldest = at if oldest is None or at < oldest else oldest
        return 0.0 if oldest is None else (datetime.now(timezone.utc) - oldest).total_seconds()

    def pending(self) -> int:
        return sum(len(d["outbox"]) for n in self.collections
                   for d in self.db[n].find(PENDING, {"outbox.id": 1}))


class OutboxRelay(DependencyProvider):
    """Runs the relay in the service: after every worker that queued events, and every `interval` s.

    Injected into workers as the `Relay` (for health: ``lag_seconds()``). A service
    whose workers rarely write an event (audit: a checkpoint a minute against
    every event it records) passes ``after_workers=False``: the relay then looks
    every `interval` only, instead of twice a delivery.
    """

    def __init__(self, *collections, interval: float = 0.5, after_workers: bool = True, **kwargs):
        self.collections = collections
        self.interval = interval
        self.after_workers = after_workers
        self._started = {}  # worker context -> _Queued.count when it started
        super().__init__(**kwargs)

    def setup(self):
        settings = Settings.load(self.container.config)
        publisher = get_publisher(settings.amqp_uri)
        legacy = settings.events_legacy_form
        self.relay = Relay(database(settings, self.container.service_name), self.collections,
                           lambda entries: publisher.publish_many(event_messages(entries, legacy=legacy)),
                           chaos=Chaos(settings.chaos), service=self.container.service_name)
        self.wakeup = Wakeup()

    def start(self):
        # onestop_outbox_pending / _lag_seconds, read from the store when Prometheus scrapes
        metrics.on_scrape(self, metrics.outbox_source(self.container.service_name, self.relay))
        self.container.spawn_managed_thread(self._run, identifier="outbox-relay")

    def stop(self):
        name = metrics.service(self.container.service_name)
        metrics.off_scrape(self, (metrics.OUTBOX_PENDING, metrics.OUTBOX_LAG), name)

    kill = stop  # a killed container's relay no longer answers at a scrape either

    def kick(self):
        self.wakeup.kick()

    def worker_setup(self, worker_ctx):
        if self.after_workers:
            self._started[worker_ctx] = _Queued.count

    def worker_teardown(self, worker_ctx):
        """Wake the relay after a worker during which events were queued (by it, or by another worker
        of the process meanwhile: a kick too many is harmless); not after one that queued none (a status
        read, a follow-up that changed no outbox), which would cost a look for pending documents each.
        Anything missed is published at the next `interval` anyway."""
        if self.after_workers and self._started.pop(worker_ctx, None) != _Queued.count:
            self.kick()

    def get_dependency(self, worker_ctx):
        return self.relay

    def _run(self):
        while True:
            self.wakeup.wait(self.interval)
            try:
                self.relay.drain()
            except Exception:  # broker or store down: keep the entries, try again later
                log.exception("outbox relay failed; pending events stay in the outbox")
                eventlet.sleep(min(self.interval * 4, 5))
