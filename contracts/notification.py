"""Events notification publishes: a message sent, a message that could not be delivered."""
from marshmallow import RAISE, Schema, fields, validate

from contracts.envelope import EventType


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class NotificationSentV1(_Strict):
    code = fields.String(required=True)
    notification_id = fields.String(required=True, metadata={"description": "<trigger event id>:<channel> for a citizen, <trigger event id>:<channel>:<staff id> for an escalation"})
    channel = fields.String(required=True, validate=validate.OneOf(["sms", "email"]))
    template = fields.String(required=True, metadata={"example": "receipt"})
    language = fields.String(required=True, validate=validate.OneOf(["vi", "en"]))
    trigger_event_id = fields.String(required=True)
    recipient = fields.String(required=True, metadata={"description": "masked address", "example": "+8491****678"})
    attempts = fields.Integer(required=True)


class NotificationFailedV1(NotificationSentV1):
    error = fields.String(required=True)


EVENTS = [
    EventType("notification.sent.v1", NotificationSentV1, "notification",
              "A message reached the SMTP server or the SMS gateway."),
    EventType("notification.failed.v1", NotificationFailedV1, "notification",
              "A message could not be delivered and will not be retried."),
]
