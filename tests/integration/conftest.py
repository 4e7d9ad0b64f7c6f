"""Integration fixtures: nameko containers in this process on real RabbitMQ."""
from __future__ import annotations

import eventlet
import pytest
from nameko.containers import ServiceContainer

from services.alerts.service import AlertsService
from services.audit.service import AuditService
from services.console.service import ConsoleService
from services.intake.service import IntakeService
from services.notification.service import NotificationService
from services.routing.service import RoutingService
from services.webhooks.service import WebhooksService
from tests.conftest import drop_vhost, free_port, make_vhost
from tests.support.jwks import JWKSServer
from tests.support.staff import AUTH_CONFIG, KEYS_FILE

# The services with an HTTP API, by name
HTTP = {"intake": IntakeService, "routing": RoutingService, "notification": NotificationService,
        "audit": AuditService, "webhooks": WebhooksService,
        "console": ConsoleService,  # issue 17: the console (its upstreams unset here: it says they are unreachable)
        "alerts": AlertsService}  # issue 17, alerts

@pytest.fixture
def amqp_uri():
    """A vhost per test: no message of one test reaches another's consumers."""
    name = make_vhost("onestop-it")
    yield f"amqp://guest:guest@127.0.0.1:5672/{name}"
    drop_vhost(name)


@pytest.fixture
def config(amqp_uri, sinks, mongo_prefix):
    return platform_config(amqp_uri, sinks, mongo_prefix)


def platform_config(amqp_uri, sinks, mongo_prefix) -> dict:
    """The services' config in a test: its vhost, its databases, the session's sinks, limits a test won't hit."""
    return {
        "AMQP_URI": amqp_uri, "MONGO_DB_PREFIX": mongo_prefix,
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": sinks.smtp_port, "SMS_URL": sinks.sms_url,
        "RETRY_DELAYS": "0.2,0.4,0.8", "DELIVERY_LIMIT": 5, "CENTERS": "all",
        "PUBLIC_STATUS_URL": "http://127.0.0.1:8001/api/v1/dossiers/{code}",
        "STATUS_RATE_LIMIT": "100000/60", "AUDIT_RATE_LIMIT": "100000/60",
        # tests poll the status; the limit has its own tests
        "COUNTER_SUBMIT_LIMIT": "100000/60",  # tests take dossiers in with one counter token; the limit: test_flood
        # issue 17, staff sign-in: the services fetch the test key set's JWKS over HTTP, as from a provider
        **AUTH_CONFIG, "AUTH_JWKS_URL": jwks_server().url,
    }


_JWKS = []


def jwks_server() -> JWKSServer:
    """The session's JWKS server (tests/support/jwks.py), started at first use."""
    if not _JWKS:
        _JWKS.append(JWKSServer(KEYS_FILE).start())
    return _JWKS[0]


class Services:
    """Start nameko containers with per-container overrides; kill them all at the end."""

    def __init__(self, config):
        self.config, self.containers = config, []

    def start(self, service_cls, **overrides):
        port = free_port()
        container = ServiceContainer(service_cls, {**self.config, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
                                                   **overrides})
        container.start()
        container.http = f"http://127.0.0.1:{port}"
        self.containers.append(container)
        return container

    def stop_all(self):
        # side by side: each kill waits on its connections' and web server's close (0.1-0.6 s each)
        list(eventlet.GreenPool().imap(lambda container: container.kill(), self.containers))


@pytest.fixture
def services(config):
    running = Services(config)
    yield running
    running.stop_all()
