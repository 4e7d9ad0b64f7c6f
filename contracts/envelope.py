"""The envelope every event travels in, and the registry of event types.

Every event on the wire is one envelope (CloudEvents 1.0 style)::

    {"specversion": "1.0", "id": "6f0c...", "type": "dossier.received.v1",
     "source": "onestop/intake/hue-vyda", "time": "2026-02-13T02:15:00Z",
     "subject": "VYDA-260213-0007", "center": "hue-vyda",
     "correlation_id": "6f0c...", "actor": {"id": "counter-01", "role": "counter_staff"},
     "datacontenttype": "application/json", "data": {...}}

The routing key is the type suffixed by the center
(``dossier.received.v1.hue-vyda``), so a consumer binds to one center
(``*.*.v1.hue-vyda``), a set, or all (``dossier.received.v1.*``).

A ``Registry`` knows each type's data schema. It is built explicitly, from
the list each producer's module declares (``contracts/__init__.py``): no
module registers anything as a side effect of being imported.
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from onestop.timestamps import iso, utcnow

PUBLIC = "public"
PRIVATE = "private"


class ActorSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # producers may add optional actor fields

    id = fields.String(required=True, metadata={"description": "who acted: a staff user id, a citizen or a service", "example": "counter-01"})
    role = fields.String(required=True, metadata={"description": "counter_staff, officer, portal, citizen, system, ...", "example": "counter_staff"})


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
    """One event type: its name, its data schema, who produces it and who may read it."""

    type: str
    schema: type
    producer: str
    summary: str
    visibility: str = PUBLIC
    source: str = ""  # the envelope's source when the producer is not a platform service ({center} filled in)

    def source_for(self, center: str) -> str:
        return (self.source or f"onestop/{self.producer}/{{center}}").format(center=center)

    def routing_key(self, center: str) -> str:
        return f"{self.type}.{center}"


_ENVELOPE = EnvelopeSchema()


def routing_key(envelope: dict) -> str:
    """``<type>.<center>``: what every event is published with, known type or not."""
    return f"{envelope['type']}.{envelope['center']}"


def parse_envelope(body) -> dict:
    """Check the envelope only (any type, data as it came); raises ValidationError.

    For a consumer that keeps every event, whatever its type, such as audit:
    a producer may ship a new type before the consumer is redeployed.
    """
    if not isinstance(body, dict):
        raise ValidationError("event body is not a JSON object")
    envelope = _ENVELOPE.load(body, unknown=EXCLUDE)
    envelope["id"] = str(envelope["id"])
    envelope["data"] = body["data"]
    return envelope


class Registry(Mapping):
    """The known event types (a read-only mapping type -> EventType), and the two
    things done with them: building a valid event, checking a received one."""

    def __init__(self, event_types):
        self._types: dict[str, EventType] = {}
        self._schemas: dict[type, Schema] = {}  # one instance per schema: building one deep-copies its fields
        for event_type in event_types:
            if event_type.type in self._types:
                raise ValueError(f"event type {event_type.type} declared twice")
            self._types[event_type.type] = event_type

    def __getitem__(self, type_: str) -> EventType:
        return self._types[type_]

    def __iter__(self):
        return iter(self._types)

    def __len__(self) -> int:
        return len(self._types)

    def schema(self, event_type: EventType) -> Schema:
        schema = self._schemas.get(event_type.schema)
        if schema is None:
            schema = self._schemas[event_type.schema] = event_type.schema()
        return schema

    def data_fields(self, type_: str) -> tuple[str, ...]:
        """The names of the fields a type's data carries (a producer fills each one by name)."""
        return tuple(self.schema(self._types[type_]).fields)

    def make_event(self, type_: str, *, center: str, subject: str, data: dict, actor: dict,
                   correlation_id: str | None = None, time: datetime | None = None) -> dict:
        """Build and validate an envelope; the data is checked against its schema.

        >>> from contracts import make_event
        >>> e = make_event("dossier.routed.v1", center="hue-vyda", subject="VYDA-260213-0007",
        ...     data={"code": "VYDA-260213-0007", "procedure_code": "1.001193",
        ...           "department_id": "vp", "department_name": "Văn phòng", "routed_at": "2026-02-13T02:15:00Z"},
        ...     actor={"id": "routing", "role": "system"})
        >>> e["type"], e["center"]
        ('dossier.routed.v1', 'hue-vyda')
        """
        event_type = self._types[type_]
        schema = self.schema(event_type)
        event_id = str(uuid.uuid4())
        return {
            "specversion": "1.0",
            "id": event_id,
            "type": type_,
            "source": event_type.source_for(center),
            "time": iso(time or utcnow()),
            "subject": subject,
            "center": center,
            "correlation_id": correlation_id or event_id,
            "actor": actor,
            "datacontenttype": "application/json",
            "data": schema.dump(schema.load(data)),
        }

    def parse_event(self, body) -> dict:
        """Validate an incoming envelope and its data; raises ValidationError.

        Unknown event types are rejected: a consumer that acts on an event only
        binds to types it knows. Unknown fields are tolerated (producers may add
        optional fields), and the data is returned as it came on the wire (ISO
        strings, not datetimes).
        """
        envelope = parse_envelope(body)
        event_type = self._types.get(envelope["type"])
        if event_type is None:
            raise ValidationError({"type": [f"unknown event type {envelope['type']}"]})
        self.schema(event_type).load(body["data"], unknown=EXCLUDE)
        return envelope
