"""Alerts' pure rules: what the watches found becomes incidents, raised once and resolved once.

No framework, no I/O. A `Finding` is a condition seen now (a dead letter, an open breaker...);
`plan` compares the findings with the open alerts and says what to raise, what to resolve:

- a finding with no open alert of its key raises one (one open alert per key: never twice);
- an open alert whose finding is gone starts to clear; it is resolved once it stayed clear
  for `resolve_after` seconds; if the finding comes back before, it is the same incident
  (a flapping condition raises nothing more);
- the alerts live in the store, so a restart finds them open and raises nothing again.

    >>> from datetime import datetime, timezone
    >>> t0 = datetime(2026, 2, 16, 5, 0, tzinfo=timezone.utc)
    >>> f = Finding("breaker_open:sms", "breaker_open", "all", "The sms breaker is open", "state open")
    >>> [x.key for x in plan([], [f], t0, 30).raised]
    ['breaker_open:sms']
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

OPEN, RESOLVED = "open", "resolved"
ALL = "all"  # the center of an incident about the whole platform
RUNBOOK = {  # kind -> the anchor of its runbook subsection in docs/operations.md
    "dead_letter": "alert-dead-letter", "breaker_open": "alert-breaker-open", "queue_growing": "alert-queue-growing",
    "outbox_stale": "alert-outbox-stale", "dossier_overdue": "alert-dossier-overdue",
    "webhook_paused": "alert-webhook-paused", "service_down": "alert-service-down",
}
DLQ = re.compile(r"^onestop\.([^.]+)\.([^.]+)\.dlq$")
WORK_QUEUE = re.compile(r"^onestop\.([^.]+)\.([^.]+)$")


@dataclass(frozen=True)
class Finding:
    """One condition seen now; `key` names the incident (one open alert per key)."""

    key: str
    kind: str
    center: str
    title: str
    details: str


@dataclass(frozen=True)
class Plan:
    raised: tuple = ()  # Findings to raise an alert for
    clearing: tuple = ()  # ids of open alerts whose condition is gone since now
    back: tuple = ()  # ids of open alerts whose condition came back before they were resolved
    resolved: tuple = ()  # ids of open alerts clear for long enough
    details: tuple = ()  # (id, new details) of open alerts whose finding says more now


def plan(open_alerts: list[dict], findings: list[Finding], now: datetime, resolve_after: float,
         unknown: tuple = ()) -> Plan:
    """What to do about `findings` given the open alerts ({"id", "key", "details", "clear_since"}).
    Nothing could be seen of the keys beginning with one of `unknown` (the broker or a service did
    not answer): their alerts without a finding stay as they are, neither clearing nor resolved."""
    seen = {f.key: f for f in findings}
    by_key = {a["key"]: a for a in open_alerts}
    out = {"raised": [f for k, f in seen.items() if k not in by_key], "clearing": [], "back": [], "resolved": [],
           "details": []}
    for key, alert in by_key.items():
        finding = seen.get(key)
        if finding is not None:
            out["back"] += [alert["id"]] if alert.get("clear_since") else []
            out["details"] += [(alert["id"], finding.details)] if finding.details != alert["details"] else []
        elif unknown and key.startswith(unknown):
            continue
        elif alert.get("clear_since") is None:
            out["clearing"].append(alert["id"])
        elif (now - alert["clear_since"]).total_seconds() >= resolve_after:
            out["resolved"].append(alert["id"])
    return Plan(**{k: tuple(v) for k, v in out.items()})


# What the watches found, as findings


def dead_letters(queues: dict) -> list[Finding]:
    """Every onestop.<service>.<center>.dlq holding messages ({queue name: messages})."""
    found = []
    for name, count in sorted(queues.items()):
        match = DLQ.match(name)
        if match and count > 0:
            service, center = match.groups()
            found.append(Finding(f"dead_letter:{name}", "dead_letter", center,
                                 f"Dead letters of {service} at {center}",
                                 f"{count} message(s) of {service} for {center} were dead-lettered "
                                 f"to {name} (onestop dlq show {service}/{center})"))
    return found


@dataclass
class QueueGrowth:
    """Work queues whose ready count grew at every look for `seconds`: a look that saw it
    shrink or empty starts its streak over (a flat look keeps it: the broker's counts move in
    steps of its statistics interval); it must be higher at the end than at the start."""

    seconds: float
    streaks: dict = field(default_factory=dict)  # queue -> (since, count then, count last seen)

    def observe(self, ready: dict, now: datetime) -> list[Finding]:
        found = []
        for name in sorted(ready):
            match = WORK_QUEUE.match(name)
            if not match:
                continue
            count, last = ready[name], self.streaks.get(name)
            if last is None or count == 0 or count < last[2]:
                self.streaks[name] = (now, count, count)
                continue
            self.streaks[name] = (last[0], last[1], count)
            if (now - last[0]).total_seconds() >= self.seconds and count > last[1]:
                service, center = match.groups()
                found.append(Finding(f"queue_growing:{name}", "queue_growing", center, f"Queue {name} keeps growing",
                                     f"{count} ready, up from {last[1]} over {(now - last[0]).total_seconds():.0f} s"
                                     f": {service} for {center} is not keeping up (or not consuming)"))
        for gone in set(self.streaks) - set(ready):
            del self.streaks[gone]
        return found


def health(service: str, answer: dict | None, problem: str, outbox_lag: float) -> list[Finding]:
    """A service's /healthz (None: no answer, `problem` says why): down, its breakers, its outbox."""
    if answer is None or answer.get("status") != "ok":
        why = problem or ", ".join(f"{k} failing" for k, ok in sorted((answer or {}).get("checks", {}).items())
                                   if not ok) or "unhealthy"
        return [Finding(f"service_down:{service}", "service_down", ALL, f"The {service} service is down", why)]
    found = []
    for provider, breaker in sorted((answer.get("providers") or {}).items()):
        if breaker.get("state", "closed") != "closed":
            found.append(Finding(f"breaker_open:{provider}", "breaker_open", ALL,
                                 f"The {provider} provider's circuit breaker is open",
                                 f"{service}: the {provider} breaker opened at {breaker.get('opened_at')} after "
                                 f"{breaker.get('consecutive_failures')} consecutive failures; messages wait in "
                                 "the retry queues"))
    lag = answer.get("outbox_lag_seconds") or 0
    if lag > outbox_lag:
        found.append(Finding(f"outbox_stale:{service}", "outbox_stale", ALL, f"The {service} outbox is not draining",
                             f"its oldest unpublished event waits since {lag:.0f} s (limit {outbox_lag:.0f} s)"))
    return found


def overdue(codes_by_center: dict) -> list[Finding]:
    """One incident per center with overdue dossiers; the codes for staff, no citizen's data."""
    return [Finding(f"dossier_overdue:{center}", "dossier_overdue", center,
                    f"{len(codes)} dossier(s) overdue at {center}", "overdue: " + ", ".join(sorted(codes)))
            for center, codes in sorted(codes_by_center.items()) if codes]


def paused(subscriptions: list[dict]) -> list[Finding]:
    """One incident per paused webhook subscription and center (as its event came, one per center)."""
    return [Finding(f"webhook_paused:{s['subscription_id']}:{s['center']}", "webhook_paused", s["center"],
                    f"Webhook subscription {s['subscription_id']} is {s['state']}",
                    f"receiver {s['url_host']}: {s['reason']} ({s['attempts']} attempts at event "
                    f"{s['head_event_id']}; last error: {s['last_error']})")
            for s in sorted(subscriptions, key=lambda s: (s["subscription_id"], s["center"]))]
