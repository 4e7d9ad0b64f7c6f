"""A dossier's case at its department, applied to the stored case document.

Framework-free: the routing service's HTTP and timer entrypoints call these
functions and write what they return. Three things meet here:

- the state machine (``services.routing.lifecycle``): who may do what, when;
- the deadline clock (``onestop.worktime.hours``): due at the close of the
  appointment date, stopped while a supplement is awaited, moved once by the
  center leader;
- the timers: ``dossier.due_soon`` at working-time points before the due time
  (``DUE_SOON``, default 1 working day and 3 working hours), and
  ``dossier.overdue`` when it passes. Each timer is armed in the case document
  with the due time it belongs to, and fired by a conditional write on the
  case's ``version``; so a restart re-arms nothing twice, two routing workers
  cannot both fire it, and a new due time (a supplement, an extension) arms
  fresh timers.

The case document (collection ``assignments``; one per dossier)::

    {"_id": code, "received_event_id": <the dossier's dossier_id (contracts/dossier.py)>,
     "center", "procedure_code", "department_id", "officer_id",
     "status": <lifecycle state>, "open": <counts in the officer's workload>,
     "seq": <transitions so far>, "version": <changes so far, for the conditional write>,
     "life": {DossierLife fields}, "clock": {DeadlineClock.to_dict()},
     "received_at", "channel": <counter | online | postal; absent on cases opened before issue 17>,
     "working_days", "appointment_date", "due_at",
     "paused_s": <working seconds spent waiting for a supplement>,
     "timers": [{"label": "due_soon:1d" | "overdue", "due": <iso>, "at": <datetime>}],
     "next_timer_at": <datetime | None>, "fired": ["due_soon:1d@<due iso>", ...],
     "history": [<transition records>], "supplement": {...}, "result_ready_at",
     "decision", "on_time", "processing_s", "returned_at", "closed_at", "rating": {...}}
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from typing import Any, NamedTuple

from contracts import REGISTRY, make_event
from contracts import lifecycle as table
from onestop import errors
from onestop.errors import PermanentError
from onestop.timestamps import as_utc, iso, parse_time
from onestop.web import access
from onestop.worktime.centers import hours_for
from onestop.worktime.deadline import statutory_deadline
from onestop.worktime.hours import DEFAULT_DUE_SOON, DeadlineClock, WorkingHours
from services.routing import lifecycle
from services.routing.domain import choose_officer

SYSTEM = {"id": "routing", "role": "system"}
ESCALATE_TO = ["department_head", "center_leader"]
WORKLOAD_STATES = ("assigned", "in_progress", "supplement_requested", "supplemented", "approved", "rejected")
NO_DEADLINE = ("result_ready", "returned", "withdrawn")  # the center has answered (or the citizen left)
FIELDS = ("reason", "documents", "officer", "department", "due")


class NotFound(errors.NotFound):
    """No such dossier, or one the caller may not see (the same answer for both)."""

    def __init__(self, code: str):
        super().__init__("No dossier has this code.")
        self.code = code


class ChangedMeanwhile(lifecycle.Conflict):
    """Someone changed the case between our read and our write; the caller retries."""

    error = "changed_meanwhile"


@dataclass
class Change:
    """What one action does to a case: one conditional write."""

    code: str
    version: int
    set: dict
    records: list
    events: list

    def applied_to(self, case: dict) -> dict:
        """The case as this change leaves it (what ``update()`` writes, without the outbox)."""
        return {**case, **self.set, "version": self.version + 1, "history": case.get("history", []) + self.records}

    def update(self) -> dict:
        return {"$set": {**self.set, "version": self.version + 1},
                "$push": {"history": {"$each": self.records}}}


# --- reading the case ---------------------------------------------------------

def life_of(case: dict) -> lifecycle.DossierLife:
    life = dict(case["life"])
    life["transfers"] = tuple(tuple(t) for t in life.get("transfers") or ())
    return lifecycle.DossierLife(**life)


def clock_of(case: dict, hours: WorkingHours) -> DeadlineClock:
    return DeadlineClock.from_dict(case["clock"], hours)


def _life_doc(life: lifecycle.DossierLife) -> dict:
    doc = asdict(life)
    doc["transfers"] = [list(t) for t in life.transfers]
    return doc


def visible_to(case: dict | None, principal) -> bool:
    """Whether the principal may see this case at all: a role that may read cases
    (onestop.web.access), its center, and for officers and department heads their
    own department."""
    if case is None or not principal.may_act_for(case["center"]) or not access.allows(principal, "routing.case"):
        return False
    if principal.role in ("officer", "department_head"):
        return case.get("department_id") == principal.department
    return True


def view(case: dict, principal=None) -> dict:
    """The case as staff see it (no personal data is stored here), with the caller's next actions."""
    life = life_of(case)
    out = {k: case.get(k) for k in ("center", "procedure_code", "department_id", "officer_id", "status", "seq",
                                     "appointment_date", "due_at", "working_days", "supplement", "decision",
                                     "on_time", "rating")}
    out["code"] = case["_id"]
    out["received_at"] = _iso_or_none(case.get("received_at"))
    out["clock"] = case.get("clock")
    out["history"] = case.get("history", [])
    actions = life.allowed_actions()
    if principal is not None:
        actor = actor_of(principal)
        actions = [a for a in life.allowed_actions(principal.role) if _authorized(life, a, actor)]
    out["allowed_actions"] = actions
    return out


