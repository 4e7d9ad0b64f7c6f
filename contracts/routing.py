"""Events routing publishes: the route, the assignment, every step of the dossier's life, the deadline warnings."""
from marshmallow import RAISE, Schema, fields

from contracts.dossier import dossier_id_field
from contracts.envelope import EventType
from contracts.lifecycle import LIFECYCLE, Lifecycle


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class DossierRoutedV1(_Strict):
    code = fields.String(required=True, metadata={"example": "VYDA-260213-0007"})
    dossier_id = dossier_id_field()
    procedure_code = fields.String(required=True, metadata={"example": "1.001193"})
    department_id = fields.String(required=True, metadata={"example": "vp"})
    department_name = fields.String(required=True, metadata={"example": "Văn phòng HĐND và UBND"})
    routed_at = fields.String(required=True, metadata={"description": "UTC ISO 8601"})
    seq = fields.Integer(load_default=None, metadata={"description": "the dossier's transition number (1)"})


class DossierAssignedV1(_Strict):
    code = fields.String(required=True, metadata={"example": "VYDA-260213-0007"})
    dossier_id = dossier_id_field()
    procedure_code = fields.String(required=True)
    department_id = fields.String(required=True)
    officer_id = fields.String(required=True, metadata={"example": "vyda-o01"})
    officer_name = fields.String(required=True, metadata={"description": "the officer (staff, not the citizen)"})
    open_dossiers = fields.Integer(required=True, metadata={"description": "the officer's open dossiers, this one included"})
    assigned_at = fields.String(required=True, metadata={"description": "UTC ISO 8601"})
    seq = fields.Integer(load_default=None, metadata={"description": "the dossier's transition number"})
    due_at = fields.String(load_default=None, metadata={"description": "the statutory due time (local ISO 8601)"})


# --- the dossier's life after assignment (contracts/lifecycle.py) ---------------------------------

class TransitionV1(_Strict):
    """What every lifecycle event carries: one transition of the state machine (the whole data of
    an action whose event has no schema of its own in ``SCHEMAS``)."""

    code = fields.String(required=True, metadata={"example": "VYDA-260213-0007"})
    dossier_id = dossier_id_field()
    seq = fields.Integer(required=True, metadata={
        "description": "the dossier's transition number, 1 for routed; a subscriber keeps the highest it saw"})
    action = fields.String(required=True, metadata={"example": "request_supplement"})
    from_state = fields.String(required=True, metadata={"example": "in_progress"})
    to_state = fields.String(required=True, metadata={"example": "supplement_requested"})
    reason = fields.String(allow_none=True, load_default=None, metadata={"description": "why, in the actor's words"})
    at = fields.String(required=True, metadata={"description": "UTC ISO 8601"})
    procedure_code = fields.String(required=True, metadata={"example": "1.001193"})
    department_id = fields.String(allow_none=True, load_default=None, metadata={"example": "vp"})
    officer_id = fields.String(allow_none=True, load_default=None, metadata={"example": "vyda-o01"})
    due_at = fields.String(allow_none=True, load_default=None, metadata={
        "description": "the statutory due time (local ISO 8601), null while the clock is stopped"})
    appointment_date = fields.String(allow_none=True, load_default=None, metadata={
        "description": "the date the citizen is told to come back (YYYY-MM-DD)"})


class DossierSupplementRequestedV1(TransitionV1):
    documents = fields.List(fields.String(), required=True, metadata={
        "description": "every missing or incomplete paper, listed once and completely",
        "example": ["Bản sao Giấy chứng sinh"]})
    remaining_working_s = fields.Float(required=True, metadata={
        "description": "working seconds left on the clock, kept until the supplement arrives"})


class DossierResultReadyV1(TransitionV1):
    decision = fields.String(required=True, metadata={"description": "approved or rejected"})
    collect_at = fields.String(required=True, metadata={
        "description": "where the citizen collects the result (the center's name)"})


class DossierReturnedV1(TransitionV1):
    on_time = fields.Boolean(required=True, metadata={
        "description": "the result was ready before the due time"})


class DossierTransferredV1(TransitionV1):
    from_department = fields.String(required=True)


class DossierReassignedV1(TransitionV1):
    from_officer = fields.String(allow_none=True, load_default=None)


class DossierDeadlineExtendedV1(TransitionV1):
    previous_due_at = fields.String(required=True)
    previous_appointment_date = fields.String(required=True)


class _DeadlineV1(_Strict):
    code = fields.String(required=True, metadata={"example": "VYDA-260213-0007"})
    dossier_id = dossier_id_field()
    procedure_code = fields.String(required=True)
    state = fields.String(required=True, metadata={"example": "in_progress"})
    department_id = fields.String(allow_none=True, load_default=None)
    officer_id = fields.String(allow_none=True, load_default=None)
    due_at = fields.String(required=True, metadata={"description": "the due time (local ISO 8601)"})
    escalate_to = fields.List(fields.String(), required=True, metadata={
        "description": "the roles told: department_head, center_leader", "example": ["department_head", "center_leader"]})


class DossierDueSoonV1(_DeadlineV1):
    point = fields.String(required=True, metadata={
        "description": "how long before the due time, in working time", "example": "1d"})


class DossierOverdueV1(_DeadlineV1):
    pass


# The event types whose data goes beyond the transition; every other action's event is a TransitionV1.
SCHEMAS = {
    "dossier.routed.v1": DossierRoutedV1,
    "dossier.assigned.v1": DossierAssignedV1,
    "dossier.supplement_requested.v1": DossierSupplementRequestedV1,
    "dossier.result_ready.v1": DossierResultReadyV1,
    "dossier.returned.v1": DossierReturnedV1,
    "dossier.transferred.v1": DossierTransferredV1,
    "dossier.reassigned.v1": DossierReassignedV1,
    "dossier.deadline_extended.v1": DossierDeadlineExtendedV1,
}


def action_events(lifecycle: Lifecycle = LIFECYCLE) -> list[EventType]:
    """One event type per action of the lifecycle, in its order, with the action's summary."""
    return [EventType(a.event, SCHEMAS.get(a.event, TransitionV1), "routing", a.summary) for a in lifecycle.actions]


EVENTS = [
    *action_events(),
    EventType("dossier.due_soon.v1", DossierDueSoonV1, "routing",
              "The due time is near (by default 1 working day, then 3 working hours, before it); escalated."),
    EventType("dossier.overdue.v1", DossierOverdueV1, "routing",
              "The due time passed before the result was ready; escalated."),
]
