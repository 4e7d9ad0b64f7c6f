"""Held messages for operators: the list (addresses masked) and the release (framework-free).

A message over a recipient limit (limits.py) waits until an operator releases
it. The release sends it at once through the same claim as every delivery, so
it goes out once however often it is released, and it is not counted against
the limit. Operators see where a message goes only masked (``+8491****678``).
"""
from __future__ import annotations

from datetime import datetime

from onestop.errors import Conflict, InvalidInput, NotFound, TransientError, Unavailable
from onestop.masking import mask_address
from onestop.timestamps import iso
from onestop.web import access
from services.notification.domain import Message
from services.notification.handlers import Outgoing, deliver
from services.notification.limits import reason_text

MAX_PAGE = 200
LISTING_REFUSED = "The list of held messages was not given."


def _centers(principal, args, catalog) -> list:
    """The token's centers, or the one asked for (which the token must list)."""
    center = args.get("center")
    if center is None:
        return sorted(principal.centers)
    if center not in catalog.centers:
        raise InvalidInput([{"field": "center", "reason": f"unknown center; known: {', '.join(sorted(catalog.centers))}"}],
                           LISTING_REFUSED)
    access.require_center(principal, "notification.held", center)
    return [center]


def _int(args, name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:  # isdigit alone takes '²'
        raise InvalidInput([{"field": name, "reason": f"a whole number from {low} to {high}"}], LISTING_REFUSED)
    return int(raw)


def listing(principal, args, *, repo, catalog, now: datetime) -> dict:
    """``?center=&limit=&offset=``: the held messages of the token's centers, oldest first."""
    access.require(principal, "notification.held")
    centers = _centers(principal, args, catalog)
    limit, offset = _int(args, "limit", 50, 1, MAX_PAGE), _int(args, "offset", 0, 0, 10**6)
    total, docs = repo.held(centers, offset, limit, now)
    return {"total": total, "limit": limit, "offset": offset, "held": [view(d) for d in docs]}


def view(doc: dict) -> dict:
    """One held message as operators see it: no full address, no text."""
    out = {"id": doc["_id"], "code": doc["code"], "center": doc["center"], "channel": doc["channel"],
           "template": doc["template"], "recipient": mask_address(doc["held_message"]["to"]),
           "held_at": iso(doc["held_at"]), "reason": doc["hold_reason"],
           "reason_text": reason_text(doc["hold_reason"]),
           "state": "held" if doc["status"] == "held" else "release_interrupted"}
    if doc.get("released_by"):  # released before, but the provider did not take it then
        out.update(released_by=doc["released_by"], released_at=iso(doc["released_at"]))
    return out


def release(delivery_id: str, principal, *, repo, senders: dict, now: datetime) -> dict:
    """Send one held message now; its outcome (sent, or failed for good) is the answer."""
    access.require(principal, "notification.release")
    doc = repo.delivery(delivery_id)
    if doc is None or "hold_reason" not in doc or not principal.may_act_for(doc["center"]):
        raise NotFound("No held message has this id.", fields=[{"field": "id", "reason": "unknown"}])
    record = repo.take_held(delivery_id, principal.user, now)
    if record is None:
        status = (repo.delivery(delivery_id) or doc)["status"]
        raise Conflict(f"This message is not held any more (its status is {status}): someone released it.",
                       error="not_held", status=status)
    try:
        deliver(_trigger(record), [_outgoing(record)], repo=repo, senders=senders, now=now)
    except TransientError as exc:
        repo.rehold(delivery_id, str(exc))
        raise Unavailable(f"The {record['channel']} provider did not take the message now; it is held again: "
                          "release it again later.") from None
    repo.forget_held_message(delivery_id)
    done = repo.delivery(delivery_id)
    return {"id": delivery_id, "code": done["code"], "channel": done["channel"], "status": done["status"],
            "recipient": mask_address(record["held_message"]["to"]), "released_by": principal.user,
            "released_at": iso(now)}


def _outgoing(record: dict) -> Outgoing:
    return Outgoing(record["_id"], Message(**record["held_message"]), record["template"], record["language"])


def _trigger(record: dict) -> dict:
    """What delivery needs of the event the message was for."""
    trigger = record["trigger"]
    return {"id": trigger["id"], "center": trigger["center"], "correlationid": trigger["correlation_id"],
            "procedure": trigger.get("procedure"), "field": trigger.get("field"), "data": {"code": trigger["code"]}}