def _authorized(life, action, actor) -> bool:
    try:
        life.authorize(action, actor)
        return True
    except lifecycle.ActionForbidden:
        return False


def actor_of(principal) -> dict:
    """The principal's event actor, with the department the lifecycle's scope rules need."""
    actor = principal.actor()
    if principal.department:
        actor["department"] = principal.department
    return actor


def dossier_id_of(case: dict) -> str | None:
    """The dossier the case is for (contracts/dossier.py): the id of the dossier.received.v1
    that opened it, which every case has kept since before dossier_id existed."""
    return case.get("received_event_id")


def _iso_or_none(value):
    return iso(value) if isinstance(value, datetime) else value


# --- opening a case: the automatic route and assignment -----------------------

def open_case(event: dict, *, center, procedure, loads: dict, now: datetime,
              due_soon=DEFAULT_DUE_SOON) -> tuple[dict, list]:
    """The case for a received dossier, routed and assigned; and its two events."""
    data = event["data"]
    department = center.department_for(procedure)
    officer = choose_officer(center.officers_for(procedure), loads)
    if officer is None:
        raise PermanentError(f"no officer of {center.id}/{department.id} can handle {procedure.code}")
    received_at = parse_time(data["received_at"])
    deadline = statutory_deadline(center, procedure, received_at)  # the date intake gave the citizen
    clock = deadline.clock()
    life = lifecycle.DossierLife()
    life, routed = life.apply("route", SYSTEM, at=now, department=department.id)
    life, assigned = life.apply("assign", SYSTEM, at=now, officer=officer.id)
    case = {
        "_id": data["code"], "center": center.id, "procedure_code": procedure.code,
        "received_event_id": event["id"], "received_at": received_at, "routed_at": now,
        "channel": data.get("channel"),  # counter | online | postal, for the reports' online rate
        "working_days": deadline.working_days, "paused_s": 0.0, "fired": [], "history": [routed, assigned],
        "seq": 2, "version": 0,
    }
    case.update(_derived(life, clock, case, due_soon, now))
    common = {"center": center.id, "subject": data["code"], "actor": SYSTEM, "field": procedure.field,
              "correlation_id": event["correlationid"], "time": now}
    events = [
        make_event("dossier.routed.v1", data={
            "code": data["code"], "dossier_id": event["id"], "procedure_code": procedure.code,
            "department_id": department.id, "department_name": department.name_vi, "routed_at": iso(now),
            "seq": 1}, **common),
        make_event("dossier.assigned.v1", data={
            "code": data["code"], "dossier_id": event["id"], "procedure_code": procedure.code,
            "department_id": department.id,
            "officer_id": officer.id, "officer_name": officer.name, "open_dossiers": loads.get(officer.id, 0) + 1,
            "assigned_at": iso(now), "seq": 2, "due_at": case["due_at"]}, **common),
    ]
    return case, events


