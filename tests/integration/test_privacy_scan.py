"""Public events and the audit chain carry no personal data beyond the dossier code and
masked initials; after an erasure, intake's and notification's stores carry none either,
and the audit chain still verifies.

The four services run as nameko containers on real RabbitMQ, with real HTTP and the
real SMTP and SMS sinks. One citizen's three dossiers live every public event type
there is, as staff work them through routing's staff API: received, routed, assigned,
reassigned, started, supplement asked and received, deadline extended, due soon and
overdue, approved and rejected, result ready, returned and rated, transferred, sent
back and routed again, withdrawn; a recipient the mail server refuses and a number
the SMS gateway refuses (notification.failed), an SMS gateway outage that dead-letters
a message an operator then replays (deadletter.replayed), and the operator's erasure
of the citizen's data on request (citizen.data_erased). A queue of the test's own,
bound to the public exchange for every key, keeps every event; every audit entry is
read from the audit store and through its API, and every service's /metrics. Each is scanned for the citizen's
full name, ID number, phone (any 4 consecutive digits) and email: 0 hits.

Due soon and overdue depend on working time passing: the test moves the timer
points of one case into the past in routing's store, as the passing days would, and
routing's own timer fires them.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date, timedelta

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from contracts import PUBLIC, REGISTRY
from contracts.audit import about_the_log
from onestop.catalog import load_catalog
from onestop.config import Settings
from onestop.messaging.topology import EVENTS
from onestop.storage.mongo import database
from onestop.timestamps import utcnow
from onestop.worktime.centers import hours_for
from services.audit.service import AuditService
from services.audit.store import AuditRepository
from services.intake.service import IntakeService
from services.notification.service import NotificationService
from services.routing.service import RoutingService
from services.webhooks.service import WebhooksService
from tests.conftest import MGMT
from tests.integration.test_delivery import queue_depth
from tests.support.personal_data import Citizen
from tests.support.receiver import Receiver
from tests.support.samples import dossier
from tests.support.staff import CLI_ENV, bearer
from tests.support.tap import Tap
from tests.support.wait import until

pytestmark = pytest.mark.integration

# Digits chosen so that no 4 of them in a row are a date, a time, a code or a procedure of the run.
GIAO = Citizen("Hoàng Thị Quỳnh Giao", "046187539264", "0987654321", "quynhgiao.hoang@thu-mien.vn")
E164 = "+84987654321"
LAND = "1.013978"  # 20 working days: no real deadline timer fires while the test runs
MEDIATION = "1.012812"  # Phú Xuân's Office takes it (an override), so it can be transferred to the land department
COUNTER = bearer("counter_staff", "counter-01")
LEADER = bearer("center_leader", "vyda-leader", centers=("hue-vyda",))
AUDITOR = bearer("auditor", "auditor-01")  # reads the audit API, of every center
READER = bearer("center_leader", "leader-all")  # reads routing's cases, of every center
SECONDS = 30
INTEGRATOR = bearer("integrator", "portal-tinh", centers=("hue-vyda", "hue-phuxuan"))
WEBHOOKS = {"WEBHOOK_ALLOW_LOOPBACK": "true", "WEBHOOK_ALLOW_HTTP": "true", "WEBHOOK_POLL_INTERVAL": "0.1"}


def head(center, department, user):
    return bearer("department_head", user, centers=(center,), department=department)


def officer(case):
    return bearer("officer", case["officer_id"], centers=(case["center"],), department=case["department_id"])


class Platform:
    """The running services, what the test's queue has seen, and the staff's hands."""

    def __init__(self, containers, amqp_uri, sinks):
        self.c, self.amqp_uri, self.sinks = containers, amqp_uri, sinks
        self.tap, self.events = Tap(amqp_uri, EVENTS, "#"), []

    def seen(self):
        self.events += self.tap.messages()
        return self.events

    def wait(self, type_, code, count=1):
        """The events of a type about a dossier, once `count` have arrived."""
        def arrived():
            found = [e for e in self.seen() if e["type"] == type_ and e["subject"] == code]
            return found if len(found) >= count else None
        return until(arrived, SECONDS, 0.1, f"{count} {type_} for {code}")

    def told(self, trigger, count=2):
        """The notification outcomes (sent or failed) of one event, once `count` have arrived."""
        def arrived():
            found = [e for e in self.seen() if e["type"].startswith("notification.")
                     and e["data"]["trigger_event_id"] == trigger["id"]]
            return found if len(found) >= count else None
        return until(arrived, SECONDS, 0.1, f"{count} messages for {trigger['type']}")

    def submit(self, center="hue-vyda", procedure=LAND, **citizen):
        body = dossier(center=center, procedure_code=procedure, **citizen)
        response = requests.post(f"{self.c['intake'].http}/api/v1/dossiers", json=body, headers=COUNTER, timeout=10)
        assert response.status_code == 201, response.text
        code = response.json()["code"]
        self.told(self.wait("dossier.received.v1", code)[0])
        self.wait("dossier.assigned.v1", code)
        return code

    def case(self, code):
        return requests.get(f"{self.c['routing'].http}/api/v1/work/dossiers/{code}", headers=READER, timeout=10).json()

    def act(self, code, action, who, type_=None, told=0, **body):
        """One staff action; waits for its event (the n-th of its type) and the messages it sends."""
        before = len([e for e in self.seen() if e["type"] == type_ and e["subject"] == code])
        response = requests.post(f"{self.c['routing'].http}/api/v1/work/dossiers/{code}/actions/{action}",
                                 json=body, headers=who, timeout=10)
        assert response.status_code == 200, response.text
        event = self.wait(type_, code, before + 1)[-1] if type_ else None
        if told:
            self.told(event, told)
        return event

    def fire(self, code, label):
        """Move one deadline point of a case into the past, as working time passing would."""
        assignments = database(Settings.load(self.c["routing"].config), "routing")["assignments"]
        case = assignments.find_one({"_id": code})
        past = utcnow() - timedelta(seconds=1)
        timers = [{**t, "at": past} if t["label"] == label else t for t in case["timers"]]
        assignments.update_one({"_id": code}, {"$set": {"timers": timers, "next_timer_at": past}})


@pytest.fixture
def platform(services, config, sinks):
    containers = {"intake": services.start(IntakeService), "routing": services.start(RoutingService),
                  # one citizen's three dossiers send her far more than a day's limit: not what is tested here
                  "notification": services.start(NotificationService, CIRCUIT_FAILURES=100,
                                                 CITIZEN_MESSAGES_PER_HOUR=1000, CITIZEN_MESSAGES_PER_DAY=1000),
                  "audit": services.start(AuditService),
                  "webhooks": services.start(WebhooksService, **WEBHOOKS)}
    receiver = Receiver().start()
    receiver.behave("/gone", status=410)  # its subscription is disabled: webhook.subscription_paused.v1
    for path, types in (("/all", []), ("/gone", ["dossier.received.v1"])):
        answer = requests.post(f"{containers['webhooks'].http}/api/v1/subscriptions", headers=INTEGRATOR, timeout=10,
                               json={"url": receiver.url(path), "centers": ["hue-vyda", "hue-phuxuan"],
                                     "event_types": types, "contact_email": "it@stp.example.vn"})
        assert answer.status_code == 201, answer.text
    platform = Platform(containers, config["AMQP_URI"], sinks)
    platform.receiver = receiver
    yield platform
    receiver.stop()
    sinks.fault("smtp", mode="ok")
    sinks.fault("sms", mode="ok")


def worked_to_its_return_and_rated(p: Platform) -> str:
    """Every step of the statutory life, the deadline warnings included, then the citizen's rating."""
    code = p.submit(**citizen())
    case = p.case(code)
    other = next(o.id for o in load_catalog().center("hue-vyda").officers
                 if o.department == "ktht" and o.id != case["officer_id"] and "land" in o.skills)
    p.act(code, "reassign", head("hue-vyda", "ktht", "vyda-head-ktht"), "dossier.reassigned.v1", officer=other)
    case = p.case(code)
    p.act(code, "start", officer(case), "dossier.work_started.v1")
    p.act(code, "request_supplement", officer(case), "dossier.supplement_requested.v1", told=2,
          reason="Thiếu bản vẽ sơ đồ thửa đất", documents=["Bản vẽ sơ đồ thửa đất"])
    p.act(code, "receive_supplement", COUNTER, "dossier.supplement_received.v1", told=2)
    p.act(code, "start", officer(case), "dossier.work_started.v1")
    due = hours_for(load_catalog().center("hue-vyda")).calendar.add_working_days(
        date.fromisoformat(p.case(code)["appointment_date"]), 3)
    p.act(code, "extend_deadline", LEADER, "dossier.deadline_extended.v1", told=2, due=due.isoformat(),
          reason="Cần xác minh thực địa")
    for label, type_ in (("due_soon:1d", "dossier.due_soon.v1"), ("overdue", "dossier.overdue.v1")):
        p.fire(code, label)
        p.told(p.wait(type_, code)[0], 2)  # the department head and the center leader
    p.act(code, "approve", officer(case), "dossier.approved.v1")
    p.act(code, "mark_result_ready", officer(case), "dossier.result_ready.v1", told=2)
    p.act(code, "return_result", COUNTER, "dossier.returned.v1", told=2)
    rate(p, code)
    return code


