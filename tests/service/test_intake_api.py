"""Intake's HTTP API through nameko's worker_factory with a real (mongomock or
MONGO_URI) store: what counter staff see for good and bad input."""
import json

import orjson
import pytest
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder

from onestop.config import Settings
from services.intake.service import IntakeService
from tests.support.samples import dossier
from tests.support.staff import COUNTER, PORTAL, authenticator, bearer


@pytest.fixture
def repo(intake_repo):
    return intake_repo


@pytest.fixture
def intake(repo):
    return worker_factory(IntakeService, store=repo, settings=Settings.load({}), staff=authenticator())


def post(service, body, content_type="application/json", headers=None, raw=None, staff=COUNTER):
    """Submit as counter staff (the default) or with `staff` headers of another kind ({} for none)."""
    data = raw if raw is not None else orjson.dumps(body)
    request = EnvironBuilder(method="POST", path="/api/v1/dossiers", data=data,
                             content_type=content_type, headers={**staff, **(headers or {})}).get_request()
    response = service.submit(request)
    return response.status_code, json.loads(response.get_data()), response.headers


def nothing_written(repo):
    return repo.dossiers.count_documents({}) == 0


def test_accepts_a_dossier_with_code_appointment_and_missing_documents(intake, repo):
    status, body, headers = post(intake, dossier(procedure_code="1.013978", missing=["land_registration_form"]))
    assert status == 201
    assert body["code"].startswith("VYDA-") and body["status"] == "received"
    assert body["official_code"].endswith(body["code"][len("VYDA"):])
    assert [d["code"] for d in body["missing_documents"]] == ["land_registration_form"]
    assert body["appointment_date"] > body["received_at"][:10]
    assert headers["Location"] == f"/api/v1/dossiers/{body['code']}"
    stored = repo.dossiers.find_one({"_id": body["code"]})
    assert stored["citizen"]["phone"] == "+84912345678"
    assert [e["event"]["type"] for e in stored["outbox"]] == ["citizen.contact.v1", "dossier.received.v1"]


def test_codes_are_sequential_per_center_and_day(intake):
    codes = [post(intake, dossier(center=c))[1]["code"] for c in ("hue-vyda", "hue-vyda", "hue-phuxuan")]
    assert codes[0][-4:] == "0001" and codes[1][-4:] == "0002"
    assert codes[2].startswith("PXUA-") and codes[2][-4:] == "0001"


def test_idempotency_key_returns_the_same_dossier(intake, repo):
    first = post(intake, dossier(), headers={"Idempotency-Key": "k-123"})
    again = post(intake, dossier(), headers={"Idempotency-Key": "k-123"})
    assert first[1]["code"] == again[1]["code"] and again[2]["Idempotent-Replayed"] == "true"
    assert repo.dossiers.count_documents({}) == 1
    other = post(intake, dossier(center="hue-phuxuan"), headers={"Idempotency-Key": "k-123"})
    assert other[0] == 422 and other[1]["fields"][0]["field"] == "Idempotency-Key"


def with_citizen(**changes):
    body = dossier()
    body["citizen"].update(changes)
    return body


BAD = [
    ("unknown field", dict(dossier(), colour="red"), 422, "colour"),
    ("missing field", {k: v for k, v in dossier().items() if k != "citizen"}, 422, "citizen"),
    ("unknown center", dict(dossier(), center="hue-atlantis"), 422, "center"),
    ("unknown procedure", dict(dossier(), procedure_code="9.999999"), 422, "procedure_code"),
    ("short id number", with_citizen(id_number="04609500123"), 422, "citizen.id_number"),
    ("letters in id number", with_citizen(id_number="04609500123A"), 422, "citizen.id_number"),
    ("landline phone", with_citizen(phone="0234 3822 123"), 422, "citizen.phone"),
    ("foreign phone", with_citizen(phone="+1 202 555 0101"), 422, "citizen.phone"),
    ("bad email", with_citizen(email="an@@example"), 422, "citizen.email"),
    ("operator object", with_citizen(full_name={"$gt": ""}), 422, "citizen.full_name.$gt"),
    ("operator in center", dict(dossier(), center={"$ne": None}), 422, "center.$ne"),
    ("control characters", with_citizen(full_name="Nguyễn\x00Văn An"), 422, "citizen.full_name"),
    ("10,000-character name", with_citizen(full_name="A" * 10000), 422, "citizen.full_name"),
    ("document of another procedure", dict(dossier(), documents=[{"code": "design_drawings"}]), 422, "documents[0].code"),
    ("email channel without email", with_citizen(email=None, channels=["email"]), 422, "citizen.email"),
]


