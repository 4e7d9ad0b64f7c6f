"""Webhooks takes from the broker only what a live subscription wants (issue 18).

Each center's work queue ``onestop.webhooks.<center>`` is bound to ``onestop.events``
with ``<type>.<center>`` for every type a live subscription of that center names, or
with ``#.<center>`` alone when one names none (domain.wanted_patterns). A center that
nobody subscribed to sends webhooks nothing: five quorum deliveries fewer a dossier,
and webhooks' CPU for them.

**Nothing owed is lost.** A subscription is owed every event published after its
create (or change) answered. Subscriptions are shared by every webhooks process
through the store, so one process's unbinding could race another's new
subscription. Every change of the bindings is therefore made under one lock: the
exclusive queue ``onestop.webhooks.lock`` on the broker. One connection at a time
holds it; the broker frees it the moment that connection dies; and the bindings are
changed on that very connection, so a process that has lost the lock can no longer
bind or unbind anything. Under the lock a change

1. binds what the subscription being written wants (a binding too many costs a
   delivery, never an event),
2. writes the subscription to the store,
3. reads every live subscription and makes the bindings of the centers concerned
   match them: binds what is wanted, unbinds what is not;

and only then does the API answer. Whoever unbinds has read the store after taking
the lock, so it sees every subscription written before: a subscription is never
unbound while it lives. If the lock is lost between 2 and 3 (a broker restart), 3 is
done again under a new lock before answering. AMQP cannot list a queue's bindings,
so matching walks every binding a center's queue can have (``#`` and each public
type), asynchronously (``nowait``) and closed by one synchronous call, which fails
if any of them did.

The bindings are matched for every center at start-up (the queues of an older
release were bound to ``#``) and every ``WEBHOOK_BINDINGS_INTERVAL`` (a repair, if
ever a step 3 could not be done: the change is then logged at error level).
"""
from __future__ import annotations

import logging
import random
import time
from contextlib import contextmanager

import eventlet
from amqp.exceptions import AMQPError, ResourceLocked
from kombu import Connection
from kombu.exceptions import OperationalError
from nameko.extensions import DependencyProvider

from onestop.catalog import load_catalog
from onestop.config import Settings
from onestop.errors import Unavailable
from onestop.messaging.topology import EVENTS, work_queue_name
from services.webhooks.domain import EVERY_TYPE, wanted_patterns
from services.webhooks.handlers import PUBLIC_TYPES

log = logging.getLogger(__name__)
BROKER_TROUBLE = (OSError, AMQPError, OperationalError)
LOCK_QUEUE = "onestop.webhooks.lock"  # the service's user may configure onestop.webhooks.<name>
PATTERNS = (EVERY_TYPE, *PUBLIC_TYPES)  # every binding a webhooks queue can have


class BindingsBusy(Unavailable):
    def __init__(self, seconds: float):
        super().__init__(f"The subscriptions' bindings are being changed elsewhere for more than {seconds:.0f}s; "
                         "try again.", error="bindings_busy")


class BrokerUnreachable(Unavailable):
    def __init__(self):
        super().__init__("The broker cannot be reached to bind webhooks' queues; nothing was written. Try again.",
                         error="broker_unreachable")


class QueueBindings:
    """Framework-free: the bindings of webhooks' queues, kept to what `live()` (the store's
    subscriptions not deleted) wants."""

    def __init__(self, amqp_uri: str, centers, lock_wait: float = 10.0):
        self.amqp_uri, self.centers, self.lock_wait = amqp_uri, tuple(centers), lock_wait

    def change(self, write, live, centers, adding=()):
        """`write()` (the store's change) under the lock, with the bindings made to match before and
        after it (the module's steps 1 to 3); what `write` returned. A write that raises leaves at most
        a binding too many, which the matching after it takes away."""
        concerned = set(centers)
        centers = [c for c in self.centers if c in concerned]
        with self._locked(self.lock_wait) as channel:
            if adding:  # a delete adds nothing: no round trip for it
                try:
                    self._bind(channel, {c: wanted_patterns(list(adding), c) for c in centers}, unbind=False)
                except BROKER_TROUBLE as exc:
                    raise BrokerUnreachable() from exc
            try:
                result = write()
            finally:
                matched = self._matched(channel, live, centers)
        if not matched and not self._again(live, centers):
            log.error("the webhooks queues' bindings of %s could not be matched after a change; the periodic "
                      "matching (WEBHOOK_BINDINGS_INTERVAL) will", centers)
        return result

    def _again(self, live, centers) -> bool:
        """The lock was lost after the write: match again, under a new one."""
        try:
            return self.match(live, centers)
        except (*BROKER_TROUBLE, BrokerUnreachable) as exc:
            log.warning("matching the bindings again failed: %r", exc)
            return False

    def match(self, live, centers=None, wait: float | None = None) -> bool:
        """Make the bindings of these centers (all by default) match the live subscriptions; False if
        another process holds the lock for longer than `wait` (it is matching them itself)."""
        centers = list(self.centers if centers is None else centers)
        try:
            with self._locked(self.lock_wait if wait is None else wait) as channel:
                self._match(channel, live, centers)
            return True
        except BindingsBusy:
            return False

    def _matched(self, channel, live, centers) -> bool:
        try:
            self._match(channel, live, centers)
            return True
        except BROKER_TROUBLE as exc:  # the lock's connection is gone
            log.warning("could not match the webhooks queues' bindings under the lock (%r); again under a new one",
                        exc)
            return False

    def _match(self, channel, live, centers) -> None:
        subscriptions = live()  # read under the lock: every subscription written before it was taken
        self._bind(channel, {c: wanted_patterns(subscriptions, c) for c in centers}, unbind=True)

    @staticmethod
    def _bind(channel, wanted: dict, unbind: bool) -> None:
        for center, patterns in wanted.items():
            queue = work_queue_name("webhooks", center)
            for pattern in PATTERNS:
                key = f"{pattern}.{center}"
                if pattern in patterns:
                    channel.queue_bind(queue, EVENTS.name, key, nowait=True)
                elif unbind:
                    channel.queue_unbind(queue, EVENTS.name, key, nowait=True)
        channel.queue_declare(LOCK_QUEUE, passive=True)  # one round trip: raises if any of the above failed

    @contextmanager
    def _locked(self, wait: float):
        connection = Connection(self.amqp_uri, connect_timeout=5)
        try:
            channel = _lock_of(connection, wait)
            yield channel
        finally:
            connection.release()  # the broker deletes the exclusive queue: the lock is free


def _lock_of(connection, wait: float):
    """The lock's channel, once this connection holds the exclusive queue; BindingsBusy after `wait` s,
    BrokerUnreachable if the broker cannot be reached."""
    deadline = time.monotonic() + wait
    while True:
        try:
            channel = connection.channel()
            channel.queue_declare(LOCK_QUEUE, exclusive=True, auto_delete=True)
            return channel
        except ResourceLocked:  # another connection holds it; the broker closed this channel
            if time.monotonic() >= deadline:
                raise BindingsBusy(wait) from None
            eventlet.sleep(random.uniform(0.02, 0.1))
        except BROKER_TROUBLE as exc:
            raise BrokerUnreachable() from exc


class Bindings(DependencyProvider):
    """The `QueueBindings` of this service's broker and the catalog's centers (every center's queue is
    declared, served here or not)."""

    def setup(self):
        settings = Settings.load(self.container.config)
        self.bindings = QueueBindings(settings.amqp_uri, load_catalog().centers)

    def get_dependency(self, worker_ctx):
        return self.bindings
