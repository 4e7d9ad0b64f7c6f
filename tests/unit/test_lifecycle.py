"""The dossier lifecycle: every transition, every refusal, the role table, the
decree rules (supplement once and within 3 working days, one new date), and a
random walk over the model that keeps its invariants."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from onestop import errors
from onestop.web.auth import ROLES as STAFF_ROLES
from services.routing import lifecycle as lc
from services.routing.lifecycle import (
    ACTION_NAMES, STATES, TERMINAL, ActionForbidden, Conflict, DossierLife, InvalidDetails,
    InvalidTransition, RuleViolation, UnknownAction, allowed_actions, can, record, replay,
    supplement_window_ok, transition,
)

AT = datetime(2026, 3, 2, 2, 15, tzinfo=timezone.utc)

# The specification, written out by hand: (from, action) -> to. The module's
# table must say exactly this, no more and no less.
EXPECTED = {
    ("received", "route"): "routed",
    ("routed", "assign"): "assigned",
    ("assigned", "start"): "in_progress",
    ("supplemented", "start"): "in_progress",
    ("assigned", "request_supplement"): "supplement_requested",
    ("in_progress", "request_supplement"): "supplement_requested",
    ("supplement_requested", "receive_supplement"): "supplemented",
    ("in_progress", "approve"): "approved",
    ("in_progress", "reject"): "rejected",
    ("approved", "mark_result_ready"): "result_ready",
    ("rejected", "mark_result_ready"): "result_ready",
    ("result_ready", "return_result"): "returned",
    **{(s, "withdraw"): "withdrawn" for s in ("received", "routed", "assigned", "in_progress",
                                                "supplement_requested", "supplemented")},
    **{(s, "transfer"): "routed" for s in ("routed", "assigned", "in_progress", "supplemented")},
    **{(s, "send_back"): "received" for s in ("routed", "assigned", "in_progress", "supplemented")},
    **{(s, "reassign"): s for s in ("assigned", "in_progress", "supplement_requested", "supplemented")},
    **{(s, "extend_deadline"): s for s in ("received", "routed", "assigned", "in_progress",
                                            "supplement_requested", "supplemented", "approved", "rejected")},
}

EXPECTED_ROLES = {
    "counter_staff": {"route", "receive_supplement", "return_result", "withdraw"},
    "officer": {"start", "request_supplement", "receive_supplement", "approve", "reject", "mark_result_ready"},
    "department_head": {"assign", "start", "request_supplement", "receive_supplement", "approve", "reject",
                        "mark_result_ready", "reassign", "transfer", "send_back"},
    "center_leader": {"extend_deadline"},
    "auditor": set(),
    "operator": set(),
    "portal": set(),
    "integrator": set(),
    "system": {"route", "assign", "send_back"},
}

SYS = {"id": "routing", "role": "system"}
COUNTER = {"id": "counter-01", "role": "counter_staff"}
OFFICER = {"id": "officer-07", "role": "officer", "department": "vp"}
HEAD = {"id": "head-vp", "role": "department_head", "department": "vp"}
LEADER = {"id": "leader-01", "role": "center_leader"}

DETAILS = {
    "route": {"department": "vp"},
    "assign": {"officer": "officer-07"},
    "request_supplement": {"reason": "the birth certificate is missing",
                           "documents": ["hospital birth certificate"], "working_days_since_receipt": 1},
    "reject": {"reason": "not the competent authority"},
    "withdraw": {"reason": "the citizen asked to withdraw"},
    "transfer": {"reason": "belongs to the economy department", "department": "ktht"},
    "send_back": {"reason": "wrong procedure, re-route"},
    "reassign": {"officer": "officer-08"},
    "extend_deadline": {"reason": "verification with another ward", "due": "2026-03-10"},
}

PATHS = {
    "received": [],
    "routed": ["route"],
    "assigned": ["route", "assign"],
    "in_progress": ["route", "assign", "start"],
    "supplement_requested": ["route", "assign", "start", "request_supplement"],
    "supplemented": ["route", "assign", "start", "request_supplement", "receive_supplement"],
    "approved": ["route", "assign", "start", "approve"],
    "rejected": ["route", "assign", "start", "reject"],
    "result_ready": ["route", "assign", "start", "approve", "mark_result_ready"],
    "returned": ["route", "assign", "start", "approve", "mark_result_ready", "return_result"],
    "withdrawn": ["withdraw"],
}


def qualified(life: DossierLife, action: str) -> dict:
    """An actor whose role and scope allow `action` on `life`."""
    roles = lc.ACTIONS[action].roles
    if "system" in roles:
        return SYS
    if "counter_staff" in roles:
        return COUNTER
    if "department_head" in roles:
        return {"id": f"head-{life.department}", "role": "department_head", "department": life.department}
    return LEADER


def details_for(life: DossierLife, action: str) -> dict:
    details = dict(DETAILS.get(action, {}))
    if action == "transfer":
        details["department"] = "ktht" if life.department != "ktht" else "vhxh"
    if action == "reassign":
        details["officer"] = "officer-08" if life.officer != "officer-08" else "officer-09"
    return details


def step(life: DossierLife, action: str, actor: dict | None = None, **overrides):
    return life.apply(action, actor or qualified(life, action), at=AT,
                      **{**details_for(life, action), **overrides})


def life_in(state: str) -> tuple[DossierLife, list]:
    life, records = DossierLife(), []
    for action in PATHS[state]:
        life, rec = step(life, action)
        records.append(rec)
    assert life.state == state
    return life, records


# --- the table --------------------------------------------------------------

def test_the_table_is_exactly_the_specification():
    encoded = {(s, a): lc.ACTIONS[a].to_state(s) for a in ACTION_NAMES for s in lc.ACTIONS[a].sources}
    assert encoded == EXPECTED
    assert set(ACTION_NAMES) == {a for _, a in EXPECTED}
    assert STATES == ("received", "routed", "assigned", "in_progress", "supplement_requested", "supplemented",
                      "approved", "rejected", "result_ready", "returned", "withdrawn")
    assert TERMINAL == {"returned", "withdrawn"}


@pytest.mark.parametrize("state,action", sorted(EXPECTED))
def test_every_valid_transition(state, action):
    assert transition(state, action) == EXPECTED[(state, action)]
    assert action in allowed_actions(state)


INVALID = sorted((s, a) for s in STATES for a in ACTION_NAMES if (s, a) not in EXPECTED)


@pytest.mark.parametrize("state,action", INVALID)
def test_every_invalid_transition_names_the_state_and_the_allowed_actions(state, action):
    with pytest.raises(InvalidTransition) as caught:
        transition(state, action)
    exc = caught.value
    allowed = sorted(a for (s, a) in EXPECTED if s == state)
    assert exc.current_state == state and exc.action == action
    assert sorted(exc.allowed_actions) == allowed
    assert f"cannot {action} a dossier in state {state}" in str(exc)
    for name in allowed:
        assert name in str(exc)
    if not allowed:
        assert "none (the dossier is closed)" in str(exc)
    assert isinstance(exc, Conflict) and isinstance(exc, errors.Conflict) and not hasattr(exc, "status")
    assert exc.body() == {"error": "invalid_transition", "message": str(exc), "current_state": state,
                          "action": action, "allowed_actions": exc.allowed_actions}


@pytest.mark.parametrize("state", STATES)
def test_allowed_actions_per_state(state):
    assert allowed_actions(state) == [a for a in ACTION_NAMES if (state, a) in EXPECTED]
    if state in TERMINAL:
        assert allowed_actions(state) == []


def test_allowed_actions_filtered_by_role():
    assert allowed_actions("in_progress", "officer") == ["request_supplement", "approve", "reject"]
    assert allowed_actions("in_progress", "counter_staff") == ["withdraw"]
    assert allowed_actions("in_progress", "auditor") == []
    assert allowed_actions("result_ready", "counter_staff") == ["return_result"]


def test_unknown_actions_and_states():
    with pytest.raises(UnknownAction) as caught:
        transition("received", "teleport")
    assert isinstance(caught.value, errors.NotFound) and "teleport" in str(caught.value)
    assert caught.value.body() == {"error": "unknown_action", "message": str(caught.value)}
    assert caught.value.known_actions == list(ACTION_NAMES)
    with pytest.raises(ValueError):
        transition("lost", "route")
    with pytest.raises(ValueError):
        allowed_actions("lost")
    with pytest.raises(UnknownAction):
        DossierLife().apply("teleport", SYS)


# --- roles and scope --------------------------------------------------------

def test_the_roles_are_the_auth_roles_plus_system():
    assert set(EXPECTED_ROLES) == set(STAFF_ROLES) | {"system"}
    assert lc.ACTOR_ROLES == STAFF_ROLES + ("system",)


@pytest.mark.parametrize("role", sorted(EXPECTED_ROLES))
def test_role_table(role):
    assert {a for a in ACTION_NAMES if can(role, a)} == EXPECTED_ROLES[role]


def test_can_refuses_unknown_roles_and_actions():
    assert not can("citizen", "withdraw")
    assert not can("officer", "teleport")
    assert not can("officer", None)


@pytest.mark.parametrize("role", ["auditor", "operator", "counter_staff", "center_leader"])
def test_roles_without_the_right_get_403(role):
    life, _ = life_in("in_progress")
    with pytest.raises(ActionForbidden) as caught:
        life.apply("approve", {"id": "someone", "role": role}, at=AT)
    assert isinstance(caught.value, errors.Forbidden) and not hasattr(caught.value, "status")
    assert f"role {role} may not approve" in caught.value.reason
    assert caught.value.body() == {"error": "forbidden", "message": caught.value.reason,
                                   "reason": caught.value.reason}


def test_officers_act_only_on_dossiers_assigned_to_them():
    life, _ = life_in("in_progress")
    other = {"id": "officer-99", "role": "officer", "department": "vp"}
    with pytest.raises(ActionForbidden, match="assigned to them"):
        life.apply("approve", other, at=AT)
    approved, rec = life.apply("approve", OFFICER, at=AT)
    assert approved.state == "approved" and rec["actor"] == {"id": "officer-07", "role": "officer"}


def test_department_heads_act_only_in_their_department():
    life, _ = life_in("in_progress")
    elsewhere = {"id": "head-ktht", "role": "department_head", "department": "ktht"}
    for action in ("approve", "reassign", "transfer", "send_back"):
        with pytest.raises(ActionForbidden, match="their own department"):
            step(life, action, elsewhere)
    assert step(life, "approve", HEAD)[0].state == "approved"


def test_a_head_assigns_in_their_department_and_the_officer_then_works():
    life, _ = step(DossierLife(), "route")
    life, rec = life.apply("assign", HEAD, officer="officer-07", at=AT)
    assert life.officer == "officer-07" and rec["officer"] == "officer-07"
    assert life.apply("start", OFFICER, at=AT)[0].state == "in_progress"


def test_authorization_comes_before_the_state_check():
    life, _ = life_in("returned")
    with pytest.raises(ActionForbidden):
        life.apply("approve", {"id": "x", "role": "auditor"}, at=AT)
    with pytest.raises(InvalidTransition) as caught:
        life.apply("return_result", COUNTER, at=AT)
    assert caught.value.allowed_actions == []


# --- records and their required fields --------------------------------------

def test_a_record_is_the_event_payload_body():
    rec = record("in_progress", "reject", actor={"id": "officer-07", "role": "officer", "department": "vp"},
                 reason="  not the competent authority ", at=AT)
    assert rec == {"action": "reject", "from": "in_progress", "to": "rejected",
                   "actor": {"id": "officer-07", "role": "officer"},
                   "reason": "not the competent authority", "at": "2026-03-02T02:15:00.000Z"}


def test_a_record_without_at_is_stamped_now_in_utc():
    rec = record("received", "route", actor=SYS, department="vp")
    stamped = datetime.fromisoformat(rec["at"].replace("Z", "+00:00"))
    assert abs(stamped - datetime.now(timezone.utc)) < timedelta(seconds=5)
    assert rec["reason"] is None and rec["department"] == "vp"


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError):
        record("received", "route", actor=SYS, department="vp", at=datetime(2026, 3, 2, 9, 0))


def test_a_bad_actor_is_a_programming_error():
    with pytest.raises(ValueError):
        record("received", "route", actor={"id": "x"}, department="vp", at=AT)


REASON_ACTIONS = ["request_supplement", "reject", "transfer", "send_back", "withdraw", "extend_deadline"]
STATE_FOR = {"request_supplement": "in_progress", "reject": "in_progress", "transfer": "assigned",
             "send_back": "routed", "withdraw": "received", "extend_deadline": "in_progress"}


@pytest.mark.parametrize("action", REASON_ACTIONS)
@pytest.mark.parametrize("bad", [None, "", "   "])
def test_a_reason_is_required(action, bad):
    details = {k: v for k, v in DETAILS[action].items() if k not in ("reason", "working_days_since_receipt")}
    with pytest.raises(InvalidDetails) as caught:
        record(STATE_FOR[action], action, actor=SYS, reason=bad, at=AT, **details)
    exc = caught.value
    assert exc.problems == [{"field": "reason",
                             "reason": "required for this action" if bad is None else "must be non-empty text"}]
    assert isinstance(exc, errors.InvalidInput) and not hasattr(exc, "status")
    assert exc.body() == {"error": "validation_failed", "message": "The action was not accepted.",
                          "fields": exc.problems}


def test_the_reason_is_enforced_through_apply_too():
    life, _ = life_in("in_progress")
    with pytest.raises(InvalidDetails) as caught:
        life.apply("reject", OFFICER, at=AT)
    assert caught.value.problems[0]["field"] == "reason"


@pytest.mark.parametrize("documents,problem", [
    ([], "list at least one missing document"),
    (None, "required for this action"),
    ("birth certificate", "list at least one missing document"),
    (["birth certificate", " "], "every document must be a non-empty name"),
])
def test_a_supplement_request_lists_the_missing_documents(documents, problem):
    life, _ = life_in("in_progress")
    with pytest.raises(InvalidDetails) as caught:
        life.apply("request_supplement", OFFICER, reason="incomplete", documents=documents,
                   working_days_since_receipt=1, at=AT)
    assert caught.value.problems[0]["field"] == "documents"
    assert caught.value.problems[0]["reason"].startswith(problem)
    assert life.state == "in_progress" and life.supplements_requested == 0


def test_the_supplement_record_carries_the_documents():
    life, _ = life_in("assigned")
    life, rec = life.apply("request_supplement", OFFICER, reason="incomplete",
                           documents=[" birth certificate ", "ID card"], working_days_since_receipt=0, at=AT)
    assert rec["documents"] == ["birth certificate", "ID card"]
    assert rec["from"] == "assigned" and rec["to"] == "supplement_requested"
    assert life.supplements_requested == 1


@pytest.mark.parametrize("action,field", [("route", "department"), ("assign", "officer"),
                                          ("transfer", "department"), ("reassign", "officer"),
                                          ("extend_deadline", "due")])
def test_the_other_required_fields(action, field):
    state = {"route": "received", "assign": "routed", "transfer": "assigned", "reassign": "assigned",
             "extend_deadline": "routed"}[action]
    details = {k: v for k, v in DETAILS[action].items() if k != field}
    with pytest.raises(InvalidDetails) as caught:
        record(state, action, actor=SYS, at=AT, **details)
    assert caught.value.problems == [{"field": field, "reason": "required for this action"}]


@pytest.mark.parametrize("due,ok", [("2026-03-10", "2026-03-10"), (datetime(2026, 3, 10).date(), "2026-03-10"),
                                    ("10/03/2026", None), (datetime(2026, 3, 10, tzinfo=timezone.utc), None)])
def test_the_new_due_date_is_a_date(due, ok):
    if ok:
        rec = record("in_progress", "extend_deadline", actor=LEADER, reason="late", due=due, at=AT)
        assert rec["due"] == ok
    else:
        with pytest.raises(InvalidDetails) as caught:
            record("in_progress", "extend_deadline", actor=LEADER, reason="late", due=due, at=AT)
        assert caught.value.problems[0]["field"] == "due"


def test_fields_an_action_does_not_use_are_refused():
    with pytest.raises(InvalidDetails) as caught:
        record("in_progress", "approve", actor=HEAD, at=AT, departmnt="ktht")
    assert caught.value.problems == [{"field": "departmnt", "reason": "not used by approve"}]


def test_an_optional_reason_is_kept():
    rec = record("in_progress", "approve", actor=HEAD, reason="all papers verified", at=AT)
    assert rec["reason"] == "all papers verified"


# --- paths --------------------------------------------------------------------

def test_the_whole_happy_path():
    life, records = life_in("returned")
    assert [r["action"] for r in records] == PATHS["returned"]
    assert [(r["from"], r["to"]) for r in records] == [
        ("received", "routed"), ("routed", "assigned"), ("assigned", "in_progress"),
        ("in_progress", "approved"), ("approved", "result_ready"), ("result_ready", "returned")]
    assert life.allowed_actions() == [] and replay(records) == life


def test_supplement_then_start_then_decide():
    life, _ = life_in("supplemented")
    with pytest.raises(InvalidTransition) as caught:
        life.apply("approve", OFFICER, at=AT)
    assert "start" in caught.value.allowed_actions
    life, _ = life.apply("start", OFFICER, at=AT)
    life, _ = life.apply("approve", OFFICER, at=AT)
    assert life.state == "approved"


def test_a_refusal_is_a_result_too():
    life, _ = life_in("rejected")
    life, rec = step(life, "mark_result_ready")
    assert (rec["from"], rec["to"]) == ("rejected", "result_ready")
    life, rec = step(life, "return_result")
    assert life.state == "returned"


@pytest.mark.parametrize("state", ["received", "routed", "assigned", "in_progress", "supplement_requested",
                                   "supplemented"])
def test_withdrawal_before_a_decision(state):
    life, _ = life_in(state)
    life, rec = life.apply("withdraw", COUNTER, reason="the citizen asked", at=AT)
    assert life.state == "withdrawn" and rec["reason"] == "the citizen asked"
    assert life.allowed_actions() == []


@pytest.mark.parametrize("state", ["approved", "rejected", "result_ready", "returned", "withdrawn"])
def test_no_withdrawal_after_a_decision(state):
    life, _ = life_in(state)
    with pytest.raises(InvalidTransition):
        life.apply("withdraw", COUNTER, reason="the citizen asked", at=AT)


def test_a_transfer_is_recorded_and_the_new_department_assigns():
    life, records = life_in("in_progress")
    life, rec = life.apply("transfer", HEAD, reason="belongs to economy", department="ktht", at=AT)
    assert rec["from_department"] == "vp" and rec["department"] == "ktht"
    assert (rec["from"], rec["to"]) == ("in_progress", "routed")
    assert life.department == "ktht" and life.officer is None
    assert life.transfers == (("vp", "ktht"),)
    head_ktht = {"id": "head-ktht", "role": "department_head", "department": "ktht"}
    with pytest.raises(ActionForbidden):
        life.apply("assign", HEAD, officer="officer-07", at=AT)
    life, _ = life.apply("assign", head_ktht, officer="officer-21", at=AT)
    assert life.state == "assigned" and life.officer == "officer-21"


def test_a_transfer_to_the_same_department_is_refused():
    life, _ = life_in("assigned")
    with pytest.raises(InvalidDetails) as caught:
        life.apply("transfer", HEAD, reason="oops", department="vp", at=AT)
    assert caught.value.problems == [{"field": "department", "reason": "the dossier is already in this department"}]


def test_send_back_returns_to_intake_for_rerouting():
    life, _ = life_in("assigned")
    life, rec = life.apply("send_back", HEAD, reason="wrong procedure", at=AT)
    assert life.state == "received" and life.department is None and life.officer is None
    life, _ = life.apply("route", SYS, department="vhxh", at=AT)
    assert life.department == "vhxh"


def test_reassign_keeps_the_state_and_changes_the_officer():
    for state in ("assigned", "in_progress", "supplement_requested", "supplemented"):
        life, _ = life_in(state)
        life2, rec = life.apply("reassign", HEAD, officer="officer-08", at=AT)
        assert life2.state == state and life2.officer == "officer-08"
        assert rec["from_officer"] == "officer-07" and rec["from"] == rec["to"] == state
        with pytest.raises(ActionForbidden):
            life2.apply("start" if state in ("assigned", "supplemented") else "withdraw", OFFICER,
                        reason="x", at=AT)
    life, _ = life_in("assigned")
    with pytest.raises(InvalidDetails):
        life.apply("reassign", HEAD, officer="officer-07", at=AT)


# --- decree rules -----------------------------------------------------------

def test_a_supplement_is_requested_once_only():
    life, _ = life_in("supplemented")
    life, _ = step(life, "start")
    assert "request_supplement" not in life.allowed_actions()
    assert "request_supplement" in allowed_actions(life.state)  # the table alone would allow it
    with pytest.raises(RuleViolation) as caught:
        step(life, "request_supplement", OFFICER)
    exc = caught.value
    assert exc.rule == "supplement_once" and isinstance(exc, Conflict) and isinstance(exc, errors.Conflict)
    assert "một lần đầy đủ" in str(exc) and "already requested" in str(exc)
    assert exc.current_state == "in_progress"
    assert exc.allowed_actions == life.allowed_actions()
    assert exc.body()["rule"] == "supplement_once" and exc.body()["error"] == "rule_violated"


def test_a_supplement_stays_used_up_after_a_transfer_or_send_back():
    life, _ = life_in("supplemented")
    life, _ = step(life, "transfer")
    life, _ = step(life, "assign", officer="officer-21")
    with pytest.raises(RuleViolation, match="already requested"):
        step(life, "request_supplement")
    life, _ = step(life, "send_back")
    assert life.supplements_requested == 1


@pytest.mark.parametrize("days,ok", [(0, True), (1, True), (3, True), (4, False), (10, False)])
def test_the_supplement_window_is_three_working_days(days, ok):
    assert supplement_window_ok(days) is ok
    life, _ = life_in("in_progress")
    if ok:
        assert step(life, "request_supplement", working_days_since_receipt=days)[0].state == "supplement_requested"
    else:
        with pytest.raises(RuleViolation) as caught:
            step(life, "request_supplement", working_days_since_receipt=days)
        assert caught.value.rule == "supplement_window"
        assert "within 3 working days" in str(caught.value) and f"it is {days}" in str(caught.value)
        assert "request_supplement" not in caught.value.allowed_actions


def test_the_supplement_window_needs_a_day_count():
    life, _ = life_in("in_progress")
    with pytest.raises(TypeError):
        step(life, "request_supplement", working_days_since_receipt=None)
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(ValueError):
            supplement_window_ok(bad)
    assert supplement_window_ok(5, window=5)


def test_the_due_date_is_reset_at_most_once():
    life, _ = life_in("in_progress")
    life, rec = life.apply("extend_deadline", LEADER, reason="verification abroad", due="2026-03-20", at=AT)
    assert life.state == "in_progress" and life.due == "2026-03-20" and life.deadline_extensions == 1
    assert rec["due"] == "2026-03-20" and rec["from"] == rec["to"] == "in_progress"
    assert "extend_deadline" not in life.allowed_actions()
    life, _ = step(life, "approve")
    with pytest.raises(RuleViolation) as caught:
        life.apply("extend_deadline", LEADER, reason="again", due="2026-03-30", at=AT)
    assert caught.value.rule == "extend_once" and "at most once" in str(caught.value)
    assert caught.value.current_state == "approved"


def test_no_extension_once_the_result_is_ready():
    life, _ = life_in("result_ready")
    with pytest.raises(InvalidTransition):
        step(life, "extend_deadline")


def test_replay_refuses_a_broken_chain():
    _, records = life_in("in_progress")
    with pytest.raises(ValueError):
        replay(records[1:])


# --- a random walk over the model -------------------------------------------

class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.life = DossierLife()
        self.records: list[dict] = []

    def _accept(self, life, rec):
        assert rec["from"] == self.life.state and rec["to"] == life.state
        assert life.state == transition(self.life.state, rec["action"])
        self.life = life
        self.records.append(rec)

    @rule(data=st.data())
    def a_valid_step(self, data):
        actions = self.life.allowed_actions()
        if not actions:
            return
        forward = [a for a in actions if a != "withdraw"]  # withdrawing ends the walk; draw it less often
        action = data.draw(st.sampled_from(forward) if forward and data.draw(st.integers(0, 4)) else
                           st.sampled_from(actions))
        days = data.draw(st.integers(0, lc.SUPPLEMENT_WINDOW_DAYS))
        overrides = {"working_days_since_receipt": days} if action == "request_supplement" else {}
        self._accept(*step(self.life, action, **overrides))

    @rule(action=st.sampled_from(ACTION_NAMES), any_role=st.booleans(), in_scope=st.booleans(),
          days=st.integers(0, 6), data=st.data())
    def any_step(self, action, any_role, in_scope, days, data):
        """Any action by any role: either it is accepted and consistent, or refused with the right error."""
        life = self.life
        roles = lc.ACTOR_ROLES if any_role else sorted(lc.ACTIONS[action].roles)
        role = data.draw(st.sampled_from(roles))
        actor = {"id": "someone", "role": role, "department": "nowhere"}
        if role == "officer" and in_scope and life.officer:
            actor["id"] = life.officer
        if role == "department_head" and in_scope and life.department:
            actor["department"] = life.department
        overrides = {"working_days_since_receipt": days} if action == "request_supplement" else {}
        spec = lc.ACTIONS[action]
        if role not in spec.roles:
            expected = ActionForbidden
        elif role == "officer" and actor["id"] != life.officer:
            expected = ActionForbidden
        elif role == "department_head" and (life.department is None or actor["department"] != life.department):
            expected = ActionForbidden
        elif life.state not in spec.sources:
            expected = InvalidTransition
        elif action == "request_supplement" and (life.supplements_requested or days > 3):
            expected = RuleViolation
        elif action == "extend_deadline" and life.deadline_extensions:
            expected = RuleViolation
        else:
            expected = None
        if expected is None:
            self._accept(*step(life, action, actor, **overrides))
            return
        with pytest.raises(expected) as caught:
            step(life, action, actor, **overrides)
        if expected is InvalidTransition:
            assert caught.value.current_state == life.state
            assert caught.value.allowed_actions == life.allowed_actions()
            assert life.state in str(caught.value)
        assert self.life is life  # a refusal changes nothing

    @invariant()
    def state_is_known(self):
        assert self.life.state in STATES

    @invariant()
    def terminal_states_allow_nothing(self):
        if self.life.state in TERMINAL:
            assert self.life.allowed_actions() == [] and allowed_actions(self.life.state) == []
        else:
            assert allowed_actions(self.life.state)

    @invariant()
    def decree_counters_stay_within_limits(self):
        assert self.life.supplements_requested <= 1
        assert self.life.deadline_extensions <= 1
        assert sum(r["action"] == "request_supplement" for r in self.records) == self.life.supplements_requested
        if self.life.state in ("supplement_requested", "supplemented"):
            assert self.life.supplements_requested == 1

    @invariant()
    def department_and_officer_fit_the_state(self):
        life = self.life
        if life.state == "received":
            assert life.department is None and life.officer is None
        if life.state == "routed":
            assert life.department is not None and life.officer is None
        if life.state in ("assigned", "in_progress", "supplement_requested", "supplemented",
                          "approved", "rejected", "result_ready", "returned"):
            assert life.department is not None and life.officer is not None
        assert len(life.transfers) == sum(r["action"] == "transfer" for r in self.records)

    @invariant()
    def the_records_chain_and_replay(self):
        for before, after in zip(self.records, self.records[1:]):
            assert before["to"] == after["from"]
        assert replay(self.records) == self.life


LifecycleMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None,
                                              suppress_health_check=[HealthCheck.too_slow])
TestLifecycleMachine = LifecycleMachine.TestCase
