"""The watches: each look asks the broker and the services what is wrong now, as findings
(services/alerts/domain.py). A DependencyProvider, since a queue's growth is seen across looks."""
from __future__ import annotations

import logging
from typing import NamedTuple

from nameko.extensions import DependencyProvider

from onestop.config import Settings
from services.alerts import domain, probes

log = logging.getLogger(__name__)


class Seen(NamedTuple):
    findings: list  # what is wrong now
    unknown: tuple  # key prefixes nothing could be seen of this time: their alerts stay as they are


class Watcher:
    """Framework-free: ``findings(now)`` from the broker's queues and the targets' /healthz."""

    def __init__(self, settings: Settings):
        self.s = settings
        self.growth = domain.QueueGrowth(settings.alerts_queue_growth_seconds)

    def look(self, now) -> Seen:
        broker, broker_unknown = self.broker(now)
        services, services_unknown = self.services()
        return Seen(broker + services, broker_unknown + services_unknown)

    def broker(self, now) -> tuple[list, tuple]:
        try:
            dead, ready = probes.queues(self.s.amqp_uri, self.s.rabbit_mgmt_url, self.s.alerts_http_timeout * 3)
        except Exception as exc:  # no answer: say so, and leave the queues' alerts as they were
            log.error("the broker's queues could not be read (%r)", exc)
            return [domain.Finding("service_down:rabbitmq", "service_down", domain.ALL,
                                   "RabbitMQ's queues cannot be read", f"{self.s.rabbit_mgmt_url} or the AMQP "
                                   f"connection: {type(exc).__name__}")], ("dead_letter:", "queue_growing:")
        return domain.dead_letters(dead) + self.growth.observe(ready, now), ()

    def services(self) -> tuple[list, tuple]:
        found, unknown = [], ()
        for service, (answer, problem) in probes.all_healthz(self.s.alerts_targets, self.s.alerts_http_timeout).items():
            seen = domain.health(service, answer, problem, self.s.alerts_outbox_lag)
            found += seen
            if any(f.kind == "service_down" for f in seen):  # its breakers and outbox unseen, not fine
                unknown += (f"outbox_stale:{service}", *(("breaker_open:",) if service == "notification" else ()))
        return found, unknown


class Watches(DependencyProvider):
    """Injects the container's one `Watcher` (its queue-growth streaks last as long as the process)."""

    def setup(self):
        self.watcher = Watcher(Settings.load(self.container.config))

    def get_dependency(self, worker_ctx):
        return self.watcher
