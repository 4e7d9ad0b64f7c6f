"""Notification's use cases: remember how to reach a citizen; tell them, and escalate to staff."""
from __future__ import annotations

from dataclasses import dataclass

from contracts import dossier_id, make_event
from onestop.config import DEFAULTS
from onestop.errors import PermanentError, TransientError, UnknownDossier
from onestop.masking import mask_address
from onestop.timestamps import iso
from onestop.web import access
from services.notification.domain import (
    ESCALATION_FOR,
    STAFF_LANGUAGE,
    TEMPLATE_FOR,
    Links,
    Message,
    compose,
    message_context,
)
from services.notification.limits import admitted

SYSTEM = {"id": "notification", "role": "system"}
CONTACT_FIELDS = ("full_name", "phone", "email", "channels", "language")


@dataclass(frozen=True)
class Outgoing:
    """One message to send once. Its delivery id is ``<event id>:<channel>`` for the
    citizen, ``<event id>:<channel>:<staff id>`` for a member of staff."""

    delivery_id: str
    message: Message
    template: str
    language: str
    staff_id: str | None = None


def remember_contact(event: dict, repo) -> None:
    """Keep how to reach the citizen of a dossier, unless the code's stored contact is
    another dossier's (the code issued twice): then UnknownDossier, the stored one untouched."""
    data = event["data"]
    contact = {k: data[k] for k in CONTACT_FIELDS}
    contact["rating_code"] = data.get("rating_code")  # optional: older contact events lack it
    contact["lookup_code"] = data.get("lookup_code")  # for the receipt; optional likewise
    contact["center"] = event["center"]  # an operator's export is scoped by center
    if data.get("dossier_id"):  # older contact events lack it
        contact["dossier_id"] = data["dossier_id"]
    if not repo.save_contact(data["code"], contact, event["id"]):
        _same_dossier(repo.contact(data["code"]), event)


def notify(event: dict, *, catalog, repo, senders: dict, status_url: str, now,
           rating_url: str = DEFAULTS["RATING_URL"], limits=None,
           audit_receipt_url: str = DEFAULTS["AUDIT_RECEIPT_URL"], holder=None) -> list[str]:
    """Send each message an event calls for, once per (event id, channel, recipient).

    A delivery already sent (or permanently failed) is skipped on redelivery; a
    transient failure of any of them raises so the event is retried later.
    Returns the delivery ids sent now. A citizen's message over `limits`
    (services.notification.limits) is held instead.
    """
    return deliver(event, plan(event, catalog=catalog, repo=repo, links=Links(status_url, rating_url, audit_receipt_url)),
                   repo=repo, senders=senders, now=now, limits=limits, holder=holder)


def plan(event: dict, *, catalog, repo, links: Links) -> list[Outgoing]:
    """The messages an event calls for: the citizen's, or the staff escalations."""
    if event["type"] in ESCALATION_FOR:
        return _escalations(event, catalog, links)
    template = TEMPLATE_FOR.get(event["type"])
    if template is None:
        return []
    _check_references(event, catalog)
    code = event["data"]["code"]
    contact = repo.contact(code)
    if contact is None:  # retried: the private contact event may simply not have arrived yet
        raise TransientError(f"no contact details for {code} (dossier_id {dossier_id(event) or 'not given'}): "
                             "the private citizen.contact.v1 has not arrived yet, or notification's store lost it "
                             "(deleted, or restored from an older backup)")
    _same_dossier(contact, event)  # never tell one citizen of another's dossier
    if "erased_at" in contact:  # the citizen's data was erased (citizen.data_erased.v1): no one to tell
        return []
    context = message_context(template, event, catalog, contact["language"], links, contact)
    return [Outgoing(f"{event['id']}:{m.channel}", m, template, contact["language"])
            for m in compose(template, context, contact)]


def _escalations(event: dict, catalog, links: Links) -> list[Outgoing]:
    """One email to each member of staff the event's ``escalate_to`` roles name."""
    template, data = ESCALATION_FOR[event["type"]], event["data"]
    _check_references(event, catalog)
    staff = catalog.center(event["center"]).escalation_contacts(data["escalate_to"], data.get("department_id"))
    if not staff:
        raise PermanentError(f"center {event['center']} has no staff contact for {data['escalate_to']} "
                             f"(department {data.get('department_id')}): add them to the catalog's staff")
    out = []
    for person in staff:
        context = message_context(template, event, catalog, STAFF_LANGUAGE, links,
                                  {"full_name": person.name, "role": person.role})
        address = {"language": STAFF_LANGUAGE, "channels": ["email"], "email": person.email}
        out += [Outgoing(f"{event['id']}:{m.channel}:{person.id}", m, template, STAFF_LANGUAGE, person.id)
                for m in compose(template, context, address)]
    return out


