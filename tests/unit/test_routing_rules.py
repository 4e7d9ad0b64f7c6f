"""Routing as a center's staff see it: each dossier lands in the competent
department, with the least-busy officer who has the skill, exactly once."""
from __future__ import annotations

from collections import Counter, namedtuple
from datetime import date, datetime, timezone

import pytest

from onestop.catalog import load_catalog
from onestop.errors import PermanentError, UnknownDossier
from contracts import make_event
from onestop.timestamps import parse_time
from services.intake.domain import DossierCode
from services.routing.domain import choose_officer
from services.routing.handlers import route_dossier
from services.routing.store import RoutingRepository
from tests.support.fakes import ready

CATALOG = load_catalog()
NOW = datetime(2026, 3, 2, 2, 15, tzinfo=timezone.utc)
# Decree 150/2025 Art. 15, written out here rather than read from the catalog,
# so a wrong routing table in the data is caught too.
DECREE_150 = {"justice": "vp", "land": "ktht", "construction": "ktht", "business": "ktht",
              "culture": "vhxh", "social": "vhxh"}
OVERRIDES = {("hue-phuxuan", "1.012812"): "vp"}
O = namedtuple("O", "id")


# ---- choose_officer ------------------------------------------------------------


def test_least_loaded_officer_is_chosen():
    officers = [O("a"), O("b"), O("c")]
    assert choose_officer(officers, {"a": 3, "b": 1, "c": 2}).id == "b"


def test_officer_without_open_dossiers_counts_as_zero():
    assert choose_officer([O("a"), O("b")], {"a": 1}).id == "b"


def test_tie_goes_to_the_lowest_id_whatever_the_order():
    assert choose_officer([O("c"), O("b"), O("a")], {"a": 2, "b": 2, "c": 2}).id == "a"
    assert choose_officer([O("b"), O("a")], {}).id == "a"


def test_nobody_to_choose_from_gives_none():
    assert choose_officer([], {"a": 0}) is None


# ---- route_dossier with a real store --------------------------------------------


@pytest.fixture
def repo(mongo_db):
    return ready(RoutingRepository(mongo_db("routing")))


def received(center_id, procedure_code, sequence=1, day=date(2026, 3, 2)):
    center = CATALOG.center(center_id)
    procedure = CATALOG.procedure(procedure_code)
    code = str(DossierCode(center.short_code, day, sequence))
    return make_event("dossier.received.v1", center=center_id, subject=code, time=NOW,
                      actor={"id": "counter-01", "role": "counter_staff"}, data={
                          "code": code, "official_code": DossierCode.parse(code).official(center.unit_code),
                          "procedure_code": procedure.code, "procedure_name": procedure.name_vi,
                          "field": procedure.field, "channel": "counter",
                          "received_at": "2026-03-02T02:15:00Z", "appointment_date": "2026-03-05",
                          "working_days": procedure.working_days, "missing_documents": [],
                          "applicant": "N. V. A.", "status": "received"})


def route(event, repo):
    return route_dossier(event, catalog=CATALOG, repo=repo, now=NOW)


def stored(repo, code):
    return repo.assignments.find_one({"_id": code})


CASES = [(c, p) for c in sorted(CATALOG.centers) for p in sorted(CATALOG.procedures)]


def test_the_catalog_has_every_center_and_field_to_walk():
    assert {"hue-vyda", "hue-phuxuan", "hue-thuanhoa", "hue-huongthuy"} <= set(CATALOG.centers)
    assert {p.field for p in CATALOG.procedures.values()} == set(DECREE_150)


@pytest.mark.parametrize("center_id,procedure_code", CASES, ids=[f"{c}/{p}" for c, p in CASES])
def test_every_procedure_of_every_center_reaches_the_competent_department(repo, center_id, procedure_code):
    procedure = CATALOG.procedure(procedure_code)
    expected = OVERRIDES.get((center_id, procedure_code), DECREE_150[procedure.field])
    event = received(center_id, procedure_code)

    assignment = route(event, repo)

    assert assignment["department_id"] == expected
    officer = next(o for o in CATALOG.center(center_id).officers if o.id == assignment["officer_id"])
    assert officer.department == expected
    assert procedure.field in officer.skills or procedure.code in officer.skills
    doc = stored(repo, event["data"]["code"])
    assert (doc["department_id"], doc["officer_id"], doc["open"]) == (expected, officer.id, True)
    routed = doc["outbox"][0]["event"]
    assert routed["data"]["department_name"] == CATALOG.center(center_id).department(expected).name_vi


def test_phu_xuan_sends_land_mediation_to_its_office_others_to_economy(repo):
    phuxuan = route(received("hue-phuxuan", "1.012812"), repo)
    vyda = route(received("hue-vyda", "1.012812"), repo)
    assert phuxuan["department_id"] == "vp" and phuxuan["officer_id"] == "phuxuan-o01"  # the only one skilled
    assert vyda["department_id"] == "ktht"
    # the override is for that one procedure: other land procedures stay with ktht
    assert route(received("hue-phuxuan", "1.012783", 2), repo)["department_id"] == "ktht"


