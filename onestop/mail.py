"""The mail server, as every service that sends mail reaches it (SMTP_HOST, SMTP_PORT, SMTP_TIMEOUT,
SMTP_STARTTLS, SMTP_USER, SMTP_PASSWORD of onestop.config.Settings): notification's pool of
connections for the citizens' mail, and one connection per message for the operators' notices
(webhooks' paused subscription, the alerts)."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage


def connect(settings) -> smtplib.SMTP:
    """A connection to the mail server, TLS started and logged in as the settings say; closed again if
    either fails (smtplib's and the socket's errors pass up)."""
    smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
    try:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def send_one(settings, message: EmailMessage) -> None:
    """`message` sent over a connection of its own, closed after it (errors pass up)."""
    with connect(settings) as smtp:
        smtp.send_message(message)
