"""The alert emails: one per notice (raised, resolved), to OPERATORS_EMAIL, through SMTP_HOST:SMTP_PORT."""
from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP

from onestop import mail
from services.alerts.runbook import WHAT_TO_DO, link

PREFIX = "[OneStop alert]"
# A subject is one line whatever its length (RFC 5322 allows 998): folded at 78, a long unbreakable
# queue name puts the whole subject on a continuation line, and a reader may see it start with a space.
POLICY = SMTP.clone(max_line_length=998)
RAISED = """{title}

Center: {center}
Kind: {kind}
Since: {raised_at}
Details: {details}

What to do:
{steps}

The runbook: {link}
You will get one email when it is resolved; none more while it lasts.
"""
RESOLVED = """Resolved: {title}

Center: {center}
Kind: {kind}
Raised at {raised_at}, resolved at {resolved_at}: the condition stayed clear.
Last details: {details}

The runbook: {link}
"""


def subject(alert: dict, notice: str) -> str:
    return f"{PREFIX} {'resolved: ' if notice == 'resolved' else ''}{alert['title']}"


def body(alert: dict, notice: str, docs_url: str) -> str:
    steps = "\n".join(f"  {i}. {line}" for i, line in enumerate(WHAT_TO_DO[alert["kind"]], 1))
    text = RESOLVED if notice == "resolved" else RAISED
    return text.format(**{**alert, "steps": steps, "link": link(alert["kind"], docs_url)})


class Mailer:
    """Sends one notice; raises OSError / SMTPException when the server did not take it (the
    pending-notices loop tries again)."""

    def __init__(self, settings):
        self.s = settings

    @property
    def recipients(self) -> tuple:
        return self.s.operators_email

    def send(self, alert: dict, notice: str) -> None:
        message = EmailMessage(policy=POLICY)
        message["From"], message["To"] = self.s.smtp_from, ", ".join(self.recipients)
        message["Subject"] = subject(alert, notice)
        message.set_content(body(alert, notice, self.s.alerts_docs_url))
        mail.send_one(self.s, message)
