"""Local stand-ins for the outside world: an SMTP relay and an SMS gateway.

They speak the real protocols (SMTP, HTTP+JSON), so the notification service
is exercised end to end without mocks, and they can be told to fail on demand
(`POST /api/v1/faults`) for the reliability tests. Each sink runs as a process
(`python -m onestop.dev.sinks.smtp|sms`) or in-process from a pytest fixture
(`start(...)`). This module holds what both share: a thread-safe message log,
durable in a JSON-lines file when given one, fault state, and a tiny
JSON-over-HTTP server.
"""
from __future__ import annotations

import json
import logging
import os
import re
import signal
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

MAX_FAULT_SECONDS = 3600


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def parse_addr(text: str) -> tuple[str, int]:
    """'127.0.0.1:8025' -> ('127.0.0.1', 8025); env vars use this form."""
    host, _, port = text.strip().rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


class BadRequest(Exception):
    """A client error that becomes `400 {"error": ..., "field": ...}`."""

    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class MessageLog:
    """Received messages in arrival order, kept in a JSON-lines file when given one.

    With a file, every record is appended, flushed and fsynced before `add`
    returns, so before the sink answers 250 (SMTP) or 202 (SMS): a message the
    sender was told is accepted survives a SIGKILL of the sink, and a sink
    started again on the same file lists every message it ever accepted, as a
    real relay or gateway would still have it. That is what lets the fault
    suite count "exactly one SMS" across a crash of the sink. A record changed
    later (`replace`) is appended again; the last line of an id wins.
    """

    def __init__(self, path: str | None = None):
        self._items: dict = {}  # id -> record, in arrival order
        self._seq = 0
        self._lock = threading.Lock()
        self._file = None
        if path:
            self._load(path)
            self._file = open(path, "a", encoding="utf-8")

    def _load(self, path: str) -> None:
        """The records of an earlier run. A last line cut short by a crash is dropped:
        its sender never got an answer, so it sends the message again."""
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            return
        whole = data[:data.rfind(b"\n") + 1]
        if len(whole) != len(data):
            with open(path, "r+b") as fh:  # appends must start on a line of their own
                fh.truncate(len(whole))
        for number, line in enumerate(whole.decode("utf-8").splitlines(), start=1):
            try:
                record = json.loads(line)
            except ValueError:
                raise ValueError(f"{path}, line {number}: not a JSON record; the sink's file holds one per line") \
                    from None
            self._items[record["id"]] = record
        self._seq = max((i for i in self._items if isinstance(i, int)), default=0)

    def add(self, record: dict) -> dict:
        with self._lock:
            # A record without an id of its own gets a sequence number that is
            # never reused after a clear: a stale id then gives 404 instead of
            # silently pointing at a different message.
            self._seq += 1
            record = {"id": self._seq, **record}
            self._keep(record)
        return record

    def replace(self, record: dict) -> None:
        """A new version of a record already kept (same id)."""
        with self._lock:
            self._keep(record)

    def _keep(self, record: dict) -> None:
        if self._file is not None:
            self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())
        self._items[record["id"]] = record

    def snapshot(self) -> list[dict]:
        with self._lock:
            return [dict(item) for item in self._items.values()]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            if self._file is not None:
                self._file.truncate(0)
                os.fsync(self._file.fileno())

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class Faults:
    """The failure a sink should simulate, optionally for the next N requests.

    `times` lets a test say "fail twice, then recover" without racing the
    client to switch the mode back.
    """

    def __init__(self, modes: tuple[str, ...]):
        self.modes = modes
        self._lock = threading.Lock()
        self._state = {"mode": "ok", "seconds": 0, "times": None}

    def configure(self, body: dict) -> dict:
        mode = body.get("mode")
        if mode not in self.modes:
            raise BadRequest("mode", f"mode must be one of {list(self.modes)}")
        seconds = body.get("seconds", 0)
        if not _is_number(seconds) or not 0 <= seconds <= MAX_FAULT_SECONDS:
            raise BadRequest("seconds", f"seconds must be 0..{MAX_FAULT_SECONDS}")
        times = body.get("times")
        if times is not None and (not isinstance(times, int) or times < 1):
            raise BadRequest("times", "times must be a positive integer")
        with self._lock:
            self._state = {"mode": mode, "seconds": seconds, "times": times}
            return dict(self._state)

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self._state)

    def take(self) -> tuple[str, float]:
        """The fault for this request; counts it against `times`."""
        with self._lock:
            mode, seconds, times = (self._state[k] for k in ("mode", "seconds", "times"))
            if mode != "ok" and times is not None:
                self._state["times"] = times - 1
                if times <= 1:
                    self._state = {"mode": "ok", "seconds": 0, "times": None}
            return mode, seconds


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class JsonHandler(BaseHTTPRequestHandler):
    """Routes `(METHOD, path regex)` to handler methods; speaks JSON only.

    Subclasses set `routes`; the sink's state is `self.server.state`.
    """

    routes: tuple[tuple[str, re.Pattern, str], ...] = ()
    server_version = "OneStopDevSink/0.1"
    protocol_version = "HTTP/1.1"  # keep-alive, as a real gateway offers (every answer has a Content-Length)
    # Headers and body go out in two writes; on a kept-alive connection Nagle's algorithm
    # would hold the body until the client's delayed ACK (40 ms on Linux) for every answer.
    disable_nagle_algorithm = True

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    @property
    def state(self):
        return self.server.state

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        # Read the body up front: answering (e.g. 401) before reading it can
        # make the client see a connection reset instead of our answer.
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        target = self._route(method, url.path)
        try:
            if target is None:
                return self._no_route(url.path)
            name, args = target
            getattr(self, name)(*args)
        except BadRequest as err:
            self.send_json(400, {"error": err.message, "field": err.field})
        except ConnectionError:  # the client timed out first (`hang` faults)
            log.debug("client went away before the answer")
        except Exception:  # a sink must keep answering whatever a test sends
            log.exception("devsink handler failed")
            self.send_json(500, {"error": "internal error"})

    def _route(self, method, path):
        for verb, pattern, name in self.routes:
            match = pattern.fullmatch(path)
            if match and verb == method:
                return name, match.groups()
        return None

    def _no_route(self, path: str) -> None:
        known = any(p.fullmatch(path) for _, p, _ in self.routes)
        self.send_json(405 if known else 404, {"error": "no such endpoint"})

    def read_json(self) -> dict:
        try:
            body = json.loads(self.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError):
            raise BadRequest(None, "body must be UTF-8 JSON") from None
        if not isinstance(body, dict):
            raise BadRequest(None, "body must be a JSON object")
        return body

    def send_json(self, status: int, payload, headers: dict | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):  # keep test output clean
        log.debug("%s %s", self.address_string(), fmt % args)


class HttpServer:
    """A ThreadingHTTPServer on its own thread; port 0 picks a free port."""

    def __init__(self, handler_cls, host: str, port: int, state):
        self.httpd = ThreadingHTTPServer((host, port), handler_cls)
        self.httpd.state = state
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
            name=f"devsink-http-{self.port}", daemon=True)

    @property
    def host(self) -> str:
        return self.httpd.server_address[0]

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "HttpServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


def run_until_signal(handle, banner: str) -> None:
    """Serve until SIGTERM (docker stop) or SIGINT (Ctrl-C), then stop cleanly."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(banner, flush=True)
    while not stop.wait(1):
        pass
    handle.stop()
    print("stopped", flush=True)
