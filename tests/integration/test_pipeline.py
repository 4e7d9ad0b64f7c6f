"""A dossier travels intake -> routing -> notification -> audit over real RabbitMQ,
with real HTTP and real SMTP/SMS sinks; the services are nameko containers."""
import pytest
import requests

from services.audit.service import AuditService
from services.intake.service import IntakeService
from services.notification.service import NotificationService
from services.routing.service import RoutingService
from tests.support.samples import dossier
from tests.support.staff import AUDITOR, COUNTER
from tests.support.wait import until

pytestmark = pytest.mark.integration


@pytest.fixture
def pipeline(services):
    return {cls.name: services.start(cls) for cls in (IntakeService, RoutingService, NotificationService, AuditService)}


def submit(intake, body, **headers):
    response = requests.post(f"{intake.http}/api/v1/dossiers", json=body, headers={**COUNTER, **headers},
                             timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def timeline(audit, code, *types):
    def ready():
        response = requests.get(f"{audit.http}/api/v1/audit/dossiers/{code}", headers=AUDITOR, timeout=5)
        if response.status_code != 200:
            return None
        entries = response.json()["entries"]
        seen = [e["type"] for e in entries]
        return entries if all(seen.count(t) >= n for t, n in _counts(types).items()) else None
    return until(ready, 20, 0.1, f"audit entries {types} for {code}")


def _counts(types):
    out = {}
    for t in types:
        out[t] = out.get(t, 0) + 1
    return out


def test_a_dossier_is_routed_notified_and_audited(pipeline, sinks):
    intake, audit = pipeline["intake"], pipeline["audit"]
    phone = "+84912000001"
    receipt = submit(intake, dossier(phone="0912000001", email="pipeline@example.vn", language="vi"))
    code = receipt["code"]

    entries = timeline(audit, code, "dossier.received.v1", "dossier.routed.v1", "dossier.assigned.v1",
                       "notification.sent.v1", "notification.sent.v1")
    assigned = next(e for e in entries if e["type"] == "dossier.assigned.v1")
    assert assigned["data"]["department_id"] == "vp"  # birth registration -> the office (justice)
    assert assigned["data"]["officer_id"].startswith("vyda-")

    sms = until(lambda: sinks.sms(to=phone), 10, 0.1, "the SMS")
    assert len(sms) == 1 and code in sms[0]["text"] and "Hẹn trả kết quả" in sms[0]["text"]
    emails = until(lambda: sinks.emails(to="pipeline@example.vn"), 10, 0.1, "the email")
    assert len(emails) == 1 and code in emails[0]["subject"]
    assert receipt["appointment_date"][8:10] + "/" + receipt["appointment_date"][5:7] in emails[0]["text"]

    status = until(lambda: (r := requests.get(f"{intake.http}/api/v1/dossiers/{code}", timeout=5).json())
                   ["status"] == "assigned" and r, 10, 0.1, "status assigned")
    assert status["procedure"]["code"] == "1.001193"

    verdict = requests.get(f"{audit.http}/api/v1/audit/verify", params={"center": "hue-vyda"}, headers=AUDITOR,
                           timeout=5).json()
    assert verdict["ok"] is True
    for earlier, later in zip(entries, entries[1:]):
        if later["seq"] == earlier["seq"] + 1:
            assert later["prev_hash"] == earlier["hash"]


def test_english_on_request(pipeline, sinks):
    receipt = submit(pipeline["intake"], dossier(phone="0912000002", email="english@example.vn", language="en"))
    email = until(lambda: sinks.emails(to="english@example.vn"), 20, 0.1, "the email")[0]
    assert "has received your dossier" in email["text"] and receipt["code"] in email["text"]
    sms = until(lambda: sinks.sms(to="+84912000002"), 10, 0.1, "the SMS")[0]
    assert "received" in sms["text"]
