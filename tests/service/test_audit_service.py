"""The audit service as an inspector uses it, through nameko's worker_factory
with a real (mongomock or MONGO_URI) store: record events, read a dossier's
timeline, verify the chains, and catch tampering done directly in the database."""
import json
from datetime import datetime, timedelta, timezone

import pytest
from nameko.testing.services import worker_factory
from werkzeug.test import EnvironBuilder

from contracts import make_event
from services.audit.domain import GENESIS
from onestop.config import Settings
from services.audit.service import AuditService
from services.audit.signing import Signer
from services.audit.store import AuditRepository
from onestop.web.ratelimit import RateLimiter, parse_rate
from onestop.web.throttle import ClientThrottle
from tests.support.staff import AUDITOR, authenticator, bearer
from tests.support.fakes import ready

T0 = datetime(2026, 3, 2, 2, 15, tzinfo=timezone.utc)
CODE = "VYDA-260302-0007"


@pytest.fixture
def repo(mongo_db):
    return ready(AuditRepository(mongo_db("audit")))


def unlimited():
    return ClientThrottle(RateLimiter(*parse_rate("100000/60")))


@pytest.fixture
def signer(tmp_path):
    """The signer of a log of its own: keys and checkpoints file in the test's directory."""
    return Signer(Settings.load({"AUDIT_KEYS_FILE": str(tmp_path / "keys.json"),
                                 "AUDIT_CHECKPOINTS_FILE": str(tmp_path / "checkpoints.jsonl")}))


@pytest.fixture
def audit(repo, signer):
    return worker_factory(AuditService, store=repo, staff=authenticator(), throttle=unlimited(), transparency=signer)


def lifecycle(code=CODE, center="hue-vyda"):
    """received -> routed -> assigned, as the three services would publish them."""
    received = make_event("dossier.received.v1", center=center, subject=code, time=T0,
                          actor={"id": "counter-01", "role": "counter_staff"}, data={
                              "code": code, "official_code": f"00.00.H57.{code}", "procedure_code": "1.001193",
                              "procedure_name": "Đăng ký khai sinh", "field": "justice", "channel": "counter",
                              "received_at": "2026-03-02T02:15:00Z", "appointment_date": "2026-03-02",
                              "working_days": 0, "missing_documents": [], "applicant": "N. V. A.",
                              "status": "received"})
    system = {"actor": {"id": "routing", "role": "system"}, "correlation_id": received["id"],
              "center": center, "subject": code, "time": T0 + timedelta(seconds=1)}
    routed = make_event("dossier.routed.v1", **system, data={
        "code": code, "procedure_code": "1.001193", "department_id": "vp",
        "department_name": "Văn phòng HĐND và UBND", "routed_at": "2026-03-02T02:15:01Z"})
    assigned = make_event("dossier.assigned.v1", **system, data={
        "code": code, "procedure_code": "1.001193", "department_id": "vp", "officer_id": "vyda-o01",
        "officer_name": "Nguyễn Thị Thu Hà", "open_dossiers": 1, "assigned_at": "2026-03-02T02:15:01Z"})
    return [received, routed, assigned]


def get(service, method, path, *args, query=None, headers=AUDITOR, full=False):
    request = EnvironBuilder(method="GET", path=path, query_string=query, headers=headers).get_request()
    response = getattr(service, method)(request, *args)
    assert response.headers["Content-Type"].startswith("application/json")
    answer = response.status_code, json.loads(response.get_data())
    return answer + (response.headers,) if full else answer


def timeline(service, code, **kwargs):
    return get(service, "timeline", f"/api/v1/audit/dossiers/{code}", code, **kwargs)


def verify(service, center=None, **kwargs):
    return get(service, "verify", "/api/v1/audit/verify", query={"center": center} if center else None, **kwargs)


def test_recorded_events_form_the_dossiers_timeline(audit):
    events = lifecycle()
    for event in events:
        audit.record([event])

    status, body = timeline(audit, CODE)

    assert status == 200 and body["code"] == CODE
    entries = body["entries"]
    assert [e["type"] for e in entries] == ["dossier.received.v1", "dossier.routed.v1", "dossier.assigned.v1"]
    assert [e["event_id"] for e in entries] == [e["id"] for e in events]
    assert [e["time"] for e in entries] == [e["time"] for e in events]
    assert [e["actor"] for e in entries] == [{"id": "counter-01", "role": "counter_staff"},
                                             {"id": "routing", "role": "system"},
                                             {"id": "routing", "role": "system"}]
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert entries[0]["prev_hash"] == GENESIS
    assert entries[1]["prev_hash"] == entries[0]["hash"] and entries[2]["prev_hash"] == entries[1]["hash"]
    assert all(len(e["hash"]) == 64 for e in entries)
    assert entries[2]["data"]["officer_id"] == "vyda-o01"


