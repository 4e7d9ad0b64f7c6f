"""The lifecycle table (contracts/lifecycle.py) is consistent with everything that reads it:
the event registry, routing's machine and case effects, intake's view of the citizen; and a
new action is one entry there."""
from __future__ import annotations

import ast
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from contracts import REGISTRY, Registry, make_event
from contracts import lifecycle as table
from contracts.envelope import EventType
from contracts.lifecycle import LIFECYCLE, SAME, Action, Label
from contracts.routing import SCHEMAS, TransitionV1, action_events
from onestop.catalog import load_catalog
from onestop.web.auth import Principal
from services.intake import progress
from services.routing import cases
from services.routing import lifecycle as machine

ACTIONS = LIFECYCLE.actions
DEADLINE_EVENTS = {"dossier.due_soon.v1", "dossier.overdue.v1"}  # timers, not actions


# --- the table and the event registry -------------------------------------------

@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_every_action_has_its_routing_event_type_with_its_summary(action):
    event_type = REGISTRY[action.event]
    assert event_type.producer == "routing" and event_type.summary == action.summary


def test_every_routing_event_type_is_an_action_or_a_deadline_timer():
    routing = {t for t, e in REGISTRY.items() if e.producer == "routing"}
    assert routing - DEADLINE_EVENTS == {a.event for a in ACTIONS}
    assert {t for t, e in REGISTRY.items() if issubclass(e.schema, TransitionV1)} <= set(LIFECYCLE.of_event)
    assert set(SCHEMAS) <= set(LIFECYCLE.of_event)


def test_names_and_event_types_are_unique():
    assert len(LIFECYCLE.action) == len(ACTIONS) and len(LIFECYCLE.of_event) == len(ACTIONS)
    assert len(LIFECYCLE.state) == len(LIFECYCLE.states)


# --- the table on its own --------------------------------------------------------

@pytest.mark.parametrize("state", LIFECYCLE.states, ids=lambda s: s.name)
def test_every_state_has_a_public_status_and_both_labels(state):
    assert state.public and state.label.vi and state.label.en
    assert state.next_step is None or (state.next_step.vi and state.next_step.en)


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_every_action_moves_between_known_states(action):
    assert action.sources and set(action.sources) <= set(LIFECYCLE.state)
    assert action.target == SAME or action.target in LIFECYCLE.state
    assert not [s for s in action.sources if LIFECYCLE.state[s].terminal]


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_what_the_citizen_sees_of_every_action(action):
    assert action.step is None or (action.step.vi and action.step.en)
    assert action.step is not None or not (action.shows or action.facts)  # an internal step shows nothing
    data = set(REGISTRY.data_fields(action.event))
    assert set(action.shows) <= data
    assert {source for _, source in action.facts} <= data | {table.AT}


def test_only_the_change_of_officer_is_internal():
    assert [a.name for a in ACTIONS if a.step is None] == ["reassign"]


