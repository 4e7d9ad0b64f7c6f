"""A small SMS gateway over HTTP+JSON that keeps every message it accepts.

    python -m onestop.dev.sinks.sms

Environment (defaults): SMS_SINK_HTTP=127.0.0.1:8026, SMS_SINK_TOKEN= (unset:
no auth), SMS_SINK_FILE= (unset: memory only). With a file, each accepted
message is on disk (fsynced) before the gateway answers, and a sink started
again on it lists them all and still knows their references, so a resend after
a crash of the sink is absorbed like any other.

Gateway API (what the notification service calls):
    POST /api/v1/sms  {"to": "+84912345678", "text": "...", "sender": "ONESTOP",
                       "reference": "<idempotency key>"}
        202 {"id", "status": "accepted"}; a reference seen before is not
        stored again: 200 {"id": <first id>, "status": "accepted", "duplicate": true};
        400 {"error", "field"}; 401 when SMS_SINK_TOKEN is set and the request
        lacks `Authorization: Bearer <token>`.
Inspection and control (tests and operators; no token, as they are not the
gateway's API):
    GET /api/v1/sms [?to=&reference=]   DELETE /api/v1/sms   GET /healthz
    GET|POST /api/v1/faults  {"mode": "ok"|"error"|"hang"|"refuse", "seconds": N, "times": N?}

`error` answers 500 and stores nothing. `refuse` answers 400 naming the number,
as gateways do for a number they will never deliver to (a permanent failure:
the sender must not retry), and stores nothing. `hang` waits `seconds` and then
accepts the message: like a real gateway that was slow, the client may have
timed out although the SMS went out, which is what `reference` dedupe is for.
"""
from __future__ import annotations

import hmac
import os
import re
import threading
import uuid

from . import BadRequest, Faults, HttpServer, JsonHandler, MessageLog, now_iso, parse_addr, run_until_signal

FAULT_MODES = ("ok", "error", "hang", "refuse")
# E.164 (+84912345678) or the Vietnamese national form (0912345678).
PHONE = re.compile(r"\+[1-9][0-9]{7,14}|0[0-9]{9,10}")
MAX_TEXT = 1600  # 10 concatenated parts; longer is a bug in the caller
MAX_SENDER = 11  # alphanumeric sender ids are at most 11 characters
MAX_REFERENCE = 128


def _string(body: dict, name: str, limit: int, required: bool) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(name, f"{name} is required and must be a non-empty string")
    if len(value) > limit:
        raise BadRequest(name, f"{name} is longer than {limit} characters")
    return value


def validate(body: dict) -> dict:
    """The accepted request, or BadRequest naming the first bad field."""
    to = _string(body, "to", 16, required=True)
    if not PHONE.fullmatch(to):
        raise BadRequest("to", "to must be a phone number like +84912345678")
    return {
        "to": to,
        "text": _string(body, "text", MAX_TEXT, required=True),
        "sender": _string(body, "sender", MAX_SENDER, required=False) or "ONESTOP",
        "reference": _string(body, "reference", MAX_REFERENCE, required=False),
    }


class SmsGateway:
    """Stored messages and the reference index that makes sends idempotent."""

    def __init__(self, token: str | None, store_file: str | None):
        self.token = token or None
        self.store = MessageLog(store_file)
        self.faults = Faults(FAULT_MODES)
        self.stopping = threading.Event()
        self._by_reference = {r["reference"]: r for r in self.store.snapshot() if r.get("reference") is not None}
        self._lock = threading.Lock()

    def accept(self, request: dict) -> tuple[str, bool]:
        """(id, duplicate). Check and insert under one lock: concurrent
        retries carrying the same reference must yield one message."""
        ref = request["reference"]
        with self._lock:
            if ref is not None and ref in self._by_reference:
                # counted, so tests can tell a resend the gateway absorbed from a true duplicate
                first = self._by_reference[ref] = {**self._by_reference[ref],
                                                   "resends": self._by_reference[ref]["resends"] + 1}
                self.store.replace(first)
                return first["id"], True
            record = self.store.add({"id": f"sms-{uuid.uuid4().hex}", **request, "received_at": now_iso(),
                                     "resends": 0})
            if ref is not None:
                self._by_reference[ref] = record
            return record["id"], False

    def authorized(self, header: str | None) -> bool:
        if self.token is None:
            return True
        scheme, _, given = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), self.token)

    def clear(self) -> None:
        with self._lock:
            self.store.clear()
            self._by_reference.clear()


