"""Intake's use cases: (command, repository) -> stored dossier and its events."""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from contracts import make_event
from contracts.audit import leaf_hash as audit_leaf_hash
from onestop.errors import Conflict, Forbidden, InvalidInput, TooManyRequests, UnknownDossier
from onestop.masking import mask_name
from onestop.messaging.outbox import with_outbox
from onestop.timestamps import iso
from onestop.web import access
from onestop.worktime.deadline import statutory_deadline
from services.intake import progress
from services.intake.domain import LOOKUP_CODE, DossierCode, LookupLock, make_receipt, new_rating_code, rating_code_hash
from services.intake.views import citizen_view, public_view

CITIZEN = {"id": "citizen", "role": "citizen"}  # who rates the service
DOSSIER_REFUSED = "The dossier was not accepted."


def _resolve(payload: dict, catalog):
    problems = []
    center = catalog.centers.get(payload["center"])
    procedure = catalog.procedures.get(payload["procedure_code"])
    if center is None:
        problems.append({"field": "center", "reason": f"unknown center; known: {', '.join(sorted(catalog.centers))}"})
    if procedure is None:
        problems.append({"field": "procedure_code", "reason": "unknown procedure; see GET /api/v1/procedures"})
    if procedure is not None:
        known = {d.code for d in procedure.documents}
        for index, doc in enumerate(payload["documents"]):
            if doc["code"] not in known:
                problems.append({"field": f"documents[{index}].code",
                                 "reason": f"not a document of procedure {procedure.code}; expected one of {', '.join(sorted(known))}"})
    if problems:
        raise InvalidInput(problems, DOSSIER_REFUSED)
    return center, procedure


def _intake_actor(caller, payload: dict, catalog) -> dict:
    """Who takes the dossier in, as the access table says for its channel: counter staff
    of its center at the counter and by post, a portal serving its center online (403 otherwise)."""
    endpoint = access.submit(payload["channel"])
    access.require(caller, endpoint)
    if payload["center"] in catalog.centers:  # an unknown one is refused with the other fields
        access.require_center(caller, endpoint, payload["center"])
    return caller.actor()


class Submission(NamedTuple):
    """What taking a dossier in gives back: the stored dossier, whether this call
    created it, and its lookup code as printed, only when it did (a replay of
    the same Idempotency-Key gets None: the code is not kept, only its hash)."""

    dossier: dict
    created: bool
    lookup_code: str | None = None


