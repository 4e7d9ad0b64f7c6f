"""Notification's pure rules: what to send for which event, and how it reads.

Templates are Jinja2 files under ``templates/<language>/<name>.<part>.j2``.
Citizen messages (`TEMPLATE_FOR`) go by the channels the citizen chose, in
their language. Escalations (`ESCALATION_FOR`) go by email, in Vietnamese, to
the staff the event names by role (the catalog's per-center ``staff``).

`message_context` builds what a template may use: the parts every message
shares, then the template's own (`_BUILDERS`); `Local` is the one place that
localises names and dates.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from contracts.audit import leaf_hash as audit_leaf_hash
from contracts.lifecycle import LIFECYCLE
from onestop.timestamps import parse_time

TEMPLATES = Path(__file__).parent / "templates"
# The citizen's message for each event: the receipt, then what the lifecycle table says of each action.
TEMPLATE_FOR = {"dossier.received.v1": "receipt",
                **{a.event: a.message for a in LIFECYCLE.actions if a.message}}
# Which staff escalation each deadline event triggers (no citizen contact needed).
ESCALATION_FOR = {"dossier.due_soon.v1": "escalation_due_soon", "dossier.overdue.v1": "escalation_overdue"}
SUBSCRIBED = (*TEMPLATE_FOR, *ESCALATION_FOR)
STAFF_LANGUAGE = "vi"
_POINT_UNITS_VI = {"d": "ngày làm việc", "h": "giờ làm việc", "m": "phút làm việc"}
_CODE_DAY = re.compile(r"^[A-Z]+-(\d{6})-\d{4}$")


def _sentence(text) -> str:
    """One line that ends like a sentence (free text from staff may lack the full stop)."""
    text = " ".join(str(text or "").split())
    return text if not text or text.endswith((".", "!", "?", "…")) else text + "."


def _oneline(text) -> str:
    return " ".join(str(text or "").split())


_env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                   keep_trailing_newline=False, autoescape=False)
_env.filters.update(sentence=_sentence, oneline=_oneline)


@dataclass(frozen=True)
class Message:
    channel: str  # "sms" | "email"
    to: str
    subject: str | None
    text: str


@dataclass(frozen=True)
class Links:
    """URL patterns with ``{code}``: the public status page, the rating page; with
    ``{leaf_hash}``: the audit log's proof of a receipt."""

    status: str
    rating: str = ""
    audit_receipt: str = ""


class Local:
    """A center's names, dates and times in one language."""

    def __init__(self, center, language: str):
        self.center, self.language, self.tz = center, language, ZoneInfo(center.timezone)

    def name(self, thing) -> str:
        return getattr(thing, f"name_{self.language}")

    def _moment(self, value) -> date | datetime:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value  # already a local calendar date
        if isinstance(value, str) and len(value) == 10:
            return date.fromisoformat(value)
        moment = value if isinstance(value, datetime) else parse_time(value)
        if moment.tzinfo is None:  # a local time without its offset
            return moment.replace(tzinfo=self.tz)
        return moment.astimezone(self.tz)

    def date(self, value) -> str | None:
        """dd/mm/yyyy on the center's calendar; None stays None."""
        return None if value in (None, "") else self._moment(value).strftime("%d/%m/%Y")

    def time(self, value) -> str | None:
        """HH:MM dd/mm/yyyy on the center's clock."""
        return None if value in (None, "") else self._moment(value).strftime("%H:%M %d/%m/%Y")

    def place(self, text: str | None) -> str:
        """Where to come: the center's own name in this language, or the text given."""
        if not text or text in (self.center.name_vi, self.center.name_en):
            return self.name(self.center)
        return text

    def document(self, text: str, procedure) -> str:
        """A paper named by code or by its catalog name, in this language; free text as written."""
        for doc in procedure.documents:
            if text in (doc.code, doc.name_vi, doc.name_en):
                return self.name(doc)
        return text

    def office_hours(self) -> str:
        return ", ".join(f"{start}–{end}" for start, end in self.center.office_hours)


def render(template: str, language: str, part: str, context: dict) -> str:
    return _env.get_template(f"{language}/{template}.{part}.j2").render(**context).strip()


def message_context(template: str, event: dict, catalog, language: str, links: Links, recipient: dict) -> dict:
    """Everything `template` may use, localised to `language`.

    `recipient` is the citizen's stored contact, or ``{"full_name", "role"}`` for staff.
    """
    data = event["data"]
    center, procedure = catalog.center(event["center"]), catalog.procedure(data["procedure_code"])
    local = Local(center, language)
    common = {
        "full_name": recipient["full_name"], "code": data["code"],
        "center_name": local.name(center), "center_short": center.short_code,
        "procedure_name": local.name(procedure), "office_hours": local.office_hours(),
        "status_url": links.status.format(code=data["code"]),
    }
    own = _BUILDERS[template](data=data, local=local, procedure=procedure, center=center, links=links,
                              recipient=recipient, event=event)
    return {**common, **own}