def rate(p: Platform, code: str) -> None:
    invite = next(m["text"] for m in p.sinks.sms(to=E164) if code in m["text"] and "Mã đánh giá" in m["text"])
    rating_code = re.search(r"Mã đánh giá: ([A-Z0-9]{8})", invite).group(1)
    response = requests.post(f"{p.c['intake'].http}/api/v1/dossiers/{code}/rating", timeout=10,
                             json={"rating_code": rating_code, "score": 5, "comment": "Chị Giao rất hài lòng."})
    assert response.status_code == 201, response.text
    p.wait("dossier.rated.v1", code)


def rejected_with_both_messages_refused(p: Platform) -> str:
    """The mail server refuses the citizen's address, then the SMS gateway the number: each a failure."""
    code = p.submit(**citizen())
    case = p.case(code)
    p.act(code, "start", officer(case), "dossier.work_started.v1")
    p.act(code, "reject", officer(case), "dossier.rejected.v1", reason="Thửa đất đang có tranh chấp")
    p.sinks.fault("smtp", mode="refuse", times=1)
    outcomes = p.told(p.act(code, "mark_result_ready", officer(case), "dossier.result_ready.v1"))
    assert {(e["type"], e["data"]["channel"]) for e in outcomes} == {("notification.failed.v1", "email"),
                                                                     ("notification.sent.v1", "sms")}
    p.sinks.fault("sms", mode="refuse", times=1)
    outcomes = p.told(p.act(code, "return_result", COUNTER, "dossier.returned.v1"))
    assert {(e["type"], e["data"]["channel"]) for e in outcomes} == {("notification.sent.v1", "email"),
                                                                     ("notification.failed.v1", "sms")}
    return code


