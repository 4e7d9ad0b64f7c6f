"""The officers' work API over real HTTP: a routing container on real RabbitMQ,
staff tokens signed the way production signs them, and the case store."""
from __future__ import annotations

import itertools
import time
import uuid
from datetime import date, datetime, timedelta

import jwt
import pytest
import requests

from onestop.web.auth import SigningKeys
from tests.support.staff import ISSUER
from onestop.catalog import load_catalog
from contracts import make_event
from onestop.timestamps import utcnow
from onestop.storage.mongo import database
from onestop.config import Settings
from services.routing import handlers
from onestop.worktime.centers import hours_for
from services.routing.service import RoutingService
from services.routing.store import RoutingRepository

CENTER, OTHER = "hue-vyda", "hue-phuxuan"
BIRTH = "1.001193"  # justice: department vp, 0 working days
LAND = "1.013978"   # land: department ktht


@pytest.fixture
def routing(services, config):
    container = services.start(RoutingService)
    repo = RoutingRepository(database(Settings.load(container.config), "routing"))
    return container, repo


def token(role, user="u-1", centers=(CENTER,), department=None, **overrides):
    """A staff token; `overrides` replace claims (exp, aud, iss, ...) to build bad ones."""
    if not overrides:
        return ISSUER.mint(user, role, centers, department)
    now = int(time.time())
    payload = {"sub": user, "role": role, "centers": list(centers), "iat": now, "exp": now + 600,
               "iss": "onestop", "aud": "onestop-staff", "jti": uuid.uuid4().hex, "department": department, **overrides}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, ISSUER.keys.private_key(), algorithm="ES256",
                      headers={"kid": ISSUER.keys.current()["kid"]})


SEQUENCE = itertools.count(1000 + uuid.uuid4().int % 1000)


def seed(repo, center=CENTER, procedure=BIRTH, received_at=None, seq=None):
    """A dossier received at `center` and routed by the routing handler, as the pipeline does."""
    catalog = load_catalog()
    c = catalog.centers[center]
    seq = seq or next(SEQUENCE)  # never the same code twice in a run: a random one collided now and then
    code = f"{c.short_code}-260302-{seq:04d}"
    proc = catalog.procedures[procedure]
    received_at = received_at or utcnow()
    event = make_event("dossier.received.v1", center=center, subject=code, actor={"id": "c1", "role": "counter_staff"},
                       data={"code": code, "official_code": f"{c.unit_code}-260302-{seq:04d}", "procedure_code": procedure,
                             "procedure_name": proc.name_vi, "field": proc.field, "channel": "counter",
                             "received_at": received_at.isoformat().replace("+00:00", "Z"),
                             "appointment_date": "2026-03-02", "working_days": proc.working_days,
                             "missing_documents": [], "applicant": "N. V. A.", "status": "received"})
    case = handlers.route_dossier(event, catalog=catalog, repo=repo, now=received_at)
    return case


class Staff:
    def __init__(self, container):
        self.base = container.http

    def act(self, code, action, tok, **body):
        return requests.post(f"{self.base}/api/v1/work/dossiers/{code}/actions/{action}", json=body,
                             headers={"Authorization": f"Bearer {tok}"}, timeout=10)

    def get(self, path, tok, **params):
        headers = {"Authorization": f"Bearer {tok}"} if tok else {}
        return requests.get(f"{self.base}{path}", params=params, headers=headers, timeout=10)


@pytest.fixture
def staff(routing):
    return Staff(routing[0])


def officer_token(case):
    return token("officer", case["officer_id"], department=case["department_id"])