def _check_references(event: dict, catalog) -> None:
    if event["center"] not in catalog.centers:
        raise PermanentError(f"unknown center {event['center']}: no template can describe it")
    procedure = event["data"].get("procedure_code")
    if procedure is not None and procedure not in catalog.procedures:
        raise PermanentError(f"unknown procedure {procedure}: no template can describe it")


def deliver(event: dict, outgoing: list[Outgoing], *, repo, senders: dict, now, limits=None,
            holder=None) -> list[str]:
    sent, failures = [], []
    for out in outgoing:
        delivery_id, message = out.delivery_id, out.message
        done = repo.delivery(delivery_id)
        if done and done["status"] in ("sent", "failed"):
            continue
        base = {"code": event["data"]["code"], "dossier_id": dossier_id(event), "center": event["center"],
                "channel": message.channel,
                "template": out.template, "language": out.language, "trigger_event_id": event["id"],
                "recipient": mask_address(message.to)}
        if out.staff_id is not None:
            base["staff_id"] = out.staff_id
        record = repo.claim(delivery_id, base, now, holder=holder)
        if record is None:  # finished meanwhile, or another worker is sending it right now
            done = repo.delivery(delivery_id)
            if done["status"] == "pending":
                failures.append(f"{_label(out)}: being sent by another worker")
            continue
        if not admitted(event, out, record, repo=repo, limits=limits, now=now):
            continue
        try:
            provider_id = senders[message.channel](message, delivery_id)
        except PermanentError as exc:
            _finish(repo, event, delivery_id, record, "failed", now, error=str(exc))
            continue
        except TransientError as exc:
            repo.release(delivery_id, str(exc))
            failures.append(f"{_label(out)}: {exc}")
            continue
        _finish(repo, event, delivery_id, record, "sent", now, provider_id=provider_id)
        sent.append(delivery_id)
    if failures:
        raise TransientError("; ".join(failures))
    return sent


def _label(out: Outgoing) -> str:
    return out.message.channel if out.staff_id is None else f"{out.message.channel} to {out.staff_id}"


def _recipient(record: dict) -> dict:
    """Whom a public event says the message was for: never an address, not even
    masked (a masked phone gave away 7 of its digits)."""
    if record.get("staff_id") is None:
        return {"recipient": "citizen"}
    return {"recipient": "staff", "staff_id": record["staff_id"]}


def _finish(repo, event, delivery_id, record, status, now, error=None, provider_id=None):
    data = {"code": record["code"], "dossier_id": record.get("dossier_id"), "notification_id": delivery_id,
            "channel": record["channel"],
            "template": record["template"], "language": record["language"],
            "trigger_event_id": event["id"], **_recipient(record), "attempts": record["attempts"]}
    if error is not None:
        data["error"] = error
    outcome = make_event(f"notification.{status}.v1", center=event["center"], subject=record["code"],
                         data=data, actor=SYSTEM, correlation_id=event["correlationid"], time=now,
                         procedure=event.get("procedure"), field=event.get("field"))  # what the cause is filtered on
    fields = {"finished_at": iso(now), "error": error, "provider_id": provider_id}
    repo.finish(delivery_id, status, fields, outcome, now)


def forget_contact(event: dict, repo) -> None:
    """citizen.data_erased.v1: erase this service's copy of the citizen's contact for the dossier (idempotent);
    never another dossier's of the same code (UnknownDossier)."""
    data = event["data"]
    stored = repo.contact(data["code"])
    if stored is not None:
        _same_dossier(stored, event)
    erasure = {"center": event["center"], "erased_at": data["erased_at"], "basis": data["basis"],
               "event_id": event["id"]}
    known = dossier_id(event) or (stored or {}).get("dossier_id")
    repo.forget(data["code"], {**erasure, "dossier_id": known} if known else erasure)  # whose erasure it is


def _same_dossier(contact: dict, event: dict) -> None:
    UnknownDossier.unless_same("notification", contact["_id"], contact.get("dossier_id"), event)


def export_held(payload: dict, principal, *, repo) -> dict:
    """What this service holds of the citizen of these dossiers, for an operator answering an access request."""
    officer = access.require(principal, "notification.privacy_export")
    held = repo.held_for(payload["codes"], sorted(officer.centers))
    contacts = [{"code": c.pop("_id"), **c} for c in held["contacts"]]
    deliveries = [{"notification_id": d.pop("_id"), **d} for d in held["deliveries"]]
    return {"contacts": contacts, "deliveries": deliveries}
