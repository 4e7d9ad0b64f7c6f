"""A dossier's life as one explicit state machine (framework-free).

States (``STATES``) and the main paths::

    received → routed → assigned → in_progress → approved | rejected → result_ready → returned
    assigned | in_progress → supplement_requested → supplemented → (start) in_progress
    routed | assigned | in_progress | supplemented → (transfer) routed | (send_back) received
    received … supplemented → (withdraw) withdrawn

``returned`` and ``withdrawn`` are terminal: no action is allowed there.

Transition table (``TABLE``; ``=`` means the state does not change)::

    action              from                                         to
    route               received                                     routed
    assign              routed                                       assigned
    start               assigned, supplemented                       in_progress
    request_supplement  assigned, in_progress                        supplement_requested
    receive_supplement  supplement_requested                         supplemented
    approve             in_progress                                  approved
    reject              in_progress                                  rejected
    mark_result_ready   approved, rejected                           result_ready
    return_result       result_ready                                 returned
    withdraw            received, routed, assigned, in_progress,     withdrawn
                        supplement_requested, supplemented
    transfer            routed, assigned, in_progress, supplemented  routed (new department)
    send_back           routed, assigned, in_progress, supplemented  received
    reassign            assigned, in_progress, supplement_requested, =
                        supplemented
    extend_deadline     every open state except result_ready         =

Who may act, and the fields each action needs (also ``TABLE``)::

    action              roles                                     needs
    route               system, counter_staff                     department
    assign              system, department_head                   officer
    start               officer, department_head                  -
    request_supplement  officer, department_head                  reason, documents (non-empty)
    receive_supplement  counter_staff, officer, department_head   -
    approve             officer, department_head                  -
    reject              officer, department_head                  reason
    mark_result_ready   officer, department_head                  -
    return_result       counter_staff                             -
    withdraw            counter_staff                             reason
    transfer            department_head                           reason, department
    send_back           department_head, system                   reason
    reassign            department_head                           officer
    extend_deadline     center_leader                             reason, due

Role table (``can(role, action)``)::

    counter_staff    route (by hand, when automatic routing found nothing), receive_supplement,
                     return_result, withdraw (records the citizen's request)
    officer          start, request_supplement, receive_supplement, approve, reject,
                     mark_result_ready -- only on dossiers assigned to them
    department_head  everything an officer does, plus assign, reassign, transfer, send_back --
                     only on dossiers in their own department
    center_leader    extend_deadline
    system           route, assign, send_back (the routing service)
    auditor          nothing (read-only)
    operator         nothing (runs the platform; replays events, never decides a dossier)

Choices made here:

* **Withdrawal** is allowed in every state before a decision (``received``
  through ``supplemented``); once ``approved`` or ``rejected`` the decision
  stands and the result is produced and returned.
* **After a supplement** the officer resumes with ``start`` (``supplemented →
  in_progress``); ``approve``/``reject`` are accepted only from
  ``in_progress``, so every decision follows an explicit "work resumed" event
  and the pause (the due date moves by its length) ends at a known time.
* **Transfer** sends the dossier to ``routed`` in the new department (the
  officer is cleared; the new department assigns) and records
  ``from_department``; the target must differ from the current department.
  **Send back** returns it to intake (``received``; department and officer
  cleared) for re-routing.
* ``reassign`` and ``extend_deadline`` keep the state; ``reassign`` records
  ``from_officer``.

Decree rules (Decree 61/2018, Art. 9) checked by ``DossierLife.apply``:

* Supplements are requested **once, completely** ("một lần đầy đủ"): a second
  ``request_supplement`` on the same dossier is refused (``RuleViolation``,
  rule ``supplement_once``), whatever happened in between (transfer,
  send-back).
* A department finding a dossier insufficient sends the supplement request
  **within 3 working days of receipt**: the caller passes
  ``working_days_since_receipt`` (working days after the receipt day, e.g.
  ``cal.working_days_between(cal.start_day(received_at), today)`` with
  ``onestop.worktime.days.WorkingCalendar``; the receipt day is 0), and the request
  is refused when it is over ``SUPPLEMENT_WINDOW_DAYS`` (rule
  ``supplement_window``). ``supplement_window_ok`` exposes the check.
* The due date can be **reset at most once** after an apology: a second
  ``extend_deadline`` is refused (rule ``extend_once``).

Errors (each has ``status``, ``error`` and ``body()`` for the HTTP layer):
``UnknownAction`` 404, ``ActionForbidden`` 403 (a subclass of
``onestop.web.auth.Forbidden``), ``InvalidTransition`` and ``RuleViolation`` 409
(both ``Conflict``; the body names the current state and the allowed
actions), ``InvalidDetails`` 422 (an ``onestop.errors.InvalidInput``; the
body lists ``{"field", "reason"}``). ``DossierLife.apply`` checks in that
order: known action, role, scope, state, details, decree rules.

    >>> life = DossierLife()
    >>> life, rec = life.apply("route", {"id": "routing", "role": "system"}, department="vp")
    >>> rec["from"], rec["to"], rec["department"], life.state
    ('received', 'routed', 'vp', 'routed')
    >>> transition("received", "approve")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    services.routing.lifecycle.InvalidTransition: cannot approve a dossier in state received; allowed actions: route, ...
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timezone

from onestop.web.auth import ROLES as STAFF_ROLES
from onestop.web.auth import Forbidden
from onestop.errors import InvalidInput

STATES = ("received", "routed", "assigned", "in_progress", "supplement_requested", "supplemented",
          "approved", "rejected", "result_ready", "returned", "withdrawn")
TERMINAL = frozenset({"returned", "withdrawn"})
OPEN_STATES = tuple(s for s in STATES if s not in TERMINAL)
BEFORE_DECISION = ("received", "routed", "assigned", "in_progress", "supplement_requested", "supplemented")
SYSTEM = "system"
ACTOR_ROLES = STAFF_ROLES + (SYSTEM,)
SAME = "="  # the to-state of an action that keeps the state

SUPPLEMENT_WINDOW_DAYS = 3  # Decree 61/2018: supplement request within 3 working days of receipt
MAX_SUPPLEMENT_REQUESTS = 1  # "một lần đầy đủ"
MAX_DEADLINE_EXTENSIONS = 1  # the date can be reset at most once

_WORKING = ("routed", "assigned", "in_progress", "supplemented")
_OFFICER_WORK = ("officer", "department_head")

# action, from-states, to-state, roles, required fields. The single source of truth.
TABLE = (
    ("route", ("received",), "routed", ("system", "counter_staff"), ("department",)),
    ("assign", ("routed",), "assigned", ("system", "department_head"), ("officer",)),
    ("start", ("assigned", "supplemented"), "in_progress", _OFFICER_WORK, ()),
    ("request_supplement", ("assigned", "in_progress"), "supplement_requested", _OFFICER_WORK,
     ("reason", "documents")),
    ("receive_supplement", ("supplement_requested",), "supplemented", ("counter_staff",) + _OFFICER_WORK, ()),
    ("approve", ("in_progress",), "approved", _OFFICER_WORK, ()),
    ("reject", ("in_progress",), "rejected", _OFFICER_WORK, ("reason",)),
    ("mark_result_ready", ("approved", "rejected"), "result_ready", _OFFICER_WORK, ()),
    ("return_result", ("result_ready",), "returned", ("counter_staff",), ()),
    ("withdraw", BEFORE_DECISION, "withdrawn", ("counter_staff",), ("reason",)),
    ("transfer", _WORKING, "routed", ("department_head",), ("reason", "department")),
    ("send_back", _WORKING, "received", ("department_head", "system"), ("reason",)),
    ("reassign", ("assigned", "in_progress", "supplement_requested", "supplemented"), SAME,
     ("department_head",), ("officer",)),
    ("extend_deadline", tuple(s for s in OPEN_STATES if s != "result_ready"), SAME,
     ("center_leader",), ("reason", "due")),
)

# Which dossiers a role may touch: its own (assignee) or its department's. Others: any in their center.
SCOPE = {"officer": "assignee", "department_head": "department"}

# Fields an action may carry beyond its required ones.
OPTIONAL_FIELDS = ("reason",)


@dataclass(frozen=True)
class Action:
    name: str
    sources: tuple
    target: str
    roles: frozenset
    needs: tuple

    def to_state(self, state: str) -> str:
        return state if self.target == SAME else self.target


ACTIONS: dict[str, Action] = {
    name: Action(name, tuple(sources), target, frozenset(roles), tuple(needs))
    for name, sources, target, roles, needs in TABLE
}
ACTION_NAMES = tuple(ACTIONS)


# --- errors -----------------------------------------------------------------

class LifecycleError(Exception):
    status = 500
    error = "lifecycle_error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def body(self) -> dict:
        return {"error": self.error, "message": self.message}


class UnknownAction(LifecycleError):
    status = 404
    error = "unknown_action"

    def __init__(self, action):
        super().__init__(f"unknown action {action!r}; known actions: {', '.join(ACTION_NAMES)}")
        self.action = action
        self.known_actions = list(ACTION_NAMES)


class Conflict(LifecycleError):
    """The dossier's state does not allow this now: HTTP 409."""

    status = 409
    error = "conflict"

    def __init__(self, current_state: str, action: str, allowed_actions: list, message: str):
        super().__init__(message)
        self.current_state, self.action = current_state, action
        self.allowed_actions = list(allowed_actions)

    def body(self) -> dict:
        return {"error": self.error, "message": self.message, "current_state": self.current_state,
                "action": self.action, "allowed_actions": self.allowed_actions}


