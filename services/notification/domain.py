"""Notification's pure rules: what to send for which event, and how it reads.

Templates are Jinja2 files under ``templates/<language>/<name>.<part>.j2``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from onestop.events import parse_time

TEMPLATES = Path(__file__).parent / "templates"
# Which citizen-facing message each event triggers.
TEMPLATE_FOR = {"dossier.received.v1": "receipt"}
_env = Environment(loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined,
                   keep_trailing_newline=False, autoescape=False)


@dataclass(frozen=True)
class Message:
    channel: str  # "sms" | "email"
    to: str
    subject: str | None
    text: str


def render(template: str, language: str, part: str, context: dict) -> str:
    return _env.get_template(f"{language}/{template}.{part}.j2").render(**context).strip()


def receipt_context(event: dict, contact: dict, catalog, status_url: str) -> dict:
    """Everything the receipt templates may use, localised to the citizen's language."""
    data, lang = event["data"], contact["language"]
    center = catalog.centers[event["center"]]
    procedure = catalog.procedures[data["procedure_code"]]
    local = parse_time(data["received_at"]).astimezone(ZoneInfo(center.timezone))
    missing = set(data["missing_documents"])
    return {
        "full_name": contact["full_name"], "code": data["code"], "official_code": data["official_code"],
        "center_name": getattr(center, f"name_{lang}"), "center_short": center.short_code,
        "procedure_name": getattr(procedure, f"name_{lang}"),
        "received_at": local.strftime("%H:%M %d/%m/%Y"),
        "appointment_date": date.fromisoformat(data["appointment_date"]).strftime("%d/%m/%Y"),
        "missing_documents": [getattr(d, f"name_{lang}") for d in procedure.documents if d.code in missing],
        "status_url": status_url.format(code=data["code"]),
    }


def compose(template: str, context: dict, contact: dict) -> list[Message]:
    """One message per channel the citizen chose and has an address for."""
    lang, out = contact["language"], []
    if "email" in contact["channels"] and contact.get("email"):
        out.append(Message("email", contact["email"], render(template, lang, "subject", context),
                           render(template, lang, "email", context)))
    if "sms" in contact["channels"] and contact.get("phone"):
        out.append(Message("sms", contact["phone"], None, render(template, lang, "sms", context)))
    return out