def test_timeline_accepts_a_code_typed_in_lower_case(audit):
    for event in lifecycle():
        audit.record([event])
    status, body = timeline(audit, CODE.lower())
    assert status == 200 and body["code"] == CODE and len(body["entries"]) == 3


def test_a_redelivered_event_is_recorded_once(audit):
    events = lifecycle()
    for event in events + events[1:2]:
        audit.record([event])
    assert [e["seq"] for e in timeline(audit, CODE)[1]["entries"]] == [1, 2, 3]


def test_a_batch_goes_in_in_order_with_its_duplicates_once_and_each_center_on_its_own_chain(audit, repo):
    first, other = lifecycle(), lifecycle("PXUAN-260302-0001", center="hue-phuxuan")
    audit.record(first[:1])
    # what a batch can hold: a redelivery of an event recorded before, a copy twice, two centers mixed
    audit.record([first[1], other[0], first[0], first[2], other[1], first[2], other[2]])
    vyda = [e["event_id"] for e in repo.chain("hue-vyda")]
    assert vyda == [e["id"] for e in first] and [e["event_id"] for e in repo.chain("hue-phuxuan")] == \
        [e["id"] for e in other]
    assert repo.verify("hue-vyda").ok and repo.verify("hue-phuxuan").ok
    audit.record(lifecycle("VYDA-260302-0009"))  # and a clean batch after it goes on from the head
    assert repo.size("hue-vyda") == 6 and repo.verify("hue-vyda").ok


def test_timeline_shows_only_that_dossier(audit):
    for event in lifecycle() + lifecycle("VYDA-260302-0008"):
        audit.record([event])
    entries = timeline(audit, CODE)[1]["entries"]
    assert len(entries) == 3 and {e["seq"] for e in entries} == {1, 2, 3}


def test_unknown_dossier_is_a_json_404(audit):
    audit.record([lifecycle()[0]])
    status, body = timeline(audit, "VYDA-200101-9999")
    assert status == 404
    assert body["error"] == "not_found" and body["fields"] == [{"field": "code", "reason": "unknown"}]


def test_verify_reports_every_centers_chain_ok(audit):
    for event in lifecycle() + lifecycle("PXUA-260302-0001", "hue-phuxuan")[:2]:
        audit.record([event])

    status, body = verify(audit)

    assert status == 200 and body["ok"] is True
    assert body["centers"] == [
        {"center": "hue-phuxuan", "ok": True, "entries": 2, "first_break": None, "checkpoint": None},
        {"center": "hue-vyda", "ok": True, "entries": 3, "first_break": None, "checkpoint": None}]


def test_verify_finds_an_entry_changed_in_the_database(audit, repo):
    events = lifecycle()
    for event in events:
        audit.record([event])
    repo.entries.update_one({"event_id": events[1]["id"]}, {"$set": {"event.data.department_id": "ktht"}})

    status, body = verify(audit)

    assert status == 200 and body["ok"] is False
    (vyda,) = body["centers"]
    assert vyda["ok"] is False
    assert vyda["first_break"]["seq"] == 2 and vyda["first_break"]["event_id"] == events[1]["id"]
    assert vyda["first_break"]["reason"]


def test_verify_finds_a_deleted_entry(audit, repo):
    for event in lifecycle():
        audit.record([event])
    repo.entries.delete_one({"seq": 1})
    body = verify(audit)[1]
    assert body["ok"] is False and body["centers"][0]["first_break"]["seq"] == 1


def test_tampering_in_one_center_is_reported_for_that_center_only(audit, repo):
    for event in lifecycle() + lifecycle("PXUA-260302-0001", "hue-phuxuan"):
        audit.record([event])
    repo.entries.update_one({"center": "hue-phuxuan", "seq": 3}, {"$set": {"event.actor.id": "intruder"}})

    body = verify(audit)[1]
    assert body["ok"] is False
    verdicts = {v["center"]: v for v in body["centers"]}
    assert verdicts["hue-vyda"]["ok"] is True
    assert verdicts["hue-phuxuan"]["first_break"]["seq"] == 3

    assert verify(audit, "hue-vyda")[1] == {"ok": True, "centers": [
        {"center": "hue-vyda", "ok": True, "entries": 3, "first_break": None, "checkpoint": None}]}
    assert verify(audit, "hue-phuxuan")[1]["ok"] is False


