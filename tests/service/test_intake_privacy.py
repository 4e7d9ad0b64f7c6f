"""The citizen's personal data in intake, through nameko's worker_factory with a real
(mongomock or MONGO_URI) store: erased a retention period after the dossier closes,
by the sweep, in batches, once; exported and erased on an operator's request;
open dossiers, other centers, other roles and bad requests refused with nothing
changed."""
import json
from datetime import timedelta

import orjson
import pytest
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder

from onestop.config import Settings
from onestop.timestamps import iso
from services.intake import privacy
from services.intake.service import IntakeService
from tests.service.intake_events import T0, Life
from tests.support.samples import dossier
from tests.support.staff import COUNTER, authenticator, bearer

OPERATOR = bearer("operator", "ops-lan")
ID_NUMBER = "046095001234"  # the sample citizen's
PERSONAL = ("Nguyễn Văn An", ID_NUMBER, "912345678", "an.nguyen@example.vn", "Cán bộ nhiệt tình", "ghi chú")


@pytest.fixture
def repo(intake_repo):
    return intake_repo


@pytest.fixture
def intake(repo):
    return worker_factory(IntakeService, store=repo, staff=authenticator(),
                          settings=Settings.load({"PERSONAL_DATA_RETENTION_DAYS": "0"}))


def call(entrypoint, path, body, headers=OPERATOR):
    request = EnvironBuilder(method="POST", path=path, data=orjson.dumps(body), content_type="application/json",
                             headers=headers).get_request()
    response = entrypoint(request)
    return response.status_code, json.loads(response.get_data())


def submit(intake, **citizen):
    body = dossier(**citizen)
    body["documents"][0]["note"] = "ghi chú của cán bộ một cửa"
    status, receipt = call(intake.submit, "/api/v1/dossiers", body, COUNTER)
    assert status == 201, receipt
    return receipt["code"]


def returned(intake, repo, **citizen):
    """A dossier worked to its return (closed at T0 + 100 min), rated with a comment."""
    code = submit(intake, **citizen)
    for event in Life(code).through_a_supplement().events:
        intake.on_routing_event(event)
    repo.dossiers.update_one({"_id": code}, {"$set": {"rating": {"score": 4, "comment": "Cán bộ nhiệt tình.",
                                                                 "rated_at": iso(T0)}}})
    return code


def withdrawn(intake, **citizen):
    code = submit(intake, **citizen)
    life = Life(code)
    for event in (life.routed(), life.assigned(), life.act("withdraw", "withdrawn", reason="Công dân rút")):
        intake.on_routing_event(event)
    return code


def stored(repo, code):
    """The dossier as stored, its outbox aside (the tests never relay it: the submission's events stay)."""
    doc = repo.dossiers.find_one({"_id": code})
    return {k: v for k, v in doc.items() if k not in ("outbox", "outbox_pending")}, doc["outbox"]


def personal_in(document) -> list[str]:
    text = json.dumps(document, ensure_ascii=False, default=str)
    return [p for p in PERSONAL if p in text]


def erasure_events(outbox):
    return [e["event"] for e in outbox if e["event"]["type"] == "citizen.data_erased.v1"]


# --- retention ---------------------------------------------------------------------