def transferred_sent_back_and_withdrawn(p: Platform) -> str:
    """Phú Xuân: moved to another department, sent back, routed again, withdrawn while the SMS
    gateway is down; the withdrawal's SMS is dead-lettered and an operator replays it."""
    code = p.submit(center="hue-phuxuan", procedure=MEDIATION, **citizen())
    p.act(code, "transfer", head("hue-phuxuan", "vp", "phuxuan-head-vp"), "dossier.transferred.v1",
          department="ktht", reason="Tranh chấp đất đai thuộc phòng Kinh tế")
    p.wait("dossier.assigned.v1", code, 2)
    p.act(code, "send_back", head("hue-phuxuan", "ktht", "phuxuan-head-ktht"), "dossier.sent_back.v1",
          reason="Cần phân loại lại")
    p.act(code, "route", COUNTER, "dossier.routed.v1", department="ktht")
    p.sinks.fault("sms", mode="error")
    withdrawn = p.act(code, "withdraw", COUNTER, "dossier.withdrawn.v1", reason="Công dân đề nghị rút hồ sơ")
    dlq = "onestop.notification.hue-phuxuan.dlq"
    until(lambda: queue_depth(p.amqp_uri, dlq) == 1, SECONDS, 0.2, "the withdrawal's SMS dead-lettered")
    p.sinks.fault("sms", mode="ok")
    replay = subprocess.run([sys.executable, "-m", "onestop.ops.cli", "dlq", "replay", "notification/hue-phuxuan",
                             "--all", "--actor", "ops-lan", "--amqp", p.amqp_uri, "--mgmt", MGMT],
                            capture_output=True, text=True, timeout=90)
    assert replay.returncode == 0, replay.stderr
    p.wait("deadletter.replayed.v1", code)
    assert {e["data"]["channel"] for e in p.told(withdrawn)} == {"email", "sms"}
    return code