def _receipt(*, data, local, procedure, recipient, links, event, **_) -> dict:
    missing = set(data["missing_documents"])
    leaf = audit_leaf_hash(event)  # the receipt's leaf in the audit log, as intake printed it
    return {"official_code": data["official_code"], "received_at": local.time(data["received_at"]),
            "appointment_date": local.date(data["appointment_date"]),
            "missing_documents": [local.name(d) for d in procedure.documents if d.code in missing],
            "lookup_code": recipient.get("lookup_code") or None,
            "audit_leaf": leaf, "audit_url": links.audit_receipt.format(leaf_hash=leaf) if links.audit_receipt else None}


def _supplement_requested(*, data, local, procedure, **_) -> dict:
    return {"documents": [local.document(d, procedure) for d in data["documents"]],
            "reason": data.get("reason"), "requested_on": local.date(data["at"])}


def _supplement_received(*, data, local, **_) -> dict:
    """The papers are all in: the clock runs again, and the citizen gets the new date."""
    return {"received_on": local.date(data["at"]), "appointment_date": local.date(data.get("appointment_date"))}


def _result_ready(*, data, local, **_) -> dict:
    return {"decision": data["decision"], "collect_at": local.place(data.get("collect_at")),
            "reason": data.get("reason"), "ready_on": local.date(data["at"])}


def _apology(*, data, local, **_) -> dict:
    day = _CODE_DAY.match(data["code"])
    received_on = datetime.strptime(day.group(1), "%y%m%d").strftime("%d/%m/%Y") if day else None
    return {"reason": data.get("reason"), "received_on": received_on,
            "previous_date": local.date(data["previous_appointment_date"]),
            "appointment_date": local.date(data.get("appointment_date"))}


def _withdrawn(*, data, local, **_) -> dict:
    return {"reason": data.get("reason"), "withdrawn_on": local.date(data["at"])}


def _rating_invite(*, data, local, links, recipient, **_) -> dict:
    return {"returned_on": local.date(data["at"]), "rating_url": links.rating.format(code=data["code"]),
            "rating_code": recipient.get("rating_code") or None}


def _escalation(*, data, local, center, recipient, **_) -> dict:
    dept_id, officer_id = data.get("department_id"), data.get("officer_id")
    department = next((d for d in center.departments if d.id == dept_id), None)
    officer = next((o for o in center.officers if o.id == officer_id), None)
    if recipient.get("role") == "center_leader" or department is None:
        role_title = f"Lãnh đạo {local.name(center)}"
    else:
        role_title = f"Lãnh đạo {local.name(department)}"
    return {"due_at": local.time(data["due_at"]), "point": _point_vi(data.get("point")),
            "state_name": _staff_state_name(data["state"]), "role_title": role_title,
            "department_name": local.name(department) if department else "Chưa chuyển phòng chuyên môn",
            "officer_name": officer.name if officer else (officer_id or "Chưa phân công")}


def _staff_state_name(state: str) -> str:
    known = LIFECYCLE.state.get(state)
    return known.staff if known and known.staff else state


def _point_vi(point: str | None) -> str | None:
    """``"1d"`` -> ``"1 ngày làm việc"``, ``"3h"`` -> ``"3 giờ làm việc"`` (DUE_SOON offsets)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([dhm])", (point or "").strip().lower())
    if not match:
        return point
    return f"{match.group(1).replace('.', ',')} {_POINT_UNITS_VI[match.group(2)]}"


_BUILDERS = {
    "receipt": _receipt, "supplement_requested": _supplement_requested,
    "supplement_received": _supplement_received, "result_ready": _result_ready,
    "apology": _apology, "withdrawn": _withdrawn, "rating_invite": _rating_invite,
    "escalation_due_soon": _escalation, "escalation_overdue": _escalation,
}


def compose(template: str, context: dict, contact: dict) -> list[Message]:
    """One message per channel the recipient chose and has an address for, the SMS
    first: it is what the citizen at the counter waits for, and an SMTP exchange
    takes several round trips (10 ms at the median, 120 ms at p99 under load)."""
    lang, out = contact["language"], []
    if "sms" in contact["channels"] and contact.get("phone"):
        out.append(Message("sms", contact["phone"], None, render(template, lang, "sms", context)))
    if "email" in contact["channels"] and contact.get("email"):
        out.append(Message("email", contact["email"], render(template, lang, "subject", context),
                           render(template, lang, "email", context)))
    return out