def _derived(life: lifecycle.DossierLife, clock: DeadlineClock, case: dict, due_soon, now: datetime) -> dict:
    """The fields that follow from the life and the clock (one place computes them).

    A due-soon point already past when the timers are armed (a same-day dossier is
    "1 working day before its due time" from the start) is not armed: the warning
    would say nothing new. The overdue point is always armed.
    """
    running = not clock.paused and life.state not in NO_DEADLINE
    fired = set(case.get("fired", []))
    timers = []
    if running:
        due = clock.due_at.isoformat()
        points = [(f"due_soon:{p}", at) for p, at in zip(due_soon, clock.due_soon_points(due_soon)) if at > now]
        points.append(("overdue", clock.due_at))
        timers = [{"label": label, "due": due, "at": at.astimezone(timezone.utc)}
                  for label, at in points if f"{label}@{due}" not in fired]
    return {
        "life": _life_doc(life), "status": life.state, "department_id": life.department,
        "officer_id": life.officer, "open": life.state in WORKLOAD_STATES, "clock": clock.to_dict(),
        "due_at": None if clock.paused else clock.due_at.isoformat(),
        "appointment_date": None if clock.paused else clock.due_at.date().isoformat(),
        "timers": timers, "next_timer_at": min((t["at"] for t in timers), default=None),
    }


# --- acting on a case ----------------------------------------------------------

def act(case: dict, action: str, principal, body: dict, *, center, procedure, now: datetime,
        correlation_id: str | None = None, due_soon=DEFAULT_DUE_SOON) -> Change:
    """Check and apply one staff action; the caller writes ``Change`` conditionally.

    What the action does is the table's (``contracts.lifecycle``): its clock
    and case effects (``EFFECTS``), and its event, filled field by field
    (``DATA``). Raises lifecycle errors (unknown action, forbidden, conflict,
    invalid details) or NotFound.
    """
    if not visible_to(case, principal):
        raise NotFound(case["_id"] if case else "")
    _check_body(body)
    hours = hours_for(center)
    life, clock = life_of(case), clock_of(case, hours)
    details = {k: v for k, v in body.items() if k != "reason" and v is not None}
    _check_references(action, details, center, procedure, hours, clock, life)
    new_life, rec = life.apply(action, actor_of(principal), reason=body.get("reason"), at=now, **details,
                               **_rule_inputs(action, case, hours, procedure, now))
    step = Step(case, rec, clock_of(case, hours), hours, procedure, now)  # the clock the effects move
    changes = _effects(lifecycle.ACTIONS[action], step)
    new_life, records = _assigned_on_arrival(new_life, [rec], center, procedure, case, now)
    changes.update(_derived(new_life, step.clock, case, due_soon, now))
    changes["seq"] = _numbered(records, int(case.get("seq") or 0))
    events = [_transition_event(r, case, changes, center, procedure, correlation_id, now) for r in records]
    return Change(case["_id"], int(case.get("version") or 0), changes, records, events)


def _check_body(body: dict) -> None:
    unknown = [k for k in body if k not in FIELDS]
    if unknown:
        raise lifecycle.InvalidDetails([{"field": k, "reason": f"not a field of any action; fields: {', '.join(FIELDS)}"}
                                        for k in unknown])


def _rule_inputs(action: str, case: dict, hours: WorkingHours, procedure, now: datetime) -> dict:
    """What the action's decree rules need from the case: the working days since receipt."""
    spec = lifecycle.ACTIONS.get(action)
    if spec is None or table.SUPPLEMENT_WINDOW not in spec.rules:
        return {}
    cal = hours.calendar
    received = cal.start_day(as_utc(case["received_at"]), procedure.cutoff_applies)
    return {"working_days_since_receipt": cal.working_days_between(received, hours.local(now).date())}


def _assigned_on_arrival(life: lifecycle.DossierLife, records: list, center, procedure, case: dict,
                         now: datetime) -> tuple[lifecycle.DossierLife, list]:
    """A dossier that arrives in a department (routed) goes to its least-loaded officer, as at intake."""
    officer = _auto_officer(life.department, center, procedure, case) if life.state == "routed" else None
    if officer is None:  # not routed, or nobody there can handle it: the department head assigns
        return life, records
    life, assigned = life.apply("assign", SYSTEM, at=now, officer=officer)
    return life, records + [assigned]


def _numbered(records: list, seq: int) -> int:
    """Number the records on from the case's ``seq``; the last number."""
    for rec in records:
        seq += 1
        rec["seq"] = seq
    return seq


# --- what an action does to the case: the table's clock and case effects ---------

@dataclass
class Step:
    """One action being applied: what its effects read, and the clock they move."""

    case: dict
    rec: dict
    clock: DeadlineClock
    hours: WorkingHours
    procedure: Any
    now: datetime


