"""A real SMTP server (aiosmtpd) that keeps every message, with an HTTP API.

    python -m onestop.dev.sinks.smtp

Environment (defaults): SMTP_SINK_HOST=127.0.0.1, SMTP_SINK_PORT=1025,
SMTP_SINK_HTTP=127.0.0.1:8025, SMTP_SINK_FILE= (unset: memory only). With a
file, each message is on disk (fsynced) before the server answers 250, and a
sink started again on it lists every message it accepted before.

HTTP API:
    GET    /api/v1/messages          list, oldest first; ?to=ADDR ?q=TEXT
    GET    /api/v1/messages/{id}     one message, with its raw source
    DELETE /api/v1/messages          forget all messages
    GET    /api/v1/faults            the fault in force
    POST   /api/v1/faults            {"mode": "ok"|"reject"|"down"|"refuse", "times": N?}
    GET    /healthz

Faults: `reject` answers 451 (temporary failure) to DATA, as a greylisting or
overloaded relay does; `down` greets new connections with 421 and hangs up,
and answers 421 to DATA on connections opened before; `refuse` answers 550 to
RCPT TO with the address in the reply, as a real server refusing an unknown
mailbox does (`times` counts refused recipients).
"""
from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.policy import compat32
from email.utils import getaddresses

from aiosmtpd.controller import Controller

from . import Faults, HttpServer, JsonHandler, MessageLog, now_iso, parse_addr, run_until_signal

FAULT_MODES = ("ok", "reject", "down", "refuse")
REJECT_REPLY = "451 4.3.0 Temporary failure, try again later (fault injection)"
DOWN_REPLY = "421 4.3.2 Service not available (fault injection)"
REFUSE_REPLY = "550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"


def _decode(part) -> str:
    """Text of a MIME part; its declared charset first, then UTF-8."""
    try:
        return part.get_content()
    except (LookupError, UnicodeDecodeError):
        return (part.get_payload(decode=True) or b"").decode("utf-8", "replace")


def _body(msg: EmailMessage, kind: str) -> str:
    part = msg.get_body(preferencelist=(kind,))
    # SMTP carries CRLF line ends; readers and tests expect Python's "\n".
    return _decode(part).replace("\r\n", "\n") if part is not None else ""


def _addresses(msg: EmailMessage, header: str) -> list[str]:
    return [addr for _, addr in getaddresses(msg.get_all(header, [])) if addr]


def _attachments(msg: EmailMessage) -> list[dict]:
    return [
        {"filename": part.get_filename(), "content_type": part.get_content_type(),
         "size": len(part.get_payload(decode=True) or b"")}
        for part in msg.iter_attachments()
    ]


def parse_message(raw: bytes, mail_from: str, rcpt_tos: list[str]) -> dict:
    """The stored record: envelope, decoded headers and bodies, raw source.

    A single-part text message (what OneStop sends) is read with the fast
    compat32 parser; anything else with the full `email.policy.default` one.
    They give the same record for the simple case (a property test checks it);
    the fast one takes a seventh of the time, which matters for a sink that
    shares the machine with what it measures."""
    simple = _parse_simple(raw, mail_from, rcpt_tos)
    if simple is not None:
        return simple
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return {
        "received_at": now_iso(),
        "mail_from": mail_from,
        "rcpt_tos": list(rcpt_tos),
        "from": str(msg.get("From", "")),
        "to": _addresses(msg, "To"),
        "cc": _addresses(msg, "Cc"),
        "subject": str(msg.get("Subject", "")),
        "text": _body(msg, "plain"),
        "html": _body(msg, "html"),
        "message_id": str(msg.get("Message-ID", "")),
        "date": str(msg.get("Date", "")),
        "headers": [[name, str(value)] for name, value in msg.items()],
        "attachments": _attachments(msg),
        "size": len(raw),
        "raw": raw.decode("utf-8", "replace"),
    }


_NEEDS_QUOTING = re.compile(r'[][\\()<>@,:;".]')


def _header(msg, name: str) -> str:
    value = msg.get(name)
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except (LookupError, UnicodeDecodeError, ValueError, HeaderParseError):
        return str(value)


def _parse_simple(raw: bytes, mail_from: str, rcpt_tos: list[str]) -> dict | None:
    """The record of a single-part text/plain message, or None for anything else."""
    msg = email.message_from_bytes(raw, policy=compat32)
    if msg.is_multipart() or msg.get_content_type() != "text/plain" or msg.get_filename() \
            or msg.get("Content-Disposition") or msg.defects:
        return None
    payload = msg.get_payload(decode=True) or b""
    try:
        text = payload.decode(msg.get_content_charset() or "us-ascii")
    except (LookupError, UnicodeDecodeError):
        return None  # let the full parser decide
    for name in ("From", "To", "Cc", "Reply-To", "Sender"):
        if name in msg and _NEEDS_QUOTING.search(_header(msg, name).rpartition("<")[0]):
            return None  # a display name the full parser would quote: let it
    return {
        "received_at": now_iso(),
        "mail_from": mail_from,
        "rcpt_tos": list(rcpt_tos),
        "from": _header(msg, "From"),
        "to": [addr for _, addr in getaddresses([_header(msg, "To")]) if addr] if "To" in msg else [],
        "cc": [addr for _, addr in getaddresses([_header(msg, "Cc")]) if addr] if "Cc" in msg else [],
        "subject": _header(msg, "Subject"),
        "text": text.replace("\r\n", "\n"),
        "html": "",
        "message_id": _header(msg, "Message-ID"),
        "date": _header(msg, "Date"),
        "headers": [[name, _header(msg, name)] for name in msg.keys()],
        "attachments": [],
        "size": len(raw),
        "raw": raw.decode("utf-8", "replace"),
    }


