"""Webhooks against real RabbitMQ and real HTTP: an integrator subscribes, dossiers flow through
intake and routing, and a real receiver verifies every body with its secret (`standardwebhooks`).
The retry schedule is compressed to fractions of a second."""
from __future__ import annotations

import pytest
import requests
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from standardwebhooks import Webhook

from onestop.messaging.topology import EVENTS
from services.intake.service import IntakeService
from services.routing.service import RoutingService
from services.webhooks.schemas import DeliveryPageSchema
from services.webhooks.service import WebhooksService
from tests.conftest import free_port
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
    assert "OneStop" in first["headers"]["user-agent"]
    cloud = from_http_event(HTTPMessage(first["headers"], first["body"]))  # the official SDK: structured mode
    assert (cloud.get_id(), cloud.get_type(), cloud.get_extension("procedure"), cloud.get_extension("field")) == \
        (events[0]["id"], "dossier.received.v1", BIRTH, "justice")
    assert cloud.get_dataschema().endswith("/dossier.received.v1.json") and cloud.get_extension("correlationid")
    assert [(e["type"], e["subject"]) for e in verified(receiver, "/land", land["secret"])] == \
        [("dossier.received.v1", codes[2])]


def test_a_receiver_that_was_down_gets_every_event_once_in_order(platform, receiver):
    intake, webhooks = platform
    receiver.behave("/down", status=503)
    sub = subscribe(webhooks, receiver.url("/down"), event_types=list(FLOW))
    port = free_port()  # nothing listens there yet: connection refused
    refused = subscribe(webhooks, f"http://127.0.0.1:{port}/later", event_types=list(FLOW))
    codes = [submit(intake) for _ in range(3)]
    until(lambda: len(receiver.received("/down", delivered_only=False)) >= 3, 20, 0.05, "attempts while down")
    receiver.behave("/down", status=204)
    later = Receiver(port).start()

    try:
        for where, path, secret in ((receiver, "/down", sub["secret"]), (later, "/later", refused["secret"])):
            until(lambda: len(where.received(path)) >= 9, 20, 0.05, f"all nine events at {path}")
            events = verified(where, path, secret)
            assert len({e["id"] for e in events}) == len(events) == 9  # each once
            assert by_dossier(events) == {code: list(FLOW) for code in codes}  # in order per dossier
    finally:
        later.stop()
    page = requests.get(f"{webhooks.http}/api/v1/subscriptions/{sub['id']}/deliveries", headers=INTEGRATOR,
                        params={"status": "delivered", "limit": 500}, timeout=5).json()
    assert DeliveryPageSchema().validate(page) == {} and page["total"] == 9
    head = page["deliveries"][-1]
    assert [a["status"] for a in head["attempts"]][-1] == 204 and head["attempts"][0]["status"] == 503


def test_retry_after_is_honoured_and_a_slow_receiver_delays_no_one_else(platform, receiver):
    intake, webhooks = platform
    receiver.behave("/busy", status=429, retry_after="1")
    receiver.behave("/slow", sleep=3)
    subscribe(webhooks, receiver.url("/busy"), event_types=["dossier.received.v1"])
    subscribe(webhooks, receiver.url("/slow"), event_types=["dossier.received.v1"])
    fast = subscribe(webhooks, receiver.url("/fast"), event_types=["dossier.received.v1"])
    code = submit(intake)

    until(lambda: receiver.received("/busy", delivered_only=False), 10, 0.05, "the first attempt at /busy")
    receiver.behave("/busy", status=204)
    fast_events = until(lambda: verified(receiver, "/fast", fast["secret"]), 2, 0.02, "/fast, while /slow sleeps")
    assert [e["subject"] for e in fast_events] == [code]
    assert receiver.received("/slow", delivered_only=False) == []  # still asleep on its first attempt
    tries = until(lambda: (r := receiver.received("/busy", delivered_only=False)) and len(r) >= 2 and r, 10, 0.05,
                  "the retry at /busy")
    assert tries[1]["at"] - tries[0]["at"] >= 0.95  # Retry-After: 1, not the schedule's 0.2 s


