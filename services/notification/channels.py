"""Adapters to the outside world: an SMTP server and an HTTP SMS gateway.

Each raises `TransientError` when trying again later may work (connection
refused, timeouts, 4xx SMTP replies, HTTP 5xx/429) and `PermanentError` when it
cannot (a recipient refused, HTTP 4xx). Their text is a fixed description with
the provider's status codes only, never its reply text: servers name the
address in it ("5.1.1 <an@example.vn>: Recipient address rejected"), and the
text travels on in public `notification.failed.v1` events and dead-letter headers.

Each has a circuit breaker: after `CIRCUIT_FAILURES` consecutive transient
failures it refuses calls (`CircuitOpen`, transient) for `CIRCUIT_RESET`
seconds, so a provider that is down is not hammered by every retry, then lets
one trial through. Every call is bounded by its timeout as a whole, not just
per socket read: a hanging provider cannot hold a worker longer.
"""
from __future__ import annotations

import os
import re
import smtplib
import socket
import time
from contextlib import contextmanager
from email.contentmanager import raw_data_manager
from email.header import Header
from email.message import EmailMessage
from email.policy import compat32
from email.utils import formataddr, formatdate, parseaddr

import eventlet
import requests

from onestop import mail, metrics
from onestop.circuit import CircuitBreaker
from onestop.errors import PermanentError, TransientError

SMTP_POOL_SIZE = 4  # idle connections kept; more senders at once open their own
SMTP_MAX_IDLE = 15.0  # seconds; well under the usual server idle timeouts (Postfix: 300)
SMTP_FRESH = 1.0  # seconds: a connection back in the pool for less than this is used without a NOOP
_NOT_ATEXT = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")  # RFC 5322 atext; runs become one '.'
_ENHANCED_STATUS = re.compile(rb"^\s*([245]\.\d{1,3}\.\d{1,3})\b")  # RFC 3463, e.g. 5.1.1


@contextmanager
def deadline(seconds: float, what: str):
    """Raise TransientError if the block runs longer than `seconds` in all.

    Socket timeouts bound each read, not their sum (connect, then every SMTP
    reply; a gateway trickling bytes). This is eventlet's timer: it interrupts
    green I/O, which is all I/O under nameko.
    """
    timer = eventlet.Timeout(seconds)
    try:
        yield
    except eventlet.Timeout as exc:
        if exc is not timer:
            raise
        raise TransientError(f"{what} did not answer within {seconds:g}s") from None
    finally:
        timer.cancel()


def breaker_for(name: str, settings) -> CircuitBreaker:
    return CircuitBreaker(name, settings.circuit_failures, settings.circuit_reset)


class SmtpSender:
    """Sends over a small pool of open connections: connect + EHLO (+ STARTTLS
    + AUTH) is the slow part of sending. A pooled connection idle for more than
    a second is checked with NOOP before use, so a dead one is replaced before
    any of the message is sent (one used a moment ago is taken as it is: under
    load that saves a round trip per email, and a server that dropped it in
    that moment costs one retry); one that failed during a send is closed,
    never reused, and the message is not resent here but retried by the
    consumer like any failure.
    (A 250 reply lost after the server took the message is the one duplicate
    SMTP cannot rule out, pooled or not; the stable Message-ID helps mailboxes.)
    """

    def __init__(self, settings, breaker: CircuitBreaker | None = None):
        self.s = settings
        self.breaker = breaker or breaker_for("smtp", settings)
        self._idle: list[tuple[float, smtplib.SMTP]] = []  # (returned at, connection)

    def send(self, to: str, subject: str, text: str, message_id: str) -> str:
        msg = compose_email(self.s.smtp_from, to, subject, text, message_id)
        metrics.provider_call("smtp", self.breaker.call, self._deliver, msg)
        return msg["Message-ID"]

    def _deliver(self, msg: EmailMessage) -> None:
        try:
            with deadline(self.s.smtp_timeout, "SMTP server"):
                smtp = self._checkout()
                try:
                    smtp.send_message(msg)
                except BaseException:
                    smtp.close()  # mid-transaction state unknown: never reuse it
                    raise
            self._checkin(smtp)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (0, b""))
            raise _smtp_failure("recipient refused", "recipient deferred", code, reply) from exc
        except smtplib.SMTPResponseException as exc:
            raise _smtp_failure("message refused", "message deferred", exc.smtp_code, exc.smtp_error) from exc
        except (OSError, smtplib.SMTPException, socket.timeout) as exc:
            raise TransientError(f"SMTP server unavailable ({type(exc).__name__})") from exc

    def _checkout(self) -> smtplib.SMTP:
        # list.pop/append do no I/O, so green threads never share a connection.
        while self._idle:
            since, smtp = self._idle.pop()
            idle = time.monotonic() - since
            if idle < SMTP_FRESH or (idle < SMTP_MAX_IDLE and _alive(smtp)):
                return smtp
            smtp.close()
        return mail.connect(self.s)

    def _checkin(self, smtp: smtplib.SMTP) -> None:
        if len(self._idle) < SMTP_POOL_SIZE:
            self._idle.append((time.monotonic(), smtp))
        else:  # no QUIT round trip: the message is sent, the worker should be free
            smtp.close()

    def close(self) -> None:
        while self._idle:
            _quit(self._idle.pop()[1])