@pytest.mark.parametrize("case,body,status,field", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_with_field_and_reason(intake, repo, case, body, status, field):
    got, error, _ = post(intake, body)
    assert got == status
    assert field in [f["field"] for f in error["fields"]], error
    assert all(f["reason"] for f in error["fields"])
    assert nothing_written(repo)


def test_malformed_json_wrong_type_and_oversize(intake, repo):
    assert post(intake, None, raw=b'{"center": ')[0:2][0] == 400
    status, error, _ = post(intake, dossier(), content_type="text/plain")
    assert status == 415 and error["fields"][0]["field"] == "Content-Type"
    big = orjson.dumps(dict(dossier(), note="x" * (1024 * 1024)))
    assert post(intake, None, raw=big)[0] == 413
    assert nothing_written(repo)


def test_public_status_has_no_personal_data(intake):
    code = post(intake, dossier())[1]["code"]
    request = EnvironBuilder(method="GET", path=f"/api/v1/dossiers/{code}").get_request()
    response = intake.public_status(request, code.lower())
    body = json.loads(response.get_data())
    assert response.status_code == 200 and body["code"] == code and body["status"] == "received"
    text = json.dumps(body, ensure_ascii=False)
    for pii in ("Nguyễn Văn An", "912345678", "046095001234", "an.nguyen"):
        assert pii not in text
    missing = intake.public_status(EnvironBuilder(path="/x").get_request(), "VYDA-200101-9999")
    assert missing.status_code == 404


def test_counter_intake_needs_a_counter_staff_token_for_the_center(intake, repo):
    body = dossier(center="hue-vyda")
    status, answer, headers = post(intake, body, staff={})
    assert status == 401 and answer["reason"] == "missing" and headers["WWW-Authenticate"].startswith("Bearer")
    status, answer, _ = post(intake, body, staff={"Authorization": "Bearer not.a.token"})
    assert status == 401 and answer["reason"] == "malformed_token"
    status, answer, _ = post(intake, body, staff=bearer("officer", "vyda-o01", department="vp"))
    assert status == 403
    status, answer, _ = post(intake, body, staff=bearer(centers=("hue-phuxuan",)))
    assert status == 403 and "hue-vyda" in answer["message"]
    assert nothing_written(repo)
    status, answer, _ = post(intake, body, staff=bearer(user="counter-07", centers=("hue-vyda",)))
    assert status == 201
    received = next(e["event"] for e in repo.dossiers.find_one({"_id": answer["code"]})["outbox"]
                    if e["event"]["type"] == "dossier.received.v1")
    assert (received["actorid"], received["actorrole"]) == ("counter-07", "counter_staff")  # who took it in, from the token


def test_online_intake_needs_a_portal_token_for_the_center(intake, repo):
    body = dossier(center="hue-vyda", channel="online")
    status, answer, headers = post(intake, body, staff={})
    assert status == 401 and answer["reason"] == "missing" and headers["WWW-Authenticate"] == 'Bearer realm="onestop"'
    status, answer, _ = post(intake, body, staff=COUNTER)  # counter staff do not submit the citizen's online dossier
    assert status == 403 and answer["message"] == ("role counter_staff may not take a dossier in; "
                                                   "allowed roles: portal")
    status, answer, _ = post(intake, body, staff=bearer("portal", "portal-dvc", centers=("hue-phuxuan",)))
    assert status == 403 and "does not list center hue-vyda" in answer["message"]
    assert nothing_written(repo)
    status, answer, _ = post(intake, body, staff=bearer("portal", "portal-dvc", centers=("hue-vyda",)))
    assert status == 201
    received = next(e["event"] for e in repo.dossiers.find_one({"_id": answer["code"]})["outbox"]
                    if e["event"]["type"] == "dossier.received.v1")
    assert (received["actorid"], received["actorrole"]) == ("portal-dvc", "portal")  # the portal client, from its token
    assert received["data"]["channel"] == "online"


def test_a_portal_may_not_take_counter_or_postal_dossiers(intake, repo):
    for channel in ("counter", "postal"):
        status, answer, _ = post(intake, dossier(channel=channel), staff=PORTAL)
        assert status == 403 and answer["message"].endswith("allowed roles: counter_staff")
    assert nothing_written(repo)
