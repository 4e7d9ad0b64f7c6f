"""Routing's use cases."""
from __future__ import annotations

from onestop.errors import PermanentError
from onestop.events import iso, make_event
from onestop.messaging.outbox import with_outbox
from services.routing.domain import choose_officer

SYSTEM = {"id": "routing", "role": "system"}


def route_dossier(event: dict, *, catalog, repo, now) -> dict | None:
    """dossier.received -> department by the center's rules -> least-loaded skilled officer.

    Writes the assignment and both events (routed, assigned) in one insert.
    Returns the assignment, or None if this dossier was routed before.
    """
    data = event["data"]
    if repo.get(data["code"]) is not None:
        return None
    center = catalog.centers.get(event["center"])
    procedure = catalog.procedures.get(data["procedure_code"])
    if center is None or procedure is None:
        raise PermanentError(f"unknown center {event['center']} or procedure {data['procedure_code']}")
    department = center.department_for(procedure)
    candidates = center.officers_for(procedure)
    loads = repo.open_loads([o.id for o in candidates])
    officer = choose_officer(candidates, loads)
    if officer is None:
        raise PermanentError(f"no officer of {center.id}/{department.id} can handle {procedure.code}")
    load = loads.get(officer.id, 0) + 1
    common = {"center": center.id, "subject": data["code"], "actor": SYSTEM,
              "correlation_id": event["correlation_id"], "time": now}
    routed = make_event("dossier.routed.v1", data={
        "code": data["code"], "procedure_code": procedure.code, "department_id": department.id,
        "department_name": department.name_vi, "routed_at": iso(now)}, **common)
    assigned = make_event("dossier.assigned.v1", data={
        "code": data["code"], "procedure_code": procedure.code, "department_id": department.id,
        "officer_id": officer.id, "officer_name": officer.name, "open_dossiers": load,
        "assigned_at": iso(now)}, **common)
    assignment = {
        "_id": data["code"], "center": center.id, "procedure_code": procedure.code,
        "department_id": department.id, "officer_id": officer.id, "open": True,
        "status": "assigned", "received_event_id": event["id"], "routed_at": now,
        "appointment_date": data["appointment_date"],
    }
    return assignment if repo.insert(with_outbox(assignment, [routed, assigned], now)) else None
