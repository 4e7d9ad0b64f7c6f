"""The console in a real headless browser (Debian's chromium, driven by Playwright): a center leader
signs in and sees a dossier the test submits appear in the counts without a reload; an operator sees a
dead letter appear, replays it from the keyboard, and the replay is in the audit log under their name;
the language switches; the session never reaches the page's script, storage or URLs; a POST without
the CSRF token is refused; after signing out the old cookie answers 401. Screenshots go to
var/screenshots/ (Vietnamese, English, phone-sized) for a person to look at.

The platform (intake, routing, notification, audit and the console) runs once for the module in this
process, on real RabbitMQ; the browser is driven from a process of its own (tests/support/console_browser.py:
Playwright and eventlet's monkey-patching do not mix). scripts/ensure-chromium.sh installs the browser
(`make test` runs it)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from onestop.dev.rabbit_admin import MGMT
from tests.conftest import drop_databases, drop_vhost, make_vhost
from tests.integration.conftest import Services, platform_config
from tests.integration.test_delivery import received_event
from tests.support.samples import dossier
from tests.support.staff import AUDITOR, COUNTER, KEYS_FILE
from tests.support.wait import until

from services.alerts.service import AlertsService
from services.audit.service import AuditService
from services.console.service import ConsoleService
from services.intake.service import IntakeService
from services.notification.service import NotificationService
from services.routing.queries import INDICATORS
from services.routing.service import RoutingService

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "var" / "screenshots"
PHONE_WIDTH = 390
DLQ = "onestop.routing.hue-vyda.dlq"
AMQP_PORT = os.environ.get("TEST_AMQP_PORT", "5672")  # with TEST_RABBIT_MGMT: another node than the machine's


@pytest.fixture(scope="module")
def platform(sinks):
    """{name: base URL} of the four services, the alerts service watching them, and the console, which reads them."""
    vhost, prefix = make_vhost("onestop-it"), f"t{uuid.uuid4().hex[:10]}_"
    config = platform_config(f"amqp://guest:guest@127.0.0.1:{AMQP_PORT}/{vhost}", sinks, prefix)
    started = Services(config)
    try:
        bases = {name: started.start(cls).http for name, cls in (
            ("intake", IntakeService), ("routing", RoutingService), ("notification", NotificationService),
            ("audit", AuditService))}
        alerts = started.start(AlertsService, ALERTS_INTERVAL="0.5", RABBIT_MGMT_URL=MGMT,
                               ALERTS_TARGETS=",".join(f"{name}={url}" for name, url in bases.items()))
        console = started.start(ConsoleService, CONSOLE_DEV_SIGNIN="true", CONSOLE_INSECURE_COOKIE="true",
                                CONSOLE_POLL_SECONDS="1", RABBIT_MGMT_URL=MGMT, AUTH_SIGNING_KEYS=str(KEYS_FILE),
                                ALERTS_URL=alerts.http, **{f"{name.upper()}_URL": url for name, url in bases.items()})
        yield {**bases, "console": console.http, "amqp": config["AMQP_URI"]}
    finally:
        started.stop_all()
        drop_vhost(vhost)
        drop_databases(prefix)


def browse(scenario: str, platform: dict, **extra) -> dict:
    """Run one scenario of tests/support/console_browser.py; what the browser saw."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    given = {**platform, "shots": str(SHOTS), **extra}
    done = subprocess.run([sys.executable, "-m", "tests.support.console_browser", scenario], input=json.dumps(given),
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_nothing_secret_in_the_page(seen: dict):
    assert "onestop_session" not in seen["script_cookies"]  # HttpOnly: the page's script cannot read it
    assert seen["cookie"] == {"httpOnly": True, "sameSite": "Strict", "path": "/console"}
    assert not seen["session_in_storage"] and "eyJ" not in seen["storage"] and "token" not in seen["storage"].lower()
    assert seen["urls_with_a_secret"] == []


def test_a_leader_sees_a_new_dossier_in_the_counts_live_and_switches_language(platform):
    seen = browse("leader", platform, dossier=dossier(center="hue-vyda"), counter=COUNTER)
    assert "CHỈ DÙNG CHO PHÁT TRIỂN / FOR DEVELOPMENT ONLY" in seen["banner"]
    assert seen["submitted"] == 201
    assert int(seen["after"]) == int(seen["before"]) + 1, seen  # the count rose
    assert seen["not_reloaded"]  # by polling, without a reload
    assert int(seen["month_after"]) >= int(seen["after"])
    assert "Quyết định 766/QĐ-TTg" in seen["text_vi"] and "Công thức" in seen["text_vi"]
    for indicator in INDICATORS.values():  # each formula as routing's report gives it, in either language
        assert indicator["formula_vi"] in seen["text_vi"] and indicator["formula_en"] in seen["text_en"]
    assert seen["charts"] >= 1
    assert seen["heading_en"] == "Center leader"
    assert "Dossiers received" in seen["text_en"] and "Hồ sơ tiếp nhận" not in seen["text_en"]
    assert seen["phone_scroll_width"] <= PHONE_WIDTH + 1  # readable on a phone: no sideways scrolling of the page
    assert_nothing_secret_in_the_page(seen)
    assert {"console-leader-vi.png", "console-leader-en.png", "console-leader-en-phone.png"} <= {
        p.name for p in SHOTS.iterdir()}


def dead_letter_of(code: str) -> dict:
    """A dossier.received event in routing's DLQ, as the consumer leaves one after its retries."""
    event = received_event(code=code)
    error = "ServerSelectionTimeoutError('mongo:27017')"
    return {"queue": DLQ, "event": event, "headers": {
        "x-onestop-reason": "retries_exhausted", "x-onestop-error": error, "x-onestop-attempt": 3,
        "x-onestop-history": [f"2026-02-13T02:00:0{n}.000Z {error}" for n in range(4)],
        "x-onestop-dead-lettered-at": "2026-02-13T02:00:09.000Z",
        "x-onestop-routing-key": "dossier.received.v1.hue-vyda"}}


def audit_replays(platform, code: str) -> list:
    answer = requests.get(f"{platform['audit']}/api/v1/audit/dossiers/{code}", headers=AUDITOR, timeout=5)
    return [e for e in (answer.json().get("entries") or []) if e["type"] == "deadletter.replayed.v1"]


def test_an_operator_replays_a_dead_letter_from_the_keyboard_and_it_is_audited(platform):
    seen = browse("operator", platform, letter=dead_letter_of("VYDA-260213-0177"),
                  alert="Dead letters of routing at hue-vyda")
    assert "retries_exhausted" in seen["dead_letters_text"] and "VYDA-260213-0177" in seen["dead_letters_text"]
    assert "#alert-dead-letter" in seen["alerts_text"]  # the alerts service raised it; the console shows it, runbook too
    assert seen["tabs_to_replay"] is not None  # the keyboard reaches the replay button
    assert seen["replay_button_gone"], seen  # Enter replayed it: the dead letter left the list
    [record] = until(lambda: audit_replays(platform, "VYDA-260213-0177"), 20, 0.2, "the replay in the audit log")
    assert record["actor"] == {"id": "ops-01", "role": "operator"} and record["data"]["replayed_by"] == "ops-01"
    assert seen["heading_en"] == "Operations" and "Service health" in seen["text_en"]
    assert_nothing_secret_in_the_page(seen)


def test_a_post_without_the_csrf_token_is_refused_and_a_signed_out_cookie_is_dead(platform):
    seen = browse("signout", platform)
    status, body = seen["without_csrf"]
    assert status == 403 and body["fields"] == [{"field": "X-CSRF-Token", "reason": body["fields"][0]["reason"]}]
    status, body = seen["other_origin"]
    assert status == 403 and body["fields"][0]["field"] == "Origin"
    assert seen["logout"] == 200
    assert seen["after_signout"] == 401  # the old cookie is dead at once
    assert seen["cookie_left"] == []
