"""Events the webhooks service publishes (producer ``webhooks``): a subscription it stopped delivering to.

One event per center of the subscription (routed ``<type>.<center>``, so each center's
operators see it), with the subscription id as subject. Its backlog is kept: nothing is dropped.
"""
from marshmallow import RAISE, Schema, fields, validate

from contracts.envelope import EventType

REASONS = ("retries_exhausted", "gone")


class SubscriptionPausedV1(Schema):
    class Meta:
        unknown = RAISE

    subscription_id = fields.String(required=True, metadata={"example": "whsub_3f1c2d4e5f60a7b8"})
    reason = fields.String(required=True, validate=validate.OneOf(REASONS), metadata={
        "description": "retries_exhausted: the oldest undelivered event used up its retry schedule; "
                       "gone: the receiver answered 410 Gone", "example": "retries_exhausted"})
    state = fields.String(required=True, validate=validate.OneOf(("paused", "disabled")),
                          metadata={"description": "paused (retries exhausted) or disabled (410)", "example": "paused"})
    centers = fields.List(fields.String(), required=True, metadata={"example": ["hue-vyda"]})
    url_host = fields.String(required=True, metadata={"description": "the receiver's host (never its path or query, "
                                                                     "which may hold a token)",
                                                      "example": "hooks.example.vn"})
    head_event_id = fields.String(required=True, metadata={"description": "the oldest undelivered event"})
    attempts = fields.Integer(required=True, metadata={"description": "attempts made at that event", "example": 11})
    last_error = fields.String(required=True, metadata={"example": "HTTP 503"})
    paused_at = fields.String(required=True, metadata={"description": "UTC ISO 8601",
                                                       "example": "2026-02-16T05:12:00.000Z"})


class SubscriptionResumedV1(Schema):
    """Issue 17 (alerts): the subscription delivers again, so the alert about its pause is resolved."""

    class Meta:
        unknown = RAISE

    subscription_id = fields.String(required=True, metadata={"example": "whsub_3f1c2d4e5f60a7b8"})
    centers = fields.List(fields.String(), required=True, metadata={"example": ["hue-vyda"]})
    resumed_by = fields.String(required=True, metadata={"description": "the staff user who resumed it",
                                                        "example": "ops-01"})
    resumed_at = fields.String(required=True, metadata={"description": "UTC ISO 8601",
                                                        "example": "2026-02-16T06:00:00.000Z"})


EVENTS = [
    EventType("webhook.subscription_paused.v1", SubscriptionPausedV1, "webhooks",
              "A webhook subscription stopped being delivered to (retries exhausted, or 410 Gone); its backlog "
              "is kept and resuming it delivers it.", about_dossier=False),
    EventType("webhook.subscription_resumed.v1", SubscriptionResumedV1, "webhooks",
              "A paused or disabled webhook subscription was resumed: its backlog is being delivered.",
              about_dossier=False),
]
