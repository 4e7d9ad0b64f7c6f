"""The guard against a store that lost its past, one consumer at a time, on the real repositories
(mongomock or MONGO_URI): an event is acted on only for the dossier it is about, compared by
``dossier_id`` when both the event and the stored record have one (older ones do not)."""
from __future__ import annotations

import doctest
from datetime import datetime, timezone

import pytest
from marshmallow import ValidationError

import contracts.dossier
import onestop.errors
from contracts import dossier_id, make_event, same_dossier
from onestop.catalog import load_catalog
from onestop.errors import TransientError, UnknownDossier
from onestop.messaging.consumer import classify
from services.intake.handlers import follow_lifecycle
from services.intake.store import IntakeRepository
from services.notification.handlers import forget_contact, notify, remember_contact
from services.notification.store import NotificationRepository
from services.routing.handlers import record_rating, route_dossier
from services.routing.store import RoutingRepository
from tests.service.intake_events import Life
from tests.support.fakes import FakeSender, ready

CATALOG = load_catalog()
NOW = datetime(2026, 12, 1, 2, 15, tzinfo=timezone.utc)
CODE = "VYDA-261201-0001"
COUNTER = {"id": "counter-01", "role": "counter_staff"}


def received(code=CODE) -> dict:
    procedure = CATALOG.procedure("1.001193")
    return make_event("dossier.received.v1", center="hue-vyda", subject=code, actor=COUNTER, time=NOW, data={
        "code": code, "official_code": f"00.00.H57.{code}", "procedure_code": procedure.code,
        "procedure_name": procedure.name_vi, "field": procedure.field, "channel": "counter",
        "received_at": "2026-12-01T02:15:00Z", "appointment_date": "2026-12-01", "working_days": 0,
        "missing_documents": [], "applicant": "N. V. A.", "status": "received"})


def about(dossier: dict | None, event: dict) -> dict:
    """The event, as about `dossier` (a received event), or as an older producer sent it (None)."""
    if dossier is None:
        event["data"].pop("dossier_id", None)
    else:
        event["data"]["dossier_id"] = dossier["id"]
    return event


# --- the rule --------------------------------------------------------------------------------

def test_the_rule_and_the_wording_are_as_documented():
    assert doctest.testmod(contracts.dossier).failed == 0
    assert doctest.testmod(onestop.errors).failed == 0


def test_a_received_event_is_its_own_dossier_and_others_name_theirs():
    opening = received()
    assert dossier_id(opening) == opening["id"]
    assert dossier_id(about(opening, Life(CODE).routed())) == opening["id"]
    assert dossier_id(about(None, Life(CODE).routed())) is None  # from before dossier_id


@pytest.mark.parametrize("known,theirs,same", [
    ("a", "a", True), ("a", "b", False),
    (None, "b", True),  # a record stored before dossier_id existed
    ("a", None, True),  # an event published before it existed
    (None, None, True),
])
def test_two_ids_are_compared_only_when_both_are_known(known, theirs, same):
    assert same_dossier(known, theirs) is same


def test_an_unknown_dossier_is_dead_lettered_at_once_under_its_own_reason():
    error = UnknownDossier.missing("intake", about(received(), Life(CODE).routed()), "its store lost it")
    assert classify(error) == "unknown_dossier"
    assert str(error).startswith(f"intake has no dossier {CODE} (dossier_id ")


def test_a_malformed_dossier_id_is_refused_by_the_contract():
    with pytest.raises(ValidationError, match="dossier_id"):
        make_event("dossier.routed.v1", center="hue-vyda", subject=CODE, actor=COUNTER, data={
            "code": CODE, "dossier_id": "not-a-uuid", "procedure_code": "1.001193", "department_id": "vp",
            "department_name": "Văn phòng", "routed_at": "2026-12-01T02:15:00Z"})


# --- intake ------------------------------------------------------------------------------------

@pytest.fixture
def intake(mongo_db):
    repo = ready(IntakeRepository(mongo_db("intake")))
    opening = received()
    repo.insert({"_id": CODE, "code": CODE, "center": "hue-vyda", "status": "received", "seq": 0, "seen": [],
                 "history": [{"status": "received", "step": "received", "seq": 0, "at": NOW,
                              "event_id": opening["id"]}]})
    return repo, opening


def test_intake_follows_the_dossier_it_has_and_an_older_event_that_does_not_say(intake):
    repo, opening = intake
    life = Life(CODE)
    assert follow_lifecycle(about(opening, life.routed()), repo)
    assert follow_lifecycle(about(None, life.assigned()), repo)
    assert repo.get(CODE)["status"] == "assigned"


def test_intake_refuses_an_event_about_another_dossier_of_its_code_and_one_it_does_not_have(intake):
    repo, _ = intake
    with pytest.raises(UnknownDossier, match=f"intake knows {CODE} as another dossier"):
        follow_lifecycle(about(received(), Life(CODE).routed()), repo)
    with pytest.raises(UnknownDossier, match="intake has no dossier VYDA-261201-0002"):
        follow_lifecycle(Life("VYDA-261201-0002").routed(), repo)
    assert repo.get(CODE)["status"] == "received" and len(repo.get(CODE)["history"]) == 1  # nothing followed


# --- routing -----------------------------------------------------------------------------------

@pytest.fixture
def routing(mongo_db):
    return ready(RoutingRepository(mongo_db("routing")))


def route(event, repo):
    return route_dossier(event, catalog=CATALOG, repo=repo, now=NOW)