def test_a_dossier_worked_from_start_to_return(routing, staff):
    _, repo = routing
    case = seed(repo, procedure=LAND)
    code, officer = case["_id"], officer_token(case)
    counter = token("counter_staff", "counter-01")

    assert staff.act(code, "start", officer).json()["status"] == "in_progress"
    asked = staff.act(code, "request_supplement", officer, reason="Thiếu bản vẽ",
                      documents=["Bản vẽ sơ đồ thửa đất"]).json()
    assert asked["status"] == "supplement_requested"
    assert asked["due_at"] is None and asked["clock"]["paused_at"] is not None  # the clock stopped
    assert asked["supplement"]["documents"] == ["Bản vẽ sơ đồ thửa đất"]
    back = staff.act(code, "receive_supplement", counter).json()
    assert back["status"] == "supplemented" and back["due_at"] is not None
    for action, state in (("start", "in_progress"), ("approve", "approved"), ("mark_result_ready", "result_ready")):
        response = staff.act(code, action, officer)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == state
    done = staff.act(code, "return_result", counter).json()
    assert done["status"] == "returned" and done["allowed_actions"] == []
    assert [h["action"] for h in done["history"]] == [
        "route", "assign", "start", "request_supplement", "receive_supplement", "start", "approve",
        "mark_result_ready", "return_result"]
    assert [h["seq"] for h in done["history"][2:]] == list(range(3, 10))
    stored = repo.get(code)
    assert stored["open"] is False and stored["decision"] == "approved"
    # issue 17: the leader's report over HTTP counts it today, on time, in its day's row, on no list
    report = staff.get("/api/v1/reports", token("center_leader", "leader"), center=CENTER).json()
    assert (report["today"]["received"], report["today"]["result_ready"], report["today"]["on_time"]) == (1, 1, 1)
    assert {i["id"]: (i["numerator"], i["denominator"]) for i in report["indicators"]} == {
        "on_time_rate": (1, 1), "satisfaction_rate": (0, 0), "online_rate": (0, 1)}
    assert [d["received"] for d in report["daily"] if d["date"] == report["today"]["date"]] == [1]
    assert report["overdue_list"] == report["due_soon_list"] == []


def test_an_invalid_transition_names_the_state_and_the_allowed_actions(routing, staff):
    case = seed(routing[1])
    response = staff.act(case["_id"], "approve", officer_token(case))
    assert response.status_code == 409
    body = response.json()
    assert body["current_state"] == "assigned"
    assert "start" in body["allowed_actions"] and "approve" not in body["allowed_actions"]


def test_a_supplement_request_without_documents_is_refused_and_changes_nothing(routing, staff):
    _, repo = routing
    case = seed(repo)
    staff.act(case["_id"], "start", officer_token(case))
    before = repo.get(case["_id"])
    response = staff.act(case["_id"], "request_supplement", officer_token(case), reason="thiếu", documents=[])
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "documents"
    after = repo.get(case["_id"])
    assert after["version"] == before["version"] and after["status"] == "in_progress"


def test_a_second_supplement_request_breaks_the_once_and_completely_rule(routing, staff):
    case = seed(routing[1])
    officer, counter = officer_token(case), token("counter_staff")
    staff.act(case["_id"], "request_supplement", officer, reason="a", documents=["x"])
    staff.act(case["_id"], "receive_supplement", counter)
    staff.act(case["_id"], "start", officer)
    response = staff.act(case["_id"], "request_supplement", officer, reason="b", documents=["y"])
    assert response.status_code == 409 and response.json()["rule"] == "supplement_once"


@pytest.mark.parametrize("how, reason", [
    ("missing", "missing"), ("expired", "expired"), ("audience", "wrong_audience"),
    ("signature", "bad_signature"), ("issuer", "wrong_issuer"), ("none_alg", "algorithm_refused")])
