"""A dossier's life as one explicit state machine (framework-free), run from the table in contracts/lifecycle.py.

The states, the actions, who may take each and the fields each needs are
described once, in ``contracts.lifecycle.LIFECYCLE`` (its docstring draws the
main paths). This module runs that table: ``allowed_actions``, ``transition``,
``can``, ``record`` (the transition record, with its fields checked) and
``DossierLife`` (the state plus the facts the decree rules need; ``evolve`` is
the one place a record changes it).

Scope, on top of the table's roles (``SCOPE``): an officer acts only on
dossiers assigned to them, a department head only on their own department's.
A counter clerk routes by hand only what automatic routing could not place;
auditors and operators never decide a dossier.

Decree rules (Decree 61/2018, Art. 9), named in the table's ``rules`` and
checked here by ``DossierLife.apply``:

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

Errors are kinds of ``onestop.errors`` (the HTTP edge gives each its status),
and all are ``LifecycleError``: ``UnknownAction`` (a ``NotFound``),
``ActionForbidden`` (a ``Forbidden``; the body has the ``reason``),
``InvalidTransition`` and ``RuleViolation`` (both ``Conflict``; the body names
the current state and the allowed actions, and the rule), ``InvalidDetails``
(an ``InvalidInput``; the body lists ``{"field", "reason"}``).
``DossierLife.apply`` checks in that order: known action, role, scope, state,
details, decree rules.

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
from typing import ClassVar

from contracts.lifecycle import EXTEND_ONCE, LIFECYCLE, SUPPLEMENT_ONCE, SUPPLEMENT_WINDOW, Action, Lifecycle
from onestop import errors
from onestop.errors import DomainError, InvalidInput
from onestop.web.auth import ROLES as STAFF_ROLES

STATES = tuple(s.name for s in LIFECYCLE.states)
TERMINAL = frozenset(s.name for s in LIFECYCLE.states if s.terminal)
OPEN_STATES = tuple(s for s in STATES if s not in TERMINAL)
SYSTEM = "system"
ACTOR_ROLES = STAFF_ROLES + (SYSTEM,)
ACTIONS: dict[str, Action] = LIFECYCLE.action
ACTION_NAMES = tuple(ACTIONS)

SUPPLEMENT_WINDOW_DAYS = 3  # Decree 61/2018: supplement request within 3 working days of receipt
MAX_SUPPLEMENT_REQUESTS = 1  # "một lần đầy đủ"
MAX_DEADLINE_EXTENSIONS = 1  # the date can be reset at most once

# Which dossiers a role may touch: its own (assignee) or its department's. Others: any in their center.
SCOPE = {"officer": "assignee", "department_head": "department"}

# Fields an action may carry beyond its required ones.
OPTIONAL_FIELDS = ("reason",)
# The fields an action names that the dossier's life keeps (route names the department, ...).
KEPT = ("department", "officer", "due")
# Why a transfer or reassignment that changes nothing is refused, by the field it replaces.
ALREADY = {"department": "the dossier is already in this department",
           "officer": "the dossier is already assigned to this officer"}


@dataclass(frozen=True)
class Once:
    """A decree rule that allows an action a limited number of times on one dossier."""

    counter: str  # the DossierLife field that counts the action
    limit: int
    refusal: str


ONCE = {
    SUPPLEMENT_ONCE: Once("supplements_requested", MAX_SUPPLEMENT_REQUESTS,
                          "a supplement was already requested for this dossier; it is requested once, "
                          "completely (một lần đầy đủ)"),
    EXTEND_ONCE: Once("deadline_extensions", MAX_DEADLINE_EXTENSIONS,
                      "the due date was already reset once; it can be reset at most once"),
}
RULES = (*ONCE, SUPPLEMENT_WINDOW)  # every rule the table may name


# --- errors -----------------------------------------------------------------

class LifecycleError(DomainError):
    """Any refusal of the lifecycle; each one below is also a kind of ``onestop.errors``."""


class UnknownAction(errors.NotFound, LifecycleError):
    error = "unknown_action"

    def __init__(self, action, known=ACTION_NAMES):
        super().__init__(f"unknown action {action!r}; known actions: {', '.join(known)}")
        self.action = action
        self.known_actions = list(known)


class Conflict(errors.Conflict, LifecycleError):
    """The dossier's state does not allow this now; the body names the state and the allowed actions."""

    def __init__(self, current_state: str, action: str, allowed_actions: list, message: str, **details):
        allowed = list(allowed_actions)
        super().__init__(message, current_state=current_state, action=action, allowed_actions=allowed, **details)
        self.current_state, self.action, self.allowed_actions = current_state, action, allowed


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
        super().__init__(current_state, action, allowed_actions, reason, rule=rule)
        self.rule, self.reason = rule, reason


