"""Operator alerts reach a person: the SMS gateway stopped, a dead letter, a paused webhook
subscription and an overdue dossier each raise one alert, emailed to OPERATORS_EMAIL at the SMTP
sink ("[OneStop alert] ...") and published as ops.alert_raised.v1; once each is dealt with (the
gateway started again, the dead-letter queue purged, the subscription resumed) the resolved notice
follows, by email and as ops.alert_resolved.v1. Nothing of a citizen's personal data is in them.

Real RabbitMQ, real HTTP and SMTP: intake, routing, notification and alerts as nameko containers in
this process, sinks of this module's own (so stopping the SMS one disturbs no other test).
"""
from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from kombu import Connection

from contracts import make_event
from onestop.messaging.topology import EVENTS
from services.alerts.service import AlertsService
from services.intake.service import IntakeService
from services.notification.service import NotificationService
from services.routing.service import RoutingService
from tests.conftest import drop_databases, drop_vhost, free_port, make_vhost
from tests.integration.conftest import Services, platform_config
from tests.integration.test_delivery import publish, received_event
from tests.support.personal_data import Citizen
from tests.support.samples import dossier
from tests.support.sinks import Sinks
from tests.support.staff import COUNTER, bearer
from tests.support.tap import Tap
from tests.support.wait import until

pytestmark = pytest.mark.integration

OPS = f"ops-{uuid.uuid4().hex[:6]}@onestop.local"
GIAO = Citizen("Hoàng Thị Quỳnh Giao", "046187539264", "0986421753", "quynhgiao.hoang@thu-mien.vn")
OPERATOR = bearer("operator", "ops-it", centers=("hue-vyda",))
PIPELINE = {"RETRY_DELAYS": "0.2,0.5" + ",1" * 25, "DELIVERY_LIMIT": 30, "CIRCUIT_FAILURES": 2, "CIRCUIT_RESET": 1,
            "SMS_TIMEOUT": 1, "TIMER_INTERVAL": 0.5}
POISON = "VYDA-260213-0471"  # no such procedure: routing dead-letters it
LATE = "VYDA-260105-0472"  # received in January: overdue at routing's first look


@pytest.fixture(scope="module")
def platform():
    vhost, prefix = make_vhost("onestop-it"), f"t{uuid.uuid4().hex[:10]}_"
    sinks = Sinks(free_port(), free_port(), free_port()).start()
    running = Services(platform_config(f"amqp://guest:guest@127.0.0.1:5672/{vhost}", sinks, prefix))
    try:
        apps = {cls.name: running.start(cls, **PIPELINE) for cls in (IntakeService, RoutingService,
                                                                      NotificationService)}
        apps["alerts"] = running.start(AlertsService, ALERTS_INTERVAL=0.5, ALERTS_RESOLVE_AFTER=1.5,
                                       OPERATORS_EMAIL=OPS, ALERTS_TARGETS=f"notification={apps['notification'].http}")
        tap = Tap(running.config["AMQP_URI"], EVENTS, "ops.#", name="test.tap.alerts")
        yield {"apps": apps, "sinks": sinks, "tap": tap, "amqp": running.config["AMQP_URI"], "events": []}
    finally:
        running.stop_all()
        sinks.ensure_running()
        sinks.stop()
        drop_vhost(vhost)
        drop_databases(prefix)


def alert_mails(sinks, word: str = "") -> list[dict]:
    return [m for m in sinks.emails(to=OPS) if m["subject"].startswith("[OneStop alert]") and word in m["subject"]]


def events(platform) -> list[dict]:
    platform["events"] += platform["tap"].messages()
    return platform["events"]


def of_type(platform, type_: str, kind: str) -> list[dict]:
    return [e for e in events(platform) if e["type"] == type_ and e["data"]["kind"] == kind]


def sms_stopped(sinks) -> None:
    sinks.procs["sms"].terminate()
    sinks.procs["sms"].wait(10)


