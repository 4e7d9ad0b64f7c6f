"""Notification's use cases: remember how to reach a citizen; tell them."""
from __future__ import annotations

from onestop.errors import PermanentError, TransientError
from onestop.events import iso, make_event
from onestop.masking import mask_address
from services.notification.domain import TEMPLATE_FOR, compose, receipt_context

SYSTEM = {"id": "notification", "role": "system"}


def remember_contact(event: dict, repo) -> None:
    data = event["data"]
    repo.save_contact(data["code"], {k: data[k] for k in ("full_name", "phone", "email", "channels", "language")},
                      event["id"])


def notify(event: dict, *, catalog, repo, senders: dict, status_url: str, now) -> list[str]:
    """Send each message an event calls for, once per (event id, channel).

    A channel already sent (or permanently failed) is skipped on redelivery; a
    transient failure of any channel raises so the event is retried later.
    Returns the delivery ids sent now.
    """
    template = TEMPLATE_FOR.get(event["type"])
    if template is None:
        return []
    code = event["data"]["code"]
    procedure = event["data"].get("procedure_code")
    if procedure is not None and procedure not in catalog.procedures:
        raise PermanentError(f"unknown procedure {procedure}: no template can describe it")
    contact = repo.contact(code)
    if contact is None:  # the private contact event has not arrived yet
        raise TransientError(f"no contact details yet for {code}")
    context = receipt_context(event, contact, catalog, status_url)
    sent, failures = [], []
    for message in compose(template, context, contact):
        delivery_id = f"{event['id']}:{message.channel}"
        done = repo.delivery(delivery_id)
        if done and done["status"] in ("sent", "failed"):
            continue
        base = {"code": code, "center": event["center"], "channel": message.channel, "template": template,
                "language": contact["language"], "trigger_event_id": event["id"],
                "recipient": mask_address(message.to)}
        record = repo.claim(delivery_id, base, now)
        if record is None:  # finished meanwhile, or another worker is sending it right now
            done = repo.delivery(delivery_id)
            if done["status"] == "pending":
                failures.append(f"{message.channel}: being sent by another worker")
            continue
        try:
            provider_id = senders[message.channel](message, delivery_id)
        except PermanentError as exc:
            _finish(repo, event, delivery_id, record, "failed", now, error=str(exc))
            continue
        except TransientError as exc:
            repo.release(delivery_id, str(exc))
            failures.append(f"{message.channel}: {exc}")
            continue
        _finish(repo, event, delivery_id, record, "sent", now, provider_id=provider_id)
        sent.append(delivery_id)
    if failures:
        raise TransientError("; ".join(failures))
    return sent


def _finish(repo, event, delivery_id, record, status, now, error=None, provider_id=None):
    data = {"code": record["code"], "notification_id": delivery_id, "channel": record["channel"],
            "template": record["template"], "language": record["language"],
            "trigger_event_id": event["id"], "recipient": record["recipient"], "attempts": record["attempts"]}
    if error is not None:
        data["error"] = error
    outcome = make_event(f"notification.{status}.v1", center=event["center"], subject=record["code"],
                         data=data, actor=SYSTEM, correlation_id=event["correlation_id"], time=now)
    fields = {"finished_at": iso(now), "error": error, "provider_id": provider_id}
    repo.finish(delivery_id, status, fields, outcome, now)