def test_a_bad_token_is_a_401_with_its_reason(routing, staff, how, reason):
    case = seed(routing[1])
    now = int(time.time())
    tok = {
        "missing": None,
        "expired": token("officer", case["officer_id"], department="vp", exp=now - 60, iat=now - 700),
        "audience": token("officer", case["officer_id"], department="vp", aud="someone-else"),
        # signed by another key under the published kid
        "signature": jwt.encode({"sub": "x", "role": "officer", "centers": [CENTER], "iat": now, "exp": now + 60,
                                 "iss": "onestop", "aud": "onestop-staff", "department": "vp", "jti": "j"},
                                SigningKeys.generate().private_key(), algorithm="ES256",
                                headers={"kid": ISSUER.keys.current()["kid"]}),
        "issuer": token("officer", case["officer_id"], department="vp", iss="evil"),
        "none_alg": jwt.encode({"sub": "x", "role": "officer", "centers": [CENTER], "iat": now, "exp": now + 60,
                                "iss": "onestop", "aud": "onestop-staff"}, None, algorithm="none"),
    }[how]
    response = staff.get(f"/api/v1/work/dossiers/{case['_id']}", tok)
    assert response.status_code == 401
    assert response.json()["reason"] == reason
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_another_centers_dossier_looks_exactly_like_a_missing_one(routing, staff):
    case = seed(routing[1], center=OTHER)
    leader_here = token("center_leader", "leader-vyda", centers=(CENTER,))
    theirs = staff.get(f"/api/v1/work/dossiers/{case['_id']}", leader_here)
    missing = staff.get("/api/v1/work/dossiers/VYDA-260302-0001", leader_here)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    acted = staff.act(case["_id"], "extend_deadline", leader_here, reason="x", due="2026-03-20")
    assert acted.status_code == 404 and acted.json() == missing.json()


def test_an_officer_may_not_work_a_colleagues_dossier(routing, staff):
    case = seed(routing[1])
    colleague = token("officer", "someone-else", department=case["department_id"])
    response = staff.act(case["_id"], "start", colleague)
    assert response.status_code == 403


def test_the_queue_is_mine_filtered_and_sorted_by_due_date(routing, staff):
    _, repo = routing
    first = seed(repo, procedure=LAND)
    second = seed(repo, procedure=LAND, received_at=utcnow() - timedelta(days=7))
    head = token("department_head", "head-ktht", department="ktht")
    page = staff.get("/api/v1/work/queue", head, status="assigned").json()
    codes = [i["code"] for i in page["items"]]
    assert set(codes) == {first["_id"], second["_id"]}
    assert [i["due_at"] for i in page["items"]] == sorted(i["due_at"] for i in page["items"])
    mine = staff.get("/api/v1/work/queue", officer_token(first)).json()
    assert {i["officer_id"] for i in mine["items"]} == {first["officer_id"]}
    bad = staff.get("/api/v1/work/queue", head, status="nonsense")
    assert bad.status_code == 422 and bad.json()["fields"][0]["field"] == "status"


def test_the_leader_extends_once_and_the_new_date_is_the_citizens(routing, staff):
    case = seed(routing[1], procedure=LAND)
    leader = token("center_leader", "leader-vyda")
    cal = hours_for(load_catalog().centers[CENTER]).calendar
    old = date.fromisoformat(case["appointment_date"])
    new = cal.add_working_days(old, 5)
    response = staff.act(case["_id"], "extend_deadline", leader, reason="Cần xác minh thực địa", due=new.isoformat())
    assert response.status_code == 200, response.text
    assert response.json()["appointment_date"] == new.isoformat()
    again = staff.act(case["_id"], "extend_deadline", leader, reason="x", due=cal.add_working_days(new, 1).isoformat())
    assert again.status_code == 409 and again.json()["rule"] == "extend_once"
    other = seed(routing[1])
    day_off = next(old + timedelta(days=n) for n in range(1, 30) if not cal.is_working_day(old + timedelta(days=n)))
    for due in (day_off.isoformat(), other["appointment_date"], "2026-13-01"):
        refused = staff.act(other["_id"], "extend_deadline", leader, reason="x", due=due)
        assert refused.status_code == 422 and refused.json()["fields"][0]["field"] == "due", due