def submit_dossier(payload: dict, *, catalog, repo, now: datetime, caller,
                   idempotency_key: str | None = None, request_hash: str | None = None) -> Submission:
    """Take a dossier in for `caller`: a counter clerk's principal, or a portal's for an
    online dossier.

    The dossier and its two events (public ``dossier.received.v1``, private
    ``citizen.contact.v1``) are written in one insert, so neither is lost.
    The dossier gets a one-use rating code and a lookup code: the citizen is
    sent both (in the private contact event), the lookup code is also printed
    on the receipt, and the dossier keeps only their SHA-256.
    """
    actor = _intake_actor(caller, payload, catalog)
    if idempotency_key:
        existing = repo.by_idempotency_key(idempotency_key)
        if existing:
            return Submission(_replayed(existing, request_hash), False)
    center, procedure = _resolve(payload, catalog)
    day = now.astimezone(ZoneInfo(center.timezone)).date()
    code = DossierCode(center.short_code, day, repo.next_sequence(center.id, day))
    handed_in = [d["code"] for d in payload["documents"]]
    receipt = make_receipt(code, center.unit_code, now, procedure, statutory_deadline(center, procedure, now),
                           handed_in)
    citizen = payload["citizen"]
    rating_code, lookup_code = new_rating_code(), LOOKUP_CODE.new()
    common = {"center": center.id, "subject": receipt.code, "actor": actor, "time": now, "field": procedure.field}
    received = make_event("dossier.received.v1", data={
        "code": receipt.code, "official_code": receipt.official_code,
        "procedure_code": procedure.code, "procedure_name": procedure.name_vi, "field": procedure.field,
        "channel": payload["channel"], "received_at": iso(now),
        "appointment_date": receipt.appointment_date.isoformat(), "working_days": procedure.working_days,
        "missing_documents": [d.code for d in receipt.missing_documents],
        "applicant": mask_name(citizen["full_name"]), "status": "received"}, **common)
    contact = make_event("citizen.contact.v1", correlation_id=received["id"], data={
        "code": receipt.code, "dossier_id": received["id"], "full_name": citizen["full_name"],
        "phone": citizen["phone"], "email": citizen["email"], "channels": citizen["channels"], "language": citizen["language"],
        "rating_code": rating_code, "lookup_code": LOOKUP_CODE.shown(lookup_code)}, **common)
    dossier = {
        "_id": receipt.code, "code": receipt.code, "official_code": receipt.official_code,
        "center": center.id, "procedure_code": procedure.code, "field": procedure.field, "channel": payload["channel"],
        "status": "received", "seq": 0, "rating_code_sha256": rating_code_hash(rating_code),
        "lookup_code_sha256": LOOKUP_CODE.sha256(lookup_code),
        "received_at": now, "appointment_date": receipt.appointment_date.isoformat(),
        "working_days": procedure.working_days, "documents": payload["documents"],
        "missing_documents": [d.code for d in receipt.missing_documents],
        "citizen": citizen, "note": payload.get("note"), "actor": actor,
        "receipt_leaf_hash": audit_leaf_hash(received),  # what the audit log will prove it holds
        "history": [{"status": "received", "step": "received", "seq": 0, "at": now, "event_id": received["id"]}],
        "seen": [],
    }
    dossier = with_outbox(dossier, [contact, received], now)
    if idempotency_key:
        dossier.update(idempotency_key=idempotency_key, request_hash=request_hash)
    if not repo.insert(dossier):  # lost a race with the same key
        return Submission(_replayed(repo.by_idempotency_key(idempotency_key), request_hash), False)
    return Submission(dossier, True, LOOKUP_CODE.shown(lookup_code))


def _replayed(existing: dict, request_hash: str | None) -> dict:
    if request_hash and existing.get("request_hash") != request_hash:
        raise InvalidInput([{"field": "Idempotency-Key", "reason": "already used for a different request body"}],
                           DOSSIER_REFUSED)
    return existing


def follow_lifecycle(event: dict, repo) -> bool:
    """Follow the dossier's life as routing publishes it (routed, assigned and
    every transition): the highest ``seq`` sets the state, each event is
    recorded once. True if the event was new.

    Only for the dossier the event is about (UnknownDossier, dead-lettered at
    once, otherwise): intake stores a dossier before it announces it, so a
    routing event about one it does not have, or has as another dossier of the
    same code, means intake's store lost its past; retrying would not bring it back.
    """
    code = event["data"]["code"]
    dossier = repo.get(code)
    if dossier is None:
        raise UnknownDossier.missing("intake", event, "intake stores every dossier before it announces it, so "
                                     "its store lost this one (deleted, or restored from an older backup)")
    UnknownDossier.unless_same("intake", code, dossier_id_of(dossier), event)
    return repo.follow(code, event["id"], **progress.follow(event))


def dossier_id_of(dossier: dict) -> str | None:
    """The dossier's identity (contracts/dossier.py): the id of its dossier.received.v1,
    kept in its first history entry by every intake, before dossier_id existed too."""
    return next((e["event_id"] for e in dossier.get("history", [])
                 if e.get("step", e.get("status")) == "received"), None)


def status_view(dossier: dict, catalog, lookup_code: str | None, *, repo, lock: LookupLock, now: datetime) -> dict:
    """The public status, or with the dossier's lookup code the details.

    A wrong code is Forbidden and counted; after `lock.after` of them the lookup
    is locked (TooManyRequests, the right code included) for `lock.seconds`.
    """
    if lookup_code is None:
        return public_view(dossier, catalog)
    _prove(dossier, lookup_code, repo=repo, lock=lock, now=now)
    return citizen_view(dossier, catalog)


