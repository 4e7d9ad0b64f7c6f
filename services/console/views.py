"""The console's use cases: what the operators' and the leaders' pages show, and a dead letter's replay.

Framework-free: the service passes in its settings, the caller and the readers (services.console.upstream,
onestop.ops.deadletters); each source a page reads either answers or is named with why it did not."""
from __future__ import annotations

from datetime import date

from onestop.errors import NotFound
from onestop.ops.deadletters import queues as dl
from services.console import upstream

LETTERS_SHOWN = 50  # per dead-letter queue


def me(caller, settings) -> dict:
    p = caller.principal
    return {"user": p.user, "name": p.name, "role": p.role, "centers": sorted(p.centers), "department": p.department,
            "csrf": caller.session["csrf"] if caller.session else None,
            "expires_at": caller.session["expires_at"] if caller.session else None,
            "poll_seconds": settings.poll_seconds,
            "views": [v for v, roles in (("ops", ("operator",)),
                                          ("leader", ("center_leader", "department_head", "auditor")))
                      if p.role in roles]}


def _letter(letter) -> dict:
    return {"id": letter.id, "reason": letter.reason, "error": letter.error, "event_type": letter.event_type,
            "subject": letter.subject, "dead_lettered_at": letter.dead_lettered_at,
            "replay_count": letter.replay_count, "replayable": letter.envelope is not None}


def dead_letters(settings, center: str, lock) -> dict:
    """The center's dead-letter queues that hold something, each with its first letters (left in place)."""
    try:
        with lock:  # one browse or replay at a time in this process: a browse holds the letters meanwhile
            rows = dl.list_queues(settings.amqp_uri, settings.mgmt_url, center=center)
            out = [{"queue": r.queue, "service": r.service, "messages": r.messages,
                    "letters": [_letter(x) for x in dl.browse(settings.amqp_uri, r.queue, LETTERS_SHOWN)]}
                   for r in rows if r.messages]
    except Exception as exc:  # the broker, its management API or a vhost missing: say so on the page
        return {"error": f"{type(exc).__name__}: {exc}"}
    return {"queues": out}


def _held(settings, token: str, center: str) -> dict:
    body, error = upstream.get_json(f"{settings.urls['notification']}/api/v1/held", token, {"center": center})
    return {"error": error} if error else {"held": body.get("held", []), "total": body.get("total", 0)}


def _alerts(settings, token: str, center: str) -> dict:
    if not settings.alerts_url:
        return {"error": "not_configured"}
    body, error = upstream.get_json(f"{settings.alerts_url}/api/v1/alerts", token,
                                    {"state": "all", "center": center})
    return {"error": error} if error else {"alerts": body.get("alerts", [])[:50]}


def ops(caller, center: str, settings, lock) -> dict:
    rows, error = upstream.queues(settings.mgmt_url, settings.amqp_uri, center)
    return {"center": center, "queues": {"error": error} if error else {"rows": rows},
            "dead_letters": dead_letters(settings, center, lock),
            "health": upstream.health(settings.urls),
            "held": _held(settings, caller.token, center),
            "alerts": _alerts(settings, caller.token, center)}


def _report(settings, token: str, params: dict) -> tuple[dict | None, str | None]:
    return upstream.get_json(f"{settings.urls['routing']}/api/v1/reports", token, params)


def leader(caller, center: str, today: date, settings) -> dict:
    """This month's report (routing's default period), today's, and the Decision 766 indicators."""
    month, month_error = _report(settings, caller.token, {"center": center})
    day, day_error = _report(settings, caller.token, {"center": center, "from": today.isoformat(),
                                                      "to": today.isoformat()})
    return {"center": center, "today": today.isoformat(),
            "month": month, "month_error": month_error, "day": day, "day_error": day_error,
            # the indicators and their formulas have one home: routing's report (services/routing/queries.py)
            "indicators": (month or {}).get("indicators") or []}


def replay(caller, queue: dl.DlqName, ids: list[str], settings, lock) -> dict:
    """The same path as `onestop dlq replay`, the signed-in operator its actor (audited as replayed_by)."""
    try:
        with lock:
            report = dl.replay(settings.amqp_uri, queue.name, ids, caller.principal.user)
    except dl.UnknownQueue as exc:
        raise NotFound(str(exc), fields=[{"field": "queue", "reason": "no such dead-letter queue"}]) from None
    return {"queue": queue.name, "replayed_by": caller.principal.user,
            "replayed": [x.id for x in report.replayed],
            "skipped": [{"id": x.id, "why": why} for x, why in report.skipped], "missing": report.missing}
