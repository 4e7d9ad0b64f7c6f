"""Events the alerts service publishes (producer ``alerts``): an operator alert raised, then resolved.

Not about a dossier: the subject is the alert's id. An incident of one center is one event, routed
``<type>.<center>``; one of the whole platform (a provider's breaker, a service down: ``data.center``
is ``all``) is one event per center, with the same ``alert_id``, so each center's subscribers see it.
They carry what an operator reads, never a citizen's data.
"""
from marshmallow import RAISE, Schema, fields, validate

from contracts.envelope import EventType

KINDS = ("dead_letter", "breaker_open", "queue_growing", "outbox_stale", "dossier_overdue", "webhook_paused",
         "service_down")


class _AlertV1(Schema):
    class Meta:
        unknown = RAISE

    alert_id = fields.String(required=True, metadata={"example": "al_5f1c2d4e5f60a7b8"})
    kind = fields.String(required=True, validate=validate.OneOf(KINDS), metadata={"example": "breaker_open"})
    key = fields.String(required=True, metadata={"description": "what the incident is about; one open alert per key",
                                                 "example": "breaker_open:sms"})
    center = fields.String(required=True, metadata={
        "description": "the center the incident is about, or all (the whole platform; then one event per center)",
        "example": "all"})
    title = fields.String(required=True, metadata={"example": "The sms provider's circuit breaker is open"})
    details = fields.String(required=True, metadata={"example": "state open after 5 consecutive failures"})
    runbook = fields.String(required=True, metadata={"description": "what to do: docs/operations.md#<anchor>",
                                                     "example": "docs/operations.md#alert-breaker-open"})
    raised_at = fields.String(required=True, metadata={"description": "UTC ISO 8601",
                                                       "example": "2026-02-16T05:12:00.000Z"})


class AlertRaisedV1(_AlertV1):
    pass


class AlertResolvedV1(_AlertV1):
    resolved_at = fields.String(required=True, metadata={"description": "UTC ISO 8601",
                                                         "example": "2026-02-16T05:20:00.000Z"})


EVENTS = [
    EventType("ops.alert_raised.v1", AlertRaisedV1, "alerts",
              "An operator alert was raised (once per incident), with the runbook's anchor.", about_dossier=False),
    EventType("ops.alert_resolved.v1", AlertResolvedV1, "alerts",
              "The condition behind an operator alert stayed clear; the incident is over.", about_dossier=False),
]