def citizen():
    return {"full_name": GIAO.full_name, "id_number": GIAO.id_number, "phone": GIAO.phone, "email": GIAO.email}


def privacy(p: Platform, *args):
    """`onestop privacy ...` as an operator runs it, with an operator token minted with AUTH_SIGNING_KEYS."""
    command = [sys.executable, "-m", "onestop.ops.cli", "--intake", p.c["intake"].http, "privacy", *args,
               "--id-number", GIAO.id_number, "--notification", p.c["notification"].http, "--actor", "ops-lan"]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL,
                          env={**os.environ, **CLI_ENV})


def audit_entries(p: Platform, codes):
    """Every entry of every chain, from the store (its hashed event included) and through the API."""
    stored = list(AuditRepository(database(Settings.load(p.c["audit"].config), "audit")).entries.find({}))
    shown = [requests.get(f"{p.c['audit'].http}/api/v1/audit/dossiers/{code}", headers=AUDITOR, timeout=10).json()
             for code in codes]
    return stored, shown


def held_by_the_stores(p: Platform, codes):
    intake = database(Settings.load(p.c["intake"].config), "intake")["dossiers"]
    until(lambda: intake.count_documents({"_id": {"$in": codes}, "outbox_pending": True}) == 0, SECONDS, 0.1,
          "intake's outbox relayed")
    notification = database(Settings.load(p.c["notification"].config), "notification")
    return {"intake": list(intake.find({"_id": {"$in": codes}})),
            "notification contacts": list(notification["contacts"].find({"_id": {"$in": codes}})),
            "notification deliveries": list(notification["deliveries"].find({"code": {"$in": codes}}))}


