"""Alerts' wire schemas: the listing's query and answer."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from contracts.alerts import KINDS
from onestop.web.http import Answer


class AlertQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    state = fields.String(load_default="open", validate=validate.OneOf(("open", "resolved", "all")))
    center = fields.String(load_default=None, metadata={"description": "one of the token's centers, or all"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class AlertSchema(Answer):
    id = fields.String(required=True, metadata={"example": "al_5f1c2d4e5f60a7b8"})
    kind = fields.String(required=True, validate=validate.OneOf(KINDS), metadata={"example": "breaker_open"})
    center = fields.String(required=True, metadata={"description": "a center's id, or all", "example": "all"})
    title = fields.String(required=True, metadata={"example": "The sms provider's circuit breaker is open"})
    details = fields.String(required=True)
    runbook = fields.String(required=True, metadata={"example": "docs/operations.md#alert-breaker-open"})
    state = fields.String(required=True, validate=validate.OneOf(("open", "resolved")))
    raised_at = fields.String(required=True, metadata={"example": "2026-02-16T05:12:00.000Z"})
    resolved_at = fields.String(allow_none=True, required=True)


class AlertListSchema(Answer):
    alerts = fields.List(fields.Nested(AlertSchema), required=True)