def _effects(spec: lifecycle.Action, step: Step) -> dict:
    """The case fields the action's effects set: the clock's first, then the case's."""
    changes = {}
    for name in ((spec.clock,) if spec.clock else ()) + spec.case:
        changes.update(EFFECTS[name](step))
    return changes


def _pause(step: Step) -> dict:
    step.clock.pause(step.now)
    return {}


def _resume(step: Step) -> dict:
    waited = step.hours.between(step.clock.paused_at, step.now)
    step.clock.resume(step.now)
    return {"paused_s": float(step.case.get("paused_s") or 0) + waited}


def _extend(step: Step) -> dict:
    step.clock.extend(step.hours.periods_on(date.fromisoformat(step.rec["due"]))[-1][1])  # the new day's close
    return {}


def _supplement_requested(step: Step) -> dict:
    return {"supplement": {"requested_at": iso(step.now), "documents": step.rec["documents"],
                           "reason": step.rec["reason"], "remaining_working_s": step.clock.remaining_s}}


def _supplement_received(step: Step) -> dict:
    return {"supplement": {**(step.case.get("supplement") or {}), "received_at": iso(step.now)}}


def _decision(step: Step) -> dict:
    return {"decision": step.rec["to"], "decided_at": step.now}


def _result(step: Step) -> dict:
    """When the result was ready, whether on time, and the working time it took (pauses left out)."""
    start = step.hours.count_start(as_utc(step.case["received_at"]), step.procedure.cutoff_applies)
    worked = step.hours.between(start, step.now) - float(step.case.get("paused_s") or 0)
    return {"result_ready_at": step.now, "on_time": step.clock.remaining(step.now) >= 0,
            "processing_s": max(0.0, worked)}


EFFECTS = {
    table.PAUSE: _pause, table.RESUME: _resume, table.EXTEND: _extend,
    table.SUPPLEMENT_REQUESTED: _supplement_requested, table.SUPPLEMENT_RECEIVED: _supplement_received,
    table.DECISION: _decision, table.RESULT: _result,
    table.CLOSED: lambda step: {"closed_at": step.now},
    table.RETURNED: lambda step: {"returned_at": step.now},
}


# --- the fields that name things must name real ones ----------------------------

def _check_references(action, details, center, procedure, hours, clock, life) -> None:
    """InvalidDetails for a department, officer or due date the center does not have."""
    problems = []
    if "department" in details:
        problems += _department_problems(details["department"], center, procedure)
    if "officer" in details:
        problems += _officer_problems(details["officer"], center, procedure, life)
    spec = lifecycle.ACTIONS.get(action)
    if "due" in details and spec is not None and "due" in spec.needs:  # else the lifecycle refuses the field
        problems += _due_problems(details["due"], center, hours, clock)
    if problems:
        raise lifecycle.InvalidDetails(problems)


def _department_problems(dept_id, center, procedure) -> list[dict]:
    try:
        dept = center.department(dept_id)
    except KeyError:
        return [{"field": "department", "reason": f"no department {dept_id!r} in {center.id}; "
                 f"departments: {', '.join(d.id for d in center.departments)}"}]
    if procedure.field not in dept.fields:
        return [{"field": "department", "reason": f"{dept.id} does not handle {procedure.field} procedures"}]
    return []


def _officer_problems(officer_id, center, procedure, life) -> list[dict]:
    officer = next((o for o in center.officers if o.id == officer_id), None)
    if officer is None:
        return [{"field": "officer", "reason": f"no officer {officer_id!r} in {center.id}"}]
    if officer.department != life.department or not officer.can_handle(procedure):
        return [{"field": "officer", "reason": f"{officer.id} is not an officer of {life.department} "
                                               f"who handles {procedure.field}"}]
    return []


def _due_problems(due, center, hours, clock) -> list[dict]:
    try:
        new_day = date.fromisoformat(str(due))
    except ValueError:
        return []  # the lifecycle names the format problem
    current = clock.due_at.date()
    if not hours.calendar.is_working_day(new_day):
        return [{"field": "due", "reason": f"{new_day} is not a working day of {center.id}"}]
    if new_day <= current:
        return [{"field": "due", "reason": f"the new date must be after the current one ({current})"}]
    return []


def _auto_officer(department: str, center, procedure, case) -> str | None:
    candidates = [o for o in center.officers if o.department == department and o.can_handle(procedure)]
    chosen = choose_officer(candidates, {})
    return chosen.id if chosen else None


# --- the action's event: every field its schema declares, filled by name -----------