def test_verify_of_an_unknown_center_is_not_reported_ok(audit):
    for event in lifecycle():
        audit.record([event])
    status, body = verify(audit, "hue-vydaa")
    assert status in (404, 422) and body.get("ok") is not True


# --- who may read it ---------------------------------------------------------------

def test_the_audit_api_needs_a_token_of_a_role_that_may_read_audit(audit):
    for event in lifecycle():
        audit.record([event])
    status, body, headers = timeline(audit, CODE, headers={}, full=True)
    assert status == 401 and body["reason"] == "missing" and headers["WWW-Authenticate"] == 'Bearer realm="onestop"'
    assert verify(audit, headers={})[0] == 401
    for role in ("counter_staff", "officer", "department_head", "portal"):
        who = bearer(role, f"{role}-1", department="vp" if role in ("officer", "department_head") else None)
        status, body = timeline(audit, CODE, headers=who)
        assert status == 403 and body["message"].endswith("allowed roles: center_leader, auditor, operator")
        assert verify(audit, headers=who)[0] == 403
    for role in ("center_leader", "auditor", "operator"):
        assert timeline(audit, CODE, headers=bearer(role, f"{role}-1", centers=("hue-vyda",)))[0] == 200


def test_another_centers_dossier_answers_as_a_missing_one(audit):
    for event in lifecycle():
        audit.record([event])
    leader_elsewhere = bearer("center_leader", "px-leader", centers=("hue-phuxuan",))
    assert timeline(audit, CODE, headers=leader_elsewhere) == timeline(audit, "VYDA-200101-9999")
    assert timeline(audit, CODE, headers=leader_elsewhere)[0] == 404


def test_verify_covers_only_the_tokens_centers(audit):
    for event in lifecycle() + lifecycle("PXUA-260302-0001", "hue-phuxuan"):
        audit.record([event])
    vyda = bearer("center_leader", "vyda-leader", centers=("hue-vyda",))
    status, body = verify(audit, headers=vyda)
    assert status == 200 and [v["center"] for v in body["centers"]] == ["hue-vyda"]
    # another center answers as an unknown one, and the known ones listed are the token's
    assert verify(audit, "hue-phuxuan", headers=vyda) == verify(audit, "hue-nowhere", headers=vyda)
    status, body = verify(audit, "hue-phuxuan", headers=vyda)
    assert status == 404 and body["fields"] == [{"field": "center", "reason": "unknown; known: hue-vyda"}]


def test_the_audit_api_is_rate_limited_per_client_address(repo, signer):
    audit = worker_factory(AuditService, store=repo, staff=authenticator(), transparency=signer,
                           throttle=ClientThrottle(RateLimiter(*parse_rate("2/60"))))
    assert [timeline(audit, CODE)[0] for _ in range(2)] == [404, 404]
    status, body, headers = verify(audit, full=True)
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert timeline(audit, CODE, headers={})[0] == 429  # before the token is even looked at


# The Merkle log: checkpoints, what audit refuses to sign, and what verify now sees.

def sign(service, center="hue-vyda", headers=AUDITOR):
    request = EnvironBuilder(method="POST", path="/api/v1/audit/checkpoints", json={"center": center},
                             headers=headers).get_request()
    response = service.sign_checkpoint(request)
    return response.status_code, json.loads(response.get_data())


def record_dossiers(service, n, start=1):
    for i in range(start, start + n):
        for event in lifecycle(code=f"VYDA-260302-{i:04d}"):
            service.record([event])


def test_a_signed_checkpoint_goes_to_the_file_and_to_the_exchange_and_is_signed_once(audit, repo, signer):
    record_dossiers(audit, 2)
    status, checkpoint = sign(audit)
    assert status == 201 and checkpoint["tree_size"] == 6 and checkpoint["origin"] == "onestop.local/audit/hue-vyda"
    assert signer.log.ledger.last("hue-vyda")["note"] == checkpoint["note"]
    stored = repo.checkpoints.find_one({"tree_size": 6})
    assert [e["event"]["type"] for e in stored["outbox"]] == ["audit.checkpoint.v1"]
    assert sign(audit) == (200, checkpoint)
    audit.record([make_event("audit.checkpoint.v1", center="hue-vyda", subject=checkpoint["origin"],
                             actor={"id": "audit", "role": "system"}, data=checkpoint)])
    assert repo.size("hue-vyda") == 6  # the log's statements about itself are not entries of it
    status, keys = get(audit, "keys", "/api/v1/audit/keys", headers={})
    assert status == 200 and {k["center"] for k in keys["keys"]} >= {"hue-vyda", "hue-phuxuan"}