def test_no_public_event_and_no_audit_entry_carries_personal_data_and_an_erasure_leaves_none(platform):
    p = platform
    bystander = p.submit(phone="0912000123", email="bystander@example.vn")  # another citizen, left open
    codes = [worked_to_its_return_and_rated(p), rejected_with_both_messages_refused(p),
             transferred_sent_back_and_withdrawn(p)]

    export = privacy(p, "export")
    assert export.returncode == 0, export.stderr
    held = json.loads(export.stdout)
    assert [d["code"] for d in held["intake"]["dossiers"]] == codes
    assert {c["phone"] for c in held["notification"]["contacts"]} == {E164}

    erase = privacy(p, "erase", "--reason", "Đơn yêu cầu xóa dữ liệu số 12/2026", "--yes")
    assert erase.returncode == 0, erase.stderr
    assert "notification erased its copy of the contact of 3 dossiers" in erase.stdout
    for code in codes:
        [erased] = p.wait("citizen.data_erased.v1", code)
        assert erased["data"]["basis"] == "request" and (erased["actorid"], erased["actorrole"]) == ("ops-lan", "operator")

    audit = p.c["audit"].http
    for center in sorted({e["center"] for e in p.seen()}):  # each log's checkpoint, published too
        signed = requests.post(f"{audit}/api/v1/audit/checkpoints", json={"center": center}, headers=AUDITOR,
                               timeout=10)
        assert signed.status_code == 201, signed.text
        p.wait("audit.checkpoint.v1", signed.json()["origin"])
    public = {name for name, kind in REGISTRY.items() if kind.visibility == PUBLIC}
    # A log that refuses to sign, and a witness's events, are lived through (and carry hashes, sizes and
    # reasons only) in tests/integration/test_audit_transparency.py.
    elsewhere = {"audit.alarm.v1", "audit.cosigned.v1", "audit.inconsistency.v1",
                 # the operators' alerts (codes, centers, queues; raised by the alerts service from a stopped
                 # SMS gateway, a dead letter, a paused subscription, an overdue dossier) are lived through and
                 # scanned for the citizens' data, with their emails and API, in tests/integration/test_alerts.py;
                 # a resumed subscription (ids and an integrator) in tests/integration/test_webhooks.py
                 "ops.alert_raised.v1", "ops.alert_resolved.v1", "webhook.subscription_resumed.v1"}
    assert public - elsewhere - {e["type"] for e in p.seen()} == set()  # every public event type was lived through
    stored, shown = audit_entries(p, codes + [bystander])
    assert {t for t in public - elsewhere if not about_the_log(t)} - {e["type"] for e in stored} == set()
    # what webhooks sent out: every public event the test saw (a subscriber's copy), each body as delivered
    wanted = {e["id"] for e in p.seen() if not e["type"].startswith("webhook.")}
    delivered = until(lambda: (got := p.receiver.events("/all")) and wanted <= {e["id"] for e in got} and got,
                      SECONDS, 0.1, "every public event at the webhook receiver")
    bodies = [r["body"].decode("utf-8") for r in p.receiver.received("/all")]
    hits = GIAO.hits(p.seen()) + GIAO.hits(stored) + GIAO.hits(shown) + GIAO.hits(delivered) + GIAO.hits(bodies)
    # Metrics (issue 17): every service's /metrics, its label sets and help texts (the values are numbers)
    by_service = {name: requests.get(f"{c.http}/metrics", timeout=10) for name, c in p.c.items()}
    scraped = list(by_service.values())
    assert all(r.status_code == 200 for r in scraped)
    hits += GIAO.hits([line for r in scraped for line in re.findall(r"\{[^}]*\}|^#.*$", r.text, re.M)])
    hits += [f"/metrics holds the code {code}" for r in scraped for code in codes if code in r.text]
    gone = {"center": "hue-vyda", "reason": "gone"}
    stopped = [s.value for f in text_string_to_metric_families(by_service["webhooks"].text) for s in f.samples
               if s.name == "onestop_webhook_subscriptions_stopped" and s.labels == gone]
    assert stopped == [1.0]  # the /gone receiver's subscription, disabled by its 410
    assert hits == [], f"{len(hits)} hits in events, audit entries, webhooks and metrics:\n" + "\n".join(hits)

    verdict = requests.get(f"{p.c['audit'].http}/api/v1/audit/verify", headers=AUDITOR, timeout=10).json()
    assert verdict["ok"] is True and len(verdict["centers"]) == 2, verdict
    after = held_by_the_stores(p, codes)
    assert len(after["intake"]) == 3 and all(d["applicant"] == "H. T. Q. G." for d in after["intake"])
    hits = GIAO.hits(after)
    assert hits == [], f"{len(hits)} hits in the stores after the erasure:\n" + "\n".join(hits)
    again = json.loads(privacy(p, "export").stdout)
    assert again["intake"]["dossiers"] == [] and again["notification"] == {"contacts": [], "deliveries": []}
    assert held_by_the_stores(p, [bystander])["intake"][0]["citizen"]["phone"] == "+84912000123"