class InvalidDetails(InvalidInput, LifecycleError):
    """Missing or wrong fields for an action; ``problems`` as in InvalidInput."""

    def __init__(self, problems: list[dict]):
        super().__init__(problems, "The action was not accepted.")


class ActionForbidden(errors.Forbidden, LifecycleError):
    """The actor's role or scope does not allow the action; ``reason`` says which."""

    def __init__(self, reason: str):
        super().__init__(reason, reason=reason)
        self.reason = reason


# --- the pure table ---------------------------------------------------------

def _spec(action: str, lifecycle: Lifecycle = LIFECYCLE) -> Action:
    try:
        return lifecycle.action[action]
    except (KeyError, TypeError):
        raise UnknownAction(action, tuple(lifecycle.action)) from None


def _check_state(state: str, lifecycle: Lifecycle) -> None:
    if state not in lifecycle.state:
        raise ValueError(f"unknown dossier state {state!r}")


def allowed_actions(state: str, role: str | None = None, lifecycle: Lifecycle = LIFECYCLE) -> list[str]:
    """The actions the table allows in `state` (for `role`, if given), in table order.

    >>> allowed_actions("supplement_requested")
    ['receive_supplement', 'withdraw', 'reassign', 'extend_deadline']
    >>> allowed_actions("returned")
    []
    """
    _check_state(state, lifecycle)
    return [a.name for a in lifecycle.actions if state in a.sources and (role is None or role in a.roles)]


def transition(state: str, action: str, lifecycle: Lifecycle = LIFECYCLE) -> str:
    """The state after `action`, or InvalidTransition naming the state and the allowed actions."""
    _check_state(state, lifecycle)
    spec = _spec(action, lifecycle)
    if state not in spec.sources:
        raise InvalidTransition(state, action, allowed_actions(state, lifecycle=lifecycle))
    return spec.to_state(state)


def can(role: str, action: str, lifecycle: Lifecycle = LIFECYCLE) -> bool:
    """Whether `role` may perform `action` at all (scope is checked by DossierLife.apply)."""
    spec = lifecycle.action.get(action) if isinstance(action, str) else None
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


def _check_actor(actor) -> None:
    if not isinstance(actor, dict) or not _text(actor.get("id")) or not _text(actor.get("role")):
        raise ValueError("actor must be {'id': ..., 'role': ...}")


def _fields_used(spec: Action, given: dict) -> tuple[str, ...]:
    """The fields to check: the ones the action needs, then the optional ones given."""
    return spec.needs + tuple(n for n in OPTIONAL_FIELDS if n not in spec.needs and given.get(n) is not None)


def _checked_fields(spec: Action, given: dict) -> dict:
    """The action's fields, normalised; InvalidDetails naming every problem (unused fields first)."""
    problems = [{"field": name, "reason": f"not used by {spec.name}"}
                for name in given if name not in spec.needs and name not in OPTIONAL_FIELDS]
    values = {}
    for name in _fields_used(spec, given):
        values[name], problem = _check_field(name, given.get(name))
        if problem:
            problems.append({"field": name, "reason": problem})
    if problems:
        raise InvalidDetails(problems)
    return values


def record(state: str, action: str, *, actor: dict, reason: str | None = None,
           at: datetime | None = None, lifecycle: Lifecycle = LIFECYCLE, **details) -> dict:
    """The transition record (the event payload body)::

        {"action", "from", "to", "actor": {"id", "role"}, "reason", "at", **required fields}

    Checks the transition (InvalidTransition) and the fields the action needs
    (InvalidDetails: the table's ``needs``, e.g. a reason, a non-empty
    ``documents`` list, a ``department``, ``officer`` or ``due``). Fields the
    action does not use are refused, so a typo is not silently dropped.
    Roles and decree rules are DossierLife.apply's business.
    """
    to_state = transition(state, action, lifecycle)
    _check_actor(actor)
    values = _checked_fields(lifecycle.action[action], {"reason": reason, **details})
    body = {"action": action, "from": state, "to": to_state,
            "actor": {"id": actor["id"], "role": actor["role"]},
            "reason": values.pop("reason", None), "at": _iso(at)}
    body.update(values)
    return body


# --- the dossier's life: state plus the facts the decree rules need ---------

