"""The events as a subscriber meets them on the broker: CloudEvents 1.0 in structured
mode that the official SDK reads, each `data` valid against the JSON Schema its
`dataschema` names, filtered by procedure and field on the headers exchange, and
the deprecated form on its own exchange while the deprecation lasts."""
import json
from pathlib import Path

import pytest
import requests
from cloudevents.core.bindings.rabbitmq import RabbitMQMessage, from_rabbitmq
from cloudevents.core.formats.json import JSONFormat
from jsonschema import Draft202012Validator

from onestop.catalog import load_catalog
from onestop.messaging.topology import EVENTS, LEGACY, MATCH
from services.intake.service import IntakeService
from services.notification.service import NotificationService
from services.routing.service import RoutingService
from tests.support.samples import dossier
from tests.support.staff import COUNTER
from tests.support.tap import Tap
from tests.support.wait import until

pytestmark = pytest.mark.integration
SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "events"
BIRTH, LAND = "1.001193", "1.013978"  # justice and land: two procedures of two fields
# received, routed, assigned, and an SMS and an email about the receipt
PER_DOSSIER = {"dossier.received.v1", "dossier.routed.v1", "dossier.assigned.v1", "notification.sent.v1"}


@pytest.fixture
def intake(services):
    started = services.start(IntakeService)
    services.start(RoutingService)
    services.start(NotificationService)
    return started


@pytest.fixture
def taps(intake, config):
    uri = config["AMQP_URI"]
    return {
        "all": Tap(uri, EVENTS, "#", name="test.tap.all"),
        "land": Tap(uri, MATCH, arguments={"x-match": "all", "ce-procedure": LAND, "ce-center": "hue-vyda"},
                    name="test.tap.land"),
        "justice-routed": Tap(uri, MATCH, arguments={"x-match": "all", "ce-field": "justice",
                                                     "ce-type": "dossier.routed.v1"}, name="test.tap.justice"),
        "other-center": Tap(uri, MATCH, arguments={"x-match": "all", "ce-center": "hue-phuxuan"},
                            name="test.tap.phuxuan"),
        "legacy": Tap(uri, LEGACY, "#", name="test.tap.legacy"),
    }


def submit(intake, body) -> str:
    response = requests.post(f"{intake.http}/api/v1/dossiers", json=body, headers=COUNTER, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["code"]


def test_subscribers_read_cloudevents_filter_them_and_still_get_the_old_form(intake, taps):
    birth, land = submit(intake, dossier(procedure_code=BIRTH)), submit(intake, dossier(procedure_code=LAND))
    seen = []

    def everything():
        seen.extend(taps["all"].received())
        types = {(m.event["subject"], m.event["type"]) for m in seen}
        return all((code, t) in types for code in (birth, land) for t in PER_DOSSIER)
    until(everything, 30, 0.2, "every event of both dossiers on onestop.events")

    read = [from_rabbitmq(RabbitMQMessage(m.headers, m.content_type, m.body), JSONFormat()) for m in seen]
    assert {m.content_type for m in seen} == {"application/cloudevents+json"}
    catalog = load_catalog()
    for message, event in zip(seen, read):
        assert event.get_specversion() == "1.0" and event.get_datacontenttype() == "application/json"
        assert event.get_extension("center") == "hue-vyda" and event.get_extension("correlationid")
        assert event.get_extension("actorid") and event.get_extension("actorrole")
        procedure = event.get_extension("procedure")
        assert procedure in (BIRTH, LAND) and event.get_extension("field") == catalog.field_of(procedure)
        schema_file = SCHEMAS / event.get_dataschema().rsplit("/", 1)[1]
        schema = json.loads(schema_file.read_text(encoding="utf-8"))
        assert schema["$id"] == event.get_dataschema() and event.get_type() in schema_file.name
        Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(event.get_data())
        assert message.headers["ce-type"] == event.get_type() and message.headers["ce-procedure"] == procedure

    land_only = taps["land"].messages()
    assert {e["subject"] for e in land_only} == {land}
    assert {e["type"] for e in land_only} == PER_DOSSIER
    justice_routed = taps["justice-routed"].messages()
    assert [(e["subject"], e["type"]) for e in justice_routed] == [(birth, "dossier.routed.v1")]
    assert taps["other-center"].messages() == []

    legacy = taps["legacy"].received()
    assert {m.content_type for m in legacy} == {"application/json"}
    assert sorted(m.event["id"] for m in legacy) == sorted(e.get_id() for e in read)  # the same events, once each
    old = next(m.event for m in legacy if m.event["type"] == "dossier.received.v1")
    assert set(old["actor"]) == {"id", "role"} and old["correlation_id"]
    assert "correlationid" not in old and "dataschema" not in old
