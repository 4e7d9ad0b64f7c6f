"""What intake answers about a dossier: to anyone holding its code, to the
citizen who proves it is theirs, and to the counter at submission."""
from __future__ import annotations

from datetime import datetime

from onestop.config import DEFAULTS
from onestop.timestamps import iso
from services.intake import progress

DECIDED = ("approved", "rejected", "result_ready", "returned")
SEE_MORE = {
    "vi": "Thêm ?lookup_code=<mã tra cứu in trên giấy tiếp nhận và gửi kèm tin nhắn SMS, email tiếp nhận hồ sơ> "
          "để xem ngày hẹn và các bước xử lý.",
    "en": "Add ?lookup_code=<the lookup code printed on the receipt and sent in the receipt SMS and email> "
          "to see the appointment date and the steps.",
}


def _time(value):
    if isinstance(value, datetime):
        return iso(value)
    return value


def _procedure(dossier: dict, catalog) -> dict:
    procedure = catalog.procedures[dossier["procedure_code"]]
    return {"code": procedure.code, "name_vi": procedure.name_vi, "name_en": procedure.name_en}


def _center(dossier: dict, catalog) -> dict:
    center = catalog.centers[dossier["center"]]
    return {"id": center.id, "name_vi": center.name_vi, "name_en": center.name_en}


def public_view(dossier: dict, catalog) -> dict:
    """What anyone holding the code may see: where the dossier stands, nothing
    personal, and no decision (``processed`` stands for approved and rejected)."""
    return {"code": dossier["code"], **progress.public_status(dossier["status"]),
            "procedure": _procedure(dossier, catalog), "center": _center(dossier, catalog),
            "see_more": SEE_MORE}


def citizen_view(dossier: dict, catalog) -> dict:
    """The public view plus what the citizen needs: the current appointment
    date (null while a supplement is awaited), the steps so far, the papers
    asked for, the decision and where to collect the result, and the rating."""
    state = dossier["status"]
    view = {k: v for k, v in public_view(dossier, catalog).items() if k != "see_more"}
    view.update(received_at=_time(dossier["received_at"]), appointment_date=dossier.get("appointment_date"),
                steps=progress.citizen_steps(dossier.get("history", [])), rated=bool(dossier.get("rating")))
    supplement = dossier.get("supplement") or {}
    if state == "supplement_requested" and supplement.get("documents"):
        view["supplement"] = {"documents": supplement["documents"], "requested_at": supplement.get("requested_at"),
                              "reason": supplement.get("reason")}
    result = dossier.get("result") or {}
    if state in DECIDED and result:
        view["result"] = {k: result[k] for k in ("decision", "collect_at", "ready_at", "returned_at") if k in result}
    next_step = progress.next_step(state, view["rated"])
    if next_step:
        view["next_step"] = next_step
    return view


def receipt_view(dossier: dict, catalog, lookup_code: str | None = None,
                 audit_url: str = DEFAULTS["AUDIT_RECEIPT_URL"]) -> dict:
    """The answer to the counter at submission: the receipt and appointment slip.

    `lookup_code` (as printed) only in the answer that created the dossier: it is
    not kept, so a replay of the same Idempotency-Key shows null (the citizen
    has it in the receipt SMS and email all the same). ``audit`` is the receipt's
    leaf in the center's audit log (contracts.audit): with its hash, anyone can
    later have the log prove it holds this receipt, unchanged (`audit_url`)."""
    procedure = catalog.procedures[dossier["procedure_code"]]
    missing = [d for d in procedure.documents if d.code in set(dossier["missing_documents"])]
    return {
        "code": dossier["code"], **progress.public_status(dossier["status"]),
        "procedure": _procedure(dossier, catalog), "center": _center(dossier, catalog),
        "received_at": _time(dossier["received_at"]), "appointment_date": dossier["appointment_date"],
        "official_code": dossier["official_code"], "working_days": dossier["working_days"],
        "missing_documents": [{"code": d.code, "name_vi": d.name_vi, "name_en": d.name_en} for d in missing],
        "lookup_code": lookup_code,
        "audit": _audit_leaf(dossier, audit_url),
        "links": {"status": f"/api/v1/dossiers/{dossier['code']}"},
    }


def _audit_leaf(dossier: dict, audit_url: str) -> dict | None:
    leaf = dossier.get("receipt_leaf_hash")  # dossiers taken in before the audit log was a tree lack it
    return {"leaf_hash": leaf, "proof": audit_url.format(leaf_hash=leaf)} if leaf else None
