"""Events the operators' tools publish (producer ``operations``).

They go to ``onestop.events`` like dossier events, routed ``<type>.<center>``,
with the dossier code as subject, so the audit service (bound to every public
event of every center) puts them in the dossier's timeline.
"""
from marshmallow import RAISE, Schema, fields, validate

from contracts.envelope import EventType

REASONS = ("permanent", "unknown_dossier", "retries_exhausted", "invalid_event", "delivery_limit", "rejected",
           "expired", "maxlen", "unknown")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class DeadLetterReplayedV1(_Strict):
    service = fields.String(required=True, metadata={"description": "the consuming service", "example": "routing"})
    center = fields.String(required=True, metadata={"description": "center id", "example": "hue-vyda"})
    queue = fields.String(required=True, metadata={"description": "the dead-letter queue it came from",
                                                   "example": "onestop.routing.hue-vyda.dlq"})
    event_id = fields.String(required=True, metadata={"description": "id of the replayed event",
                                                      "example": "0b6d2f0e-8a51-4a5e-9a77-3f1c2d4e5f60"})
    event_type = fields.String(required=True, metadata={"description": "type of the replayed event",
                                                        "example": "dossier.received.v1"})
    reason = fields.String(required=True, validate=validate.OneOf(REASONS),
                           metadata={"description": "why it had been dead-lettered", "example": "permanent"})
    replay_count = fields.Integer(required=True, validate=validate.Range(min=1),
                                  metadata={"description": "1 on the event's first replay, 2 on its second",
                                            "example": 1})
    replayed_by = fields.String(required=True, metadata={"description": "the operator (staff, not a citizen)",
                                                         "example": "ops-lan"})
    replayed_at = fields.String(required=True, metadata={"description": "UTC ISO 8601",
                                                         "example": "2026-02-13T02:15:00.000Z"})


EVENTS = [
    EventType("deadletter.replayed.v1", DeadLetterReplayedV1, "operations",
              "An operator put a dead-lettered event back on its work queue (onestop dlq replay).",
              about_dossier=False),
]
