"""The citizen's personal data in intake: what a closed dossier keeps, its erasure
(after the retention period, or at the citizen's request) and its export.

A dossier holds the citizen's personal block (``citizen``: full name, ID number,
phone, email, channels, language) and free texts that may name them (the
counter's ``note``, each document's ``note``, the rating's ``comment``).
Erasing keeps the dossier (code, procedure, center, channel, dates, status,
history, decision, rating score) and the masked initials (``applicant``), and
removes the rest, in one conditional write with the public
``citizen.data_erased.v1`` event, on which notification erases its copy of the
contact. A dossier is erased once: a second erasure finds nothing to erase.

Only a closed dossier (returned or withdrawn) is erased: while it is being
processed, the center needs the contact to tell the citizen and the identity to
hand back the result. docs/privacy.md says what is kept, where, and why.
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

from contracts import make_event
from onestop.errors import Conflict, InvalidInput
from onestop.masking import mask_name
from onestop.timestamps import iso
from onestop.web import access
from services.intake.handlers import dossier_id_of

SYSTEM = {"id": "intake", "role": "system"}
CLOSED = ("returned", "withdrawn")
RETENTION_BATCH = 100  # dossiers erased per write batch; the sweep goes on until none is due
IDENTITY = ("full_name", "id_number", "phone", "email")
# Bookkeeping, not the citizen's: left out of an export.
INTERNAL = ("_id", "outbox", "outbox_pending", "seen", "rating_code_sha256", "request_hash")


def erased_fields(dossier: dict) -> list[str]:
    """What of the citizen this dossier holds, named as ``citizen.data_erased.v1`` names it."""
    citizen = dossier.get("citizen") or {}
    held = [name for name in IDENTITY if citizen.get(name)]
    if dossier.get("note") or any(d.get("note") for d in dossier.get("documents", [])):
        held.append("notes")
    if (dossier.get("rating") or {}).get("comment"):
        held.append("rating_comment")
    return held


def erase_update(dossier: dict, record: dict) -> dict:
    """The update that leaves the dossier without the citizen's data, and says so in ``personal_data``."""
    unset = {"citizen": "", "note": "", "request_hash": "", "retention_from": ""}
    if (dossier.get("rating") or {}).get("comment") is not None:
        unset["rating.comment"] = ""
    documents = [{k: v for k, v in d.items() if k != "note"} for d in dossier.get("documents", [])]
    applicant = mask_name(dossier["citizen"]["full_name"])
    return {"$set": {"applicant": applicant, "documents": documents, "personal_data": record}, "$unset": unset}


def closed_at(dossier: dict) -> str:
    """When the dossier closed (dossiers closed before ``closed_at`` was kept: the return's time)."""
    moment = dossier.get("closed_at") or (dossier.get("result") or {}).get("returned_at")
    return iso(moment) if isinstance(moment, datetime) else moment


def export_view(dossier: dict) -> dict:
    """Everything intake holds on a dossier but its bookkeeping: what an access request is answered with."""
    return {k: v for k, v in dossier.items() if k not in INTERNAL}


def export_citizen(payload: dict, principal, *, repo) -> dict:
    """Every dossier of the centers the operator's token lists that holds this ID number."""
    officer = access.require(principal, "intake.privacy_export")
    dossiers = repo.by_id_number(payload["id_number"], sorted(officer.centers))
    return {"dossiers": [export_view(d) for d in dossiers]}


def erase_on_request(payload: dict, principal, *, repo, now: datetime) -> dict:
    """Erase the citizen's data from each of their dossiers, all closed, or none (Conflict naming the open ones)."""
    officer = access.require(principal, "intake.privacy_erase")
    dossiers = repo.by_id_number(payload["id_number"], sorted(officer.centers))
    _refuse_open(dossiers)
    _refuse_personal_reason(payload["reason"], dossiers)
    request_id = str(uuid.uuid4())  # the erasures of one request share a correlation id
    done = [erase(d, "request", officer.actor(), now, repo, reason=payload["reason"], correlation_id=request_id)
            for d in dossiers]
    return {"erased": [d for d in done if d]}


def erase_expired(*, repo, now: datetime, days: float, batch: int = RETENTION_BATCH) -> int:
    """Erase the data of up to `batch` dossiers closed more than `days` ago; how many were due."""
    due = repo.due_for_erasure(now - timedelta(days=days), batch)
    for dossier in due:
        erase(dossier, "retention", SYSTEM, now, repo)
    return len(due)


def erase(dossier: dict, basis: str, actor: dict, now: datetime, repo, reason: str | None = None,
          correlation_id: str | None = None) -> dict | None:
    """Erase one dossier's personal data with its event; None if it was erased before."""
    erased = erased_fields(dossier)
    event = make_event("citizen.data_erased.v1", center=dossier["center"], subject=dossier["code"], actor=actor,
                       correlation_id=correlation_id, time=now, procedure=dossier.get("procedure_code"),
                       field=dossier.get("field"), data={
                           "code": dossier["code"], "dossier_id": dossier_id_of(dossier), "basis": basis,
                           "erased": erased, "requested_by": actor["id"], "closed_at": closed_at(dossier),
                           "erased_at": iso(now)})
    record = {"erased_at": now, "basis": basis, "requested_by": actor["id"], "erased": erased, "reason": reason,
              "event_id": event["id"]}
    if not repo.erase(dossier["code"], erase_update(dossier, record), [event], now):
        return None
    return {"code": dossier["code"], "status": dossier["status"], "erased": erased}


def _refuse_open(dossiers: list[dict]) -> None:
    still = [{"code": d["code"], "status": d["status"]} for d in dossiers if d["status"] not in CLOSED]
    if still:
        codes = ", ".join(d["code"] for d in still)
        verb = "is" if len(still) == 1 else "are"
        raise Conflict(f"{len(still)} of this citizen's dossiers {verb} still being processed ({codes}): the "
                       "center needs their contact to tell the citizen and their identity to hand back the "
                       "result. Nothing was erased; ask again once they are returned or withdrawn.",
                       error="dossiers_open", open_dossiers=still)


def _refuse_personal_reason(reason: str, dossiers: list[dict]) -> None:
    """The reason is kept with the erasure record, so it must not bring back what is erased."""
    text, digits = reason.casefold(), re.sub(r"\D", "", reason)
    for citizen in (d["citizen"] for d in dossiers):
        words = [citizen[k].casefold() for k in ("full_name", "email") if citizen.get(k)]
        numbers = [citizen["id_number"], citizen["phone"][-9:]]
        if any(w in text for w in words) or any(n in digits for n in numbers):
            raise InvalidInput([{"field": "reason", "reason": "must not repeat the citizen's name, ID number, "
                                 "phone or email (the reason is kept): refer to the request, e.g. its number "
                                 "and date"}], "The erasure was not accepted.")
