"""The JSON codec on the wire: orjson, and the same bytes any JSON consumer can read."""
import json
from datetime import datetime, timezone
from decimal import Decimal

from kombu.serialization import dumps, loads

import onestop.messaging  # noqa: F401  (installs the codec)
from contracts import make_event


def test_an_envelope_survives_the_round_trip_and_reads_as_plain_json():
    event = make_event("dossier.rated.v1", center="hue-vyda", subject="VYDA-261126-0001",
                       actor={"id": "c", "role": "citizen"},
                       data={"code": "VYDA-261126-0001", "procedure_code": "1.001193", "score": 5,
                             "has_comment": False, "rated_at": "2026-11-26T03:00:00.000Z"})
    event["data"]["note"] = "Huế ✓"  # beyond ASCII
    content_type, encoding, body = dumps(event, serializer="json")
    assert (content_type, encoding) == ("application/json", "utf-8")
    assert json.loads(body.decode("utf-8")) == event  # any subscriber's json reads it
    assert loads(body, content_type, encoding) == event


def test_a_type_orjson_does_not_know_falls_back_to_kombus_codec():
    content_type, encoding, body = dumps({"amount": Decimal("1.5"), 3: "int key"}, serializer="json")
    assert loads(body, content_type, encoding) == {"amount": Decimal("1.5"), "3": "int key"}
    _ct, _enc, body = dumps({"at": datetime(2026, 11, 26, 3, 0, tzinfo=timezone.utc)}, serializer="json")
    assert json.loads(body)["at"].startswith("2026-11-26T03:00:00")
