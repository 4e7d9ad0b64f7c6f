"""Intake's use cases: (command, repository) -> stored dossier and its events."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from onestop.errors import InvalidInput, TransientError
from onestop.events import iso, make_event, parse_time
from onestop.messaging.outbox import with_outbox
from onestop.masking import mask_name
from services.intake.domain import DossierCode, make_receipt
from services.intake.store import STATUS_RANK


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
        raise InvalidInput(problems)
    return center, procedure


def submit_dossier(payload: dict, *, catalog, calendar_for, repo, now: datetime, actor: dict,
                   idempotency_key: str | None = None, request_hash: str | None = None):
    """Take a dossier in. Returns (dossier document, created?).

    The dossier and its two events (public ``dossier.received.v1``, private
    ``citizen.contact.v1``) are written in one insert, so neither is lost.
    """
    if idempotency_key:
        existing = repo.by_idempotency_key(idempotency_key)
        if existing:
            return _replayed(existing, request_hash), False
    center, procedure = _resolve(payload, catalog)
    calendar = calendar_for(center)
    day = now.astimezone(ZoneInfo(center.timezone)).date()
    code = DossierCode(center.short_code, day, repo.next_sequence(center.id, day))
    handed_in = [d["code"] for d in payload["documents"]]
    receipt = make_receipt(code, center.unit_code, now, procedure, calendar, handed_in)
    citizen = payload["citizen"]
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
        "email": citizen["email"], "channels": citizen["channels"], "language": citizen["language"]}, **common)
    dossier = {
        "_id": receipt.code, "code": receipt.code, "official_code": receipt.official_code,
        "center": center.id, "procedure_code": procedure.code, "channel": payload["channel"],
        "status": "received", "status_rank": STATUS_RANK["received"],
        "received_at": now, "appointment_date": receipt.appointment_date.isoformat(),
        "working_days": procedure.working_days, "documents": payload["documents"],
        "missing_documents": [d.code for d in receipt.missing_documents],
        "citizen": citizen, "note": payload.get("note"), "actor": actor,
        "history": [{"status": "received", "at": now, "event_id": received["id"]}],
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
        raise InvalidInput([{"field": "Idempotency-Key",
                             "reason": "already used for a different request body"}])
    return existing


ROUTING_STATUS = {"dossier.routed.v1": "routed", "dossier.assigned.v1": "assigned"}


def apply_routing_event(event: dict, repo) -> bool:
    """Follow routing's progress on the dossier (idempotent by event id)."""
    data, status = event["data"], ROUTING_STATUS[event["type"]]
    if not repo.exists(data["code"]):  # retried with backoff, then dead-lettered
        raise TransientError(f"dossier {data['code']} not found")
    changes = {"department_id": data["department_id"]}
    if status == "assigned":
        changes["officer_id"] = data["officer_id"]
    entry = {"status": status, "at": parse_time(event["time"]), "event_id": event["id"]}
    return repo.advance(data["code"], event["id"], status, changes, entry)


def public_view(dossier: dict, catalog) -> dict:
    """What anyone holding the code may see: no personal data."""
    procedure = catalog.procedures[dossier["procedure_code"]]
    center = catalog.centers[dossier["center"]]
    return {
        "code": dossier["code"], "status": dossier["status"],
        "procedure": {"code": procedure.code, "name_vi": procedure.name_vi, "name_en": procedure.name_en},
        "center": {"id": center.id, "name_vi": center.name_vi, "name_en": center.name_en},
        "received_at": iso(dossier["received_at"]), "appointment_date": dossier["appointment_date"],
    }


def receipt_view(dossier: dict, catalog) -> dict:
    """The answer to the counter: the public view plus the receipt details."""
    procedure = catalog.procedures[dossier["procedure_code"]]
    missing = [d for d in procedure.documents if d.code in set(dossier["missing_documents"])]
    return {
        **public_view(dossier, catalog),
        "official_code": dossier["official_code"], "working_days": dossier["working_days"],
        "missing_documents": [{"code": d.code, "name_vi": d.name_vi, "name_en": d.name_en} for d in missing],
        "links": {"status": f"/api/v1/dossiers/{dossier['code']}"},
    }
