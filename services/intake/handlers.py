"""Intake's use cases: (command, repository) -> stored dossier and its events."""
from __future__ import annotations

import secrets
from datetime import datetime
from zoneinfo import ZoneInfo

from onestop.errors import Conflict, Forbidden, InvalidInput, TransientError
from contracts import make_event
from onestop.timestamps import iso
from onestop.messaging.outbox import with_outbox
from onestop.masking import mask_name
from onestop.web import access
from onestop.worktime.deadline import statutory_deadline
from services.intake import progress
from services.intake.domain import DossierCode, make_receipt, new_rating_code, phone_last4_matches, rating_code_hash
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


def submit_dossier(payload: dict, *, catalog, repo, now: datetime, caller,
                   idempotency_key: str | None = None, request_hash: str | None = None):
    """Take a dossier in for `caller`: a counter clerk's principal, or a portal's for an
    online dossier. Returns (dossier document, created?).

    The dossier and its two events (public ``dossier.received.v1``, private
    ``citizen.contact.v1``) are written in one insert, so neither is lost.
    The dossier gets a one-use rating code: the citizen is sent the code (in
    the private contact event), the dossier keeps only its SHA-256.
    """
    actor = _intake_actor(caller, payload, catalog)
    if idempotency_key:
        existing = repo.by_idempotency_key(idempotency_key)
        if existing:
            return _replayed(existing, request_hash), False
    center, procedure = _resolve(payload, catalog)
    day = now.astimezone(ZoneInfo(center.timezone)).date()
    code = DossierCode(center.short_code, day, repo.next_sequence(center.id, day))
    handed_in = [d["code"] for d in payload["documents"]]
    receipt = make_receipt(code, center.unit_code, now, procedure, statutory_deadline(center, procedure, now),
                           handed_in)
    citizen = payload["citizen"]
    rating_code = new_rating_code()
    common = {"center": center.id, "subject": receipt.code, "actor": actor, "time": now}
    received = make_event("dossier.received.v1", data={
        "code": receipt.code, "official_code": receipt.official_code,
        "procedure_code": procedure.code, "procedure_name": procedure.name_vi, "field": procedure.field,
        "channel": payload["channel"], "received_at": iso(now),
        "appointment_date": receipt.appointment_date.isoformat(), "working_days": procedure.working_days,
        "missing_documents": [d.code for d in receipt.missing_documents],
        "applicant": mask_name(citizen["full_name"]), "status": "received"}, **common)
    contact = make_event("citizen.contact.v1", correlation_id=received["id"], data={
        "code": receipt.code, "full_name": citizen["full_name"], "phone": citizen["phone"],
        "email": citizen["email"], "channels": citizen["channels"], "language": citizen["language"],
        "rating_code": rating_code}, **common)
    dossier = {
        "_id": receipt.code, "code": receipt.code, "official_code": receipt.official_code,
        "center": center.id, "procedure_code": procedure.code, "channel": payload["channel"],
        "status": "received", "seq": 0, "rating_code_sha256": rating_code_hash(rating_code),
        "received_at": now, "appointment_date": receipt.appointment_date.isoformat(),
        "working_days": procedure.working_days, "documents": payload["documents"],
        "missing_documents": [d.code for d in receipt.missing_documents],
        "citizen": citizen, "note": payload.get("note"), "actor": actor,
        "history": [{"status": "received", "step": "received", "seq": 0, "at": now, "event_id": received["id"]}],
        "seen": [],
    }
    dossier = with_outbox(dossier, [contact, received], now)
    if idempotency_key:
        dossier.update(idempotency_key=idempotency_key, request_hash=request_hash)
    if not repo.insert(dossier):  # lost a race with the same key
        return _replayed(repo.by_idempotency_key(idempotency_key), request_hash), False
    return dossier, True


def _replayed(existing: dict, request_hash: str | None) -> dict:
    if request_hash and existing.get("request_hash") != request_hash:
        raise InvalidInput([{"field": "Idempotency-Key", "reason": "already used for a different request body"}],
                           DOSSIER_REFUSED)
    return existing


def follow_lifecycle(event: dict, repo) -> bool:
    """Follow the dossier's life as routing publishes it (routed, assigned and
    every transition): the highest ``seq`` sets the state, each event is
    recorded once. True if the event was new."""
    code = event["data"]["code"]
    if not repo.exists(code):  # retried with backoff, then dead-lettered
        raise TransientError(f"dossier {code} not found")
    return repo.follow(code, event["id"], **progress.follow(event))


def status_view(dossier: dict, catalog, phone_last4: str | None) -> dict:
    """The public status, or with the last 4 digits of the citizen's phone the details (Forbidden if wrong)."""
    if phone_last4 is None:
        return public_view(dossier, catalog)
    if not phone_last4_matches(dossier.get("citizen", {}).get("phone"), phone_last4):
        raise Forbidden("These are not the last 4 digits of the phone number given with this dossier.",
                        fields=[{"field": "phone_last4", "reason": "does not match the dossier's phone number"}])
    return citizen_view(dossier, catalog)


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
                       correlation_id=_received_event_id(dossier), time=now,
                       data={"code": dossier["code"], "procedure_code": dossier["procedure_code"],
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


def _received_event_id(dossier: dict) -> str | None:
    return next((e["event_id"] for e in dossier.get("history", [])
                 if e.get("step", e.get("status")) == "received"), None)
