"""Small nameko dependency providers shared by every service."""
from __future__ import annotations

from nameko.extensions import DependencyProvider

from onestop.config import Settings
from onestop.health import BrokerCheck, report


class SettingsProvider(DependencyProvider):
    """Injects the `Settings` of this container (config first, then environment)."""

    def setup(self):
        self.settings = Settings.load(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.settings


class Health(DependencyProvider):
    """Injects ``check(db, **extra) -> (status, body)`` for `/healthz`."""

    def setup(self):
        self.broker = BrokerCheck(Settings.load(self.container.config).amqp_uri)

    def get_dependency(self, worker_ctx):
        service = self.container.service_name
        return lambda db, **extra: report(service, self.broker, db, **extra)
