"""The wire format of webhooks' HTTP API (marshmallow, at the boundary only): requests and answers.

What the catalog decides (known centers, event types, procedures, fields) is
checked by the use case (handlers.check_filters), naming the field at fault.
"""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from onestop.web.http import Answer, PageSchema


def _ids(description: str, **extra):
    """A list of ids (at most 200); `fields` is Schema's own attribute, hence ``fields_`` below."""
    extra.setdefault("validate", validate.Length(max=200))
    return fields.List(fields.String(validate=validate.Length(min=1, max=100)), metadata={"description": description},
                       **extra)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class SubscriptionCreateSchema(_Strict):
    """POST /api/v1/subscriptions. Example::

        {"url": "https://hooks.example.vn/onestop", "centers": ["hue-vyda"],
         "event_types": ["dossier.received.v1"], "procedures": ["1.001193"], "fields": [],
         "description": "Sở Tư pháp: hộ tịch", "contact_email": "it@sotuphap.example.vn"}
    """

    url = fields.String(required=True, validate=validate.Length(min=8, max=2048),
                        metadata={"description": "https:// receiver (SSRF rules: docs/webhooks.md)"})
    centers = _ids("center ids, each one of the token's", required=True, validate=validate.Length(min=1, max=200))
    event_types = _ids("event types; empty: every public type", load_default=list)
    procedures = _ids("procedure codes; empty: any (events without a procedure then match too)", load_default=list)
    fields_ = _ids("field ids; empty: any", load_default=list, data_key="fields")
    description = fields.String(load_default="", validate=validate.Length(max=500))
    contact_email = fields.Email(load_default=None, allow_none=True,
                                 metadata={"description": "told when the subscription is paused"})


class SubscriptionUpdateSchema(SubscriptionCreateSchema):
    """PATCH /api/v1/subscriptions/<id>: any of the creation's fields, at least one."""

    url = fields.String(validate=validate.Length(min=8, max=2048))
    centers = _ids("center ids, each one of the token's", validate=validate.Length(min=1, max=200))
    event_types = _ids("event types; empty: every public type")
    procedures = _ids("procedure codes; empty: any")
    fields_ = _ids("field ids; empty: any", data_key="fields")
    description = fields.String(validate=validate.Length(max=500))
    contact_email = fields.Email(allow_none=True)

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("send at least one of url, centers, event_types, procedures, fields, "
                                  "description, contact_email")


class ReplayRangeSchema(_Strict):
    """POST /api/v1/subscriptions/<id>/replay: the events whose time is in [from, to). Example::

        {"from": "2026-02-13T00:00:00Z", "to": "2026-02-13T06:00:00Z"}
    """

    from_ = fields.AwareDateTime(required=True, data_key="from", default_timezone=None)
    to = fields.AwareDateTime(required=True)

    @validates_schema
    def _ordered(self, data, **kwargs):
        if "from_" in data and "to" in data and data["to"] <= data["from_"]:
            raise ValidationError("must be after from", "to")


class DeliveryQuerySchema(Schema):
    """GET /api/v1/subscriptions/<id>/deliveries?status=pending&limit=50&offset=0"""

    class Meta:
        unknown = RAISE

    status = fields.String(validate=validate.OneOf(("pending", "delivered", "cancelled")))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


# Answers (documented for OpenAPI; the handlers build plain dicts of these shapes). Each subclasses
# onestop.web.http.Answer: an answer may gain optional fields; what is required here is always sent.

R = {"required": True}


class SubscriptionSchema(Answer):
    id = fields.String(**R, metadata={"example": "whsub_3f1c2d4e5f60a7b8"})
    url = fields.String(**R)
    centers = fields.List(fields.String(), **R)
    event_types = fields.List(fields.String(), **R, metadata={"description": "empty: every public type"})
    procedures = fields.List(fields.String(), **R, metadata={"description": "empty: any"})
    fields_ = fields.List(fields.String(), data_key="fields", **R, metadata={"description": "empty: any"})
    description = fields.String(**R, allow_none=True)
    contact_email = fields.String(**R, allow_none=True)
    state = fields.String(**R, metadata={"description": "active, paused or disabled"})
    state_reason = fields.String(**R, allow_none=True, metadata={"description": "by_owner, retries_exhausted, gone"})
    owner = fields.String(**R, allow_none=True, metadata={"description": "the integrator who created it"})
    backlog = fields.Integer(**R, metadata={"description": "events waiting to be delivered"})
    created_at = fields.String(**R)
    updated_at = fields.String(**R)


class CreatedSubscriptionSchema(SubscriptionSchema):
    secret = fields.String(**R, metadata={"description": "whsec_...: shown this once", "example": "whsec_MfKQ9r8G..."})


class SecretRotatedSchema(Answer):
    secret = fields.String(**R, metadata={"description": "the new whsec_ secret, shown this once"})
    previous_expire_at = fields.String(**R, metadata={"description": "until then the old secret signs beside it"})


class AttemptSchema(Answer):
    at = fields.String(**R)
    outcome = fields.String(**R, metadata={"description": "delivered, retry or gone"})
    status = fields.Integer(allow_none=True, metadata={"description": "the receiver's HTTP status"})
    error = fields.String(allow_none=True)
    duration_ms = fields.Integer()
    next_attempt_in = fields.Float(allow_none=True, metadata={"description": "seconds; null: no retry left"})


class SubscriptionListSchema(Answer):
    subscriptions = fields.List(fields.Nested(SubscriptionSchema), **R)
    total = fields.Integer(**R)


class DeletedSchema(Answer):
    id = fields.String(**R)
    state = fields.String(**R, metadata={"example": "deleted"})


class DeliverySchema(Answer):
    event_id = fields.String(**R)
    event_type = fields.String(**R)
    subject = fields.String(**R, allow_none=True)
    center = fields.String(**R)
    event_time = fields.String(**R)
    status = fields.String(**R, metadata={"description": "pending, delivered, or cancelled (its subscription deleted)"})
    replay_of = fields.String(**R, allow_none=True, metadata={"description": "the replayed event's id; null: the first"})
    attempts_made = fields.Integer(**R)
    attempts = fields.List(fields.Nested(AttemptSchema), **R, metadata={"description": "the latest 50"})


class DeliveryPageSchema(PageSchema):
    deliveries = fields.List(fields.Nested(DeliverySchema), **R)


class ReplayedSchema(Answer):
    replayed = fields.Integer(**R, metadata={"description": "events queued again, behind the backlog"})
