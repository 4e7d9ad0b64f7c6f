"""The dispatcher: each subscription's backlog delivered in order, by one green thread at a time.

A subscription with events waiting is leased (store.lease) by one process's
dispatcher, which sends its oldest undelivered event, and the next only once
that one is delivered: in order per subscription, hence per dossier. A failure
puts the subscription in backoff (``retry_at``, Schedule) and frees the green
thread; an exhausted schedule or a 410 stops it (paused / disabled) with an
email and a ``webhook.subscription_paused.v1`` event. Subscriptions are served
by a bounded pool of green threads (WEBHOOK_CONCURRENCY): a slow receiver
holds its own thread, for at most WEBHOOK_TOTAL_TIMEOUT an attempt, and no one
else's. A process that dies mid-attempt leaves a lease that expires; another
process delivers again once it expires, and the same worker started again (the
same host and address: no two live processes share them) at once (at least
once: the receiver deduplicates on webhook-id).
"""
from __future__ import annotations

import logging
import random
import socket
from datetime import timedelta
from urllib.parse import urlsplit

import eventlet
from eventlet.greenpool import GreenPool
from nameko.extensions import DependencyProvider

from contracts import make_event
from onestop import metrics
from onestop.catalog import load_catalog
from onestop.config import Settings
from onestop.dependencies import worker_address
from onestop.storage.mongo import database
from onestop.timers import Wakeup
from onestop.timestamps import iso, utcnow
from services.webhooks.alerts import Alerts
from services.webhooks.domain import ACTIVE, DELIVERED, DISABLED, PAUSED, Outcome, Schedule, signing_secrets
from services.webhooks.sender import Sender, signed_headers
from services.webhooks.store import WebhooksRepository
from services.webhooks.targets import Policy, TargetRefused

log = logging.getLogger(__name__)
SYSTEM = {"id": "webhooks", "role": "system"}
STOPPED = {"gone": DISABLED, "retries_exhausted": PAUSED}


class Deliverer:
    """Framework-free: deliver one subscription's backlog until it is empty, in backoff or stopped."""

    def __init__(self, repo, sender, policy, schedule, alerts, *, owner: str, lease: float, clock=utcnow,
                 rng=random, resolver=socket.getaddrinfo):
        self.repo, self.sender, self.policy, self.schedule, self.alerts = repo, sender, policy, schedule, alerts
        self.owner, self.lease, self.clock, self.rng, self.resolver = owner, lease, clock, rng, resolver

    def run(self, sub_id: str) -> int:
        """Events delivered before it stopped."""
        delivered = 0
        while True:
            now = self.clock()
            subscription = self.repo.lease(sub_id, self.owner, now, self.lease)
            if subscription is None:  # another process has it, or it was paused or deleted meanwhile
                self.repo.release(sub_id, self.owner)  # ours, if it was: resuming must not wait for it
                return delivered
            head = self.repo.head(sub_id)
            if head is None:
                self.repo.release(sub_id, self.owner)
                return delivered
            if not self.attempt(subscription, head, now):
                return delivered
            delivered += 1

    def attempt(self, subscription: dict, head: dict, now) -> bool:
        """Send the head event once; True if it was delivered (the next may go)."""
        result, took = self._send(subscription, head, now)
        record = {"at": now, "outcome": result.kind, "status": result.status, "error": result.error,
                  "duration_ms": round(took * 1000)}
        if result.kind == "delivered":
            done = self.clock()
            self.repo.attempted(head["_id"], record, {"status": DELIVERED, "delivered_at": done, "closed_at": done})
            return True
        failures = head.get("failures", 0) + 1
        delay = None if result.kind == "gone" else self.schedule.next_delay(failures, result.retry_after, self.rng)
        self.repo.attempted(head["_id"], {**record, "next_attempt_in": delay},
                            {"failures": failures, "last_error": result.error})
        if delay is None:
            self.stop(subscription, head, "gone" if result.kind == "gone" else "retries_exhausted", result.error)
        else:
            self.repo.release(subscription["_id"], self.owner, retry_at=now + timedelta(seconds=delay))
        return False

    def _send(self, subscription: dict, head: dict, now) -> tuple[Outcome, float]:
        try:
            target = self.policy.resolve(subscription["url"], self.resolver)  # again: DNS may have changed
        except TargetRefused as exc:
            return Outcome("retry", f"refused: {exc.reason}"), 0.0
        headers = signed_headers(head["event_id"], head["payload"], signing_secrets(subscription, now), now)
        return self.sender.post(target, head["payload"], headers)

    def stop(self, subscription: dict, head: dict, reason: str, error: str) -> None:
        """Paused (or disabled by a 410), with its event, in one write; then the email."""
        now = self.clock()
        fields = {"state": STOPPED[reason], "state_reason": reason, "updated_at": now}
        for _ in range(5):  # an owner's edit may have moved the version meanwhile
            current = self.repo.get(subscription["_id"])
            if current is None or current["state"] != ACTIVE:
                break
            events = paused_events(current, head, reason, error, now)
            written = self.repo.change(current["_id"], current["version"], fields, events, now)
            if written is not None:
                self.alerts.paused(written, head, reason, error)
                break
        self.repo.release(subscription["_id"], self.owner)