class InvalidTransition(Conflict):
    error = "invalid_transition"

    def __init__(self, current_state: str, action: str, allowed_actions: list):
        allowed = ", ".join(allowed_actions) if allowed_actions else "none (the dossier is closed)"
        super().__init__(current_state, action, allowed_actions,
                         f"cannot {action} a dossier in state {current_state}; allowed actions: {allowed}")


class RuleViolation(Conflict):
    """A decree rule refuses the action; ``rule`` names it."""

    error = "rule_violated"

    def __init__(self, current_state: str, action: str, allowed_actions: list, rule: str, reason: str):
        super().__init__(current_state, action, allowed_actions, reason)
        self.rule, self.reason = rule, reason

    def body(self) -> dict:
        return {**super().body(), "rule": self.rule}


class InvalidDetails(InvalidInput, LifecycleError):
    """Missing or wrong fields for an action: HTTP 422, ``problems`` as in InvalidInput."""

    status = 422
    error = "validation_failed"

    def __init__(self, problems: list[dict]):
        InvalidInput.__init__(self, problems)
        self.message = str(self)

    def body(self) -> dict:
        return {"error": self.error, "message": "The action was not accepted.", "fields": self.problems}


class ActionForbidden(Forbidden, LifecycleError):
    """The actor's role or scope does not allow the action: HTTP 403."""