def test_a_returned_dossier_keeps_its_data_until_the_retention_ends_then_keeps_only_the_dossier(intake, repo):
    code = returned(intake, repo)
    closed = repo.dossiers.find_one({"_id": code})["closed_at"]
    assert iso(closed) == iso(T0 + timedelta(minutes=100))  # the return's time, as routing published it

    assert privacy.erase_expired(repo=repo, now=closed + timedelta(days=89, hours=23), days=90) == 0
    assert personal_in(stored(repo, code)[0])
    assert privacy.erase_expired(repo=repo, now=closed + timedelta(days=90), days=90) == 1

    doc, outbox = stored(repo, code)
    assert personal_in(doc) == [] and "citizen" not in doc and doc["applicant"] == "N. V. A."
    assert "retention_from" not in doc and doc["closed_at"] == closed  # out of the sweep's queue, the fact kept
    assert (doc["status"], doc["procedure_code"], doc["center"]) == ("returned", "1.001193", "hue-vyda")
    assert doc["rating"] == {"score": 4, "rated_at": iso(T0)} and len(doc["history"]) == 11
    assert doc["documents"][0] == {"code": doc["documents"][0]["code"], "copies": 1}
    assert doc["personal_data"]["basis"] == "retention" and doc["personal_data"]["requested_by"] == "intake"
    [event] = erasure_events(outbox)
    assert (event["actorid"], event["actorrole"]) == ("intake", "system") and event["subject"] == code
    assert event["data"] == {"code": code, "dossier_id": doc["history"][0]["event_id"], "basis": "retention",
                             "requested_by": "intake",
                             "erased": ["full_name", "id_number", "phone", "email", "notes", "rating_comment"],
                             "closed_at": iso(closed), "erased_at": iso(closed + timedelta(days=90))}
    assert personal_in(event) == []

    assert privacy.erase_expired(repo=repo, now=closed + timedelta(days=400), days=90) == 0  # once
    assert len(erasure_events(stored(repo, code)[1])) == 1


def test_the_sweep_erases_closed_dossiers_a_batch_at_a_time_and_leaves_open_ones(intake, repo):
    closed = [withdrawn(intake) for _ in range(5)]
    still_open = submit(intake)
    later = T0 + timedelta(days=1)
    assert [privacy.erase_expired(repo=repo, now=later, days=0, batch=2) for _ in range(4)] == [2, 2, 1, 0]
    assert all("citizen" not in stored(repo, code)[0] for code in closed)
    assert stored(repo, still_open)[0]["citizen"]["id_number"] == ID_NUMBER


def test_the_timer_entrypoint_erases_everything_due_with_the_service_settings(intake, repo):
    codes = [withdrawn(intake) for _ in range(3)]
    intake.erase_expired()  # PERSONAL_DATA_RETENTION_DAYS=0: due at once
    assert all(personal_in(stored(repo, code)[0]) == [] for code in codes)


# --- on request ----------------------------------------------------------------------

def test_the_export_shows_everything_held_about_the_citizen_and_no_bookkeeping(intake, repo):
    mine, theirs = returned(intake, repo), submit(intake, id_number="046095009999")
    status, body = call(intake.privacy_export, "/api/v1/privacy/export", {"id_number": ID_NUMBER})
    assert status == 200 and [d["code"] for d in body["dossiers"]] == [mine]
    [held] = body["dossiers"]
    assert held["citizen"]["full_name"] == "Nguyễn Văn An" and held["rating"]["comment"] == "Cán bộ nhiệt tình."
    assert held["history"] and held["documents"][0]["note"]
    for internal in ("outbox", "seen", "rating_code_sha256", "request_hash", "_id"):
        assert internal not in held
    assert theirs not in json.dumps(body)


def test_an_erasure_request_erases_every_closed_dossier_of_the_citizen_once(intake, repo):
    first, second, bystander = returned(intake, repo), withdrawn(intake), withdrawn(intake, id_number="046095009999")
    status, body = call(intake.privacy_erase, "/api/v1/privacy/erase",
                        {"id_number": ID_NUMBER, "reason": "Đơn yêu cầu số 12/2026 ngày 05/01/2026"})
    assert status == 200 and [d["code"] for d in body["erased"]] == [first, second]
    events = [erasure_events(stored(repo, code)[1])[0] for code in (first, second)]
    assert {e["data"]["basis"] for e in events} == {"request"}
    assert {e["actorid"] for e in events} == {"ops-lan"} and events[0]["data"]["requested_by"] == "ops-lan"
    assert events[0]["correlationid"] == events[1]["correlationid"]  # one request
    assert stored(repo, first)[0]["personal_data"]["reason"] == "Đơn yêu cầu số 12/2026 ngày 05/01/2026"
    assert all(personal_in(stored(repo, code)[0]) == [] for code in (first, second))
    assert stored(repo, bystander)[0]["citizen"]["id_number"] == "046095009999"

    again = call(intake.privacy_erase, "/api/v1/privacy/erase", {"id_number": ID_NUMBER, "reason": "Lần nữa"})
    assert again == (200, {"erased": []})
    assert call(intake.privacy_export, "/api/v1/privacy/export", {"id_number": ID_NUMBER}) == (200, {"dossiers": []})