class Source(NamedTuple):
    """What an event's data is read from: the record, the case before and after the action."""

    rec: dict
    case: dict
    changes: dict  # the case fields the action wrote (department, officer, due date after it)
    center: Any
    procedure: Any


def _transition_event(rec, case, changes, center, procedure, correlation_id, now) -> dict:
    event_type = lifecycle.ACTIONS[rec["action"]].event
    source = Source(rec, case, changes, center, procedure)
    data = {name: DATA[name](source) for name in REGISTRY.data_fields(event_type)}
    return make_event(event_type, data=data, center=center.id, subject=case["_id"],
                      actor={"id": rec["actor"]["id"], "role": rec["actor"]["role"]},
                      correlation_id=correlation_id, time=now, field=procedure.field)


def _officer_name(source: Source) -> str:
    return next(o for o in source.center.officers if o.id == source.changes["officer_id"]).name


# Each data field of routing's lifecycle events, by name: a new action's event needs a
# line here only for a field no other event carries.
DATA = {
    "code": lambda s: s.case["_id"],
    "dossier_id": lambda s: dossier_id_of(s.case),
    "seq": lambda s: s.rec["seq"],
    "action": lambda s: s.rec["action"],
    "from_state": lambda s: s.rec["from"],
    "to_state": lambda s: s.rec["to"],
    "reason": lambda s: s.rec.get("reason"),
    "at": lambda s: s.rec["at"],
    "routed_at": lambda s: s.rec["at"],
    "assigned_at": lambda s: s.rec["at"],
    "procedure_code": lambda s: s.procedure.code,
    "department_id": lambda s: s.changes["department_id"],
    "department_name": lambda s: s.center.department(s.changes["department_id"]).name_vi,
    "officer_id": lambda s: s.changes["officer_id"],
    "officer_name": _officer_name,
    "open_dossiers": lambda s: 1,  # a later assignment does not count the officer's load
    "due_at": lambda s: s.changes["due_at"],
    "appointment_date": lambda s: s.changes["appointment_date"],
    "documents": lambda s: s.rec["documents"],
    "remaining_working_s": lambda s: s.changes["supplement"]["remaining_working_s"],
    "decision": lambda s: s.case.get("decision") or "",
    "collect_at": lambda s: s.center.name_vi,
    "on_time": lambda s: bool(s.case.get("on_time")),
    "from_department": lambda s: s.rec["from_department"],
    "from_officer": lambda s: s.rec.get("from_officer"),
    "previous_due_at": lambda s: s.case["clock"]["due_at"],
    "previous_appointment_date": lambda s: s.case["clock"]["due_at"][:10],
}


# --- timers ----------------------------------------------------------------------

def fire_timers(case: dict, *, center, now: datetime, due_soon=DEFAULT_DUE_SOON,
                field: str | None = None) -> Change | None:
    """The due-soon / overdue events now due for this case, once each.

    When several points have passed (the service was down), only the latest
    one is sent: an overdue dossier does not also get yesterday's "due soon".
    """
    passed = [t for t in case.get("timers", []) if as_utc(t["at"]) <= now]
    if not passed:
        return None
    latest = max(passed, key=lambda t: (as_utc(t["at"]), t["label"] == "overdue"))
    fired = list(case.get("fired", [])) + [f"{t['label']}@{t['due']}" for t in passed]
    remaining = [t for t in case["timers"] if t not in passed]
    label = latest["label"]
    data = {"code": case["_id"], "dossier_id": dossier_id_of(case), "procedure_code": case["procedure_code"],
            "state": case["status"],
            "department_id": case.get("department_id"), "officer_id": case.get("officer_id"),
            "due_at": latest["due"], "escalate_to": ESCALATE_TO}
    if label == "overdue":
        event = make_event("dossier.overdue.v1", center=center.id, subject=case["_id"], actor=SYSTEM, data=data,
                           time=now, field=field)
    else:
        event = make_event("dossier.due_soon.v1", center=center.id, subject=case["_id"], actor=SYSTEM,
                           data={**data, "point": label.split(":", 1)[1]}, time=now, field=field)
    changes = {"fired": fired, "timers": remaining,
               "next_timer_at": min((as_utc(t["at"]) for t in remaining), default=None)}
    if label == "overdue":
        changes["overdue_at"] = now
    return Change(case["_id"], int(case.get("version") or 0), changes, [], [event])