# --- the pure table ---------------------------------------------------------

def _action(action: str) -> Action:
    try:
        return ACTIONS[action]
    except (KeyError, TypeError):
        raise UnknownAction(action) from None


def _check_state(state: str) -> None:
    if state not in STATES:
        raise ValueError(f"unknown dossier state {state!r}")


def allowed_actions(state: str, role: str | None = None) -> list[str]:
    """The actions the table allows in `state` (for `role`, if given), in table order.

    >>> allowed_actions("supplement_requested")
    ['receive_supplement', 'withdraw', 'reassign', 'extend_deadline']
    >>> allowed_actions("returned")
    []
    """
    _check_state(state)
    return [a.name for a in ACTIONS.values() if state in a.sources and (role is None or role in a.roles)]


def transition(state: str, action: str) -> str:
    """The state after `action`, or InvalidTransition naming the state and the allowed actions."""
    _check_state(state)
    spec = _action(action)
    if state not in spec.sources:
        raise InvalidTransition(state, action, allowed_actions(state))
    return spec.to_state(state)


def can(role: str, action: str) -> bool:
    """Whether `role` may perform `action` at all (scope is checked by DossierLife.apply)."""
    spec = ACTIONS.get(action) if isinstance(action, str) else None
    return spec is not None and role in spec.roles


