"""Notification's copy of the citizen's contact, with a real (mongomock or MONGO_URI) store:
erased on citizen.data_erased.v1, once and for good (a late contact event does not bring
it back, a late dossier event sends nothing), and shown to an operator on request."""
import json

import orjson
import pytest
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder

from contracts import make_event
from onestop.catalog import load_catalog
from onestop.config import Settings
from services.notification import handlers
from services.notification.domain import Links
from services.notification.service import NotificationService
from services.notification.store import NotificationRepository
from tests.support.staff import authenticator, bearer
from tests.support.fakes import ready

CODE = "VYDA-260213-0007"
COUNTER = {"id": "counter-01", "role": "counter_staff"}
CONTACT = {"code": CODE, "full_name": "Nguyễn Văn An", "phone": "+84912345678", "email": "an.nguyen@example.vn",
           "channels": ["sms", "email"], "language": "vi", "rating_code": "K7P2QX9M"}


@pytest.fixture
def repo(mongo_db):
    return ready(NotificationRepository(mongo_db("notification")))


@pytest.fixture
def notification(repo):
    return worker_factory(NotificationService, store=repo, staff=authenticator(), settings=Settings.load({}))


def contact_event():
    return make_event("citizen.contact.v1", center="hue-vyda", subject=CODE, data=CONTACT, actor=COUNTER)


def erased_event():
    return make_event("citizen.data_erased.v1", center="hue-vyda", subject=CODE, actor={"id": "intake", "role": "system"},
                      data={"code": CODE, "basis": "retention", "erased": ["full_name", "id_number", "phone"],
                            "requested_by": "intake", "closed_at": "2026-02-20T08:30:00.000Z",
                            "erased_at": "2026-05-21T09:00:00.000Z"})


def delivered(repo, delivery_id, **fields):
    repo.deliveries.insert_one({"_id": delivery_id, "code": CODE, "center": "hue-vyda", "status": "failed",
                                "recipient": "a***@example.vn",
                                "error": "recipient refused: {'an.nguyen@example.vn': (550, b'User unknown')}",
                                **fields})


def export(notification, codes, headers):
    request = EnvironBuilder(method="POST", path="/api/v1/privacy/export", data=orjson.dumps({"codes": codes}),
                             content_type="application/json", headers=headers).get_request()
    response = notification.privacy_export(request)
    return response.status_code, json.loads(response.get_data())


def test_the_erasure_event_erases_the_contact_and_the_citizens_delivery_texts_once(notification, repo):
    notification.on_event(contact_event())
    delivered(repo, "e1:email")
    delivered(repo, "e2:email:vyda-leader", staff_id="vyda-leader", recipient="v***@example.vn", error=None)
    erasure = erased_event()
    notification.on_event(erasure)
    notification.on_event(erasure)  # redelivered
    assert repo.contact(CODE) == {"_id": CODE, "center": "hue-vyda", "erased_at": "2026-05-21T09:00:00.000Z",
                                  "basis": "retention", "event_id": erasure["id"]}
    citizen = repo.delivery("e1:email")
    assert citizen["status"] == "failed" and "recipient" not in citizen and "error" not in citizen
    assert repo.delivery("e2:email:vyda-leader")["recipient"] == "v***@example.vn"  # staff, not the citizen


def test_a_late_contact_event_does_not_bring_an_erased_contact_back(notification, repo):
    notification.on_event(erased_event())  # the erasure overtook the contact (or the contact was redelivered)
    notification.on_event(contact_event())
    assert "phone" not in repo.contact(CODE) and repo.contact(CODE)["erased_at"]


def test_a_dossier_event_after_the_erasure_sends_nothing_and_is_not_retried(repo):
    repo.save_contact(CODE, {**CONTACT, "center": "hue-vyda"}, "c1")
    handlers.forget_contact(erased_event(), repo)
    returned = make_event("dossier.returned.v1", center="hue-vyda", subject=CODE, actor=COUNTER, data={
        "code": CODE, "seq": 9, "action": "return_result", "from_state": "result_ready", "to_state": "returned",
        "reason": None, "at": "2026-02-20T08:30:00.000Z", "procedure_code": "1.001193", "department_id": "vp",
        "officer_id": "vyda-o01", "due_at": None, "appointment_date": None, "on_time": True})
    assert handlers.plan(returned, catalog=load_catalog(), repo=repo, links=Links("{code}", "{code}")) == []


def test_an_operator_sees_what_is_held_for_the_dossiers_of_the_token_centers(notification, repo):
    notification.on_event(contact_event())
    delivered(repo, "e1:email")
    status, body = export(notification, [CODE], bearer("operator", "ops-lan"))
    assert status == 200
    [contact] = body["contacts"]
    assert contact["code"] == CODE and contact["phone"] == "+84912345678" and contact["rating_code"] == "K7P2QX9M"
    assert [d["notification_id"] for d in body["deliveries"]] == ["e1:email"]
    assert export(notification, [CODE], bearer("operator", "ops-px", centers=("hue-phuxuan",))) == \
        (200, {"contacts": [], "deliveries": []})


@pytest.mark.parametrize("headers, codes, expected", [
    ({}, [CODE], 401),
    (bearer("auditor", "audit-1"), [CODE], 403),
    (bearer("operator", "ops-lan"), ["not a code"], 422),
    (bearer("operator", "ops-lan"), [], 422),
], ids=["no_token", "not_an_operator", "bad_code", "no_code"])
def test_a_refused_export_says_why(notification, headers, codes, expected):
    status, body = export(notification, codes, headers)
    assert status == expected and body["message"]
    if expected == 422:
        assert body["fields"][0]["field"].startswith("codes")
