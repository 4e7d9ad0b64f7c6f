"""The envelope every event travels in, and the registry of event types.

Every event is a CloudEvents 1.0 event in structured mode: on AMQP the body is
the JSON event format and the message's content type is
``application/cloudevents+json``::

    {"specversion": "1.0", "id": "6f0c...", "type": "dossier.received.v1",
     "source": "onestop/intake/hue-vyda", "time": "2026-02-13T02:15:00.000Z",
     "subject": "VYDA-260213-0007", "datacontenttype": "application/json",
     "dataschema": "https://onestop.local/schemas/events/dossier.received.v1.json",
     "center": "hue-vyda", "correlationid": "6f0c...", "actorid": "counter-01",
     "actorrole": "counter_staff", "procedure": "1.001193", "field": "justice",
     "data": {...}}

The extension attributes follow the spec's naming rule (lowercase letters and
digits): ``center``, ``correlationid``, ``actorid``, ``actorrole``, and on events
about a dossier ``procedure`` and ``field`` (absent on the others).

A subscriber filters on them two ways. The routing key is the type suffixed by
the center (``dossier.received.v1.hue-vyda``), so a queue on the topic exchange
binds to one center (``*.*.v1.hue-vyda``), a set, or all
(``dossier.received.v1.*``). Every message also carries the headers of
``filter_headers`` (``ce-type``, ``ce-center``, ``ce-procedure``, ``ce-field``,
the RabbitMQ binding's names), which the headers exchange ``onestop.events.match``
matches exactly (``x-match: all``): one procedure, one field, any mix.

The form before CloudEvents (``correlation_id`` and an ``actor`` object, no
dataschema) is deprecated: ``legacy_form`` turns an event into it for the
deprecation copy, and ``parse_envelope`` still reads it (messages in flight
or dead-lettered before an upgrade), turning it into the current form.

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
CONTENT_TYPE = "application/cloudevents+json"  # the JSON event format, structured mode
DATA_CONTENT_TYPE = "application/json"
DATASCHEMA = "https://onestop.local/schemas/events/{type}.json"  # docs/schemas/events/<type>.json
FILTER_ATTRIBUTES = ("type", "center", "procedure", "field")  # what a headers binding matches on


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
    datacontenttype = fields.String(load_default=DATA_CONTENT_TYPE, validate=validate.Equal(DATA_CONTENT_TYPE),
                                    metadata={"description": "always application/json", "example": DATA_CONTENT_TYPE})
    dataschema = fields.String(required=True, metadata={
        "description": "the JSON Schema of `data` (docs/schemas/events/<type>.json)",
        "example": DATASCHEMA.format(type="dossier.received.v1")})
    center = fields.String(required=True, metadata={"description": "extension: the center's id", "example": "hue-vyda"})
    correlationid = fields.String(required=True, metadata={
        "description": "extension: shared by all events caused by one request"})
    actorid = fields.String(required=True, metadata={
        "description": "extension: who acted: a staff user id, a citizen, a service", "example": "counter-01"})
    actorrole = fields.String(required=True, metadata={
        "description": "extension: counter_staff, officer, portal, citizen, system, ...", "example": "counter_staff"})
    procedure = fields.String(metadata={
        "description": "extension, on events about a dossier: the procedure's code", "example": "1.001193"})
    field = fields.String(metadata={
        "description": "extension, on events about a dossier: the procedure's field", "example": "justice"})
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
    about_dossier: bool = True  # its subject is a dossier code, and it carries the procedure and field

    def source_for(self, center: str) -> str:
        return (self.source or f"onestop/{self.producer}/{{center}}").format(center=center)

    def routing_key(self, center: str) -> str:
        return f"{self.type}.{center}"


_ENVELOPE = EnvelopeSchema()
_LEGACY = ("correlation_id", "actor")  # the attributes only the form before CloudEvents has


def routing_key(envelope: dict) -> str:
    """``<type>.<center>``: what every event is published with, known type or not."""
    return f"{envelope['type']}.{envelope['center']}"


def actor_of(envelope: dict) -> dict:
    """Who acted, as the ``{"id", "role"}`` a producer passes to ``make_event``."""
    return {"id": envelope["actorid"], "role": envelope["actorrole"]}


def filter_headers(envelope: dict) -> dict:
    """The message headers a headers-exchange binding matches on (the RabbitMQ
    binding's ``ce-`` names; a structured-mode reader ignores them).

    >>> filter_headers({"type": "dossier.routed.v1", "center": "hue-vyda", "procedure": "1.001193"})
    {'ce-type': 'dossier.routed.v1', 'ce-center': 'hue-vyda', 'ce-procedure': '1.001193'}
    """
    return {f"ce-{name}": envelope[name] for name in FILTER_ATTRIBUTES if envelope.get(name)}


def legacy_form(envelope: dict) -> dict:
    """The event in the deprecated form before CloudEvents (``correlation_id``, an
    ``actor`` object, no dataschema, procedure or field), for the deprecation copy.

    >>> e = {"specversion": "1.0", "id": "1", "type": "t.x.v1", "source": "s", "time": "t", "subject": "c",
    ...      "datacontenttype": "application/json", "dataschema": "u", "center": "hue-vyda", "correlationid": "1",
    ...      "actorid": "routing", "actorrole": "system", "procedure": "1.001193", "data": {}}
    >>> legacy_form(e)["actor"], legacy_form(e)["correlation_id"], "dataschema" in legacy_form(e)
    ({'id': 'routing', 'role': 'system'}, '1', False)
    """
    return {"specversion": "1.0", "id": envelope["id"], "type": envelope["type"], "source": envelope["source"],
            "time": envelope["time"], "subject": envelope["subject"], "center": envelope["center"],
            "correlation_id": envelope["correlationid"],
            "actor": {"id": envelope["actorid"], "role": envelope["actorrole"]},
            "datacontenttype": DATA_CONTENT_TYPE, "data": envelope["data"]}


def _from_legacy(body: dict) -> dict:
    """The current form of an event that came in the form before CloudEvents."""
    actor = body.get("actor")
    if not isinstance(actor, dict):
        raise ValidationError({"actor": ["the deprecated form's actor must be an object with id and role"]})
    current = {k: v for k, v in body.items() if k not in _LEGACY}
    current.update(correlationid=body.get("correlation_id"), actorid=actor.get("id"), actorrole=actor.get("role"))
    if isinstance(body.get("type"), str):
        current.setdefault("dataschema", DATASCHEMA.format(type=body["type"]))
    procedure = (body.get("data") or {}).get("procedure_code") if isinstance(body.get("data"), dict) else None
    if procedure:
        current.setdefault("procedure", procedure)
    return current


def current_form(body: dict) -> dict:
    """The event in the current form, unchecked (an outbox written before an upgrade)."""
    return _from_legacy(body) if any(name in body for name in _LEGACY) else body


def parse_envelope(body) -> dict:
    """Check the envelope only (any type, data as it came); raises ValidationError.

    For a consumer that keeps every event, whatever its type, such as audit:
    a producer may ship a new type before the consumer is redeployed. An event
    in the deprecated form comes back in the current one.
    """
    if not isinstance(body, dict):
        raise ValidationError("event body is not a JSON object")
    body = current_form(body)
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
                   correlation_id: str | None = None, time: datetime | None = None,
                   procedure: str | None = None, field: str | None = None) -> dict:
        """Build and validate an event; the data is checked against its schema.

        ``actor`` is ``{"id", "role"}`` (a principal's ``actor()``); ``procedure``
        defaults to the data's ``procedure_code``; ``field`` is the procedure's
        field, given by the producer (the catalog knows it) or inherited from
        the event that caused this one.

        >>> from contracts import make_event
        >>> e = make_event("dossier.routed.v1", center="hue-vyda", subject="VYDA-260213-0007",
        ...     data={"code": "VYDA-260213-0007", "procedure_code": "1.001193",
        ...           "department_id": "vp", "department_name": "Văn phòng", "routed_at": "2026-02-13T02:15:00Z"},
        ...     actor={"id": "routing", "role": "system"}, field="justice")
        >>> e["type"], e["center"], e["actorid"], e["procedure"], e["field"]
        ('dossier.routed.v1', 'hue-vyda', 'routing', '1.001193', 'justice')
        """
        event_type = self._types[type_]
        schema = self.schema(event_type)
        event_id = str(uuid.uuid4())
        event = {
            "specversion": "1.0",
            "id": event_id,
            "type": type_,
            "source": event_type.source_for(center),
            "time": iso(time or utcnow()),
            "subject": subject,
            "datacontenttype": DATA_CONTENT_TYPE,
            "dataschema": DATASCHEMA.format(type=type_),
            "center": center,
            "correlationid": correlation_id or event_id,
            "actorid": actor["id"],
            "actorrole": actor["role"],
        }
        procedure = procedure or data.get("procedure_code")
        if procedure:
            event["procedure"] = procedure
        if field:
            event["field"] = field
        event["data"] = schema.dump(schema.load(data))
        return event

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
