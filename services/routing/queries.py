"""Reading cases for staff: the work queue and the leadership reports (framework-free)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from onestop.errors import InvalidInput
from onestop.web import access
from onestop.timestamps import as_utc
from onestop.web.auth import Forbidden
from onestop.worktime.centers import hours_for
from onestop.worktime.hours import DEFAULT_DUE_SOON
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
    """What a report reads: ``filters`` the dossiers received in the period, ``today_filters``
    those received today (the center's day), ``open_filters`` every case whose deadline runs
    now (for the overdue and due-soon lists, whenever it was received)."""

    center: str
    start: date
    end: date
    department: str | None
    filters: dict
    today: date | None = None
    today_filters: dict | None = None
    open_filters: dict | None = None


# Open states whose deadline runs (a result ready is the center's answer: cases.NO_DEADLINE).
DEADLINE_STATES = tuple(s for s in lifecycle.OPEN_STATES if s not in cases.NO_DEADLINE)
LIST_LIMIT = 50  # rows of the overdue and due-soon lists (the rest: *_truncated)
LIST_PROJECTION = {"procedure_code": 1, "department_id": 1, "officer_id": 1, "due_at": 1, "status": 1}


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
    department = principal.department if principal.role == "department_head" else None
    mine = {"center": center_id, **({"department_id": department} if department else {})}
    return ReportScope(center_id, start, end, department, {**mine, "received_at": _days(start, end, hours.tz)},
                       today, {**mine, "received_at": _days(today, today, hours.tz)},
                       {**mine, "status": {"$in": list(DEADLINE_STATES)}})


def _days(first: date, last: date, tz) -> dict:
    """The received_at range of the center's local days first..last."""
    lo = datetime.combine(first, time(0), tz).astimezone(timezone.utc)
    hi = datetime.combine(last, time(23, 59, 59, 999999), tz).astimezone(timezone.utc)
    return {"$gte": lo, "$lte": hi}


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


def report(docs: list, scope: ReportScope, catalog, now: datetime, *, today_docs: list | None = None,
           open_docs: list | None = None, due_soon=DEFAULT_DUE_SOON) -> dict:
    """Figures for the center (or the department), per department and per officer.

    Over the dossiers *received* in the period, as they stand now: in_progress
    (not yet ready), on_time (ready before the due time), overdue (ready late,
    or still open past the due time), the average processing time in working
    days (receipt to result ready, the supplement wait left out), the share of
    dossiers that needed a supplement, and the average rating (1-5); with the
    ratings per level, the Decision 766/QĐ-TTg indicators (``INDICATORS``) and
    the period day by day. ``today``: the same figures for the dossiers received
    today (``today_docs``). The overdue and due-soon lists are of every case whose
    deadline runs now (``open_docs``), whenever it was received: due within the
    largest of ``due_soon`` (DUE_SOON, default 1 working day).
    """
    center = catalog.centers[scope.center]
    hours = hours_for(center)
    day_seconds = hours.day_seconds
    now = now.astimezone(timezone.utc)
    by_department, by_officer = {}, {}
    for d in docs:
        by_department.setdefault(d.get("department_id") or "-", []).append(d)
        if d.get("officer_id"):
            by_officer.setdefault(d["officer_id"], []).append(d)
    names = {o.id: o.name for o in center.officers}
    window = max(due_soon, key=hours.parse_offset) if due_soon else "1d"
    overdue, soon = _deadline_lists(open_docs or [], names, hours, now, hours.parse_offset(window))
    return {
        "center": scope.center, "department": scope.department,
        "from": scope.start.isoformat(), "to": scope.end.isoformat(),
        "totals": _figures(docs, now, day_seconds),
        "departments": [{"department_id": k, **_figures(v, now, day_seconds)} for k, v in sorted(by_department.items())],
        "officers": [{"officer_id": k, "officer_name": names.get(k, k), **_figures(v, now, day_seconds)}
                     for k, v in sorted(by_officer.items())],
        "today": {"date": (scope.today or now.astimezone(hours.tz).date()).isoformat(),
                  **_figures(today_docs or [], now, day_seconds)},
        "satisfaction_levels": _levels(docs),
        "satisfaction_labels": SATISFACTION_LABELS,
        "indicators": indicators(docs, now),
        "daily": _daily(docs, scope, hours.tz),
        "due_soon_within": window,
        "overdue_list": overdue[:LIST_LIMIT], "overdue_list_truncated": len(overdue) > LIST_LIMIT,
        "due_soon_list": soon[:LIST_LIMIT], "due_soon_list_truncated": len(soon) > LIST_LIMIT,
    }


# The five levels of satisfaction (DOMAIN.md) on the rating's 1 (bad) to 5 (very good) scale (contracts/intake.py).
SATISFACTION_LABELS = {
    "1": {"vi": "Rất không hài lòng", "en": "very dissatisfied"},
    "2": {"vi": "Không hài lòng", "en": "dissatisfied"},
    "3": {"vi": "Bình thường", "en": "neutral"},
    "4": {"vi": "Hài lòng", "en": "satisfied"},
    "5": {"vi": "Rất hài lòng", "en": "very satisfied"},
}
SATISFIED_LEVELS = (4, 5)

# Decision 766/QĐ-TTg (the national service index): the indicators the platform's own data can compute.
INDICATORS = {
    "on_time_rate": {
        "formula_vi": "Tỷ lệ đúng hạn = 1 − (hồ sơ đang giải quyết quá hạn + hồ sơ đã giải quyết quá hạn) ÷ "
                      "hồ sơ phải giải quyết (tiếp nhận trong kỳ, trừ hồ sơ công dân rút)",
        "formula_en": "on-time rate = 1 − (late in progress + late finished) ÷ dossiers to handle "
                      "(received in the period, less those the citizen withdrew)",
        "source": "Decision 766/QĐ-TTg, group 'progress and results' (on-time processing); the formula is a "
                  "province's (Gia Lai: 100% − (late in progress + late finished) ÷ dossiers to handle), as "
                  "recorded in DOMAIN.md. Assumption: 'to handle' leaves out withdrawn dossiers; 'late in "
                  "progress' is open past its due time now; the index's own national formula was not at hand.",
    },
    "satisfaction_rate": {
        "formula_vi": "Tỷ lệ hài lòng = số đánh giá 'Hài lòng' hoặc 'Rất hài lòng' (mức 4–5) ÷ tổng số đánh giá",
        "formula_en": "satisfaction rate = ratings 'satisfied' or 'very satisfied' (levels 4–5) ÷ all ratings",
        "source": "Decision 766/QĐ-TTg, group 'satisfaction'; the five levels are from DOMAIN.md. Assumption: "
                  "only levels 4–5 count as satisfied (DOMAIN.md does not say; it also records a formula "
                  "'(total − unsatisfied or late) ÷ total' without naming its indicator, which would count "
                  "'neutral' too). Over the period's dossiers that were rated.",
    },
    "online_rate": {
        "formula_vi": "Tỷ lệ nộp trực tuyến = hồ sơ tiếp nhận trực tuyến ÷ tổng hồ sơ tiếp nhận (biết kênh nộp)",
        "formula_en": "online-submission rate = dossiers received online ÷ all dossiers received (channel known)",
        "source": "Decision 766/QĐ-TTg, group 'online services' (DOMAIN.md gives the group, not the formula). "
                  "Assumption: the formula above, channel as intake recorded it (counter, online, postal); "
                  "cases routed before routing kept the channel are left out of both counts (left_out).",
    },
}


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def indicators(docs: list, now: datetime) -> list[dict]:
    """The Decision 766/QĐ-TTg indicators over the period's dossiers: value (0..1, null when nothing
    to count), the counts it comes from, how many dossiers were left out, the formula and its source."""
    handled = [d for d in docs if d["status"] != "withdrawn"]
    late = sum(1 for d in handled if _late(d, now))
    scores = [d["rating"]["score"] for d in docs if d.get("rating")]
    satisfied = sum(1 for s in scores if s in SATISFIED_LEVELS)
    known = [d for d in docs if d.get("channel")]
    online = sum(1 for d in known if d["channel"] == "online")
    counts = {"on_time_rate": (len(handled) - late, len(handled), len(docs) - len(handled)),
              "satisfaction_rate": (satisfied, len(scores), len(docs) - len(scores)),
              "online_rate": (online, len(known), len(docs) - len(known))}
    return [{"id": key, "value": _rate(n, d), "numerator": n, "denominator": d, "left_out": out, **INDICATORS[key]}
            for key, (n, d, out) in counts.items()]


def _late(d: dict, now: datetime) -> bool:
    """Ready after its due time, or not ready and past it now (as the report's ``overdue``)."""
    if d.get("result_ready_at") is not None:
        return not d.get("on_time")
    return d["status"] not in cases.NO_DEADLINE and bool(d.get("due_at")) and \
        datetime.fromisoformat(d["due_at"]) < now


def _levels(docs: list) -> dict:
    levels = {str(level): 0 for level in range(1, 6)}
    for d in docs:
        if d.get("rating"):
            levels[str(d["rating"]["score"])] += 1
    return levels


def _daily(docs: list, scope: ReportScope, tz) -> list[dict]:
    """Each day of the period (the center's days): the period's dossiers received that day,
    and those of them whose result was ready that day."""
    days = {scope.start + timedelta(days=i): [0, 0] for i in range((scope.end - scope.start).days + 1)}
    for d in docs:
        for i, field in enumerate(("received_at", "result_ready_at")):
            if isinstance(d.get(field), datetime):
                day = as_utc(d[field]).astimezone(tz).date()
                if day in days:
                    days[day][i] += 1
    return [{"date": day.isoformat(), "received": r, "result_ready": ready} for day, (r, ready) in days.items()]


def _deadline_lists(open_docs: list, names: dict, hours, now: datetime, window_s: float) -> tuple[list, list]:
    """Cases past their due time, and cases due within window_s of working time from now; soonest first."""
    limit = hours.add(now, window_s)
    overdue, soon = [], []
    for d in open_docs:
        if d.get("status") not in DEADLINE_STATES or not d.get("due_at"):
            continue  # a stopped clock (supplement awaited) has no due time
        due = datetime.fromisoformat(d["due_at"])
        if due < now:
            overdue.append((due, d))
        elif due <= limit:
            soon.append((due, d))
    return [[_list_row(d, names) for _, d in sorted(rows, key=lambda r: (r[0], r[1]["_id"]))]
            for rows in (overdue, soon)]


def _list_row(d: dict, names: dict) -> dict:
    officer = d.get("officer_id")
    return {"code": d["_id"], "procedure_code": d["procedure_code"], "department_id": d.get("department_id"),
            "officer_id": officer, "officer_name": names.get(officer, officer) if officer else None,
            "due_at": d["due_at"]}
