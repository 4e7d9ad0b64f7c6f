"""One webhook attempt over HTTP: signed per Standard Webhooks, sent to the address that was checked.

The request goes to the IP address `targets.Policy.resolve` checked (the Host
header and TLS SNI/certificate name are the URL's host), redirects are never
followed (a 3xx is a failure, retried), and the attempt is bounded three ways:
connect timeout, read timeout (silence), and a total deadline (a receiver
trickling bytes). Only the status and a few headers are read of the answer.
"""
from __future__ import annotations

import base64
import secrets
import time
from datetime import datetime

import eventlet
import urllib3
from standardwebhooks import Webhook

from services.webhooks.domain import Outcome, outcome
from services.webhooks.targets import Target

CONTENT_TYPE = "application/cloudevents+json"
USER_AGENT = "OneStop-Webhooks/1.0 (+https://onestop.local/docs/webhooks)"
SECRET_BYTES = 32  # Standard Webhooks: between 24 and 64 bytes


def new_secret() -> str:
    """A fresh ``whsec_`` secret: base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signed_headers(event_id: str, payload: str, secrets_: list[str], now: datetime) -> dict:
    """The Standard Webhooks headers: one ``v1,`` signature per secret that signs now, space-separated."""
    signatures = " ".join(Webhook(secret).sign(event_id, now, payload) for secret in secrets_)
    return {"webhook-id": event_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signatures, "Content-Type": CONTENT_TYPE, "User-Agent": USER_AGENT}


class Sender:
    """POSTs one payload; answers an `Outcome` (never raises for what the receiver or the network does)."""

    def __init__(self, connect_timeout: float, read_timeout: float, total_timeout: float):
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self.total = total_timeout

    @classmethod
    def from_settings(cls, settings) -> "Sender":
        return cls(settings.webhook_connect_timeout, settings.webhook_read_timeout, settings.webhook_total_timeout)

    def post(self, target: Target, payload: str, headers: dict) -> tuple[Outcome, float]:
        """(what the attempt came to, its duration in seconds)."""
        started = time.monotonic()
        timer = eventlet.Timeout(self.total)
        try:
            result = self._post(target, payload.encode(), headers)
        except eventlet.Timeout as exc:
            if exc is not timer:
                raise
            result = Outcome("retry", f"no answer within {self.total:g}s")
        except urllib3.exceptions.HTTPError as exc:
            result = Outcome("retry", _network_error(exc))
        finally:
            timer.cancel()
        return result, time.monotonic() - started

    def _post(self, target: Target, body: bytes, headers: dict) -> Outcome:
        pool = self._pool(target)
        try:
            response = pool.urlopen("POST", target.path, body=body, headers={**headers, "Host": _host(target)},
                                    redirect=False, retries=False, preload_content=False, assert_same_host=False)
            response.read(1024, decode_content=False)  # a little of the body, never all of it
            response.release_conn()
            return outcome(response.status, {k.lower(): v for k, v in response.headers.items()})
        finally:
            pool.close()

    def _pool(self, target: Target):
        if target.scheme == "https":
            return urllib3.HTTPSConnectionPool(target.address, target.port, timeout=self.timeout, maxsize=1,
                                               server_hostname=target.host, assert_hostname=target.host,
                                               cert_reqs="CERT_REQUIRED")
        return urllib3.HTTPConnectionPool(target.address, target.port, timeout=self.timeout, maxsize=1)


def _host(target: Target) -> str:
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"


def _network_error(exc: Exception) -> str:
    """A fixed wording of what went wrong on the way (no receiver's text)."""
    reason = getattr(exc, "reason", None) or exc
    text = str(reason).lower()
    for needle, wording in (("refused", "connection refused"), ("timed out", "timed out"),
                            ("certificate", "TLS certificate refused"), ("reset", "connection reset")):
        if needle in text:
            return wording
    return f"network error ({type(reason).__name__})"
