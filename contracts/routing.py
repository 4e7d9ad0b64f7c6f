"""Events routing publishes: the route, the assignment, every step of the dossier's life, the deadline warnings."""
from marshmallow import RAISE, Schema, fields

from contracts.envelope import EventType


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class DossierRoutedV1(_Strict):
    code = fields.String(required=True, metadata={"example": "VYDA-260213-0007"})
    procedure_code = fields.String(required=True, metadata={"example": "1.001193"})
    department_id = fields.String(required=True, metadata={"example": "vp"})
    department_name = fields.String(required=True, metadata={"example": "Văn phòng HĐND và UBND"})
    routed_at = fields.String(required=True, metadata={"description": "UTC ISO 8601"})
    seq = fields.Integer(load_default=None, metadata={"description": "the dossier's transition number (1)"})


class DossierAssignedV1(_Strict):
    code = fields.String(required=True, metadata={"example": "VYDA-260213-0007"})
    procedure_code = fields.String(required=True)
    department_id = fields.String(required=True)
    officer_id = fields.String(required=True, metadata={"example": "vyda-o01"})
    officer_name = fields.String(required=True, metadata={"description": "the officer (staff, not the citizen)"})
    open_dossiers = fields.Integer(required=True, metadata={"description": "the officer's open dossiers, this one included"})
    assigned_at = fields.String(required=True, metadata={"description": "UTC ISO 8601"})
    seq = fields.Integer(load_default=None, metadata={"description": "the dossier's transition number"})
    due_at = fields.String(load_default=None, metadata={"description": "the statutory due time (local ISO 8601)"})




# --- the dossier's life after assignment (services/routing/lifecycle.py) --------------------------

class _TransitionV1(_Strict):
    """What every lifecycle event carries: one transition of the state machine."""

    code = fields.String(required=True, metadata={"example": "VYDA-260213-0007"})
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


class DossierWorkStartedV1(_TransitionV1):
    pass


class DossierSupplementRequestedV1(_TransitionV1):
    documents = fields.List(fields.String(), required=True, metadata={
        "description": "every missing or incomplete paper, listed once and completely",
        "example": ["Bản sao Giấy chứng sinh"]})
    remaining_working_s = fields.Float(required=True, metadata={
        "description": "working seconds left on the clock, kept until the supplement arrives"})


class DossierSupplementReceivedV1(_TransitionV1):
    pass


class DossierApprovedV1(_TransitionV1):
    pass


class DossierRejectedV1(_TransitionV1):
    pass


class DossierResultReadyV1(_TransitionV1):
    decision = fields.String(required=True, metadata={"description": "approved or rejected"})
    collect_at = fields.String(required=True, metadata={
        "description": "where the citizen collects the result (the center's name)"})


class DossierReturnedV1(_TransitionV1):
    on_time = fields.Boolean(required=True, metadata={
        "description": "the result was ready before the due time"})


class DossierWithdrawnV1(_TransitionV1):
    pass


class DossierTransferredV1(_TransitionV1):
    from_department = fields.String(required=True)


class DossierSentBackV1(_TransitionV1):
    pass


class DossierReassignedV1(_TransitionV1):
    from_officer = fields.String(allow_none=True, load_default=None)


class DossierDeadlineExtendedV1(_TransitionV1):
    previous_due_at = fields.String(required=True)
    previous_appointment_date = fields.String(required=True)


class _DeadlineV1(_Strict):
    code = fields.String(required=True, metadata={"example": "VYDA-260213-0007"})
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


# action -> (event type, schema, summary)
TRANSITION_EVENTS = {
    "start": ("dossier.work_started.v1", DossierWorkStartedV1, "An officer started work on the dossier."),
    "request_supplement": ("dossier.supplement_requested.v1", DossierSupplementRequestedV1,
                           "The department asked the citizen, once and completely, for missing papers; "
                           "the deadline clock stops."),
    "receive_supplement": ("dossier.supplement_received.v1", DossierSupplementReceivedV1,
                           "The missing papers arrived; the deadline clock runs again with the time that was left."),
    "approve": ("dossier.approved.v1", DossierApprovedV1, "The dossier was approved."),
    "reject": ("dossier.rejected.v1", DossierRejectedV1, "The dossier was rejected, with the reason."),
    "mark_result_ready": ("dossier.result_ready.v1", DossierResultReadyV1,
                          "The result waits at the center for the citizen."),
    "return_result": ("dossier.returned.v1", DossierReturnedV1,
                      "The result was handed back to the citizen; the dossier is closed."),
    "withdraw": ("dossier.withdrawn.v1", DossierWithdrawnV1, "The citizen withdrew the dossier; it is closed."),
    "transfer": ("dossier.transferred.v1", DossierTransferredV1, "The dossier moved to another department."),
    "send_back": ("dossier.sent_back.v1", DossierSentBackV1, "The dossier went back to intake to be routed again."),
    "reassign": ("dossier.reassigned.v1", DossierReassignedV1,
                 "The department head gave the dossier to another officer."),
    "extend_deadline": ("dossier.deadline_extended.v1", DossierDeadlineExtendedV1,
                        "The center leader set a new due date; the citizen gets an apology with the new date."),
}


EVENTS = [
    EventType("dossier.routed.v1", DossierRoutedV1, "routing",
              "The dossier went to the competent department of its center."),
    EventType("dossier.assigned.v1", DossierAssignedV1, "routing",
              "The dossier was given to the least-loaded officer with the right skill."),
    *(EventType(type_, schema, "routing", summary) for type_, schema, summary in TRANSITION_EVENTS.values()),
    EventType("dossier.due_soon.v1", DossierDueSoonV1, "routing",
              "The due time is near (by default 1 working day, then 3 working hours, before it); escalated."),
    EventType("dossier.overdue.v1", DossierOverdueV1, "routing",
              "The due time passed before the result was ready; escalated."),
]
