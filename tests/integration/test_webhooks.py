"""Webhooks against real RabbitMQ and real HTTP: an integrator subscribes, dossiers flow through
intake and routing, and a real receiver verifies every body with its secret (`standardwebhooks`).
The retry schedule is compressed to fractions of a second."""
from __future__ import annotations

import pytest
import requests
from standardwebhooks import Webhook

from onestop.messaging.topology import EVENTS
from services.intake.service import IntakeService
from services.routing.service import RoutingService
from services.webhooks.service import WebhooksService
from tests.support.receiver import Receiver
from tests.support.samples import dossier
from tests.support.staff import COUNTER, bearer
from tests.support.tap import Tap
from tests.support.wait import until

pytestmark = pytest.mark.integration

INTEGRATOR = bearer("integrator", "portal-tinh", centers=("hue-vyda", "hue-phuxuan"))
BIRTH, LAND = "1.001193", "1.013978"  # fields justice and land
FLOW = ("dossier.received.v1", "dossier.routed.v1", "dossier.assigned.v1")
FAST = {"WEBHOOK_ALLOW_LOOPBACK": "true", "WEBHOOK_ALLOW_HTTP": "true", "WEBHOOK_POLL_INTERVAL": "0.1",
        "WEBHOOK_JITTER": "0", "WEBHOOK_RETRY_SCHEDULE": "0.2,0.2,0.2,0.2,0.2,0.2,0.2,0.2",
        "WEBHOOK_READ_TIMEOUT": "10", "WEBHOOK_TOTAL_TIMEOUT": "10", "OPERATORS_EMAIL": "ops@onestop.example.vn"}


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def platform(services):
    """intake, routing and webhooks; (intake, webhooks) containers."""
    intake = services.start(IntakeService)
    services.start(RoutingService)
    return intake, services.start(WebhooksService, **FAST)


def subscribe(webhooks, url, **body):
    answer = requests.post(f"{webhooks.http}/api/v1/subscriptions", headers=INTEGRATOR, timeout=10,
                           json={"url": url, "centers": ["hue-vyda"], **body})
    assert answer.status_code == 201, answer.text
    return answer.json()


def submit(intake, procedure=BIRTH):
    answer = requests.post(f"{intake.http}/api/v1/dossiers", headers=COUNTER, timeout=10,
                           json=dossier(center="hue-vyda", procedure_code=procedure))
    assert answer.status_code == 201, answer.text
    return answer.json()["code"]


def verified(receiver, path, secret):
    """Every body `path` took, each checked with the subscriber's secret as a subscriber would."""
    hook = Webhook(secret)
    return [hook.verify(r["body"], r["headers"]) for r in receiver.received(path)]


def by_dossier(events):
    out = {}
    for event in events:
        out.setdefault(event["subject"], []).append(event["type"])
    return out


def test_each_subscriber_gets_what_it_filters_signed_and_in_order(platform, receiver):
    intake, webhooks = platform
    births = subscribe(webhooks, receiver.url("/births"), procedures=[BIRTH])
    land = subscribe(webhooks, receiver.url("/land"), fields=["land"], event_types=["dossier.received.v1"])
    codes = [submit(intake), submit(intake), submit(intake, LAND)]

    until(lambda: len(receiver.received("/births")) >= 6, 20, 0.05, "the births' six events")
    until(lambda: receiver.received("/land"), 20, 0.05, "the land dossier's receipt")
    events = verified(receiver, "/births", births["secret"])
    assert by_dossier(events) == {codes[0]: list(FLOW), codes[1]: list(FLOW)}
    first = receiver.received("/births")[0]
    assert first["headers"]["webhook-id"] == events[0]["id"]
    assert first["headers"]["content-type"] == "application/cloudevents+json"
    assert "OneStop" in first["headers"]["user-agent"]
    assert [(e["type"], e["subject"]) for e in verified(receiver, "/land", land["secret"])] == \
        [("dossier.received.v1", codes[2])]
