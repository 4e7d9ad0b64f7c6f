"""Events notification publishes: a message sent, a message that could not be delivered."""
from marshmallow import RAISE, Schema, fields, validate

from contracts.dossier import dossier_id_field
from contracts.envelope import EventType


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class NotificationSentV1(_Strict):
    code = fields.String(required=True)
    dossier_id = dossier_id_field()
    notification_id = fields.String(required=True, metadata={"description": "<trigger event id>:<channel> for a citizen, <trigger event id>:<channel>:<staff id> for an escalation"})
    channel = fields.String(required=True, validate=validate.OneOf(["sms", "email"]))
    template = fields.String(required=True, metadata={"example": "receipt"})
    language = fields.String(required=True, validate=validate.OneOf(["vi", "en"]))
    trigger_event_id = fields.String(required=True)
    recipient = fields.String(required=True, metadata={
        "description": "whom the message was for: 'citizen' (the dossier's applicant) or 'staff' (then staff_id "
                       "says who). Never an address, not even masked: earlier events held a masked phone or email "
                       "('+8491****678', 'a***@example.vn'), which gave away 7 digits of the phone",
        "example": "citizen"})
    staff_id = fields.String(load_default=None, allow_none=True, metadata={
        "description": "the member of staff an escalation went to, e.g. 'vyda-leader'; null when recipient is "
                       "'citizen'"})
    attempts = fields.Integer(required=True)


class NotificationFailedV1(NotificationSentV1):
    error = fields.String(required=True, metadata={
        "description": "why, in a fixed wording without the provider's reply text (which names the address): "
                       "e.g. 'recipient refused (SMTP 550 5.1.1)', 'SMS gateway refused the message (HTTP 400)'",
        "example": "recipient refused (SMTP 550 5.1.1)"})


EVENTS = [
    EventType("notification.sent.v1", NotificationSentV1, "notification",
              "A message reached the SMTP server or the SMS gateway."),
    EventType("notification.failed.v1", NotificationFailedV1, "notification",
              "A message could not be delivered and will not be retried."),
]
