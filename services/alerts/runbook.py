"""What to do about each kind of alert: the lines every alert email carries.

docs/operations.md ("Alerts") has one subsection per kind under the anchor given here, with these
very lines under "What to do" (tests/unit/test_alert_rules.py checks that the two agree).
"""
from __future__ import annotations

from services.alerts.domain import RUNBOOK

WHAT_TO_DO = {
    "dead_letter": (
        "See what is there and why: onestop dlq show <service>/<center>",
        "Fix the cause (the reason and error of each letter say which), then: onestop dlq replay <queue> --all",
        "A letter that can never be handled (rejected, a test's poison): onestop dlq purge <queue>",
    ),
    "breaker_open": (
        "Check the provider: the SMS gateway (SMS_URL) or the SMTP server (SMTP_HOST:SMTP_PORT) answers?",
        "Read notification's /healthz providers and its log for the status codes the provider gave",
        "Nothing is lost: the messages wait in the retry queues and go out once a trial call succeeds",
    ),
    "queue_growing": (
        "See the queue's consumers: onestop status, and the management UI (Queues, the queue's Consumers)",
        "No consumer: start (or restart) the service's worker for that center: onestop restart <service>",
        "Consumers but slow: add a worker for the center (CENTERS=<center>) and look for retries in its log",
    ),
    "outbox_stale": (
        "The service cannot publish: check the broker (onestop status, the service's /healthz checks.broker)",
        "Read the service's log for 'outbox relay failed'; restart it once the broker answers",
        "Nothing is lost: the events wait in the service's store and are published in order once it can",
    ),
    "dossier_overdue": (
        "Look each listed code up (routing: GET /api/v1/work/dossiers/<code>) to see its department and officer",
        "The department head reassigns, or the center leader extends the deadline with a reason",
        "The alert is resolved when every listed dossier has its result, is returned, withdrawn or extended",
    ),
    "webhook_paused": (
        "See the subscription and its last attempts: GET /api/v1/subscriptions/<id>/deliveries?status=pending",
        "Call the receiver's owner (the subscription's contact_email); a 410 means the URL was retired",
        "Once the receiver answers: POST /api/v1/subscriptions/<id>/resume (its backlog goes out in order)",
    ),
    "service_down": (
        "onestop status (make run) or docker compose ps: is the process running, restarting, gave up?",
        "Read its log (var/log/<service>.log, or docker compose logs <service>) for the last error",
        "Its /healthz checks say which of broker and store it cannot reach; bring that back, then restart it",
    ),
}


def anchor(kind: str) -> str:
    return RUNBOOK[kind]


def link(kind: str, docs_url: str) -> str:
    return f"{docs_url}#{RUNBOOK[kind]}"
