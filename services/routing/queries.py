"""Reading cases for staff: the work queue and the leadership reports (framework-free)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone

from onestop.errors import InvalidInput
from onestop.web import access
from onestop.web.auth import Forbidden
from onestop.worktime.centers import hours_for
from services.routing import cases, lifecycle

SORTS = ("due", "-due", "received")
MAX_LIMIT = 200
MAX_REPORT_DAYS = 366


def _invalid(field: str, reason: str) -> InvalidInput:
    return InvalidInput([{"field": field, "reason": reason}])


def _center(principal, args, catalog, endpoint: str) -> str:
    center = args.get("center")
    if center is None:
        if len(principal.centers) != 1:
            raise _invalid("center", f"required: your token lists {', '.join(sorted(principal.centers))}")
        center = next(iter(principal.centers))
    if center not in catalog.centers:
        raise _invalid("center", f"unknown center {center!r}")
    access.require_center(principal, endpoint, center)
    return center


def _int(args, name: str, default: int, low: int, high: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid(name, "must be a whole number") from None
    if not low <= value <= high:
        raise _invalid(name, f"must be between {low} and {high}")
    return value


def queue_filters(principal, args, catalog) -> tuple[dict, str, int, int]:
    """Whose queue: an officer's own dossiers, a department head's department, the
    whole center for counter staff, the leader and auditors (the roles that may ask
    at all: onestop.web.access, checked at the edge)."""
    center = _center(principal, args, catalog, "routing.queue")
    filters = {"center": center}
    if principal.role == "officer":
        filters["officer_id"] = principal.user
    elif principal.role == "department_head":
        filters["department_id"] = principal.department
    statuses = [s.strip() for s in (args.get("status") or "").split(",") if s.strip()]
    unknown = [s for s in statuses if s not in lifecycle.STATES]
    if unknown:
        raise _invalid("status", f"unknown status {', '.join(unknown)}; statuses: {', '.join(lifecycle.STATES)}")
    filters["status"] = {"$in": statuses or list(lifecycle.OPEN_STATES)}
    if args.get("officer"):
        if principal.role == "officer" and args["officer"] != principal.user:
            raise Forbidden("an officer sees only their own queue")
        filters["officer_id"] = args["officer"]
    sort = args.get("sort", "due")
    if sort not in SORTS:
        raise _invalid("sort", f"one of {', '.join(SORTS)}")
    return filters, sort, _int(args, "limit", 50, 1, MAX_LIMIT), _int(args, "offset", 0, 0, 10**6)


def queue_page(docs: list, total: int, limit: int, skip: int) -> dict:
    items = [{"code": d["_id"], "status": d["status"], "procedure_code": d["procedure_code"],
              "department_id": d.get("department_id"), "officer_id": d.get("officer_id"),
              "due_at": d.get("due_at"), "appointment_date": d.get("appointment_date"),
              "received_at": cases._iso_or_none(d.get("received_at")),
              "clock_stopped": bool((d.get("clock") or {}).get("paused_at"))} for d in docs]
    return {"total": total, "limit": limit, "offset": skip, "items": items}


# --- reports -------------------------------------------------------------------------

@dataclass(frozen=True)
class ReportScope:
    center: str
    start: date
    end: date
    department: str | None
    filters: dict


def _date(args, name: str, default: date) -> date:
    raw = args.get(name)
    if raw is None:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _invalid(name, "must be a date, YYYY-MM-DD") from None


def report_scope(principal, args, catalog, today: date | None = None) -> ReportScope:
    """The leader (and auditors) see the whole center; a department head their department
    (the roles that may ask at all: onestop.web.access, checked at the edge)."""
    center_id = _center(principal, args, catalog, "routing.reports")
    center = catalog.centers[center_id]
    hours = hours_for(center)
    today = today or datetime.now(hours.tz).date()
    start, end = _date(args, "from", today.replace(day=1)), _date(args, "to", today)
    if end < start:
        raise _invalid("to", "must not be before from")
    if (end - start).days >= MAX_REPORT_DAYS:
        raise _invalid("to", f"a report covers at most {MAX_REPORT_DAYS} days")
    lo = datetime.combine(start, time(0), hours.tz).astimezone(timezone.utc)
    hi = datetime.combine(end, time(23, 59, 59, 999999), hours.tz).astimezone(timezone.utc)
    filters = {"center": center_id, "received_at": {"$gte": lo, "$lte": hi}}
    department = principal.department if principal.role == "department_head" else None
    if department:
        filters["department_id"] = department
    return ReportScope(center_id, start, end, department, filters)


def _figures(docs: list, now: datetime, day_seconds: float) -> dict:
    received = len(docs)
    done = [d for d in docs if d.get("result_ready_at") is not None]
    open_ = [d for d in docs if d["status"] not in ("result_ready", "returned", "withdrawn")]
    late_open = [d for d in open_ if d.get("due_at") and datetime.fromisoformat(d["due_at"]) < now]
    on_time = sum(1 for d in done if d.get("on_time"))
    processing = [float(d["processing_s"]) / day_seconds for d in done if d.get("processing_s") is not None]
    ratings = [d["rating"]["score"] for d in docs if d.get("rating")]
    supplements = sum(1 for d in docs if d.get("supplement"))
    return {
        "received": received,
        "in_progress": len(open_),
        "result_ready": len(done),
        "on_time": on_time,
        "overdue": (len(done) - on_time) + len(late_open),
        "withdrawn": sum(1 for d in docs if d["status"] == "withdrawn"),
        "avg_processing_working_days": round(sum(processing) / len(processing), 2) if processing else None,
        "supplement_rate": round(supplements / received, 4) if received else None,
        "avg_satisfaction": round(sum(ratings) / len(ratings), 2) if ratings else None,
        "ratings": len(ratings),
    }


def report(docs: list, scope: ReportScope, catalog, now: datetime) -> dict:
    """Figures for the center (or the department), per department and per officer.

    Over the dossiers *received* in the period, as they stand now: in_progress
    (not yet ready), on_time (ready before the due time), overdue (ready late,
    or still open past the due time), the average processing time in working
    days (receipt to result ready, the supplement wait left out), the share of
    dossiers that needed a supplement, and the average rating (1-5).
    """
    center = catalog.centers[scope.center]
    day_seconds = hours_for(center).day_seconds
    now = now.astimezone(timezone.utc)
    by_department, by_officer = {}, {}
    for d in docs:
        by_department.setdefault(d.get("department_id") or "-", []).append(d)
        if d.get("officer_id"):
            by_officer.setdefault(d["officer_id"], []).append(d)
    names = {o.id: o.name for o in center.officers}
    return {
        "center": scope.center, "department": scope.department,
        "from": scope.start.isoformat(), "to": scope.end.isoformat(),
        "totals": _figures(docs, now, day_seconds),
        "departments": [{"department_id": k, **_figures(v, now, day_seconds)} for k, v in sorted(by_department.items())],
        "officers": [{"officer_id": k, "officer_name": names.get(k, k), **_figures(v, now, day_seconds)}
                     for k, v in sorted(by_officer.items())],
    }
