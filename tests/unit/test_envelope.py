"""The public event contract as a subscriber meets it, the JSON errors an API
client reads, and which centers a worker serves."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from marshmallow import ValidationError

from onestop.config import Settings
import orjson

from contracts import PRIVATE, PUBLIC, REGISTRY, legacy_form, make_event, parse_event, routing_key
from onestop.timestamps import parse_time
from onestop.errors import InvalidInput
from onestop.web.http import flatten, forbid_operators, status_of
from services.intake.schemas import DossierRequestSchema
from tests.support.samples import dossier

ACTOR = {"id": "routing", "role": "system"}
CODE = "VYDA-260213-0007"
ROUTED = {"code": CODE, "procedure_code": "1.001193", "department_id": "vp",
          "department_name": "Văn phòng HĐND và UBND", "routed_at": "2026-02-13T02:15:00Z", "seq": 1}


def routed(**changes):
    return make_event("dossier.routed.v1", center="hue-vyda", subject=CODE, actor=ACTOR,
                      data={**ROUTED, **changes}, time=datetime(2026, 2, 13, 2, 15, tzinfo=timezone.utc))


# ---- make_event ------------------------------------------------------------------


def test_make_event_builds_a_cloudevents_envelope():
    event = routed()
    assert event["specversion"] == "1.0" and event["type"] == "dossier.routed.v1"
    assert uuid.UUID(event["id"]).version == 4
    assert event["source"] == "onestop/routing/hue-vyda"
    assert event["time"].endswith("Z")
    assert parse_time(event["time"]) == datetime(2026, 2, 13, 2, 15, tzinfo=timezone.utc)
    assert (event["subject"], event["center"], event["actorid"], event["actorrole"]) == (
        CODE, "hue-vyda", "routing", "system")
    assert event["correlationid"] == event["id"]  # a new request starts its own correlation
    assert event["datacontenttype"] == "application/json" and event["data"] == ROUTED
    assert event["dataschema"] == "https://onestop.local/schemas/events/dossier.routed.v1.json"
    assert event["procedure"] == "1.001193" and "field" not in event  # the producer names the field


def test_every_extension_attribute_follows_the_cloudevents_naming_rule():
    import re

    from cloudevents.core.formats.json import JSONFormat
    from cloudevents.core.v1.event import REQUIRED_ATTRIBUTES, OPTIONAL_ATTRIBUTES
    event = make_event("dossier.routed.v1", center="hue-vyda", subject=CODE, actor=ACTOR, data=ROUTED,
                       field="justice")
    extensions = set(event) - set(REQUIRED_ATTRIBUTES) - set(OPTIONAL_ATTRIBUTES) - {"data"}
    assert extensions == {"center", "correlationid", "actorid", "actorrole", "procedure", "field"}
    assert all(re.fullmatch(r"[a-z0-9]{1,20}", name) for name in extensions)
    read = JSONFormat().read(None, orjson.dumps(event))  # the official SDK's reader, which validates
    assert read.get_extension("procedure") == "1.001193" and read.get_data() == ROUTED


def test_the_deprecated_form_is_read_as_the_current_one_and_written_for_the_copy():
    event = routed()
    old = legacy_form(event)
    assert old["correlation_id"] == event["correlationid"] and old["actor"] == ACTOR
    assert not {"correlationid", "actorid", "actorrole", "dataschema", "procedure"} & set(old)
    assert parse_event(old) == parse_event(event)  # a message published before an upgrade is still understood


def test_each_event_gets_its_own_id_and_keeps_a_given_correlation():
    a = routed()
    b = make_event("dossier.routed.v1", center="hue-vyda", subject=CODE, actor=ACTOR, data=ROUTED,
                   correlation_id=a["id"])
    assert a["id"] != b["id"] and b["correlationid"] == a["id"]


def test_make_event_time_is_utc_even_from_local_time():
    from zoneinfo import ZoneInfo
    local = datetime(2026, 2, 13, 9, 15, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    event = make_event("dossier.routed.v1", center="hue-vyda", subject=CODE, actor=ACTOR, data=ROUTED, time=local)
    assert event["time"].startswith("2026-02-13T02:15:00") and event["time"].endswith("Z")


def test_make_event_refuses_an_unknown_data_field():
    with pytest.raises(ValidationError) as error:
        routed(citizen_phone="+84912345678")
    assert "citizen_phone" in error.value.messages


def test_make_event_refuses_missing_or_mistyped_data():
    data = {k: v for k, v in ROUTED.items() if k != "department_id"}
    with pytest.raises(ValidationError) as error:
        make_event("dossier.routed.v1", center="hue-vyda", subject=CODE, actor=ACTOR, data=data)
    assert "department_id" in error.value.messages
    with pytest.raises(ValidationError):
        routed(code=7)


def test_make_event_refuses_an_unregistered_type():
    with pytest.raises(KeyError):
        make_event("dossier.teleported.v1", center="hue-vyda", subject=CODE, actor=ACTOR, data={})


def test_dates_in_data_travel_as_iso_strings():
    event = make_event("dossier.received.v1", center="hue-vyda", subject=CODE,
                       actor={"id": "counter-01", "role": "counter_staff"}, data={
                           "code": CODE, "official_code": "00.00.H57.VYDA-260213-0007",
                           "procedure_code": "1.001193", "procedure_name": "Đăng ký khai sinh",
                           "field": "justice", "channel": "counter", "received_at": "2026-02-13T02:15:00Z",
                           "appointment_date": "2026-02-13", "working_days": 0, "missing_documents": [],
                           "applicant": "N. V. A.", "status": "received"})
    assert event["data"]["appointment_date"] == "2026-02-13"


# ---- parse_event -------------------------------------------------------------------


def test_parse_event_round_trips_what_make_event_built():
    event = routed()
    assert parse_event(event) == event


def test_parse_event_tolerates_fields_a_newer_producer_added():
    event = routed()
    newer = {**event, "traceparent": "00-abc-def-01", "data": {**event["data"], "floor": "2"}}
    parsed = parse_event(newer)
    assert parsed["id"] == event["id"] and parsed["type"] == "dossier.routed.v1"
    assert parsed["data"]["department_id"] == "vp"
    assert parsed["data"]["floor"] == "2"  # the data is passed on as it came


def test_parse_event_tolerates_an_extension_attribute_it_does_not_know():
    event = {**routed(), "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    assert parse_event(event)["actorid"] == "routing" and "traceparent" not in parse_event(event)


def test_parse_event_refuses_unknown_types():
    event = routed()
    event["type"] = "dossier.teleported.v1"
    with pytest.raises(ValidationError) as error:
        parse_event(event)
    assert "type" in error.value.messages


BAD_ENVELOPES = {
    "not an object": ["a", "list"],
    "no id": "id",
    "id not a uuid": ("id", "42"),
    "wrong specversion": ("specversion", "0.3"),
    "unversioned type": ("type", "dossier.routed"),
    "no center": "center",
    "no actorid": "actorid",
    "no actorrole": "actorrole",
    "no dataschema": "dataschema",
    "deprecated form with an actor that is not an object": ("actor", "counter-01"),
    "no data": "data",
    "data not an object": ("data", "routed"),
    "data missing a required field": ("data", {k: v for k, v in ROUTED.items() if k != "code"}),
    "data field of wrong type": ("data", {**ROUTED, "department_id": ["vp"]}),
}


@pytest.mark.parametrize("case", BAD_ENVELOPES, ids=list(BAD_ENVELOPES))
def test_parse_event_refuses_a_bad_envelope(case):
    change = BAD_ENVELOPES[case]
    if isinstance(change, list):
        body = change
    elif isinstance(change, str):
        body = {k: v for k, v in routed().items() if k != change}
    else:
        body = {**routed(), change[0]: change[1]}
    with pytest.raises(ValidationError):
        parse_event(body)


@pytest.mark.parametrize("time", ["yesterday", "13/02/2026 09:15", ""])
def test_parse_event_refuses_a_time_that_is_not_iso_8601(time):
    with pytest.raises(ValidationError):
        parse_event({**routed(), "time": time})


def test_routing_key_is_type_then_center():
    assert routing_key(routed()) == "dossier.routed.v1.hue-vyda"
    other = make_event("dossier.routed.v1", center="hue-phuxuan", subject="PXUA-260213-0001", actor=ACTOR,
                       data={**ROUTED, "code": "PXUA-260213-0001"})
    assert routing_key(other) == "dossier.routed.v1.hue-phuxuan"


def test_only_the_contact_event_is_private():
    assert REGISTRY["citizen.contact.v1"].visibility == PRIVATE
    assert {t for t, e in REGISTRY.items() if e.visibility == PUBLIC} >= {
        "dossier.received.v1", "dossier.routed.v1", "dossier.assigned.v1",
        "notification.sent.v1", "notification.failed.v1"}


# ---- JSON errors ------------------------------------------------------------------


def test_flatten_names_nested_fields_with_dots_and_list_indexes():
    body = dossier()
    body["citizen"]["id_number"] = "123"
    body["documents"] = [{"code": "id_card"}, {"copies": 0}]
    with pytest.raises(ValidationError) as error:
        DossierRequestSchema().load(body)
    fields = {f["field"]: f["reason"] for f in flatten(error.value.messages)}
    assert set(fields) == {"citizen.id_number", "documents[1].code", "documents[1].copies"}
    assert all(isinstance(reason, str) and reason for reason in fields.values())


def test_flatten_shapes():
    assert flatten({"documents": {0: {"code": ["Missing data for required field."]}}}) == [
        {"field": "documents[0].code", "reason": "Missing data for required field."}]
    assert flatten({"citizen": {"channels": {1: ["Must be one of: sms, email."]}}}) == [
        {"field": "citizen.channels[1]", "reason": "Must be one of: sms, email."}]
    assert flatten({"_schema": ["Invalid input type."]}) == [{"field": "body", "reason": "Invalid input type."}]
    assert flatten({"citizen": {"_schema": ["bad"]}}) == [{"field": "citizen", "reason": "bad"}]
    assert flatten(["two", "reasons"]) == [{"field": "body", "reason": "two"}, {"field": "body", "reason": "reasons"}]
    assert flatten("plain") == [{"field": "body", "reason": "plain"}]


def test_flatten_keeps_every_reason_of_a_field():
    out = flatten({"center": ["too long", "unknown"]})
    assert out == [{"field": "center", "reason": "too long"}, {"field": "center", "reason": "unknown"}]


def refused_field(body):
    with pytest.raises(InvalidInput) as error:
        forbid_operators(body)
    assert status_of(error.value) == 422 and error.value.error == "validation_failed"
    (problem,) = error.value.fields
    return problem["field"]


@pytest.mark.parametrize("body,field", [
    ({"$where": "sleep(1000)"}, "body.$where"),
    ({"center": {"$ne": None}}, "center.$ne"),
    ({"citizen": {"full_name": {"$gt": ""}}}, "citizen.full_name.$gt"),
    ({"documents": [{"code": "id_card"}, {"code": {"$in": ["a"]}}]}, "documents[1].code.$in"),
    ([{"ok": 1}, {"$or": []}], "body[1].$or"),
    ({"citizen.phone": "0912345678"}, "body.citizen.phone"),
    ({"citizen": {"a.b": 1}}, "citizen.a.b"),
    ({"documents": [[{"x.y": 1}]]}, "documents[0][0].x.y"),
])
def test_forbid_operators_finds_dollar_and_dotted_keys_anywhere(body, field):
    assert refused_field(body) == field


def test_forbid_operators_lets_ordinary_bodies_through():
    forbid_operators(dossier())
    forbid_operators({"note": "giá $5. Địa chỉ: 12 Nguyễn Sinh Cung", "list": ["$x", "a.b"]})


# ---- which centers a worker serves ---------------------------------------------------

KNOWN = ["hue-huongthuy", "hue-vyda", "hue-thuanhoa", "hue-phuxuan"]


@pytest.mark.parametrize("centers", ["all", "", " all "])
def test_all_centers(centers):
    assert Settings.load({"CENTERS": centers}).center_ids(KNOWN) == KNOWN


def test_a_list_of_centers_in_the_given_order():
    assert Settings.load({"CENTERS": "hue-vyda"}).center_ids(KNOWN) == ["hue-vyda"]
    assert Settings.load({"CENTERS": " hue-phuxuan , hue-vyda,"}).center_ids(KNOWN) == ["hue-phuxuan", "hue-vyda"]


def test_an_unknown_center_is_refused_by_name():
    with pytest.raises(ValueError, match="hue-atlantis"):
        Settings.load({"CENTERS": "hue-vyda,hue-atlantis"}).center_ids(KNOWN)


def test_container_config_beats_the_environment(monkeypatch):
    monkeypatch.setenv("CENTERS", "hue-atlantis")
    assert Settings.load({"CENTERS": "hue-vyda"}).center_ids(KNOWN) == ["hue-vyda"]
    with pytest.raises(ValueError):
        Settings.load({}).center_ids(KNOWN)


def test_the_old_form_is_what_the_official_sdk_refused():
    from cloudevents.core.exceptions import CloudEventValidationError
    from cloudevents.core.formats.json import JSONFormat
    with pytest.raises(CloudEventValidationError, match="correlation_id"):
        JSONFormat().read(None, orjson.dumps(legacy_form(routed())))


def test_the_broker_gets_each_public_event_three_ways_and_a_private_one_once():
    from onestop.messaging.topology import EVENTS, LEGACY, MATCH, PRIVATE as PRIVATE_EXCHANGE, event_messages
    event = make_event("dossier.routed.v1", center="hue-vyda", subject=CODE, actor=ACTOR, data=ROUTED, field="justice")
    entry = {"exchange": PUBLIC, "routing_key": routing_key(event), "id": event["id"], "event": event}
    topic, match, old = event_messages([entry], legacy=True)
    assert (topic["exchange"], match["exchange"], old["exchange"]) == (EVENTS, MATCH, LEGACY)
    assert topic["body"] == match["body"] == event and old["body"] == legacy_form(event)
    assert topic["headers"] == {"ce-type": "dossier.routed.v1", "ce-center": "hue-vyda",
                                "ce-procedure": "1.001193", "ce-field": "justice"}
    assert "serializer" not in topic and old["serializer"] == "json"  # CloudEvents' content type, and the old one
    assert [m["exchange"] for m in event_messages([entry], legacy=False)] == [EVENTS, MATCH]  # EVENTS_LEGACY_FORM=off
    # an outbox written before the upgrade still goes out, in the current form
    assert event_messages([{**entry, "event": legacy_form(event)}])[0]["body"]["correlationid"] == event["correlationid"]
    private = {**entry, "exchange": PRIVATE}
    assert [m["exchange"] for m in event_messages([private], legacy=True)] == [PRIVATE_EXCHANGE]
