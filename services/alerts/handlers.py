"""Alerts' use cases: turn what the watches found into alerts, email the notices, keep the signals
the consumed events leave, answer the listing. No nameko, no I/O of their own."""
from __future__ import annotations

import logging
import secrets
import smtplib
from datetime import timedelta

from contracts import make_event
from contracts.lifecycle import LIFECYCLE
from onestop.catalog import load_catalog
from onestop.errors import NotFound
from onestop.timestamps import as_utc, iso
from onestop.web import access
from services.alerts import domain
from services.alerts.domain import OPEN, RESOLVED
from services.alerts.runbook import link

log = logging.getLogger(__name__)
SYSTEM = {"id": "alerts", "role": "system"}
# What ends a dossier's overdue: its result is ready (or it went past it), it is closed, or a leader moved its
# deadline (a new one, not passed yet: routing says overdue again if that one passes too).
OVERDUE_ENDS = frozenset({a.event for a in LIFECYCLE.actions
                          if a.target in ("result_ready", "returned", "withdrawn")} | {"dossier.deadline_extended.v1"})
PAUSED, RESUMED, OVERDUE = ("webhook.subscription_paused.v1", "webhook.subscription_resumed.v1",
                            "dossier.overdue.v1")
CONSUMED = (OVERDUE, PAUSED, RESUMED, *sorted(OVERDUE_ENDS))


def look(findings: list, *, repo, now, resolve_after: float, docs_url: str, notify: bool,
         unknown: tuple = ()) -> domain.Plan:
    """Raise, keep and resolve alerts by what was found now (nothing could be seen of the keys
    beginning with one of `unknown`: their alerts stay as they are)."""
    current = [{**a, "id": a["_id"], "clear_since": as_utc(a["clear_since"]) if a.get("clear_since") else None}
               for a in repo.open_alerts()]
    todo = domain.plan(current, findings, now, resolve_after, unknown)
    for finding in todo.raised:
        alert = new_alert(finding, now, docs_url, notify)
        repo.raise_alert(alert, events("ops.alert_raised.v1", alert, now), now)
        log.warning("alert raised: %s (%s)%s", alert["title"], alert["_id"],
                    "" if notify else "; OPERATORS_EMAIL is not set: told by event and API only")
    repo.mark(todo.clearing, {"clear_since": now})
    repo.mark(todo.back, {"clear_since": None})
    for alert_id, details in todo.details:
        repo.mark([alert_id], {"details": details})
    by_id = {a["id"]: a for a in current}
    for alert_id in todo.resolved:
        resolve(by_id[alert_id], repo=repo, now=now, notify=notify)
    return todo


def new_alert(finding: domain.Finding, now, docs_url: str, notify: bool) -> dict:
    return {"_id": f"al_{secrets.token_hex(8)}", "key": finding.key, "kind": finding.kind, "center": finding.center,
            "title": finding.title, "details": finding.details, "runbook": link(finding.kind, docs_url),
            "state": OPEN, "raised_at": now, "resolved_at": None, "clear_since": None,
            "notices": {"raised": "pending" if notify else "nobody", "resolved": None}, "mail_pending": notify}


def resolve(alert: dict, *, repo, now, notify: bool) -> None:
    """Resolved, its event and its email to send in the one write (if it is still open)."""
    fields = {"resolved_at": now, "notices.resolved": "pending" if notify else "nobody", "mail_pending": notify}
    resolved = {**alert, "resolved_at": now, "state": RESOLVED}
    if repo.resolve(alert["_id"], fields, events("ops.alert_resolved.v1", resolved, now), now):
        log.warning("alert resolved: %s (%s)", alert["title"], alert["_id"])


def events(type_: str, alert: dict, now) -> list[dict]:
    """The alert's event; one of the whole platform (center all) once per center, as every event is
    routed to a center (``<type>.<center>``): each center's subscribers, the console and audit see it."""
    centers = sorted(load_catalog().centers) if alert["center"] == domain.ALL else [alert["center"]]
    data = {"alert_id": alert["_id"], "kind": alert["kind"], "key": alert["key"], "center": alert["center"],
            "title": alert["title"], "details": alert["details"], "runbook": alert["runbook"],
            "raised_at": iso(alert["raised_at"])}
    if type_ == "ops.alert_resolved.v1":
        data["resolved_at"] = iso(alert["resolved_at"])
    return [make_event(type_, center=center, subject=alert["_id"], data=data, actor=SYSTEM, time=now)
            for center in centers]


def send_notices(*, repo, mailer) -> int:
    """Email every notice not sent yet, oldest first; one the server refused stays for the next look."""
    sent = 0
    for alert in repo.unsent():
        for notice in ("raised", "resolved"):
            if alert["notices"].get(notice) != "pending":
                continue
            try:
                mailer.send(view(alert), notice)
            except (OSError, smtplib.SMTPException) as exc:
                log.error("could not email the alert %s (%r); trying again at the next look", alert["_id"], exc)
                return sent
            repo.sent(alert["_id"], notice)
            sent += 1
    return sent


# The consumed events, as signals


def on_event(event_: dict, *, repo) -> None:
    """dossier.overdue.v1 (and what ends it), webhook.subscription_paused.v1 / _resumed.v1."""
    kind, data, at = event_["type"], event_["data"], event_["time"]
    if kind == OVERDUE:
        repo.signal(f"overdue:{data['code']}", {"kind": "overdue", "center": event_["center"], "code": data["code"],
                                                "active": True}, at, create=True)
    elif kind in OVERDUE_ENDS:
        repo.signal(f"overdue:{data['code']}", {"active": False}, at, create=False)
    elif kind == PAUSED:
        fields = {k: data[k] for k in ("subscription_id", "state", "reason", "url_host", "head_event_id", "attempts",
                                       "last_error")}
        repo.signal(f"paused:{data['subscription_id']}:{event_['center']}",
                    {"kind": "paused", "center": event_["center"], **fields, "active": True}, at, create=True)
    elif kind == RESUMED:
        repo.signal(f"paused:{data['subscription_id']}:{event_['center']}", {"active": False}, at, create=False)


def signalled(repo) -> list:
    """The findings the consumed events left: overdue dossiers per center, paused subscriptions."""
    by_center: dict = {}
    for signal in repo.active("overdue"):
        by_center.setdefault(signal["center"], []).append(signal["code"])
    return domain.overdue(by_center) + domain.paused(repo.active("paused"))


def forget(*, repo, now) -> int:
    return repo.forget_signals(iso(now - timedelta(days=1)))


# The listing


STATES = {"open": (OPEN,), "resolved": (RESOLVED,), "all": (OPEN, RESOLVED)}


def listing(query: dict, principal, repo) -> dict:
    """The alerts of the caller's centers and the platform's own (center ``all``), newest first;
    ``?center=`` naming another center answers as an unknown one."""
    mine = [*sorted(c for c in principal.centers if access.covers(principal, "alerts.list", c)), domain.ALL]
    wanted = query.get("center")
    if wanted and wanted not in mine:
        raise NotFound("No such center.", fields=[{"field": "center", "reason": f"unknown; known: {', '.join(mine)}"}])
    alerts = repo.listing(STATES[query["state"]], (wanted,) if wanted else tuple(mine), query["limit"])
    return {"alerts": [view(a) for a in alerts]}


def view(alert: dict) -> dict:
    return {"id": alert["_id"], **{k: alert[k] for k in ("kind", "center", "title", "details", "runbook", "state")},
            "raised_at": iso(alert["raised_at"]), "resolved_at": iso(alert["resolved_at"]) if alert.get("resolved_at")
            else None}
