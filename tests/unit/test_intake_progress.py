"""How routing's lifecycle events read to intake and to the citizen (pure)."""
from services.intake import progress
from services.intake.domain import RATING_ALPHABET, new_rating_code, normalize_rating_code, rating_code_hash
from contracts.lifecycle import LIFECYCLE
from tests.service.intake_events import COLLECT_AT, DOCUMENTS, Life


def test_every_lifecycle_event_type_is_followed():
    types = set(progress.LIFECYCLE_TYPES)
    assert {"dossier.routed.v1", "dossier.assigned.v1"} <= types
    assert {a.event for a in LIFECYCLE.actions} == types


def test_every_routing_state_has_a_public_status_and_labels():
    from services.routing.lifecycle import STATES
    for state in STATES:
        shown = progress.public_status(state)
        assert shown["status_label"]["vi"] and shown["status_label"]["en"]
    assert progress.public_status("approved")["status"] == progress.public_status("rejected")["status"] == "processed"


def test_a_supplement_request_keeps_the_papers_and_stops_the_appointment():
    life = Life("VYDA-260213-0007")
    life.routed(), life.assigned(), life.act("start", "in_progress")
    change = progress.follow(life.act("request_supplement", "supplement_requested", reason="Thiếu giấy tờ"))
    assert change["seq"] == 4
    assert change["current"]["status"] == "supplement_requested" and change["current"]["appointment_date"] is None
    assert change["facts"]["supplement.documents"] == DOCUMENTS
    assert change["entry"]["step"] == "request_supplement" and change["entry"]["reason"] == "Thiếu giấy tờ"


def test_the_result_and_its_place_are_facts_of_their_own_event():
    life = Life("VYDA-260213-0007").through_a_supplement()
    ready = progress.follow(life.events[8])
    assert ready["facts"] == {"result.decision": "approved", "result.collect_at": COLLECT_AT,
                              "result.ready_at": life.events[8]["data"]["at"]}
    returned = progress.follow(life.events[9])
    assert returned["facts"]["result.on_time"] is True and returned["current"]["status"] == "returned"


def test_routed_and_assigned_without_seq_count_as_the_first_two():
    life = Life("VYDA-260213-0007")
    routed, assigned = life.routed(), life.assigned()
    for event in (routed, assigned):
        event["data"].pop("seq")
    assert (progress.follow(routed)["seq"], progress.follow(assigned)["seq"]) == (1, 2)
    assert progress.follow(routed)["current"] == {"department_id": "vp", "officer_id": None, "status": "routed"}


def test_the_citizen_sees_the_steps_in_routing_order_without_internal_ones():
    life = Life("VYDA-260213-0007")
    life.routed(), life.assigned()
    life.act("reassign", officer_id="vyda-o02")
    life.act("transfer", "routed", reason="Sai lĩnh vực", department="ktht")
    entries = [progress.follow(e)["entry"] for e in reversed(life.events)]
    steps = progress.citizen_steps(entries)
    assert [s["step"] for s in steps] == ["route", "assign", "transfer"]
    assert "reason" not in steps[-1] and steps[-1]["label"]["en"] == "Moved to another department"


def test_a_history_from_before_steps_existed_still_reads():
    from datetime import datetime, timezone
    at = datetime(2026, 2, 13, 2, tzinfo=timezone.utc)
    legacy = [{"status": "assigned", "at": at, "event_id": "b"}, {"status": "received", "at": at, "event_id": "a"},
              {"status": "routed", "at": at, "event_id": "c"}]
    assert [s["step"] for s in progress.citizen_steps(legacy)] == ["received", "route", "assign"]


def test_rating_codes_are_unambiguous_and_typed_loosely():
    codes = {new_rating_code() for _ in range(200)}
    assert len(codes) == 200 and all(len(c) == 8 and set(c) <= set(RATING_ALPHABET) for c in codes)
    assert not set("0O1IL") & set(RATING_ALPHABET)
    assert normalize_rating_code("k7p2 qx9m") == normalize_rating_code("K7P2-QX9M") == "K7P2QX9M"
    assert rating_code_hash("k7p2-qx9m") == rating_code_hash("K7P2QX9M")
