"""The console's JSON at the wire: what its endpoints read and answer (documented in services/console/api.py)."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from onestop.web.http import Answer

CENTER = validate.Regexp(r"^[a-z0-9-]{1,40}$", error="a center id: lowercase letters, digits and '-'")


class CenterQuerySchema(Schema):
    """?center=hue-vyda: one of the signed-in person's centers."""

    class Meta:
        unknown = RAISE

    center = fields.String(required=True, validate=CENTER)


class ReplayRequestSchema(Schema):
    """POST /console/api/deadletters/replay::

        {"queue": "routing/hue-vyda", "ids": ["3f1c2d4e-..."]}
    """

    class Meta:
        unknown = RAISE

    queue = fields.String(required=True, validate=validate.Length(min=3, max=200),
                          metadata={"description": "onestop.<service>.<center>.dlq or <service>/<center>"})
    ids = fields.List(fields.String(validate=validate.Length(min=1, max=200)), required=True,
                      validate=validate.Length(min=1, max=100))


class MeSchema(Answer):
    user = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)
    centers = fields.List(fields.String(), required=True)
    department = fields.String(allow_none=True)
    csrf = fields.String(allow_none=True, metadata={"description": "send it as X-CSRF-Token on every POST; "
                                                                   "null for a bearer-token caller"})
    expires_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    poll_seconds = fields.Float(required=True)
    views = fields.List(fields.String(validate=validate.OneOf(["ops", "leader"])), required=True)


class OpsSchema(Answer):
    """Each source either answers or says why not ({"error": ...})."""

    center = fields.String(required=True)
    queues = fields.Dict(required=True)
    dead_letters = fields.Dict(required=True)
    health = fields.Dict(required=True)
    held = fields.Dict(required=True)
    alerts = fields.Dict(required=True, metadata={"description": '{"error": "not_configured"} without ALERTS_URL'})


class IndicatorSchema(Answer):
    id = fields.String(required=True, validate=validate.OneOf(["on_time_rate", "satisfaction_rate", "online_rate"]))
    value = fields.Float(allow_none=True)
    numerator = fields.Integer(allow_none=True)
    denominator = fields.Integer(allow_none=True)
    formula_vi = fields.String(required=True)
    formula_en = fields.String(required=True)


class LeaderSchema(Answer):
    center = fields.String(required=True)
    today = fields.String(required=True, metadata={"format": "date"})
    month = fields.Dict(allow_none=True, metadata={"description": "routing's report of this month"})
    month_error = fields.String(allow_none=True)
    day = fields.Dict(allow_none=True, metadata={"description": "routing's report of today"})
    day_error = fields.String(allow_none=True)
    indicators = fields.List(fields.Nested(IndicatorSchema), required=True)


class SkippedSchema(Answer):
    id = fields.String(required=True)
    why = fields.String(required=True)


class ReplayedSchema(Answer):
    queue = fields.String(required=True)
    replayed_by = fields.String(required=True)
    replayed = fields.List(fields.String(), required=True)
    skipped = fields.List(fields.Nested(SkippedSchema), required=True)
    missing = fields.List(fields.String(), required=True)


class SignedOutSchema(Answer):
    signed_out = fields.Boolean(required=True)
    revoked = fields.Boolean(required=True, metadata={"description": "the token revoked on every service too"})
    next = fields.String(required=True, metadata={"description": "where the browser goes now: the sign-in page, or "
                                                                 "the provider's sign-out (OIDC)"})