def paused_events(subscription: dict, head: dict, reason: str, error: str, now) -> list[dict]:
    """One event per center of the subscription; the receiver's host only (its path may hold a token)."""
    data = {"subscription_id": subscription["_id"], "reason": reason, "state": STOPPED[reason],
            "centers": subscription["centers"], "url_host": urlsplit(subscription["url"]).hostname or "",
            "head_event_id": head["event_id"], "attempts": head.get("attempts", 0) + 1, "last_error": error,
            "paused_at": iso(now)}
    return [make_event("webhook.subscription_paused.v1", center=center, subject=subscription["_id"], data=data,
                       actor=SYSTEM, time=now) for center in subscription["centers"]]


class Dispatch(DependencyProvider):
    """Runs the dispatcher in the service: a look for due subscriptions every WEBHOOK_POLL_INTERVAL,
    and at once when the consumer queued something (``kick()``, injected into workers). A process
    delivers the subscriptions of the centers it serves (CENTERS); one of several centers is
    delivered by whichever of their processes leases it first."""

    def setup(self):
        settings = Settings.load(self.container.config)
        repo = WebhooksRepository(database(settings, self.container.service_name))
        # the worker, not the process: started again after a crash, it takes its leases back at once
        owner = worker_address(self.container.config)
        self.deliverer = Deliverer(repo, Sender.from_settings(settings), Policy.from_settings(settings),
                                   Schedule(settings.webhook_retry_schedule, settings.webhook_jitter,
                                            settings.webhook_retry_after_max),
                                   Alerts(settings), owner=owner, lease=settings.webhook_total_timeout + 30)
        self.repo, self.interval = repo, settings.webhook_poll_interval
        self.centers = settings.center_ids(list(load_catalog().centers))
        self.pool = GreenPool(settings.webhook_concurrency)
        self.running: set[str] = set()
        self.wakeup = Wakeup()

    def start(self):
        metrics.on_scrape(self, self.count_stopped)  # onestop_webhook_subscriptions_stopped, when scraped
        self.container.spawn_managed_thread(self._run, identifier="webhook-dispatcher")

    def stop(self):
        metrics.off_scrape(self)

    def kill(self):
        metrics.off_scrape(self)
        for thread in list(self.pool.coroutines_running):
            thread.kill()

    def count_stopped(self) -> None:
        """Each center's subscriptions the platform stopped, by reason (0s too: resuming resolves the alert)."""
        counts = {(center, reason): 0 for center in load_catalog().centers for reason in metrics.STOP_REASONS}
        for doc in self.repo.stopped():
            for center in doc.get("centers") or ():
                key = (center, doc["state_reason"])
                if key in counts:
                    counts[key] += 1
        for (center, reason), count in counts.items():
            metrics.WEBHOOKS_STOPPED.labels(metrics.center(center), metrics.stop_reason(reason)).set(count)

    def kick(self):
        self.wakeup.kick()

    def get_dependency(self, worker_ctx):
        return self

    def _run(self):
        while True:
            self.wakeup.wait(self.interval)
            try:
                self._spawn_due()
            except Exception:  # the store is away: look again later
                log.exception("webhook dispatcher could not look for due subscriptions")
                eventlet.sleep(min(self.interval * 4, 5))

    def _spawn_due(self):
        free = self.pool.free()
        due = self.repo.due(utcnow(), free + len(self.running), self.centers, self.deliverer.owner) if free else ()
        for sub_id in due:
            if sub_id not in self.running and self.pool.free():
                self.running.add(sub_id)
                self.pool.spawn(self._deliver, sub_id)

    def _deliver(self, sub_id: str):
        try:
            self.deliverer.run(sub_id)
        except Exception:  # its lease expires and it is tried again; others go on
            log.exception("delivering subscription %s failed", sub_id)
        finally:
            self.running.discard(sub_id)