def test_dossiers_of_one_field_spread_over_the_skilled_officers(repo):
    # Vỹ Dạ birth registrations: vyda-o01 and vyda-o02 do civil status; vyda-o03 only certifies.
    officers = [route(received("hue-vyda", "1.001193", n), repo)["officer_id"] for n in range(1, 7)]
    assert officers == ["vyda-o01", "vyda-o02"] * 3
    assert Counter(officers) == {"vyda-o01": 3, "vyda-o02": 3}


def test_a_certification_goes_to_the_idle_certifier(repo):
    route(received("hue-vyda", "1.001193", 1), repo)
    route(received("hue-vyda", "1.001193", 2), repo)
    # o01 and o02 each hold one; o03 (certification skills) holds none
    assert route(received("hue-vyda", "2.000815", 3), repo)["officer_id"] == "vyda-o03"
    # now all three hold one: the tie goes to the lowest id
    assert route(received("hue-vyda", "2.000884", 4), repo)["officer_id"] == "vyda-o01"


def test_assigned_event_tells_the_officers_open_load(repo):
    loads = []
    for n in range(1, 4):
        doc = stored(repo, route(received("hue-thuanhoa", "1.001612", n), repo)["_id"])
        assigned = doc["outbox"][1]["event"]["data"]
        loads.append((assigned["officer_id"], assigned["open_dossiers"]))
    # thuanhoa-o03 and o04 both do business registration
    assert loads == [("thuanhoa-o03", 1), ("thuanhoa-o04", 1), ("thuanhoa-o03", 2)]


def test_a_redelivered_event_changes_nothing(repo):
    event = received("hue-vyda", "1.001193")
    first = route(event, repo)
    before = stored(repo, first["_id"])

    assert route(event, repo) is None
    assert repo.assignments.count_documents({}) == 1
    assert stored(repo, first["_id"]) == before
    assert len(before["outbox"]) == 2
    # and the officer's load did not grow: the next dossier goes to the other officer
    assert route(received("hue-vyda", "1.001193", 2), repo)["officer_id"] == "vyda-o02"


def test_a_second_dossier_under_the_same_code_is_refused_and_the_first_case_kept(repo):
    """A new dossier.received id is a new dossier (intake publishes each dossier's once, with one id):
    under a code routing already has, the code was issued twice. Never a second case, never a redelivery."""
    first = route(received("hue-vyda", "1.001193"), repo)
    before = stored(repo, first["_id"])
    with pytest.raises(UnknownDossier, match=f"routing knows {first['_id']} as another dossier"):
        route(received("hue-vyda", "1.001193"), repo)
    assert repo.assignments.count_documents({}) == 1 and stored(repo, first["_id"]) == before


def test_unknown_procedure_is_a_permanent_error_and_writes_nothing(repo):
    event = received("hue-vyda", "1.001193")
    event["data"]["procedure_code"] = "9.999999"
    with pytest.raises(PermanentError):
        route(event, repo)
    assert repo.assignments.count_documents({}) == 0


def test_unknown_center_is_a_permanent_error(repo):
    event = received("hue-vyda", "1.001193")
    event["center"] = "hue-atlantis"
    with pytest.raises(PermanentError):
        route(event, repo)
    assert repo.assignments.count_documents({}) == 0


def test_assignment_carries_routed_and_assigned_events_in_its_outbox(repo):
    event = received("hue-vyda", "1.013978")
    code = event["data"]["code"]
    route(event, repo)
    doc = stored(repo, code)

    assert [e["event"]["type"] for e in doc["outbox"]] == ["dossier.routed.v1", "dossier.assigned.v1"]
    assert [e["routing_key"] for e in doc["outbox"]] == ["dossier.routed.v1.hue-vyda", "dossier.assigned.v1.hue-vyda"]
    assert {e["exchange"] for e in doc["outbox"]} == {"public"}
    routed, assigned = (e["event"] for e in doc["outbox"])
    for out in (routed, assigned):
        assert out["subject"] == code and out["center"] == "hue-vyda"
        assert out["correlationid"] == event["correlationid"]  # the citizen's request, end to end
        assert (out["actorid"], out["actorrole"]) == ("routing", "system")
        assert (out["procedure"], out["field"]) == ("1.013978", CATALOG.field_of("1.013978"))  # what subscribers filter on
    assert [e["id"] for e in doc["outbox"]] == [routed["id"], assigned["id"]]
    assert routed["id"] != assigned["id"]
    routed_at = routed["data"].pop("routed_at")
    assert parse_time(routed_at) == NOW and routed_at.endswith("Z")
    assert routed["data"] == {"code": code, "dossier_id": event["id"], "procedure_code": "1.013978",
                              "department_id": "ktht",
                              "department_name": "Phòng Kinh tế, Hạ tầng và Đô thị", "seq": 1}
    assert assigned["data"]["seq"] == 2 and assigned["data"]["due_at"] == doc["due_at"]
    assert assigned["data"]["officer_id"] == doc["officer_id"] == "vyda-o04"
    assert assigned["data"]["officer_name"] == "Lê Quang Huy"
    assert doc["received_event_id"] == assigned["data"]["dossier_id"] == event["id"]
