"""The email that tells a subscription's owner and the operators it was paused (or disabled by a 410)."""
from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from onestop import mail

log = logging.getLogger(__name__)

TEXT = """The webhook subscription {id} ({url}) of center(s) {centers} is {state}: {why}.

Its oldest undelivered event is {event} ({attempts} attempts; last error: {error}).
Nothing is dropped: the events keep being queued for it, and resuming it delivers its backlog in order:

  curl -X POST .../api/v1/subscriptions/{id}/resume -H "Authorization: Bearer $TOKEN"

See docs/webhooks.md and docs/operations.md ("A paused webhook subscription").
"""
WHY = {"retries_exhausted": "the receiver kept failing until the retry schedule was used up",
       "gone": "the receiver answered 410 Gone"}


class Alerts:
    def __init__(self, settings):
        self.s = settings

    def recipients(self, subscription: dict) -> list[str]:
        return list(dict.fromkeys([a for a in (subscription.get("contact_email"), *self.s.operators_email) if a]))

    def paused(self, subscription: dict, head: dict, reason: str, error: str) -> bool:
        """Send the email; False (logged) if there is no one to tell or the SMTP server did not take it."""
        to = self.recipients(subscription)
        if not to:
            log.warning("subscription %s %s and nobody to tell: set OPERATORS_EMAIL", subscription["_id"], reason)
            return False
        message = EmailMessage()
        message["From"], message["To"] = self.s.smtp_from, ", ".join(to)
        message["Subject"] = f"[OneStop] webhook subscription {subscription['_id']} {subscription['state']}"
        message.set_content(TEXT.format(id=subscription["_id"], url=subscription["url"], state=subscription["state"],
                                        centers=", ".join(subscription["centers"]), why=WHY[reason],
                                        event=head["event_id"], attempts=head.get("attempts", 0) + 1, error=error))
        try:
            mail.send_one(self.s, message)
            return True
        except (OSError, smtplib.SMTPException) as exc:
            log.error("could not email about subscription %s (%r); the event webhook.subscription_paused.v1 "
                      "tells it anyway", subscription["_id"], exc)
            return False