def test_410_disables_and_exhaustion_pauses_telling_the_owner_and_resume_delivers_the_backlog(
        platform, receiver, sinks, amqp_uri):
    intake, webhooks = platform
    tap = Tap(amqp_uri, EVENTS, "webhook.subscription_paused.v1.*")
    resumes = Tap(amqp_uri, EVENTS, "webhook.subscription_resumed.v1.*")  # issue 17: alerts resolve on it
    receiver.behave("/gone", status=410)
    receiver.behave("/dead", status=500)
    gone = subscribe(webhooks, receiver.url("/gone"), event_types=["dossier.received.v1"])
    dead = subscribe(webhooks, receiver.url("/dead"), event_types=["dossier.received.v1"],
                     contact_email="it@sotuphap.example.vn")
    codes = [submit(intake), submit(intake)]

    def state(sub):
        return requests.get(f"{webhooks.http}/api/v1/subscriptions/{sub['id']}", headers=INTEGRATOR,
                            timeout=5).json()
    assert until(lambda: state(gone)["state"] == "disabled" and state(gone), 10, 0.05, "410 disables")[
        "state_reason"] == "gone"
    paused = until(lambda: state(dead)["state"] == "paused" and state(dead), 20, 0.05, "exhausted: paused")
    assert paused["state_reason"] == "retries_exhausted" and paused["backlog"] == 2  # nothing dropped
    assert len(receiver.received("/dead", delivered_only=False)) == 9  # 1 + the schedule's 8 retries
    mail = until(lambda: sinks.emails(to="it@sotuphap.example.vn"), 10, 0.1, "the owner's email")
    assert dead["id"] in mail[0]["subject"] and "ops@onestop.example.vn" in mail[0]["to"]
    told = until(lambda: [m for m in tap.messages() if m["data"]["subscription_id"] == dead["id"]], 10, 0.1,
                 "webhook.subscription_paused.v1")
    assert told[0]["data"]["reason"] == "retries_exhausted"

    receiver.behave("/dead", status=204)
    resumed = requests.post(f"{webhooks.http}/api/v1/subscriptions/{dead['id']}/resume", headers=INTEGRATOR,
                            timeout=5)
    assert resumed.status_code == 200 and resumed.json()["state"] == "active"
    events = until(lambda: len(r := verified(receiver, "/dead", dead["secret"])) == 2 and r, 10, 0.05, "the backlog")
    assert [e["subject"] for e in events] == codes
    (back,) = until(lambda: resumes.messages(), 10, 0.1, "webhook.subscription_resumed.v1")
    assert back["subject"] == dead["id"] and back["data"]["centers"] == ["hue-vyda"]


def test_replay_one_event_and_a_time_range(platform, receiver):
    intake, webhooks = platform
    sub = subscribe(webhooks, receiver.url("/replay"), event_types=["dossier.received.v1"])
    codes = [submit(intake), submit(intake)]
    first = until(lambda: len(r := verified(receiver, "/replay", sub["secret"])) == 2 and r, 10, 0.05, "two events")
    base = f"{webhooks.http}/api/v1/subscriptions/{sub['id']}"
    operator = bearer("operator", "ops-01", centers=("hue-vyda",))  # operators replay for their centers too

    one = requests.post(f"{base}/deliveries/{first[0]['id']}/replay", headers=operator, timeout=5)
    assert one.status_code == 202 and one.json() == {"replayed": 1}
    again = until(lambda: len(r := verified(receiver, "/replay", sub["secret"])) == 3 and r, 10, 0.05, "the replay")
    assert again[2] == first[0] and receiver.received("/replay")[2]["headers"]["webhook-id"] == first[0]["id"]

    window = {"from": first[0]["time"], "to": "2999-01-01T00:00:00Z"}
    assert requests.post(f"{base}/replay", json=window, headers=INTEGRATOR, timeout=5).json() == {"replayed": 2}
    events = until(lambda: len(r := verified(receiver, "/replay", sub["secret"])) == 5 and r, 10, 0.05, "the range")
    assert [e["subject"] for e in events[3:]] == codes