def test_an_open_dossier_is_not_erased_and_the_answer_names_it(intake, repo):
    closed, still_open = withdrawn(intake), submit(intake)
    status, body = call(intake.privacy_erase, "/api/v1/privacy/erase", {"id_number": ID_NUMBER, "reason": "Đơn 12"})
    assert status == 409 and body["error"] == "dossiers_open"
    assert body["open_dossiers"] == [{"code": still_open, "status": "received"}]
    assert still_open in body["message"] and "Nothing was erased" in body["message"]
    assert all(stored(repo, code)[0]["citizen"] for code in (closed, still_open))


@pytest.mark.parametrize("headers, body, expected, field", [
    ({}, {"id_number": ID_NUMBER, "reason": "Đơn 12/2026"}, 401, None),
    (bearer("center_leader", "vyda-leader"), {"id_number": ID_NUMBER, "reason": "Đơn 12/2026"}, 403, None),
    (OPERATOR, {"id_number": "46095001234", "reason": "Đơn 12/2026"}, 422, "id_number"),
    (OPERATOR, {"id_number": ID_NUMBER}, 422, "reason"),
    (OPERATOR, {"id_number": ID_NUMBER, "reason": "Bà nguyễn văn an yêu cầu"}, 422, "reason"),
    (OPERATOR, {"id_number": ID_NUMBER, "reason": "Đơn của chủ số 0912 345 678"}, 422, "reason"),
    (OPERATOR, {"id_number": ID_NUMBER, "reason": "Đơn 12", "all": True}, 422, "all"),
], ids=["no_token", "not_an_operator", "bad_id_number", "no_reason", "reason_names_the_citizen",
        "reason_has_the_phone", "unknown_field"])
def test_a_refused_erasure_request_says_why_and_changes_nothing(intake, repo, headers, body, expected, field):
    code = withdrawn(intake)
    status, answer = call(intake.privacy_erase, "/api/v1/privacy/erase", body, headers)
    assert status == expected, answer
    if field:
        assert answer["fields"][0]["field"] == field and answer["fields"][0]["reason"]
    assert stored(repo, code)[0]["citizen"]["id_number"] == ID_NUMBER
    assert erasure_events(stored(repo, code)[1]) == []


def test_another_centers_dossier_is_neither_exported_nor_erased(intake, repo):
    code = withdrawn(intake)  # hue-vyda
    elsewhere = bearer("operator", "ops-px", centers=("hue-phuxuan",))
    assert call(intake.privacy_export, "/api/v1/privacy/export", {"id_number": ID_NUMBER}, elsewhere) == \
        (200, {"dossiers": []})
    assert call(intake.privacy_erase, "/api/v1/privacy/erase", {"id_number": ID_NUMBER, "reason": "Đơn 12"},
                elsewhere) == (200, {"erased": []})
    assert stored(repo, code)[0]["citizen"]["id_number"] == ID_NUMBER


def test_a_request_and_the_sweep_erase_a_dossier_once_between_them(intake, repo):
    code = withdrawn(intake)
    dossier_then = repo.dossiers.find_one({"_id": code})
    assert privacy.erase_expired(repo=repo, now=T0 + timedelta(days=1), days=0) == 1
    assert privacy.erase(dossier_then, "request", {"id": "ops-lan", "role": "operator"}, T0, repo) is None
    assert len(erasure_events(stored(repo, code)[1])) == 1