def _prove(dossier: dict, lookup_code: str, *, repo, lock: LookupLock, now: datetime) -> None:
    _refuse_if_locked(lock, dossier.get("lookup_guard"), now)
    if LOOKUP_CODE.matches(lookup_code, dossier.get("lookup_code_sha256")):
        if dossier.get("lookup_guard"):
            repo.clear_wrong_lookups(dossier["code"], limit=lock.after, stale_before=lock.stale_before(now))
        return
    guard = repo.count_wrong_lookup(dossier["code"], now, limit=lock.after, stale_before=lock.stale_before(now))
    if guard is None:  # others reached the limit first: this one was not counted
        _refuse_if_locked(lock, repo.lookup_guard(dossier["code"]), now)
    raise Forbidden(f"This lookup code does not belong to this dossier. {_warning(lock, guard)}",
                    fields=[{"field": "lookup_code", "reason": "does not match the code on this dossier's receipt"}])


def _warning(lock: LookupLock, guard: dict | None) -> str:
    left, time = lock.left(guard or {}), _duration(lock.seconds)
    if not left:
        return f"Its lookup is now locked for {time}."
    return f"{left} more wrong code{'s' if left > 1 else ''} will lock its lookup for {time}."


def _refuse_if_locked(lock: LookupLock, guard: dict | None, now: datetime) -> None:
    seconds = lock.locked_for(guard, now)
    if seconds:
        raise TooManyRequests(
            f"Too many wrong lookup codes for this dossier: its details can be looked up again in {seconds} "
            "seconds. The public status stays open.", retry_after=seconds, error="lookup_locked",
            fields=[{"field": "lookup_code", "reason": f"{lock.after} wrong codes; locked for "
                                                       f"{_duration(lock.seconds)} after the last one"}])


def _duration(seconds: float) -> str:
    """``900`` -> ``"15 minutes"``; ``45`` -> ``"45 seconds"``."""
    return f"{seconds / 60:g} minutes" if seconds >= 60 else f"{seconds:g} seconds"


def rate_dossier(dossier: dict, payload: dict, *, repo, now: datetime) -> dict:
    """The citizen rates the service once the result is returned; returns the stored rating.

    The rating and its ``dossier.rated.v1`` event are one conditional write, so
    of two concurrent ratings one wins and the other gets a Conflict.
    """
    code_hash = rating_code_hash(payload["rating_code"])
    if not secrets.compare_digest(code_hash, dossier.get("rating_code_sha256") or ""):
        raise Forbidden("This rating code does not belong to this dossier.",
                        fields=[{"field": "rating_code", "reason": "does not match the code sent for this dossier"}])
    _check_ratable(dossier)
    rating = {"score": payload["score"], "comment": payload.get("comment"), "rated_at": iso(now)}
    event = make_event("dossier.rated.v1", center=dossier["center"], subject=dossier["code"], actor=CITIZEN,
                       correlation_id=dossier_id_of(dossier), time=now, field=dossier.get("field"),
                       data={"code": dossier["code"], "dossier_id": dossier_id_of(dossier),
                             "procedure_code": dossier["procedure_code"],
                             "score": rating["score"], "has_comment": bool(rating["comment"]),
                             "rated_at": rating["rated_at"]})
    if not repo.rate(dossier["code"], code_hash, {**rating, "event_id": event["id"]}, [event], now):
        _check_ratable(repo.get(dossier["code"]) or dossier)  # someone else was faster, or the state moved
        raise Conflict("The dossier changed meanwhile; look at its status and try again.")
    return rating


def _check_ratable(dossier: dict) -> None:
    if dossier.get("rating"):
        raise Conflict("This dossier was already rated: ratings can be given once per dossier.",
                       error="already_rated")
    if dossier["status"] == "withdrawn":
        raise Conflict("The dossier was withdrawn: only a returned result can be rated.", error="not_returned")
    if dossier["status"] != "returned":
        status = progress.public_status(dossier["status"])
        raise Conflict(f"The result of this dossier has not been returned yet (status: {status['status']}); "
                       "it can be rated once it is.", error="not_returned")