@dataclass(frozen=True)
class DossierLife:
    """What the lifecycle knows of one dossier; changed only by `evolve` (pure)."""

    lifecycle: ClassVar[Lifecycle] = LIFECYCLE  # a subclass may run another table (a new action, tried out)
    state: str = "received"
    department: str | None = None
    officer: str | None = None
    supplements_requested: int = 0
    deadline_extensions: int = 0
    due: str | None = None
    transfers: tuple = ()  # ((from_department, to_department), ...)

    def allowed_actions(self, role: str | None = None) -> list[str]:
        """The table's actions minus those a decree rule has used up."""
        return [a for a in allowed_actions(self.state, role, self.lifecycle) if not self._used_up(a)]

    def _used_up(self, action: str) -> str | None:
        """The once-rule of `action` this dossier has used up, if any."""
        rules = self.lifecycle.action[action].rules
        return next((r for r in rules if r in ONCE and getattr(self, ONCE[r].counter) >= ONCE[r].limit), None)

    def authorize(self, action: str, actor: dict) -> None:
        """ActionForbidden unless the actor's role and scope allow `action` on this dossier."""
        spec = _spec(action, self.lifecycle)
        role = actor.get("role")
        if role not in spec.roles:
            raise ActionForbidden(f"role {role} may not {action}; allowed roles: {', '.join(sorted(spec.roles))}")
        self._check_scope(action, actor)

    def _check_scope(self, action: str, actor: dict) -> None:
        scope = SCOPE.get(actor.get("role"))
        if scope == "assignee" and (self.officer is None or actor.get("id") != self.officer):
            raise ActionForbidden(f"an officer may only {action} dossiers assigned to them")
        if scope == "department" and (self.department is None or actor.get("department") != self.department):
            raise ActionForbidden(f"a department head may only {action} dossiers of their own department")

    def apply(self, action: str, actor: dict, *, reason: str | None = None, at: datetime | None = None,
              working_days_since_receipt: int | None = None, **details) -> tuple["DossierLife", dict]:
        """Check everything, then return (the new life, the transition record).

        `actor` is ``{"id", "role", "department"?}`` (a department head's
        department comes from their token). `working_days_since_receipt` is
        required for an action under the supplement_window rule.
        """
        spec = _spec(action, self.lifecycle)
        self.authorize(action, actor)
        if self.state not in spec.sources:
            raise InvalidTransition(self.state, action, self.allowed_actions())
        rec = record(self.state, action, actor=actor, reason=reason, at=at, lifecycle=self.lifecycle, **details)
        self._check_replaces(spec, rec)
        self._check_rules(spec, working_days_since_receipt)
        if spec.replaces:
            rec[f"from_{spec.replaces}"] = getattr(self, spec.replaces)
        return evolve(self, rec), rec

    def _check_replaces(self, spec: Action, rec: dict) -> None:
        """A transfer or a reassignment must change the department or the officer."""
        if spec.replaces and rec[spec.replaces] == getattr(self, spec.replaces):
            raise InvalidDetails([{"field": spec.replaces, "reason": ALREADY[spec.replaces]}])

    def _check_rules(self, spec: Action, working_days_since_receipt: int | None) -> None:
        rule = self._used_up(spec.name)
        if rule:
            raise RuleViolation(self.state, spec.name, self.allowed_actions(), rule, ONCE[rule].refusal)
        if SUPPLEMENT_WINDOW in spec.rules:
            self._check_window(spec.name, working_days_since_receipt)

    def _check_window(self, action: str, working_days_since_receipt: int | None) -> None:
        if working_days_since_receipt is None:
            raise TypeError(f"{action} needs working_days_since_receipt")
        if not supplement_window_ok(working_days_since_receipt):
            raise RuleViolation(
                self.state, action, [a for a in self.allowed_actions() if a != action], SUPPLEMENT_WINDOW,
                f"a supplement must be requested within {SUPPLEMENT_WINDOW_DAYS} working days of receipt; "
                f"it is {working_days_since_receipt} working days now")


def _counted(life: DossierLife, spec: Action) -> dict:
    """The once-rule counters the action moves on."""
    return {ONCE[r].counter: getattr(life, ONCE[r].counter) + 1 for r in spec.rules if r in ONCE}


def evolve(life: DossierLife, rec: dict) -> DossierLife:
    """The life after a (checked) transition record: the one place effects are applied."""
    spec = life.lifecycle.action[rec["action"]]
    changes = {"state": rec["to"], **{f: None for f in spec.clears},
               **{f: rec[f] for f in KEPT if f in spec.needs}, **_counted(life, spec)}
    if spec.replaces == "department":  # the life keeps every move between departments
        changes["transfers"] = life.transfers + ((life.department, rec["department"]),)
    return replace(life, **changes)


def replay(records, start: DossierLife | None = None) -> DossierLife:
    """Fold stored transition records back into a DossierLife (records are trusted)."""
    life = start or DossierLife()
    for rec in records:
        if rec["from"] != life.state:
            raise ValueError(f"record {rec['action']} starts from {rec['from']}, but the dossier is {life.state}")
        life = evolve(life, rec)
    return life