def supplement_window_ok(working_days_since_receipt: int, window: int = SUPPLEMENT_WINDOW_DAYS) -> bool:
    """True while a supplement may still be requested: 0..`window` working days after receipt.

    >>> [supplement_window_ok(d) for d in (0, 3, 4)]
    [True, True, False]
    """
    if isinstance(working_days_since_receipt, bool) or not isinstance(working_days_since_receipt, int) \
            or working_days_since_receipt < 0:
        raise ValueError("working_days_since_receipt must be a whole number >= 0")
    return working_days_since_receipt <= window


# --- transition records -----------------------------------------------------

def _iso(at: datetime | None) -> str:
    moment = at or datetime.now(timezone.utc)
    if moment.utcoffset() is None:
        raise ValueError("`at` must be timezone-aware")
    moment = moment.astimezone(timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(value) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _check_field(name: str, value) -> tuple[object, str | None]:
    """(normalised value, problem or None) for one field."""
    if value is None:
        return value, "required for this action"
    if name == "documents":
        if not isinstance(value, (list, tuple)) or not value:
            return value, "list at least one missing document; a supplement is requested once, completely"
        if not all(_text(d) for d in value):
            return value, "every document must be a non-empty name"
        return [d.strip() for d in value], None
    if name == "due":
        if isinstance(value, datetime):
            return value, "must be a date (YYYY-MM-DD), not a time"
        if isinstance(value, date):
            return value.isoformat(), None
        try:
            return date.fromisoformat(str(value).strip()).isoformat(), None
        except ValueError:
            return value, "must be a date (YYYY-MM-DD)"
    if not _text(value):
        return value, "must be non-empty text"
    return value.strip(), None


def record(state: str, action: str, *, actor: dict, reason: str | None = None,
           at: datetime | None = None, **details) -> dict:
    """The transition record (the event payload body)::

        {"action", "from", "to", "actor": {"id", "role"}, "reason", "at", **required fields}

    Checks the transition (409) and the fields the action needs (422: a
    reason for request_supplement, reject, transfer, send_back, withdraw and
    extend_deadline; a non-empty ``documents`` list for request_supplement;
    ``department``, ``officer`` or ``due`` where the table says). Fields the
    action does not use are refused, so a typo is not silently dropped.
    Roles and decree rules are DossierLife.apply's business.
    """
    to_state = transition(state, action)
    spec = ACTIONS[action]
    if not isinstance(actor, dict) or not _text(actor.get("id")) or not _text(actor.get("role")):
        raise ValueError("actor must be {'id': ..., 'role': ...}")
    problems, values = [], {}
    given = {"reason": reason, **details}
    for name in given:
        if name not in spec.needs and name not in OPTIONAL_FIELDS:
            problems.append({"field": name, "reason": f"not used by {action}"})
    for name in spec.needs:
        value, problem = _check_field(name, given.get(name))
        if problem:
            problems.append({"field": name, "reason": problem})
        values[name] = value
    if "reason" not in spec.needs and reason is not None:
        value, problem = _check_field("reason", reason)
        if problem:
            problems.append({"field": "reason", "reason": problem})
        values["reason"] = value
    if problems:
        raise InvalidDetails(problems)
    body = {"action": action, "from": state, "to": to_state,
            "actor": {"id": actor["id"], "role": actor["role"]},
            "reason": values.pop("reason", None), "at": _iso(at)}
    body.update(values)
    return body


# --- the dossier's life: state plus the facts the decree rules need ---------

@dataclass(frozen=True)
class DossierLife:
    """What the lifecycle knows of one dossier; changed only by `evolve` (pure)."""

    state: str = "received"
    department: str | None = None
    officer: str | None = None
    supplements_requested: int = 0
    deadline_extensions: int = 0
    due: str | None = None
    transfers: tuple = ()  # ((from_department, to_department), ...)

    def allowed_actions(self, role: str | None = None) -> list[str]:
        """The table's actions minus those a decree rule has used up."""
        return [a for a in allowed_actions(self.state, role) if not self._used_up(a)]

    def _used_up(self, action: str) -> str | None:
        if action == "request_supplement" and self.supplements_requested >= MAX_SUPPLEMENT_REQUESTS:
            return "supplement_once"
        if action == "extend_deadline" and self.deadline_extensions >= MAX_DEADLINE_EXTENSIONS:
            return "extend_once"
        return None

    def authorize(self, action: str, actor: dict) -> None:
        """ActionForbidden unless the actor's role and scope allow `action` on this dossier."""
        spec = _action(action)
        role = actor.get("role")
        if role not in spec.roles:
            raise ActionForbidden(f"role {role} may not {action}; allowed roles: {', '.join(sorted(spec.roles))}")
        scope = SCOPE.get(role)
        if scope == "assignee" and (self.officer is None or actor.get("id") != self.officer):
            raise ActionForbidden(f"an officer may only {action} dossiers assigned to them")
        if scope == "department" and (self.department is None or actor.get("department") != self.department):
            raise ActionForbidden(f"a department head may only {action} dossiers of their own department")

    def apply(self, action: str, actor: dict, *, reason: str | None = None, at: datetime | None = None,
              working_days_since_receipt: int | None = None, **details) -> tuple["DossierLife", dict]:
        """Check everything, then return (the new life, the transition record).

        `actor` is ``{"id", "role", "department"?}`` (a department head's
        department comes from their token). `working_days_since_receipt` is
        required for request_supplement.
        """
        spec = _action(action)
        self.authorize(action, actor)
        if self.state not in spec.sources:
            raise InvalidTransition(self.state, action, self.allowed_actions())
        rec = record(self.state, action, actor=actor, reason=reason, at=at, **details)
        if action == "transfer" and rec["department"] == self.department:
            raise InvalidDetails([{"field": "department", "reason": "the dossier is already in this department"}])
        if action == "reassign" and rec["officer"] == self.officer:
            raise InvalidDetails([{"field": "officer", "reason": "the dossier is already assigned to this officer"}])
        rule = self._used_up(action)
        if rule == "supplement_once":
            raise RuleViolation(self.state, action, self.allowed_actions(), rule,
                                "a supplement was already requested for this dossier; it is requested once, "
                                "completely (một lần đầy đủ)")
        if rule == "extend_once":
            raise RuleViolation(self.state, action, self.allowed_actions(), rule,
                                "the due date was already reset once; it can be reset at most once")
        if action == "request_supplement":
            if working_days_since_receipt is None:
                raise TypeError("request_supplement needs working_days_since_receipt")
            if not supplement_window_ok(working_days_since_receipt):
                raise RuleViolation(
                    self.state, action, [a for a in self.allowed_actions() if a != action], "supplement_window",
                    f"a supplement must be requested within {SUPPLEMENT_WINDOW_DAYS} working days of receipt; "
                    f"it is {working_days_since_receipt} working days now")
        if action == "transfer":
            rec["from_department"] = self.department
        if action == "reassign":
            rec["from_officer"] = self.officer
        return evolve(self, rec), rec


def evolve(life: DossierLife, rec: dict) -> DossierLife:
    """The life after a (checked) transition record: the one place effects are applied."""
    action = rec["action"]
    changes = {"state": rec["to"]}
    if action == "route":
        changes["department"] = rec["department"]
    elif action in ("assign", "reassign"):
        changes["officer"] = rec["officer"]
    elif action == "transfer":
        changes.update(department=rec["department"], officer=None,
                       transfers=life.transfers + ((life.department, rec["department"]),))
    elif action == "send_back":
        changes.update(department=None, officer=None)
    elif action == "request_supplement":
        changes["supplements_requested"] = life.supplements_requested + 1
    elif action == "extend_deadline":
        changes.update(deadline_extensions=life.deadline_extensions + 1, due=rec["due"])
    return replace(life, **changes)


def replay(records, start: DossierLife | None = None) -> DossierLife:
    """Fold stored transition records back into a DossierLife (records are trusted)."""
    life = start or DossierLife()
    for rec in records:
        if rec["from"] != life.state:
            raise ValueError(f"record {rec['action']} starts from {rec['from']}, but the dossier is {life.state}")
        life = evolve(life, rec)
    return life