def _smtp_failure(refused: str, deferred: str, code: int, reply) -> Exception:
    """A 5xx reply is final, anything else may pass later (greylisting answers 450 to RCPT).

    >>> _smtp_failure("recipient refused", "recipient deferred", 550, b"5.1.1 <an@example.vn>: unknown")
    PermanentError('recipient refused (SMTP 550 5.1.1)')
    """
    reply = reply if isinstance(reply, bytes) else str(reply or "").encode("utf-8", "replace")
    enhanced = _ENHANCED_STATUS.match(reply)
    status = f"SMTP {code}" + (f" {enhanced.group(1).decode()}" if enhanced else "")
    if 500 <= code < 600:
        return PermanentError(f"{refused} ({status})")
    return TransientError(f"{deferred} ({status})")


def compose_email(sender: str, to: str, subject: str, text: str, delivery_id: str) -> EmailMessage:
    """The message as it goes out: plain UTF-8 text, a stable Message-ID.

    compat32 headers, encoded here: the default policy's folder loses the space
    between two encoded words in a long non-ASCII subject ("hoàn thiện" arrived
    as "hoànthiện" in about one Vietnamese subject in five, Python 3.11);
    Header() puts every space inside its encoded words."""
    msg = EmailMessage(policy=compat32)
    msg["From"] = formataddr(parseaddr(sender), "utf-8")  # a Vietnamese sender name too
    msg["To"], msg["Subject"] = to, Header(subject, "utf-8")
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = _message_id(delivery_id)
    msg.set_content(text, charset="utf-8", content_manager=raw_data_manager)
    return msg


def _message_id(delivery_id: str) -> str:
    """Stable per delivery (event, channel, recipient), so a mailbox can drop a resent copy.

    The left part must be a dot-atom: the ':' of a delivery id is not allowed
    there (Python's own header parser cut "<id:email@onestop>" down to "<id").

    >>> _message_id("6f0c2a4e-9b1d:email:vyda-leader")
    '<6f0c2a4e-9b1d.email.vyda-leader@onestop>'
    """
    return f"<{_NOT_ATEXT.sub('.', delivery_id).strip('.')}@onestop>"


def _alive(smtp: smtplib.SMTP) -> bool:
    try:
        return smtp.noop()[0] == 250
    except (OSError, smtplib.SMTPException):
        return False


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


class SmsGateway:
    """POST {"to", "text", "sender", "reference"}; the reference (the delivery
    id) lets the gateway dedupe a retry of a send that timed out on our side
    but went out on theirs."""

    def __init__(self, settings, breaker: CircuitBreaker | None = None):
        self.s = settings
        self.breaker = breaker or breaker_for("sms", settings)
        self.session = _session_for(settings.sms_url)

    def send(self, to: str, text: str, reference: str) -> str:
        return metrics.provider_call("sms", self.breaker.call, self._post, to, text, reference)

    def _post(self, to: str, text: str, reference: str) -> str:
        headers = {"Authorization": f"Bearer {self.s.sms_token}"} if self.s.sms_token else {}
        timeout = self.s.sms_timeout
        try:
            with deadline(timeout, "SMS gateway"):
                response = self.session.post(self.s.sms_url, json={
                    "to": to, "text": text, "sender": self.s.sms_sender, "reference": reference},
                    headers=headers, timeout=(timeout, timeout))  # (connect, read)
        except requests.RequestException as exc:  # its text has the gateway's URL, which may hold a key
            raise TransientError(f"SMS gateway unavailable ({type(exc).__name__})") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(f"SMS gateway answered {response.status_code}")
        if response.status_code >= 400:  # its body may name the number
            raise PermanentError(f"SMS gateway refused the message (HTTP {response.status_code})")
        try:
            return str(response.json().get("id", ""))
        except (ValueError, AttributeError):  # accepted (2xx) all the same; resending would not help
            return ""


def _session_for(url: str) -> requests.Session:
    """A keep-alive session that reads the proxy and CA settings of the environment
    (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE...) once, at start-up: with
    `trust_env` requests reads them again on every call, which showed up as a
    good part of an SMS's cost."""
    session = requests.Session()
    session.proxies = requests.utils.get_environ_proxies(url) or {}
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    session.trust_env = False
    return session


class Channels(dict):
    """channel -> send(message, delivery id), as `handlers.notify` wants them,
    plus the providers' breaker states for /healthz."""

    def __init__(self, smtp: SmtpSender, sms: SmsGateway):
        super().__init__(email=lambda m, ref: smtp.send(m.to, m.subject, m.text, ref),
                         sms=lambda m, ref: sms.send(m.to, m.text, ref))
        self.smtp, self.sms = smtp, sms

    def breakers(self) -> dict:
        return {"email": self.smtp.breaker.snapshot(), "sms": self.sms.breaker.snapshot()}

    def close(self) -> None:
        self.smtp.close()