def test_deadline_timers_fire_once_each_and_only_the_latest(routing):
    _, repo = routing
    case = seed(repo, procedure=LAND)
    catalog = load_catalog()
    points = {t["label"]: t["at"] for t in case["timers"]}
    assert set(points) == {"due_soon:1d", "due_soon:3h", "overdue"}
    assert points["overdue"] == datetime.fromisoformat(case["due_at"])
    fire = lambda now: handlers.fire_due_timers(catalog=catalog, repo=repo, now=now, centers=[CENTER])  # noqa: E731
    minute = timedelta(minutes=1)
    assert fire(points["due_soon:1d"] - minute) == 0
    assert fire(points["due_soon:1d"] + minute) == 1  # one working day before the due time
    assert fire(points["due_soon:1d"] + minute) == 0  # never twice
    assert fire(points["overdue"] + minute) == 1  # the 3 h point is skipped: overdue is what matters now
    assert fire(points["overdue"] + timedelta(days=1)) == 0
    stored = repo.assignments.find_one({"_id": case["_id"]})
    sent = [e["event"] for e in stored.get("outbox", []) if e["event"]["type"] in ("dossier.due_soon.v1",
                                                                                   "dossier.overdue.v1")]
    assert [(e["type"], e["data"].get("point"), e["data"]["escalate_to"]) for e in sent] == [
        ("dossier.due_soon.v1", "1d", ["department_head", "center_leader"]),
        ("dossier.overdue.v1", None, ["department_head", "center_leader"])]
    assert {f.split("@")[0] for f in stored["fired"]} == {"due_soon:1d", "due_soon:3h", "overdue"}
    assert stored["next_timer_at"] is None


def test_routing_takes_received_dossiers_and_ratings_from_the_broker(routing, config):
    from tests.integration.test_delivery import publish, received_event
    from tests.support.wait import until
    _, repo = routing
    event = received_event(code="VYDA-261126-0777")
    publish(config["AMQP_URI"], event)
    case = until(lambda: repo.get("VYDA-261126-0777"), 20, 0.1, "the case opened")
    assert case["status"] == "assigned" and case["channel"] == "counter"  # kept for the reports' online rate
    rated = make_event("dossier.rated.v1", center=CENTER, subject=case["_id"], actor={"id": "citizen", "role": "citizen"},
                       data={"code": case["_id"], "procedure_code": case["procedure_code"], "score": 4,
                             "has_comment": False, "rated_at": "2026-11-26T03:00:00.000Z"})
    publish(config["AMQP_URI"], rated)
    publish(config["AMQP_URI"], rated)  # redelivered: kept once
    stored = until(lambda: (c := repo.get(case["_id"])).get("rating") and c, 20, 0.1, "the rating on the case")
    assert stored["rating"]["score"] == 4 and stored["status"] == "assigned"


def test_two_reliable_handlers_on_one_queue_refuse_to_start(services):
    from onestop.messaging.consumer import reliable_handler

    class Confused:
        name = "confused"

        @reliable_handler(("public", "dossier.received.v1"))
        def one(self, event):
            pass

        @reliable_handler(("public", "dossier.rated.v1"))
        def two(self, event):
            pass

    with pytest.raises(RuntimeError, match="use one reliable_handler"):
        services.start(Confused)


def test_the_deadline_timer_fires_in_the_service_once_across_a_restart(services, config):
    """A dossier received 60 days ago is overdue: the running routing service tells the head and
    the leader once; killed and started again, it does not tell them twice."""
    from onestop.messaging.topology import EVENTS
    from tests.support.tap import Tap
    from tests.support.wait import until
    tap = Tap(config["AMQP_URI"], EVENTS, "dossier.overdue.v1.#")
    first = services.start(RoutingService)
    repo = RoutingRepository(database(Settings.load(first.config), "routing"))
    case = seed(repo, procedure=LAND, received_at=utcnow() - timedelta(days=60))
    seen = until(lambda: tap.messages() or None, 20, 0.2, "dossier.overdue.v1 published")
    first.kill()
    services.start(RoutingService)
    time.sleep(3)  # three looks at the timers by the new worker
    seen += tap.messages()
    assert [(e["type"], e["subject"]) for e in seen] == [("dossier.overdue.v1", case["_id"])]
    assert seen[0]["data"]["escalate_to"] == ["department_head", "center_leader"]


def test_without_a_jwks_url_the_staff_endpoints_say_so(services):
    container = services.start(RoutingService, AUTH_JWKS_URL="")
    response = requests.get(f"{container.http}/api/v1/work/queue", timeout=10,
                            headers={"Authorization": f"Bearer {token('center_leader')}"})
    assert response.status_code == 503 and response.json()["error"] == "staff_access_not_configured"
    assert requests.get(f"{container.http}/healthz", timeout=10).status_code == 200  # the service itself runs
