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
from services.audit.service import AuditService
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
def audit(repo):
    return worker_factory(AuditService, store=repo, staff=authenticator(), throttle=unlimited())


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
        audit.record(event)

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
        audit.record(event)
    status, body = timeline(audit, CODE.lower())
    assert status == 200 and body["code"] == CODE and len(body["entries"]) == 3


def test_a_redelivered_event_is_recorded_once(audit):
    events = lifecycle()
    for event in events + events[1:2]:
        audit.record(event)
    assert [e["seq"] for e in timeline(audit, CODE)[1]["entries"]] == [1, 2, 3]


def test_timeline_shows_only_that_dossier(audit):
    for event in lifecycle() + lifecycle("VYDA-260302-0008"):
        audit.record(event)
    entries = timeline(audit, CODE)[1]["entries"]
    assert len(entries) == 3 and {e["seq"] for e in entries} == {1, 2, 3}


def test_unknown_dossier_is_a_json_404(audit):
    audit.record(lifecycle()[0])
    status, body = timeline(audit, "VYDA-200101-9999")
    assert status == 404
    assert body["error"] == "not_found" and body["fields"] == [{"field": "code", "reason": "unknown"}]


def test_verify_reports_every_centers_chain_ok(audit):
    for event in lifecycle() + lifecycle("PXUA-260302-0001", "hue-phuxuan")[:2]:
        audit.record(event)

    status, body = verify(audit)

    assert status == 200 and body["ok"] is True
    assert body["centers"] == [
        {"center": "hue-phuxuan", "ok": True, "entries": 2, "first_break": None},
        {"center": "hue-vyda", "ok": True, "entries": 3, "first_break": None}]


def test_verify_finds_an_entry_changed_in_the_database(audit, repo):
    events = lifecycle()
    for event in events:
        audit.record(event)
    repo.entries.update_one({"event_id": events[1]["id"]}, {"$set": {"event.data.department_id": "ktht"}})

    status, body = verify(audit)

    assert status == 200 and body["ok"] is False
    (vyda,) = body["centers"]
    assert vyda["ok"] is False
    assert vyda["first_break"]["seq"] == 2 and vyda["first_break"]["event_id"] == events[1]["id"]
    assert vyda["first_break"]["reason"]


def test_verify_finds_a_deleted_entry(audit, repo):
    for event in lifecycle():
        audit.record(event)
    repo.entries.delete_one({"seq": 1})
    body = verify(audit)[1]
    assert body["ok"] is False and body["centers"][0]["first_break"]["seq"] == 1


def test_tampering_in_one_center_is_reported_for_that_center_only(audit, repo):
    for event in lifecycle() + lifecycle("PXUA-260302-0001", "hue-phuxuan"):
        audit.record(event)
    repo.entries.update_one({"center": "hue-phuxuan", "seq": 3}, {"$set": {"event.actor.id": "intruder"}})

    body = verify(audit)[1]
    assert body["ok"] is False
    verdicts = {v["center"]: v for v in body["centers"]}
    assert verdicts["hue-vyda"]["ok"] is True
    assert verdicts["hue-phuxuan"]["first_break"]["seq"] == 3

    assert verify(audit, "hue-vyda")[1] == {"ok": True, "centers": [
        {"center": "hue-vyda", "ok": True, "entries": 3, "first_break": None}]}
    assert verify(audit, "hue-phuxuan")[1]["ok"] is False


def test_verify_of_an_unknown_center_is_not_reported_ok(audit):
    for event in lifecycle():
        audit.record(event)
    status, body = verify(audit, "hue-vydaa")
    assert status in (404, 422) and body.get("ok") is not True


# --- who may read it ---------------------------------------------------------------

def test_the_audit_api_needs_a_token_of_a_role_that_may_read_audit(audit):
    for event in lifecycle():
        audit.record(event)
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
        audit.record(event)
    leader_elsewhere = bearer("center_leader", "px-leader", centers=("hue-phuxuan",))
    assert timeline(audit, CODE, headers=leader_elsewhere) == timeline(audit, "VYDA-200101-9999")
    assert timeline(audit, CODE, headers=leader_elsewhere)[0] == 404


def test_verify_covers_only_the_tokens_centers(audit):
    for event in lifecycle() + lifecycle("PXUA-260302-0001", "hue-phuxuan"):
        audit.record(event)
    vyda = bearer("center_leader", "vyda-leader", centers=("hue-vyda",))
    status, body = verify(audit, headers=vyda)
    assert status == 200 and [v["center"] for v in body["centers"]] == ["hue-vyda"]
    # another center answers as an unknown one, and the known ones listed are the token's
    assert verify(audit, "hue-phuxuan", headers=vyda) == verify(audit, "hue-nowhere", headers=vyda)
    status, body = verify(audit, "hue-phuxuan", headers=vyda)
    assert status == 404 and body["fields"] == [{"field": "center", "reason": "unknown; known: hue-vyda"}]


def test_the_audit_api_is_rate_limited_per_client_address(repo):
    audit = worker_factory(AuditService, store=repo, staff=authenticator(),
                           throttle=ClientThrottle(RateLimiter(*parse_rate("2/60"))))
    assert [timeline(audit, CODE)[0] for _ in range(2)] == [404, 404]
    status, body, headers = verify(audit, full=True)
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert timeline(audit, CODE, headers={})[0] == 429  # before the token is even looked at
