"""Notification's operator API on held messages through nameko's worker_factory with a
real store: who may list and release, scoped to the token's centers, addresses masked."""
import json
from datetime import datetime, timezone

import pytest
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder

from contracts import make_event
from onestop.catalog import load_catalog
from services.notification.handlers import notify, remember_contact
from services.notification.limits import RecipientLimits, Window
from services.notification.service import NotificationService
from services.notification.store import NotificationRepository
from tests.support.staff import authenticator, bearer
from tests.support.fakes import ready

CATALOG = load_catalog()
NOW = datetime(2026, 3, 2, 2, 16, tzinfo=timezone.utc)
PHONE = "+84912345678"
OPERATOR = bearer("operator", "ops-lan", ["hue-vyda"])


class Gateway:
    def __init__(self):
        self.sent = []

    def __call__(self, message, reference):
        self.sent.append((message.to, reference))
        return "gw-1"


@pytest.fixture
def repo(mongo_db):
    return ready(NotificationRepository(mongo_db("notification")))


@pytest.fixture
def gateway():
    return Gateway()


@pytest.fixture
def notification(repo, gateway):
    return worker_factory(NotificationService, store=repo, staff=authenticator(), senders={"sms": gateway})


def receipt(repo, n: int) -> dict:
    code = f"VYDA-260302-{n:04d}"
    remember_contact(make_event("citizen.contact.v1", center="hue-vyda", subject=code, time=NOW,
                                actor={"id": "counter-01", "role": "counter_staff"}, data={
                                    "code": code, "full_name": "Nguyễn Văn An", "phone": PHONE,
                                    "email": "an@example.vn", "channels": ["sms"], "language": "vi"}), repo)
    return make_event("dossier.received.v1", center="hue-vyda", subject=code, time=NOW,
                      actor={"id": "counter-01", "role": "counter_staff"}, data={
                          "code": code, "official_code": f"00.00.H57.{code}", "procedure_code": "1.001193",
                          "procedure_name": "Đăng ký khai sinh", "field": "justice", "channel": "counter",
                          "received_at": "2026-03-02T02:15:00Z", "appointment_date": "2026-03-02",
                          "working_days": 0, "missing_documents": [], "applicant": "N. V. A.", "status": "received"})


@pytest.fixture
def held_id(repo, gateway):
    """Two receipts to one phone with one allowed an hour: the second is held."""
    for n in (1, 2):
        notify(receipt(repo, n), catalog=CATALOG, repo=repo, senders={"sms": gateway},
               status_url="http://x/{code}", now=NOW, limits=RecipientLimits((Window("hour", 3600, 1),)))
    return repo.deliveries.find_one({"status": "held"})["_id"]


def call(method, path, headers, service):
    request = EnvironBuilder(method=method, path=path, headers=headers).get_request()
    if path.endswith("/release"):
        response = service.release_held(request, path.split("/")[-2])
    else:
        response = service.held_messages(request)
    return response.status_code, json.loads(response.get_data())


def test_an_operator_lists_the_held_messages_of_their_centers_masked(notification, held_id):
    status, body = call("GET", "/api/v1/held", OPERATOR, notification)
    assert status == 200 and body["total"] == 1
    assert body["held"][0]["id"] == held_id and body["held"][0]["recipient"] == "+8491****678"
    assert PHONE not in json.dumps(body) and "912345678" not in json.dumps(body)


@pytest.mark.parametrize("headers,status", [
    ({}, 401),
    (bearer("counter_staff", "counter-01", ["hue-vyda"]), 403),
    (bearer("center_leader", "vyda-leader", ["hue-vyda"]), 403),
])
def test_only_operators_may_list_or_release(notification, held_id, gateway, headers, status):
    assert call("GET", "/api/v1/held", headers, notification)[0] == status
    assert call("POST", f"/api/v1/held/{held_id}/release", headers, notification)[0] == status
    assert len(gateway.sent) == 1


def test_release_sends_it_once_then_answers_409(notification, held_id, gateway):
    status, body = call("POST", f"/api/v1/held/{held_id}/release", OPERATOR, notification)
    assert status == 200 and body["status"] == "sent" and body["released_by"] == "ops-lan"
    assert gateway.sent[-1] == (PHONE, held_id) and len(gateway.sent) == 2
    status, body = call("POST", f"/api/v1/held/{held_id}/release", OPERATOR, notification)
    assert status == 409 and body["error"] == "not_held" and body["status"] == "sent"
    assert len(gateway.sent) == 2


def test_another_centers_held_message_is_the_same_404_as_a_missing_one(notification, held_id, gateway):
    other = bearer("operator", "ops-px", ["hue-phuxuan"])
    assert call("GET", "/api/v1/held", other, notification)[1]["total"] == 0
    assert call("GET", "/api/v1/held?center=hue-vyda", other, notification)[0] == 403
    theirs = call("POST", f"/api/v1/held/{held_id}/release", other, notification)
    missing = call("POST", "/api/v1/held/nothing:sms/release", OPERATOR, notification)
    assert theirs == missing and theirs[0] == 404
    assert len(gateway.sent) == 1


@pytest.mark.parametrize("limit", ["²", "0", "201"])
def test_a_page_size_that_is_not_ascii_digits_in_range_names_the_field(notification, held_id, limit):
    status, body = call("GET", f"/api/v1/held?limit={limit}", OPERATOR, notification)
    assert status == 422 and body["fields"] == [{"field": "limit", "reason": "a whole number from 1 to 200"}]
