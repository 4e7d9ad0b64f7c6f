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

    {"_id": code, "center", "procedure_code", "department_id", "officer_id",
     "status": <lifecycle state>, "open": <counts in the officer's workload>,
     "seq": <transitions so far>, "version": <changes so far, for the conditional write>,
     "life": {DossierLife fields}, "clock": {DeadlineClock.to_dict()},
     "received_at", "working_days", "appointment_date", "due_at",
     "paused_s": <working seconds spent waiting for a supplement>,
     "timers": [{"label": "due_soon:1d" | "overdue", "due": <iso>, "at": <datetime>}],
     "next_timer_at": <datetime | None>, "fired": ["due_soon:1d@<due iso>", ...],
     "history": [<transition records>], "supplement": {...}, "result_ready_at",
     "decision", "on_time", "processing_s", "returned_at", "closed_at", "rating": {...}}
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from functools import lru_cache

from onestop.worktime.centers import calendar_for
from onestop.errors import PermanentError
from contracts import make_event
from onestop.timestamps import as_utc, iso
from onestop.worktime.hours import DEFAULT_DUE_SOON, DeadlineClock, WorkingHours
from services.routing import lifecycle
from services.routing.domain import choose_officer
from contracts.routing import TRANSITION_EVENTS

SYSTEM = {"id": "routing", "role": "system"}
ESCALATE_TO = ["department_head", "center_leader"]
WORKLOAD_STATES = ("assigned", "in_progress", "supplement_requested", "supplemented", "approved", "rejected")
CLOCK_STOPPED = ("supplement_requested",)
NO_DEADLINE = ("result_ready", "returned", "withdrawn")  # the center has answered (or the citizen left)
FIELDS = ("reason", "documents", "officer", "department", "due")


class NotFound(Exception):
    """No such dossier, or one the caller may not see (the same answer for both)."""

    status = 404
    error = "not_found"

    def __init__(self, code: str):
        super().__init__(f"no dossier {code}")
        self.message = "No dossier has this code."

    def body(self) -> dict:
        return {"error": self.error, "message": self.message}


class ChangedMeanwhile(lifecycle.Conflict):
    """Someone changed the case between our read and our write; the caller retries."""

    error = "changed_meanwhile"