def sms_started(sinks) -> None:
    sinks.procs["sms"] = subprocess.Popen([sys.executable, "-m", "onestop.dev.sinks.sms"], env=sinks.env(),
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    until(lambda: sinks._answers("sms", sinks.sms_http), 20, 0.1, "the SMS sink back")


def test_the_sms_gateway_stopped_raises_one_alert_within_a_minute_and_its_start_resolves_it(platform):
    sinks, apps = platform["sinks"], platform["apps"]
    sms_stopped(sinks)
    try:
        answer = requests.post(f"{apps['intake'].http}/api/v1/dossiers", headers=COUNTER, timeout=10,
                               json=dossier(full_name=GIAO.full_name, id_number=GIAO.id_number, phone=GIAO.phone,
                                            email=GIAO.email))
        assert answer.status_code == 201, answer.text
        stopped = time.monotonic()
        (mail,) = until(lambda: alert_mails(sinks, "sms"), 60, 0.2, "the breaker's alert at the SMTP sink")
        print(f"\nalert email {time.monotonic() - stopped:.1f} s after the SMS gateway stopped")
        assert mail["subject"] == "[OneStop alert] The sms provider's circuit breaker is open"
        assert "What to do:" in mail["text"] and "docs/operations.md#alert-breaker-open" in mail["text"]
        raised = until(lambda: of_type(platform, "ops.alert_raised.v1", "breaker_open"), 10, 0.1, "its event")[0]
        assert raised["data"]["center"] == "all" and raised["data"]["key"] == "breaker_open:sms"
        listed = requests.get(f"{apps['alerts'].http}/api/v1/alerts", headers=OPERATOR, timeout=5).json()["alerts"]
        assert [a["id"] for a in listed if a["kind"] == "breaker_open"] == [raised["data"]["alert_id"]]
    finally:
        sms_started(sinks)
    (done,) = until(lambda: alert_mails(sinks, "resolved: The sms"), 40, 0.2, "the resolved notice")
    assert "the condition stayed clear" in done["text"]
    until(lambda: of_type(platform, "ops.alert_resolved.v1", "breaker_open"), 10, 0.1, "ops.alert_resolved.v1")
    until(lambda: sinks.sms(to="+84" + GIAO.phone[1:]), 30, 0.2, "the citizen's SMS, once the gateway is back")
    assert len(alert_mails(sinks, "The sms")) == 2  # one raised, one resolved: no repeat while it lasted
    told = of_type(platform, "ops.alert_raised.v1", "breaker_open")  # one event per center, one alert
    assert len({e["data"]["alert_id"] for e in told}) == 1 and len({e["center"] for e in told}) == len(told)


def test_a_dead_letter_a_paused_subscription_and_an_overdue_dossier_each_alert_until_dealt_with(platform):
    sinks, amqp = platform["sinks"], platform["amqp"]
    publish(amqp, received_event(code=POISON, procedure_code="9.999999"))
    january = datetime.now(timezone.utc) - timedelta(days=60)
    publish(amqp, received_event(code=LATE, received_at=january.strftime("%Y-%m-%dT02:00:00Z"),
                                 appointment_date=january.strftime("%Y-%m-%d")))
    paused = {"subscription_id": "whsub_00a1e7", "reason": "retries_exhausted", "state": "paused",
              "centers": ["hue-vyda"], "url_host": "hooks.example.vn", "head_event_id": str(uuid.uuid4()),
              "attempts": 11, "last_error": "HTTP 503", "paused_at": "2026-02-16T05:12:00.000Z"}
    publish(amqp, make_event("webhook.subscription_paused.v1", center="hue-vyda", subject="whsub_00a1e7",
                             data=paused, actor={"id": "webhooks", "role": "system"}))
    wanted = ("Dead letters of routing at hue-vyda", "Webhook subscription whsub_00a1e7 is paused",
              "1 dossier(s) overdue at hue-vyda")
    until(lambda: all(alert_mails(sinks, w) for w in wanted), 30, 0.2, "the three alerts")
    overdue = alert_mails(sinks, "overdue at hue-vyda")[0]
    assert LATE in overdue["text"] and "docs/operations.md#alert-dossier-overdue" in overdue["text"]

    with Connection(amqp) as conn:
        conn.default_channel.queue_purge("onestop.routing.hue-vyda.dlq")
    publish(amqp, make_event("webhook.subscription_resumed.v1", center="hue-vyda", subject="whsub_00a1e7",
                             data={"subscription_id": "whsub_00a1e7", "centers": ["hue-vyda"], "resumed_by": "ops-it",
                                   "resumed_at": "2026-02-16T06:00:00.000Z"}, actor={"id": "ops-it",
                                                                                    "role": "operator"}))
    until(lambda: all(alert_mails(sinks, "resolved: " + w) for w in wanted[:2]), 30, 0.2,
          "the dead letter's and the subscription's resolved notices")
    kinds = {e["data"]["kind"] for e in events(platform) if e["type"] == "ops.alert_resolved.v1"}
    assert {"dead_letter", "webhook_paused"} <= kinds
    assert len(alert_mails(sinks, wanted[0])) == 2 and len(alert_mails(sinks, wanted[1])) == 2


def test_no_alert_carries_a_citizens_personal_data(platform):
    sent = alert_mails(platform["sinks"])
    assert sent and not GIAO.hits([{"subject": m["subject"], "text": m["text"]} for m in sent])
    assert not GIAO.hits(events(platform))
    listed = requests.get(f"{platform['apps']['alerts'].http}/api/v1/alerts?state=all", headers=OPERATOR, timeout=5)
    assert listed.status_code == 200 and not GIAO.hits(listed.json())


def test_a_center_leader_sees_their_centers_alerts_and_the_platforms_only(platform):
    base = f"{platform['apps']['alerts'].http}/api/v1/alerts"
    leader = bearer("center_leader", "phuxuan-leader", centers=("hue-phuxuan",))
    seen = requests.get(base, params={"state": "all"}, headers=leader, timeout=5).json()["alerts"]
    assert seen and {a["center"] for a in seen} <= {"hue-phuxuan", "all"}  # the sms breaker's, not hue-vyda's
    other = requests.get(base, params={"center": "hue-vyda"}, headers=leader, timeout=5)
    assert other.status_code == 404 and other.json()["error"] == "not_found"
    bad = requests.get(base, params={"state": "closed"}, headers=leader, timeout=5)
    assert bad.status_code == 422 and "state" in bad.text