def test_the_contract_is_pure_data():
    tree = ast.parse(Path(table.__file__).read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported <= {"__future__", "dataclasses", "functools", "typing"}


# --- the table and routing -----------------------------------------------------------

@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_routing_knows_how_to_apply_every_part_of_every_action(action):
    assert action.roles and action.roles <= set(machine.ACTOR_ROLES)
    assert set(action.needs) <= set(cases.FIELDS)
    assert set(action.rules) <= set(machine.RULES)
    assert action.clock is None or action.clock in cases.EFFECTS
    assert set(action.case) <= set(cases.EFFECTS)
    assert set(REGISTRY.data_fields(action.event)) <= set(cases.DATA)
    life_fields = {f.name for f in dataclass_fields(machine.DossierLife)}
    assert set(action.clears) <= life_fields
    assert action.replaces is None or (action.replaces in action.needs and action.replaces in machine.ALREADY)


def test_the_staff_api_fields_are_the_tables():
    needed = {name for a in ACTIONS for name in a.needs} | set(machine.OPTIONAL_FIELDS)
    assert set(cases.FIELDS) == needed


# --- intake and routing agree on where every action leads ---------------------------

@pytest.mark.parametrize("state,action", [(s, a.name) for a in ACTIONS for s in a.sources])
def test_intake_and_routing_agree_on_the_to_state(state, action):
    spec = LIFECYCLE.action[action]
    to_state = machine.transition(state, action)
    if "to_state" not in REGISTRY.data_fields(spec.event):  # routed, assigned: intake reads the table
        assert spec.to_state(state) == to_state == spec.target
    assert progress.public_status(to_state)["status"] == LIFECYCLE.state[to_state].public


def _center():
    """A center where land dossiers may move between departments (the catalog has one per field)."""
    base = load_catalog().centers["hue-vyda"]
    departments = tuple(replace(d, fields=d.fields + ("land",)) if d.id == "vhxh" else d for d in base.departments)
    officers = tuple(replace(o, skills=o.skills + ("land",)) if o.id == "vyda-o06" else o for o in base.officers)
    return replace(base, departments=departments, officers=officers)


def _staff(role, user, department=None):
    return Principal(user, role, frozenset({"hue-vyda"}), department)


T0 = datetime(2026, 3, 2, 2, 15, tzinfo=timezone.utc)
OFFICER, COUNTER, LEADER = _staff("officer", "vyda-o04", "ktht"), _staff("counter_staff", "c"), _staff("center_leader", "l")
HEAD, HEAD_VHXH = _staff("department_head", "h", "ktht"), _staff("department_head", "h2", "vhxh")
WALKS = {  # between them, every action, through routing's cases as the staff API runs them
    "decided": [("start", OFFICER, {}), ("request_supplement", OFFICER, {"reason": "r", "documents": ["A"]}),
                ("receive_supplement", COUNTER, {}), ("start", OFFICER, {}),
                ("extend_deadline", LEADER, {"reason": "r", "due": "2026-04-28"}), ("approve", OFFICER, {}),
                ("mark_result_ready", OFFICER, {}), ("return_result", COUNTER, {})],
    "moved": [("reassign", HEAD, {"officer": "vyda-o05"}), ("transfer", HEAD, {"reason": "r", "department": "vhxh"}),
              ("send_back", HEAD_VHXH, {"reason": "r"}), ("route", COUNTER, {"department": "ktht"}),
              ("start", OFFICER, {}), ("reject", OFFICER, {"reason": "r"})],
    "withdrawn": [("withdraw", COUNTER, {"reason": "r"})],
}


def _walk(steps):
    center, procedure = _center(), load_catalog().procedures["1.013978"]
    received = make_event("dossier.received.v1", center="hue-vyda", subject="VYDA-260302-0001",
                          actor={"id": "c", "role": "counter_staff"}, time=T0, data={
                              "code": "VYDA-260302-0001", "official_code": "X", "procedure_code": procedure.code,
                              "procedure_name": "p", "field": procedure.field, "channel": "counter",
                              "received_at": "2026-03-02T02:15:00.000Z", "appointment_date": "2026-03-30",
                              "working_days": procedure.working_days, "missing_documents": [], "applicant": "N",
                              "status": "received"})
    case, events = cases.open_case(received, center=center, procedure=procedure, loads={}, now=T0)
    records = list(case["history"])
    for n, (action, principal, body) in enumerate(steps, 1):
        change = cases.act(case, action, principal, body, center=center, procedure=procedure,
                           now=T0 + timedelta(hours=n))
        case = change.applied_to(case)
        records, events = records + change.records, events + change.events
    return records, events


@pytest.mark.parametrize("walk", sorted(WALKS))
def test_every_event_routing_sends_leads_the_citizen_where_routing_went(walk):
    records, events = _walk(WALKS[walk])
    assert [e["type"] for e in events] == [LIFECYCLE.action[r["action"]].event for r in records]
    for rec, event in zip(records, events):
        assert rec["to"] == machine.transition(rec["from"], rec["action"])
        assert progress.follow(event)["current"]["status"] == rec["to"]


def test_the_walks_cover_every_action():
    done = {r["action"] for walk in WALKS.values() for r in _walk(walk)[0]}
    assert done == set(LIFECYCLE.action)


# --- adding an action is one entry in the table ----------------------------------------

CONSULT = Action(
    "consult", ("in_progress",), SAME, ("officer", "department_head"), needs=("reason",),
    event="dossier.consulted.v1", summary="The officer asked another agency for its opinion.",
    step=Label("Lấy ý kiến cơ quan liên quan", "Another agency's opinion requested"), shows=("reason",))
EXTENDED = LIFECYCLE.plus(CONSULT)


class ExtendedLife(machine.DossierLife):
    lifecycle = EXTENDED


def test_a_new_action_is_run_published_and_shown_from_its_entry_alone():
    life = ExtendedLife(state="in_progress", department="vp", officer="o-1")
    officer = {"id": "o-1", "role": "officer", "department": "vp"}
    assert "consult" in life.allowed_actions("officer") and machine.can("officer", "consult", EXTENDED)
    consulted, rec = life.apply("consult", officer, reason="Hỏi ý kiến Sở Tư pháp", at=T0)
    assert consulted.state == "in_progress" and rec["to"] == "in_progress"
    assert machine.replay([rec], start=life) == consulted

    registry = Registry(action_events(EXTENDED))
    assert registry["dossier.consulted.v1"] == EventType("dossier.consulted.v1", TransitionV1, "routing",
                                                          CONSULT.summary)
    data = {"code": "VYDA-260302-0001", "seq": 5, "action": "consult", "from_state": rec["from"],
            "to_state": rec["to"], "reason": rec["reason"], "at": rec["at"], "procedure_code": "1.001193"}
    event = registry.make_event("dossier.consulted.v1", center="hue-vyda", subject="VYDA-260302-0001",
                                data=data, actor=rec["actor"])

    followed = progress.follow(event, EXTENDED)
    assert followed["current"]["status"] == "in_progress" and followed["entry"]["step"] == "consult"
    [shown] = progress.citizen_steps([followed["entry"]], EXTENDED)
    assert shown["label"] == {"vi": "Lấy ý kiến cơ quan liên quan", "en": "Another agency's opinion requested"}
    assert shown["reason"] == "Hỏi ý kiến Sở Tư pháp"


def test_the_extended_table_leaves_the_real_one_alone():
    assert "consult" not in LIFECYCLE.action and "dossier.consulted.v1" not in REGISTRY
    with pytest.raises(machine.UnknownAction):
        machine.DossierLife(state="in_progress").apply("consult", {"id": "o", "role": "officer"})