@lru_cache(maxsize=256)
def hours_for(center) -> WorkingHours:
    """The center's working hours on its working-day calendar."""
    return WorkingHours(calendar_for(center), center.office_hours or None)


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
    """Whether the principal may see this case at all: its center, and for
    officers and department heads their own department."""
    if case is None or not principal.may_act_for(case["center"]):
        return False
    if principal.role in ("officer", "department_head"):
        return case.get("department_id") == principal.department
    return principal.role in ("counter_staff", "center_leader", "auditor")


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
    hours = hours_for(center)
    received_at = datetime.fromisoformat(data["received_at"].replace("Z", "+00:00"))
    clock = DeadlineClock.start(hours, received_at, data["working_days"], procedure.cutoff_applies)
    life = lifecycle.DossierLife()
    life, routed = life.apply("route", SYSTEM, at=now, department=department.id)
    life, assigned = life.apply("assign", SYSTEM, at=now, officer=officer.id)
    case = {
        "_id": data["code"], "center": center.id, "procedure_code": procedure.code,
        "received_event_id": event["id"], "received_at": received_at, "routed_at": now,
        "working_days": data["working_days"], "paused_s": 0.0, "fired": [], "history": [routed, assigned],
        "seq": 2, "version": 0,
    }
    case.update(_derived(life, clock, case, due_soon, now))
    common = {"center": center.id, "subject": data["code"], "actor": SYSTEM,
              "correlation_id": event["correlation_id"], "time": now}
    events = [
        make_event("dossier.routed.v1", data={
            "code": data["code"], "procedure_code": procedure.code, "department_id": department.id,
            "department_name": department.name_vi, "routed_at": iso(now), "seq": 1}, **common),
        make_event("dossier.assigned.v1", data={
            "code": data["code"], "procedure_code": procedure.code, "department_id": department.id,
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

    Raises lifecycle errors (404 unknown action, 403, 409, 422) or NotFound.
    """
    if not visible_to(case, principal):
        raise NotFound(case["_id"] if case else "")
    unknown = [k for k in body if k not in FIELDS]
    if unknown:
        raise lifecycle.InvalidDetails([{"field": k, "reason": f"not a field of any action; fields: {', '.join(FIELDS)}"}
                                        for k in unknown])
    hours = hours_for(center)
    life, clock = life_of(case), clock_of(case, hours)
    details = {k: v for k, v in body.items() if k != "reason" and v is not None}
    _check_references(action, details, case, center, procedure, hours, clock, life)
    extra = {}
    if action == "request_supplement":
        cal = hours.calendar
        received = as_utc(case["received_at"])
        extra["working_days_since_receipt"] = cal.working_days_between(
            cal.start_day(received, procedure.cutoff_applies), hours.local(now).date())
    actor = actor_of(principal)
    new_life, rec = life.apply(action, actor, reason=body.get("reason"), at=now, **details, **extra)
    records, changes = [rec], {}
    fresh = clock_of(case, hours)  # the clock after the action
    if action == "request_supplement":
        fresh.pause(now)
        changes["supplement"] = {"requested_at": iso(now), "documents": rec["documents"], "reason": rec["reason"],
                                 "remaining_working_s": fresh.remaining_s}
    elif action == "receive_supplement":
        changes["paused_s"] = float(case.get("paused_s") or 0) + hours.between(fresh.paused_at, now)
        fresh.resume(now)
        changes["supplement"] = {**(case.get("supplement") or {}), "received_at": iso(now)}
    elif action == "extend_deadline":
        fresh.extend(hours.periods_on(date.fromisoformat(rec["due"]))[-1][1])
    elif action in ("approve", "reject"):
        changes["decision"] = rec["to"]
        changes["decided_at"] = now
    elif action == "mark_result_ready":
        on_time = fresh.remaining(now) >= 0
        start = hours.count_start(as_utc(case["received_at"]), procedure.cutoff_applies)
        changes.update(result_ready_at=now, on_time=on_time,
                       processing_s=max(0.0, hours.between(start, now) - float(case.get("paused_s") or 0)))
    elif action in ("return_result", "withdraw"):
        changes["closed_at"] = now
        if action == "return_result":
            changes["returned_at"] = now
    if action in ("transfer", "route") and new_life.state == "routed":
        officer = _auto_officer(new_life.department, center, procedure, case)
        if officer is not None:  # the new department's least-loaded officer, as at intake
            new_life, assigned = new_life.apply("assign", SYSTEM, at=now, officer=officer)
            records.append(assigned)
    changes.update(_derived(new_life, fresh, case, due_soon, now))
    seq = int(case.get("seq") or 0)
    events = []
    for rec in records:
        seq += 1
        rec["seq"] = seq
        events.append(_transition_event(rec, case, changes, center, procedure, correlation_id, now))
    changes["seq"] = seq
    return Change(case["_id"], int(case.get("version") or 0), changes, records, events)


def _check_references(action, details, case, center, procedure, hours, clock, life):
    """The fields that name things must name real ones (422)."""
    problems = []
    if "department" in details:
        try:
            dept = center.department(details["department"])
            if procedure.field not in dept.fields:
                problems.append({"field": "department",
                                 "reason": f"{dept.id} does not handle {procedure.field} procedures"})
        except KeyError:
            problems.append({"field": "department", "reason": f"no department {details['department']!r} in {center.id}; "
                             f"departments: {', '.join(d.id for d in center.departments)}"})
    if "officer" in details:
        officer = next((o for o in center.officers if o.id == details["officer"]), None)
        if officer is None:
            problems.append({"field": "officer", "reason": f"no officer {details['officer']!r} in {center.id}"})
        elif officer.department != life.department or not officer.can_handle(procedure):
            problems.append({"field": "officer", "reason": f"{officer.id} is not an officer of {life.department} "
                                                            f"who handles {procedure.field}"})
    if action == "extend_deadline" and "due" in details:
        try:
            new_day = date.fromisoformat(str(details["due"]))
        except ValueError:
            new_day = None  # the lifecycle names the format problem
        if new_day is not None:
            current = clock.due_at.date()
            if not hours.calendar.is_working_day(new_day):
                problems.append({"field": "due", "reason": f"{new_day} is not a working day of {center.id}"})
            elif new_day <= current:
                problems.append({"field": "due", "reason": f"the new date must be after the current one ({current})"})
    if problems:
        raise lifecycle.InvalidDetails(problems)


def _auto_officer(department: str, center, procedure, case) -> str | None:
    candidates = [o for o in center.officers if o.department == department and o.can_handle(procedure)]
    chosen = choose_officer(candidates, {})
    return chosen.id if chosen else None


def _transition_event(rec, case, changes, center, procedure, correlation_id, now) -> dict:
    action = rec["action"]
    common = {"center": center.id, "subject": case["_id"], "actor": {"id": rec["actor"]["id"], "role": rec["actor"]["role"]},
              "correlation_id": correlation_id, "time": now}
    if action == "route":
        dept = center.department(rec["department"])
        return make_event("dossier.routed.v1", data={
            "code": case["_id"], "procedure_code": procedure.code, "department_id": dept.id,
            "department_name": dept.name_vi, "routed_at": rec["at"], "seq": rec["seq"]}, **common)
    if action == "assign":
        officer = next(o for o in center.officers if o.id == rec["officer"])
        return make_event("dossier.assigned.v1", data={
            "code": case["_id"], "procedure_code": procedure.code, "department_id": officer.department,
            "officer_id": officer.id, "officer_name": officer.name, "open_dossiers": 1,
            "assigned_at": rec["at"], "seq": rec["seq"], "due_at": changes.get("due_at")}, **common)
    event_type, _, _ = TRANSITION_EVENTS[action]
    data = {"code": case["_id"], "seq": rec["seq"], "action": action, "from_state": rec["from"],
            "to_state": rec["to"], "reason": rec.get("reason"), "at": rec["at"], "procedure_code": procedure.code,
            "department_id": changes["department_id"], "officer_id": changes["officer_id"],
            "due_at": changes["due_at"], "appointment_date": changes["appointment_date"]}
    if action == "request_supplement":
        data.update(documents=rec["documents"], remaining_working_s=changes["supplement"]["remaining_working_s"])
    elif action == "mark_result_ready":
        data.update(decision=case.get("decision") or "", collect_at=center.name_vi)
    elif action == "return_result":
        data["on_time"] = bool(case.get("on_time"))
    elif action == "transfer":
        data["from_department"] = rec["from_department"]
    elif action == "reassign":
        data["from_officer"] = rec.get("from_officer")
    elif action == "extend_deadline":
        data.update(previous_due_at=case["clock"]["due_at"],
                    previous_appointment_date=case["clock"]["due_at"][:10])
    return make_event(event_type, data=data, **common)


# --- timers ----------------------------------------------------------------------

def fire_timers(case: dict, *, center, now: datetime, due_soon=DEFAULT_DUE_SOON) -> Change | None:
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
    data = {"code": case["_id"], "procedure_code": case["procedure_code"], "state": case["status"],
            "department_id": case.get("department_id"), "officer_id": case.get("officer_id"),
            "due_at": latest["due"], "escalate_to": ESCALATE_TO}
    if label == "overdue":
        event = make_event("dossier.overdue.v1", center=center.id, subject=case["_id"], actor=SYSTEM, data=data, time=now)
    else:
        event = make_event("dossier.due_soon.v1", center=center.id, subject=case["_id"], actor=SYSTEM,
                           data={**data, "point": label.split(":", 1)[1]}, time=now)
    changes = {"fired": fired, "timers": remaining,
               "next_timer_at": min((as_utc(t["at"]) for t in remaining), default=None)}
    if label == "overdue":
        changes["overdue_at"] = now
    return Change(case["_id"], int(case.get("version") or 0), changes, [], [event])
