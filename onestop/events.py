"""The event envelope (CloudEvents 1.0 style) and the registry of event types.

Every event on the wire is one envelope::

    {"specversion": "1.0", "id": "6f0c...", "type": "dossier.received.v1",
     "source": "onestop/intake/hue-vyda", "time": "2026-02-13T02:15:00Z",
     "subject": "VYDA-260213-0007", "center": "hue-vyda",
     "correlation_id": "6f0c...", "actor": {"id": "counter-01", "role": "counter_staff"},
     "datacontenttype": "application/json", "data": {...}}

The routing key is the type suffixed by the center
(``dossier.received.v1.hue-vyda``), so a consumer binds to one center
(``*.*.v1.hue-vyda``), a set, or all (``dossier.received.v1.*``).

Producers own their data schemas (``services/<producer>/events.py``) and
register them here; docs/events.md and docs/asyncapi.yaml are generated from
this registry.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

PUBLIC = "public"
PRIVATE = "private"


class ActorSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # producers may add optional actor fields

    id = fields.String(required=True, metadata={"description": "who acted: a staff user id, a citizen or a service", "example": "counter-01"})
    role = fields.String(required=True, metadata={"description": "counter_staff, officer, citizen, system, ...", "example": "counter_staff"})


def _is_utc_time(text: str) -> bool:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError("not an ISO 8601 time") from None
    if moment.utcoffset() is None:
        raise ValidationError("the time must carry its UTC offset (Z)")
    return True


class EnvelopeSchema(Schema):
    """The envelope every event travels in. Unknown top-level fields are kept out."""

    class Meta:
        unknown = RAISE

    specversion = fields.String(required=True, validate=validate.Equal("1.0"))
    id = fields.UUID(required=True, metadata={"description": "unique per event; consumers deduplicate on it"})
    type = fields.String(required=True, validate=validate.Regexp(r"^[a-z_]+(\.[a-z_]+)+\.v\d+$"),
                         metadata={"description": "versioned event type", "example": "dossier.received.v1"})
    source = fields.String(required=True, metadata={"description": "onestop/<service>/<center>", "example": "onestop/intake/hue-vyda"})
    time = fields.String(required=True, validate=lambda text: _is_utc_time(text),
                         metadata={"description": "UTC, ISO 8601", "example": "2026-02-13T02:15:00.000Z"})
    subject = fields.String(required=True, metadata={"description": "the dossier code", "example": "VYDA-260213-0007"})
    center = fields.String(required=True, metadata={"description": "center id", "example": "hue-vyda"})
    correlation_id = fields.String(required=True, metadata={"description": "shared by all events caused by one request"})
    actor = fields.Nested(ActorSchema, required=True)
    datacontenttype = fields.String(load_default="application/json")
    data = fields.Dict(required=True)


@dataclass(frozen=True)
class EventType:
    """One registered event type: its name, its data schema and who may read it."""

    type: str
    schema: type
    producer: str
    summary: str
    visibility: str = PUBLIC

    def routing_key(self, center: str) -> str:
        return f"{self.type}.{center}"


REGISTRY: dict[str, EventType] = {}
_ENVELOPE = EnvelopeSchema()
_SCHEMAS: dict[type, Schema] = {}  # one instance per data schema: building one deep-copies its fields


def _schema(event_type: EventType) -> Schema:
    schema = _SCHEMAS.get(event_type.schema)
    if schema is None:
        schema = _SCHEMAS[event_type.schema] = event_type.schema()
    return schema


def register(type_: str, schema: type, producer: str, summary: str, visibility: str = PUBLIC) -> EventType:
    """Declare an event type; producers call this in their events module."""
    if type_ in REGISTRY and REGISTRY[type_].schema is not schema:
        raise ValueError(f"event type {type_} registered twice")
    REGISTRY[type_] = EventType(type_, schema, producer, summary, visibility)
    return REGISTRY[type_]


def utcnow() -> datetime:
    """Now, in UTC, to the millisecond: what MongoDB stores, so a time read back
    from the store equals the time in the event."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def as_utc(moment: datetime) -> datetime:
    """An aware time; a naive one is UTC (MongoDB and py-amqp hand times back naive)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def iso(moment: datetime) -> str:
    return as_utc(moment).astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """The envelope's ISO 8601 UTC time back to an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def make_event(type_: str, *, center: str, subject: str, data: dict, actor: dict,
               correlation_id: str | None = None, time: datetime | None = None) -> dict:
    """Build and validate an envelope; the data is checked against its schema.

    >>> from services.routing import events as _
    >>> e = make_event("dossier.routed.v1", center="hue-vyda", subject="VYDA-260213-0007",
    ...     data={"code": "VYDA-260213-0007", "procedure_code": "1.001193",
    ...           "department_id": "vp", "department_name": "Văn phòng", "routed_at": "2026-02-13T02:15:00Z"},
    ...     actor={"id": "routing", "role": "system"})
    >>> e["type"], e["center"]
    ('dossier.routed.v1', 'hue-vyda')
    """
    event_type = REGISTRY[type_]
    event_id = str(uuid.uuid4())
    envelope = {
        "specversion": "1.0",
        "id": event_id,
        "type": type_,
        "source": f"onestop/{event_type.producer}/{center}",
        "time": iso(time or utcnow()),
        "subject": subject,
        "center": center,
        "correlation_id": correlation_id or event_id,
        "actor": actor,
        "datacontenttype": "application/json",
        "data": _schema(event_type).dump(_schema(event_type).load(data)),
    }
    return envelope


def parse_event(body) -> dict:
    """Validate an incoming envelope and its data; raises ValidationError.

    Unknown event types are rejected: a consumer only binds to types it knows.
    Unknown fields are tolerated (producers may add optional fields), and the
    data is returned as it came on the wire (ISO strings, not datetimes).
    """
    if not isinstance(body, dict):
        raise ValidationError("event body is not a JSON object")
    envelope = _ENVELOPE.load(body, unknown=EXCLUDE)
    event_type = REGISTRY.get(envelope["type"])
    if event_type is None:
        raise ValidationError({"type": [f"unknown event type {envelope['type']}"]})
    _schema(event_type).load(body["data"], unknown=EXCLUDE)
    envelope["id"] = str(envelope["id"])
    envelope["data"] = body["data"]
    return envelope


def routing_key(envelope: dict) -> str:
    return REGISTRY[envelope["type"]].routing_key(envelope["center"])