def rated(dossier: dict | None, code=CODE) -> dict:
    event = make_event("dossier.rated.v1", center="hue-vyda", subject=code, actor={"id": "citizen", "role": "citizen"},
                       data={"code": code, "procedure_code": "1.001193", "score": 5, "has_comment": False,
                             "rated_at": "2026-12-02T02:15:00Z"})
    return about(dossier, event)


def test_routing_skips_a_redelivery_and_refuses_a_second_dossier_of_the_code(routing):
    first = received()
    case = route(first, routing)
    assert route(first, routing) is None  # redelivered: the same id
    with pytest.raises(UnknownDossier, match=f"routing knows {CODE} as another dossier"):
        route(received(), routing)
    assert routing.get(CODE)["received_event_id"] == case["received_event_id"] == first["id"]
    assert routing.assignments.count_documents({}) == 1


def test_routing_keeps_the_rating_of_its_dossier_only(routing):
    first = received()
    route(first, routing)
    with pytest.raises(UnknownDossier, match=f"routing knows {CODE} as another dossier"):
        record_rating(rated(received()), routing)
    with pytest.raises(UnknownDossier, match="routing has no dossier VYDA-261201-0002"):
        record_rating(rated(first, "VYDA-261201-0002"), routing)
    assert routing.get(CODE).get("rating") is None
    assert record_rating(rated(first), routing) and routing.get(CODE)["rating"]["score"] == 5


def test_routing_compares_nothing_for_a_case_opened_before_it_kept_the_received_id(routing):
    route(received(), routing)
    routing.assignments.update_one({"_id": CODE}, {"$unset": {"received_event_id": ""}})
    assert route(received(), routing) is None  # as before: a redelivery
    assert record_rating(rated(received()), routing)


def test_routing_events_carry_the_dossier_id_of_their_case(routing):
    first = received()
    route(first, routing)
    outbox = routing.assignments.find_one({"_id": CODE})["outbox"]
    assert [e["event"]["data"]["dossier_id"] for e in outbox] == [first["id"], first["id"]]


# --- notification --------------------------------------------------------------------------------

@pytest.fixture
def notification(mongo_db):
    return ready(NotificationRepository(mongo_db("notification")))


def contact(opening: dict | None, phone: str) -> dict:
    event = make_event("citizen.contact.v1", center="hue-vyda", subject=CODE, actor=COUNTER, data={
        "code": CODE, "full_name": "Nguyễn Văn An", "phone": phone, "email": None, "channels": ["sms"],
        "language": "vi"})
    return about(opening, event)


def sent_to(event, repo) -> list[str]:
    """The phones the event's messages went to."""
    sms = FakeSender()
    notify(event, catalog=CATALOG, repo=repo, senders={"sms": sms, "email": FakeSender()},
           status_url="http://127.0.0.1:8001/api/v1/dossiers/{code}", now=NOW)
    return [message.to for message, _ in sms.sent]


def test_notification_keeps_the_first_dossiers_contact_and_tells_only_its_citizen(notification):
    first, second = received(), received()
    remember_contact(contact(first, "+84912000001"), notification)
    remember_contact(contact(first, "+84912000002"), notification)  # the same dossier's: a correction
    with pytest.raises(UnknownDossier, match=f"notification knows {CODE} as another dossier"):
        remember_contact(contact(second, "+84912000003"), notification)
    assert notification.contact(CODE)["phone"] == "+84912000002"
    assert notification.contact(CODE)["dossier_id"] == first["id"]

    with pytest.raises(UnknownDossier):
        sent_to(second, notification)
    assert notification.deliveries.count_documents({}) == 0  # nobody messaged
    assert sent_to(first, notification) == ["+84912000002"]
    [sent] = [e["event"] for d in notification.deliveries.find() for e in d.get("outbox", [])]
    assert sent["type"] == "notification.sent.v1" and sent["data"]["dossier_id"] == first["id"]


def test_notification_takes_over_a_contact_stored_before_dossier_id(notification):
    first = received()
    remember_contact(contact(None, "+84912000001"), notification)  # an older intake's contact
    remember_contact(contact(first, "+84912000002"), notification)
    assert notification.contact(CODE)["dossier_id"] == first["id"]
    assert sent_to(about(None, Life(CODE).act("request_supplement", "supplement_requested")),
                   notification) == ["+84912000002"]  # an older event: not compared


def test_notification_without_the_contact_still_waits_and_names_both_causes(notification):
    opening = received()
    with pytest.raises(TransientError) as waiting:
        sent_to(opening, notification)
    assert str(waiting.value) == (f"no contact details for {CODE} (dossier_id {opening['id']}): the private "
                                  "citizen.contact.v1 has not arrived yet, or notification's store lost it "
                                  "(deleted, or restored from an older backup)")


def test_notification_never_erases_another_dossiers_contact(notification):
    first, second = received(), received()
    remember_contact(contact(first, "+84912000001"), notification)
    erasure = make_event("citizen.data_erased.v1", center="hue-vyda", subject=CODE, actor={"id": "intake", "role": "system"},
                         data={"code": CODE, "dossier_id": second["id"], "basis": "request", "erased": ["phone"],
                               "requested_by": "ops-lan", "closed_at": "2026-12-02T02:15:00Z",
                               "erased_at": "2026-12-03T02:15:00Z"})
    with pytest.raises(UnknownDossier):
        forget_contact(erasure, notification)
    assert notification.contact(CODE)["phone"] == "+84912000001"
    erasure["data"]["dossier_id"] = first["id"]
    forget_contact(erasure, notification)
    assert "phone" not in notification.contact(CODE) and notification.contact(CODE)["dossier_id"] == first["id"]
    with pytest.raises(UnknownDossier):  # the erased code is still the first dossier's
        remember_contact(contact(second, "+84912000003"), notification)