class _Api(JsonHandler):
    routes = (
        ("GET", re.compile(r"/healthz"), "healthz"),
        ("POST", re.compile(r"/api/v1/sms"), "send_sms"),
        ("GET", re.compile(r"/api/v1/sms"), "list_sms"),
        ("DELETE", re.compile(r"/api/v1/sms"), "clear_sms"),
        ("GET", re.compile(r"/api/v1/faults"), "get_faults"),
        ("POST", re.compile(r"/api/v1/faults"), "set_faults"),
    )

    def healthz(self):
        self.send_json(200, {"status": "ok"})

    def send_sms(self):
        gateway = self.state.gateway
        mode, seconds = gateway.faults.take()
        if mode == "error":
            return self.send_json(500, {"error": "gateway error (fault injection)"})
        if mode == "refuse":
            to = self.read_json().get("to")
            return self.send_json(400, {"error": f"destination {to} not reachable (fault injection)", "field": "to"})
        if mode == "hang" and gateway.stopping.wait(seconds):
            return self.send_json(503, {"error": "gateway shutting down"})
        if not gateway.authorized(self.headers.get("Authorization")):
            return self.send_json(401, {"error": "missing or invalid bearer token"},
                                  {"WWW-Authenticate": 'Bearer realm="sms"'})
        ident, duplicate = gateway.accept(validate(self.read_json()))
        if duplicate:
            return self.send_json(200, {"id": ident, "status": "accepted", "duplicate": True})
        self.send_json(202, {"id": ident, "status": "accepted"})

    def list_sms(self):
        wanted = {k: self.query[k] for k in ("to", "reference") if k in self.query}
        found = [r for r in self.state.gateway.store.snapshot()
                 if all(r.get(k) == v for k, v in wanted.items())]
        self.send_json(200, found)

    def clear_sms(self):
        self.state.gateway.clear()
        self.send_json(200, {"deleted": True})

    def get_faults(self):
        self.send_json(200, self.state.gateway.faults.snapshot())

    def set_faults(self):
        self.send_json(200, self.state.gateway.faults.configure(self.read_json()))


class SmsSink:
    """A running sink: `.url` (the POST endpoint), `.messages()`, `.stop()`."""

    def __init__(self, host: str, port: int, token: str | None, store_file: str | None):
        self.gateway = SmsGateway(token, store_file)
        self._http = HttpServer(_Api, host, port, self)

    def start(self) -> "SmsSink":
        self._http.start()
        return self

    @property
    def host(self) -> str:
        return self._http.host

    @property
    def port(self) -> int:
        return self._http.port

    @property
    def base_url(self) -> str:
        return self._http.url

    @property
    def url(self) -> str:
        return f"{self._http.url}/api/v1/sms"

    def messages(self) -> list[dict]:
        return self.gateway.store.snapshot()

    def clear(self) -> None:
        self.gateway.clear()

    def set_fault(self, mode: str, seconds: float = 0, times: int | None = None) -> dict:
        return self.gateway.faults.configure({"mode": mode, "seconds": seconds, "times": times})

    def stop(self) -> None:
        self.gateway.stopping.set()  # release hanging requests at once
        self._http.stop()
        self.gateway.store.close()


def start(host: str = "127.0.0.1", port: int = 0, token: str | None = None,
          store_file: str | None = None) -> SmsSink:
    """Start in this process on a background thread; port 0 = any free port."""
    return SmsSink(host, port, token, store_file).start()


def main() -> None:
    host, port = parse_addr(os.environ.get("SMS_SINK_HTTP", "127.0.0.1:8026"))
    store_file = os.environ.get("SMS_SINK_FILE") or None
    sink = start(host, port, os.environ.get("SMS_SINK_TOKEN") or None, store_file)
    auth = "bearer token" if sink.gateway.token else "no auth"
    run_until_signal(sink, f"SMS sink: POST {sink.url} ({auth}) file={store_file or '-'}")


if __name__ == "__main__":
    main()
