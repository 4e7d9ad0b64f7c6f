"""Adapters to the outside world: an SMTP server and an HTTP SMS gateway.

Each raises `TransientError` when trying again later may work (connection
refused, timeouts, 4xx SMTP replies, HTTP 5xx/429) and `PermanentError` when it
cannot (a recipient refused, HTTP 4xx).
"""
from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage
from email.utils import formatdate

import requests

from onestop.errors import PermanentError, TransientError


class SmtpSender:
    def __init__(self, settings):
        self.s = settings

    def send(self, to: str, subject: str, text: str, message_id: str) -> str:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.s.smtp_from, to, subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = f"<{message_id}@onestop>"  # stable per (event, channel)
        msg.set_content(text, charset="utf-8")
        try:
            with smtplib.SMTP(self.s.smtp_host, self.s.smtp_port, timeout=self.s.smtp_timeout) as smtp:
                if self.s.smtp_starttls:
                    smtp.starttls()
                if self.s.smtp_user:
                    smtp.login(self.s.smtp_user, self.s.smtp_password)
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600:
                raise PermanentError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            raise TransientError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except (OSError, smtplib.SMTPException, socket.timeout) as exc:
            raise TransientError(f"SMTP unavailable: {exc!r}") from exc
        return msg["Message-ID"]


class SmsGateway:
    """POST {"to", "text", "sender", "reference"}; the reference lets the gateway dedupe."""

    def __init__(self, settings):
        self.s = settings
        self.session = requests.Session()

    def send(self, to: str, text: str, reference: str) -> str:
        headers = {"Authorization": f"Bearer {self.s.sms_token}"} if self.s.sms_token else {}
        try:
            response = self.session.post(self.s.sms_url, json={
                "to": to, "text": text, "sender": self.s.sms_sender, "reference": reference},
                headers=headers, timeout=self.s.sms_timeout)
        except requests.RequestException as exc:
            raise TransientError(f"SMS gateway unavailable: {exc!r}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(f"SMS gateway answered {response.status_code}")
        if response.status_code >= 400:
            raise PermanentError(f"SMS gateway refused: {response.status_code} {response.text[:200]}")
        return str(response.json().get("id", ""))