@pytest.mark.parametrize("tamper, reason", [
    (lambda repo: repo.entries.update_one({"seq": 8}, {"$set": {"event.data.department_id": "ktht"}}),
     "entry_altered"),
    (lambda repo: repo.entries.delete_one({"seq": 8}), "log_damaged"),
    (lambda repo: (repo.entries.delete_many({"seq": {"$gt": 4}}),
                   repo.heads.update_one({"_id": "hue-vyda"}, {"$set": {"seq": 4}})), "log_shrank"),
])
def test_audit_refuses_to_sign_a_store_that_does_not_extend_its_last_checkpoint(audit, repo, tamper, reason):
    """Entries since the last checkpoint are each recomputed; older ones are the verifier's to judge
    (tests/integration/test_audit_transparency.py), as signing does not re-read the whole log."""
    record_dossiers(audit, 2)
    assert sign(audit)[0] == 201
    record_dossiers(audit, 1, start=3)
    tamper(repo)
    repo._known.clear()  # as after a restart
    status, body = sign(audit)
    assert status == 409 and body["error"] == "log_inconsistent" and body["reason"] == reason
    assert sign(audit)[0] == 409
    alarms = list(repo.alarms.find())
    assert len(alarms) == 1 and alarms[0]["reason"] == reason  # one alarm per incident
    assert alarms[0]["outbox"][0]["event"]["type"] == "audit.alarm.v1"


def test_verify_sees_what_the_chain_alone_missed_once_a_checkpoint_was_signed(audit, repo):
    """The issue's three: a cut tail with the head lowered, the head deleted, an emptied store."""
    record_dossiers(audit, 2)
    assert sign(audit)[0] == 201
    repo.entries.delete_many({"seq": {"$gt": 4}})
    kept = repo.entries.find_one({"seq": 4})
    repo.heads.update_one({"_id": "hue-vyda"}, {"$set": {"seq": 4, "hash": kept["hash"]}})
    status, body = verify(audit, "hue-vyda")
    assert not body["ok"] and "last signed checkpoint is #6" in body["centers"][0]["first_break"]["reason"]
    repo.heads.delete_many({})
    assert not verify(audit, "hue-vyda")[1]["ok"]
    repo.entries.delete_many({})
    status, body = verify(audit)  # an empty store no longer answers {"ok": true, "centers": []}
    assert status == 200 and not body["ok"] and body["centers"][0]["center"] == "hue-vyda"


def test_proofs_need_a_center_of_the_token(audit):
    record_dossiers(audit, 1)
    sign(audit)
    phuxuan = bearer("center_leader", "phuxuan-leader", centers=("hue-phuxuan",))
    status, body = get(audit, "inclusion_proof", "/api/v1/audit/proofs/inclusion",
                       query={"center": "hue-vyda", "leaf_index": 0}, headers=phuxuan)
    assert status == 403
    status, body = get(audit, "inclusion_proof", "/api/v1/audit/proofs/inclusion",
                       query={"center": "hue-vyda", "leaf_index": 0})
    assert status == 200 and body["tree_size"] == 3 and len(body["hashes"]) == 2
    status, body = get(audit, "latest_checkpoint", "/api/v1/audit/checkpoints/latest", query={})
    assert status == 422 and body["fields"] == [{"field": "center", "reason": "required"}]


@pytest.mark.parametrize("body", [[], {"center": 5}, {}])
def test_a_checkpoint_request_without_a_center_names_the_field(audit, body):
    request = EnvironBuilder(method="POST", path="/api/v1/audit/checkpoints", json=body,
                             headers=AUDITOR).get_request()
    response = audit.sign_checkpoint(request)
    assert response.status_code == 422
    assert json.loads(response.get_data())["fields"][0]["field"] == "center"


@pytest.mark.parametrize("start", ["424872656761610607525888", "²", "-1"])
def test_a_page_start_beyond_any_log_or_not_ascii_digits_names_the_field(audit, start):
    # found by schemathesis (tests/integration/test_openapi_fuzz.py): a 25-digit start was a 500
    record_dossiers(audit, 1)
    status, body = get(audit, "entries", "/api/v1/audit/entries", query={"center": "hue-vyda", "start": start})
    assert status == 422 and body["fields"][0]["field"] == "start"
