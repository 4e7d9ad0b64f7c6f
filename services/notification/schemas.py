"""The wire format of notification's HTTP API (marshmallow, at the boundary only)."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from onestop.web.http import Answer, PageSchema

CODE = validate.Regexp(r"^[A-Z]{2,8}-\d{6}-\d{4,}$", error="not a dossier code like VYDA-260213-0007")


class HeldDataRequestSchema(Schema):
    """POST /api/v1/privacy/export (operators): the dossiers intake found for a citizen. Example::

        {"codes": ["VYDA-260213-0007", "PXUA-260301-0012"]}
    """

    class Meta:
        unknown = RAISE

    codes = fields.List(fields.String(validate=CODE), required=True, validate=validate.Length(min=1, max=500))


# --- what notification answers (documented in its OpenAPI document, services/notification/api.py) ---

class HoldReasonSchema(Answer):
    """Which recipient limit held the message (services/notification/limits.py)."""

    limit = fields.String(required=True, metadata={"example": "hour"})
    max = fields.Integer(required=True)
    window_seconds = fields.Integer(required=True)
    count = fields.Integer(required=True)


class HeldSchema(Answer):
    """A held citizen message as operators see it: the address masked, no text."""

    id = fields.String(required=True)
    code = fields.String(required=True)
    center = fields.String(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(["sms", "email"]))
    template = fields.String(required=True)
    recipient = fields.String(required=True, metadata={"description": "masked"})
    held_at = fields.String(required=True, metadata={"format": "date-time"})
    reason = fields.Nested(HoldReasonSchema, required=True)
    reason_text = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(["held", "release_interrupted"]))
    released_by = fields.String()
    released_at = fields.String(metadata={"format": "date-time"})


class HeldPageSchema(PageSchema):
    held = fields.List(fields.Nested(HeldSchema), required=True)


class ReleasedSchema(Answer):
    """200 to POST /api/v1/held/<id>/release: the outcome of the one send."""

    id = fields.String(required=True)
    code = fields.String(required=True)
    channel = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "sent, or failed for good"})
    recipient = fields.String(required=True, metadata={"description": "masked"})
    released_by = fields.String(required=True)
    released_at = fields.String(required=True, metadata={"format": "date-time"})


class HeldDataSchema(Answer):
    """200 to POST /api/v1/privacy/export: the contacts and deliveries kept for those dossiers."""

    contacts = fields.List(fields.Dict(), required=True)
    deliveries = fields.List(fields.Dict(), required=True)
