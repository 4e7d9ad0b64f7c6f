"""The watches: each look asks the broker and the services what is wrong now, as findings
(services/alerts/domain.py). A DependencyProvider, since a queue's growth is seen across looks."""
from __future__ import annotations

import logging

from nameko.extensions import DependencyProvider

from onestop.config import Settings
from services.alerts import domain, probes

log = logging.getLogger(__name__)


class Watcher:
    """Framework-free: ``findings(now)`` from the broker's queues and the targets' /healthz."""

    def __init__(self, settings: Settings):
        self.s = settings
        self.growth = domain.QueueGrowth(settings.alerts_queue_growth_seconds)

    def findings(self, now) -> list[domain.Finding]:
        return self.broker(now) + self.services()

    def broker(self, now) -> list[domain.Finding]:
        try:
            messages, ready = probes.queues(self.s.amqp_uri, self.s.rabbit_mgmt_url, self.s.alerts_http_timeout * 3)
        except Exception as exc:  # no answer: say so, and keep the dead-letter alerts as they were
            log.error("the broker's management API did not answer (%r)", exc)
            return [domain.Finding("service_down:rabbitmq-management", "service_down", domain.ALL,
                                   "RabbitMQ's management API does not answer", f"{self.s.rabbit_mgmt_url}: "
                                   f"{type(exc).__name__}")]
        return domain.dead_letters(messages) + self.growth.observe(ready, now)

    def services(self) -> list[domain.Finding]:
        found = []
        for service, (answer, problem) in probes.all_healthz(self.s.alerts_targets, self.s.alerts_http_timeout).items():
            found += domain.health(service, answer, problem, self.s.alerts_outbox_lag)
        return found


class Watches(DependencyProvider):
    """Injects the container's one `Watcher` (its queue-growth streaks last as long as the process)."""

    def setup(self):
        self.watcher = Watcher(Settings.load(self.container.config))

    def get_dependency(self, worker_ctx):
        return self.watcher
