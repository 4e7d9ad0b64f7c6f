"""Which dossier an event is about: its code, and the ``dossier_id`` that tells two dossiers of one code apart.

A code (``VYDA-261201-0001``) names a dossier only as long as intake's
counters last: an intake that lost them issues the code again to another
citizen, while events of the first dossier may still be queued, and a
consumer whose store was deleted or restored from an older backup knows
whoever holds the code now, or nobody. So every event about a dossier also
carries the dossier's identity, ``dossier_id``: the id of the
``dossier.received.v1`` event that opened it (a UUID intake mints when it
takes the dossier in). ``dossier.received.v1`` itself does not repeat it in
its data: its own ``id`` is the dossier's id (one value, which cannot
disagree with itself; and the received events already queued or
dead-lettered have no other).

The field is optional (an additive, minor change): events and stored
records from before it lack it, and are compared only when both sides have
it (``same_dossier``).

    >>> received = {"type": "dossier.received.v1", "id": "6f0c2a4e-9b1d-4c3e-8f7a-5d2b1e0c9a84", "data": {}}
    >>> dossier_id(received)
    '6f0c2a4e-9b1d-4c3e-8f7a-5d2b1e0c9a84'
    >>> dossier_id({"type": "dossier.routed.v1", "id": "x", "data": {"dossier_id": dossier_id(received)}})
    '6f0c2a4e-9b1d-4c3e-8f7a-5d2b1e0c9a84'
    >>> dossier_id({"type": "dossier.routed.v1", "id": "x", "data": {}}) is None  # an older event
    True
"""
from __future__ import annotations

from marshmallow import fields

OPENED_BY = "dossier.received.v1"  # the event whose id is the dossier's id
EXAMPLE = "6f0c2a4e-9b1d-4c3e-8f7a-5d2b1e0c9a84"
# What docs/events.md says of the field (onestop.dev.docsgen puts it among the rules).
RULE = ("A dossier's `code` is what people read, but a code can be issued twice (an intake that lost its "
        "counters gives `VYDA-261201-0001` to a second citizen while events of the first are still queued), "
        "so every event about a dossier also carries its identity, `data.dossier_id`: the `id` of the "
        "`dossier.received.v1` event that opened it (a UUID). `dossier.received.v1` does not repeat it: its "
        "own `id` is the dossier's id. Key what you keep per dossier on `dossier_id` where you can; two events "
        "with one code and two `dossier_id`s are about two dossiers. OneStop's own consumers dead-letter an "
        "event whose `dossier_id` is not the one they know for its code (reason `unknown_dossier`), so nobody "
        "acts for the wrong dossier and no citizen is told of another's. The field was added as optional (a "
        "compatible change, no new version): events from before it lack it, and are compared only when both "
        "sides have it.")


def dossier_id_field() -> fields.UUID:
    """The optional ``dossier_id`` data field of every event about a dossier (but the one that opens it)."""
    return fields.UUID(allow_none=True, metadata={
        "description": "the dossier's identity beside its code: the id of the dossier.received.v1 event that "
                       "opened it (a code can be issued twice; see the rule \"Which dossier\"). Absent on "
                       "events from before it existed",
        "example": EXAMPLE})


def dossier_id(event: dict) -> str | None:
    """The identity of the dossier the event is about; None for an older event that does not say."""
    if event.get("type") == OPENED_BY:
        return str(event["id"])
    value = (event.get("data") or {}).get("dossier_id")
    return str(value) if value else None


def same_dossier(known: str | None, theirs: str | None) -> bool:
    """Whether a stored dossier and an event can be the same one: compared only when both have an id.

    >>> same_dossier("a", "a"), same_dossier("a", "b")
    (True, False)
    >>> same_dossier(None, "b"), same_dossier("a", None)  # a record or an event from before dossier_id
    (True, True)
    """
    return known is None or theirs is None or str(known) == str(theirs)
