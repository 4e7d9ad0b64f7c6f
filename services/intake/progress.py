"""How a dossier's life, as routing publishes it, looks to the citizen (pure), from contracts/lifecycle.py.

Routing owns the lifecycle and numbers each transition (``seq``: 1 routed,
2 assigned, then +1 per transition). Intake follows it: the dossier takes the
state of the highest ``seq`` it has seen, since events may arrive out of order
or twice, and keeps one history entry per event. The life loops (supplement
requested and supplemented, transfer back to routed, sent back to received),
so the state alone cannot tell old from new; the ``seq`` can.

What the citizen sees is coarser than routing's states: ``approved`` and
``rejected`` are both ``processed`` until the citizen proves who they are
(the decision is a detail), and internal steps (a change of officer) are not
shown at all. Each state's public status and labels, and each action's step
label, the data its step shows and the facts it records, are the lifecycle
table's (``contracts.lifecycle``); intake reads them, it does not import routing.
"""
from __future__ import annotations

from functools import lru_cache

from contracts.lifecycle import LIFECYCLE, Label, Lifecycle
from onestop.timestamps import iso, parse_time

ROUTED, ASSIGNED = "dossier.routed.v1", "dossier.assigned.v1"
# The seq routed/assigned had before they carried one (the first route and assignment).
LEGACY_SEQ = {ROUTED: 1, ASSIGNED: 2}
LIFECYCLE_TYPES = tuple(LIFECYCLE.of_event)
RECEIVED = "received"  # intake's own first step, the receipt, before routing's actions
RECEIVED_STEP = Label("Tiếp nhận hồ sơ", "Dossier received")
LEGACY_STEP = {"received": "received", "routed": "route", "assigned": "assign"}


def public_status(state: str, lifecycle: Lifecycle = LIFECYCLE) -> dict:
    shown = lifecycle.state.get(state)
    if shown is None:
        return {"status": state, "status_label": {"vi": state, "en": state}}
    return {"status": shown.public, "status_label": shown.label._asdict()}


def follow(event: dict, lifecycle: Lifecycle = LIFECYCLE) -> dict:
    """What one routing event does to the dossier, as three parts of an update:

    - ``seq``, and ``current``: the state and current facts, to be applied only
      if ``seq`` is above the stored one;
    - ``facts``: what this event alone tells (documents asked for, the decision,
      where to collect; ``closed_at`` and ``retention_from``, a time, when it ends
      the dossier's life),
      recorded once, whatever the order of arrival;
    - ``entry``: its history entry.

    The action's line in the table says which facts and which data its entry keeps.
    """
    event_type, data = event["type"], event["data"]
    spec = lifecycle.of_event[event_type]
    seq = data.get("seq") or LEGACY_SEQ.get(event_type)
    to_state, at, current = _transition(data) if "to_state" in data else _first(spec, data)
    current["status"] = to_state
    at = at or event["time"]
    entry = {"status": to_state, "step": spec.name, "seq": seq, "at": parse_time(at), "event_id": event["id"]}
    entry.update({name: data.get(name) for name in spec.shows})  # citizen_steps leaves out the empty ones
    facts = _facts(spec.facts, data, at)
    if _closes(to_state, lifecycle):  # the retention of the citizen's personal data counts from here
        facts["closed_at"] = facts["retention_from"] = parse_time(at)  # the second until the data is erased
    return {"seq": seq, "current": current, "facts": facts, "entry": entry}


def _closes(state: str, lifecycle: Lifecycle) -> bool:
    shown = lifecycle.state.get(state)
    return shown is not None and shown.terminal


def _transition(data: dict) -> tuple[str, str, dict]:
    current = {k: data.get(k) for k in ("department_id", "officer_id", "due_at")}
    if "appointment_date" in data:  # null while the clock is stopped for a supplement
        current["appointment_date"] = data["appointment_date"]
    return data["to_state"], data["at"], current


def _first(spec, data: dict) -> tuple[str, str | None, dict]:
    """routed and assigned, whose data has no from/to state: the table says the state,
    and their time is ``<state>_at``."""
    current = {"department_id": data["department_id"], "officer_id": data.get("officer_id")}
    return spec.target, data.get(f"{spec.target}_at"), current


def _facts(facts: tuple, data: dict, at: str) -> dict:
    values = {**data, "at": at}
    return {key: values.get(name) for key, name in facts}


@lru_cache(maxsize=8)
def _steps(lifecycle: Lifecycle) -> dict[str, Label]:
    """step -> label; actions without a label are internal and not shown."""
    return {RECEIVED: RECEIVED_STEP, **{a.name: a.step for a in lifecycle.actions if a.step}}


def citizen_steps(history: list, lifecycle: Lifecycle = LIFECYCLE) -> list[dict]:
    """The steps the citizen may see, in the order routing numbered them."""
    steps, labels = [], _steps(lifecycle)
    for entry in sorted(history, key=_order):
        step = entry.get("step") or LEGACY_STEP.get(entry.get("status"))
        if step not in labels:
            continue
        shown = {"step": step, "label": labels[step]._asdict(), "at": _iso(entry["at"])}
        for key in ("reason", "appointment_date"):
            if entry.get(key):
                shown[key] = entry[key]
        steps.append(shown)
    return steps


def _iso(at) -> str:
    if isinstance(at, str):
        return at
    return iso(at)


def _order(entry: dict):
    seq = entry.get("seq")
    if seq is None:
        seq = {"received": 0, "routed": 1, "assigned": 2}.get(entry.get("status"), 0)
    return seq, _iso(entry["at"]) if entry.get("at") else ""


def next_step(state: str, rated: bool, lifecycle: Lifecycle = LIFECYCLE) -> dict | None:
    """What the citizen is asked to do now; nothing once the returned result is rated."""
    shown = lifecycle.state.get(state)
    if shown is None or shown.next_step is None or (state == "returned" and rated):
        return None
    return shown.next_step._asdict()