class _SmtpHandler:
    """aiosmtpd hook object: stores messages, or fails as told."""

    def __init__(self, store: MessageLog, faults: Faults):
        self.store = store
        self.faults = faults

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.faults.snapshot()["mode"] == "refuse":
            self.faults.take()
            return REFUSE_REPLY.format(address=address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        mode, _ = self.faults.take()
        if mode == "reject":
            return REJECT_REPLY
        if mode == "down":
            # RFC 5321 §3.8: a server that answers 421 closes the channel.
            server.loop.call_soon(server.transport.close)
            return DOWN_REPLY
        raw = envelope.original_content or envelope.content
        self.store.add(parse_message(raw, envelope.mail_from, envelope.rcpt_tos))
        return "250 2.0.0 Message accepted for delivery"


class _Refuse(asyncio.Protocol):
    """What a relay that is shutting down says to a new connection."""

    def connection_made(self, transport):
        transport.write(DOWN_REPLY.encode() + b"\r\n")
        transport.close()


class _Controller(Controller):
    def __init__(self, handler: _SmtpHandler, **kwargs):
        super().__init__(handler, **kwargs)
        self._faults = handler.faults

    def factory(self):
        # Called once per connection, so `down` applies to new clients at once.
        if self._faults.snapshot()["mode"] == "down":
            self._faults.take()  # a refused connection counts against `times`
            return _Refuse()
        return super().factory()

    def _trigger_server(self):
        # Port 0 asks the OS for a free port; learn it before aiosmtpd
        # connects to itself to check that it is serving.
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def _matches(record: dict, to: str | None, q: str | None) -> bool:
    if to and to.casefold() not in {a.casefold() for a in record["to"] + record["cc"] + record["rcpt_tos"]}:
        return False
    if q and q.casefold() not in (record["subject"] + "\n" + record["text"]).casefold():
        return False
    return True


def _summary(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "raw"}


class _Api(JsonHandler):
    routes = (
        ("GET", re.compile(r"/healthz"), "healthz"),
        ("GET", re.compile(r"/api/v1/messages"), "list_messages"),
        ("DELETE", re.compile(r"/api/v1/messages"), "clear_messages"),
        ("GET", re.compile(r"/api/v1/messages/(\d+)"), "get_message"),
        ("GET", re.compile(r"/api/v1/faults"), "get_faults"),
        ("POST", re.compile(r"/api/v1/faults"), "set_faults"),
    )

    def healthz(self):
        self.send_json(200, {"status": "ok"})

    def list_messages(self):
        to, q = self.query.get("to"), self.query.get("q")
        found = [_summary(r) for r in self.state.store.snapshot() if _matches(r, to, q)]
        self.send_json(200, found)

    def get_message(self, ident: str):
        for record in self.state.store.snapshot():
            if record["id"] == int(ident):
                return self.send_json(200, record)
        self.send_json(404, {"error": "no such message"})

    def clear_messages(self):
        self.state.store.clear()
        self.send_json(200, {"deleted": True})

    def get_faults(self):
        self.send_json(200, self.state.faults.snapshot())

    def set_faults(self):
        self.send_json(200, self.state.faults.configure(self.read_json()))


class SmtpSink:
    """A running sink: `.port` (SMTP), `.http_url`, `.messages()`, `.stop()`."""

    def __init__(self, host: str, port: int, http_host: str, http_port: int,
                 store_file: str | None = None):
        self.store = MessageLog(store_file)
        self.faults = Faults(FAULT_MODES)
        self._controller = _Controller(
            _SmtpHandler(self.store, self.faults), hostname=host, port=port,
            # An explicit name spares aiosmtpd a getfqdn() DNS lookup.
            server_hostname="onestop-smtp-sink")
        self._http = HttpServer(_Api, http_host, http_port, self)

    def start(self) -> "SmtpSink":
        self._controller.start()
        self._http.start()
        return self

    @property
    def host(self) -> str:
        return self._controller.hostname

    @property
    def port(self) -> int:
        return self._controller.port

    @property
    def http_url(self) -> str:
        return self._http.url

    def messages(self) -> list[dict]:
        return self.store.snapshot()

    def clear(self) -> None:
        self.store.clear()

    def set_fault(self, mode: str, times: int | None = None) -> dict:
        return self.faults.configure({"mode": mode, "times": times})

    def stop(self) -> None:
        self._http.stop()
        self._controller.stop()
        self.store.close()


def start(host: str = "127.0.0.1", port: int = 0, http_host: str = "127.0.0.1",
          http_port: int = 0, store_file: str | None = None) -> SmtpSink:
    """Start in this process on background threads; port 0 = any free port."""
    return SmtpSink(host, port, http_host, http_port, store_file).start()


def main() -> None:
    host = os.environ.get("SMTP_SINK_HOST", "127.0.0.1")
    port = int(os.environ.get("SMTP_SINK_PORT", "1025"))
    http_host, http_port = parse_addr(os.environ.get("SMTP_SINK_HTTP", "127.0.0.1:8025"))
    store_file = os.environ.get("SMTP_SINK_FILE") or None
    sink = start(host, port, http_host, http_port, store_file)
    run_until_signal(sink, f"SMTP sink: smtp://{sink.host}:{sink.port} "
                           f"api {sink.http_url}/api/v1/messages file={store_file or '-'}")


if __name__ == "__main__":
    main()
