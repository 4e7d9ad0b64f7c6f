"""The subscription API through nameko's worker_factory with a real store: what an integrator
may create and see, clear 422s (field and reason), SSRF refusals, another's subscription the
same 404 as a missing one, pause / resume / delete, and a rotated secret that still signs."""
import json
from datetime import datetime, timedelta, timezone

import pytest
from nameko.testing.services import worker_factory
from standardwebhooks import Webhook
from werkzeug.test import EnvironBuilder

from onestop.config import Settings
from services.webhooks import schemas
from services.webhooks.domain import signing_secrets
from services.webhooks.sender import signed_headers
from services.webhooks.service import WebhooksService
from services.webhooks.store import WebhooksRepository
from tests.support.fakes import NoBroker, ready
from tests.support.staff import authenticator, bearer

MINE = bearer("integrator", "portal-tinh", ["hue-vyda", "hue-phuxuan"])
URL = "https://93.184.216.34/onestop"  # a public address: no DNS needed
GOOD = {"url": URL, "centers": ["hue-vyda"], "event_types": ["dossier.received.v1"], "procedures": ["1.001193"],
        "fields": ["justice"], "contact_email": "it@sotuphap.example.vn"}


class Kicks:
    def kick(self):
        pass


@pytest.fixture
def webhooks(mongo_db):
    repo = ready(WebhooksRepository(mongo_db("webhooks")))
    return worker_factory(WebhooksService, store=repo, staff=authenticator(), dispatch=Kicks(), bindings=NoBroker(),
                          settings=Settings.load({"WEBHOOK_SECRET_GRACE": "1h"}))


def call(service, method, name, headers, body=None, *args):
    request = EnvironBuilder(method=method, path="/", headers=headers, json=body).get_request()
    response = getattr(service, name)(request, *args)
    return response.status_code, json.loads(response.get_data())


def created(service, **change):
    status, body = call(service, "POST", "create", MINE, {**GOOD, **change})
    assert status == 201, body
    return body


def test_an_integrator_creates_sees_and_changes_its_subscription(webhooks):
    sub = created(webhooks)
    assert sub["secret"].startswith("whsec_") and sub["state"] == "active" and sub["owner"] == "portal-tinh"
    status, listed = call(webhooks, "GET", "listing", MINE)
    assert status == 200 and [s["id"] for s in listed["subscriptions"]] == [sub["id"]]
    assert "secret" not in listed["subscriptions"][0] and "whsec_" not in json.dumps(listed)
    status, changed = call(webhooks, "PATCH", "update", MINE, {"event_types": [], "fields": []}, sub["id"])
    assert status == 200 and changed["event_types"] == [] and changed["procedures"] == ["1.001193"]
    assert call(webhooks, "POST", "pause", MINE, None, sub["id"])[1]["state"] == "paused"
    assert call(webhooks, "POST", "resume", MINE, None, sub["id"])[1]["state"] == "active"
    assert call(webhooks, "DELETE", "delete", MINE, None, sub["id"]) == (200, {"id": sub["id"], "state": "deleted"})
    assert call(webhooks, "GET", "get", MINE, None, sub["id"])[0] == 404


@pytest.mark.parametrize("change,field,reason", [
    ({"event_types": ["dossier.recieved.v1"]}, "event_types[0]", "unknown event type"),
    ({"centers": ["hue-vyda", "hue-nowhere"]}, "centers[1]", "unknown center"),
    ({"procedures": ["9.999999"]}, "procedures[0]", "unknown procedure"),
    ({"fields": ["astrology"]}, "fields[0]", "unknown field"),
    ({"centers": []}, "centers", "between 1 and 200"),
    ({"url": None}, "url", "Field may not be null"),
    ({"contact_email": "not-an-address"}, "contact_email", "email"),
    ({"url": "http://93.184.216.34/h"}, "url", "must be https"),
    ({"url": "https://127.0.0.1/h"}, "url", "a loopback address"),
    ({"url": "https://10.1.2.3/h"}, "url", "a private address"),
    ({"url": "https://169.254.169.254/latest/meta-data"}, "url", "a link-local address"),
    ({"url": "https://[::ffff:192.168.1.1]/h"}, "url", "a private address"),
])
def test_bad_input_is_a_422_naming_the_field_and_why(webhooks, change, field, reason):
    status, body = call(webhooks, "POST", "create", MINE, {**GOOD, **change})
    assert status == 422, body
    assert [f["field"] for f in body["fields"]] == [field] and reason.lower() in body["fields"][0]["reason"].lower()


def test_a_private_url_is_refused_on_update_too(webhooks):
    sub = created(webhooks)
    status, body = call(webhooks, "PATCH", "update", MINE, {"url": "https://192.168.0.10/h"}, sub["id"])
    assert status == 422 and body["fields"][0]["field"] == "url"
    assert call(webhooks, "PATCH", "update", MINE, {}, sub["id"])[0] == 422


def test_another_centers_or_integrators_subscription_is_the_same_404_as_a_missing_one(webhooks):
    sub = created(webhooks)
    missing = call(webhooks, "GET", "get", MINE, None, "whsub_0000000000000000")
    for stranger in (bearer("integrator", "portal-tinh", ["hue-phuxuan"]),
                     bearer("integrator", "dept-system", ["hue-vyda"]),
                     bearer("operator", "ops-px", ["hue-phuxuan"])):
        assert call(webhooks, "GET", "get", stranger, None, sub["id"]) == missing and missing[0] == 404
        assert call(webhooks, "GET", "listing", stranger)[1]["subscriptions"] == []
    operator = bearer("operator", "ops-01", ["hue-vyda"])  # operators see their centers' subscriptions
    assert call(webhooks, "GET", "get", operator, None, sub["id"])[1]["id"] == sub["id"]
    status, body = call(webhooks, "POST", "create", bearer("integrator", "x", ["hue-phuxuan"]), GOOD)
    assert status == 403 and "hue-vyda" in body["message"]


def test_a_rotated_secret_signs_beside_the_new_one_for_the_grace_period(webhooks):
    sub = created(webhooks)
    status, rotation = call(webhooks, "POST", "rotate_secret", MINE, None, sub["id"])
    assert status == 200 and rotation["secret"] != sub["secret"]
    stored = webhooks.store.get(sub["id"])
    now = datetime.now(timezone.utc)
    headers = signed_headers("e1", "{}", signing_secrets(stored, now), now)
    assert all(Webhook(s).verify("{}", headers) == {} for s in (sub["secret"], rotation["secret"]))
    later = signing_secrets(stored, now + timedelta(hours=1, seconds=5))
    assert later == [rotation["secret"]]


def test_every_answer_has_the_shape_its_schema_documents(webhooks):
    sub = created(webhooks)
    assert schemas.CreatedSubscriptionSchema().validate(sub) == {}
    assert schemas.SubscriptionListSchema().validate(call(webhooks, "GET", "listing", MINE)[1]) == {}
    assert schemas.SubscriptionSchema().validate(call(webhooks, "GET", "get", MINE, None, sub["id"])[1]) == {}
    assert schemas.SecretRotatedSchema().validate(call(webhooks, "POST", "rotate_secret", MINE, None, sub["id"])[1]) \
        == {}
    page = call(webhooks, "GET", "deliveries", MINE, None, sub["id"])[1]
    assert schemas.DeliveryPageSchema().validate(page) == {} and page["total"] == 0
    assert schemas.DeletedSchema().validate(call(webhooks, "DELETE", "delete", MINE, None, sub["id"])[1]) == {}
