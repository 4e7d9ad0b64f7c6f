"""A real HTTP webhook receiver for tests: a threaded server that records what it is sent.

Each path behaves as the test says (``receiver.behave("/down", status=503,
retry_after=1)``, ``sleep=2`` for a slow one); by default it answers 204. Every
request is kept (path, headers, body, answer), so a test can verify each body
with the subscriber's secret, as a real subscriber would, with `standardwebhooks`.
"""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson


class Receiver:
    def __init__(self, port: int = 0):
        self.requests: list[dict] = []
        self.rules: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def start(self) -> "Receiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def behave(self, path: str, status: int = 204, retry_after: str | None = None, sleep: float = 0.0) -> None:
        with self.lock:
            self.rules[path] = {"status": status, "retry_after": retry_after, "sleep": sleep}

    def received(self, path: str, delivered_only: bool = True) -> list[dict]:
        """What `path` was sent, in arrival order (by default only what it answered 2xx to)."""
        with self.lock:
            return [r for r in self.requests if r["path"] == path and (not delivered_only or r["status"] < 300)]

    def events(self, path: str) -> list[dict]:
        return [orjson.loads(r["body"]) for r in self.received(path)]

    def _answer(self, path: str, request: dict) -> dict:
        with self.lock:
            rule = dict(self.rules.get(path, {"status": 204, "retry_after": None, "sleep": 0.0}))
        if rule["sleep"]:
            time.sleep(rule["sleep"])
        with self.lock:
            self.requests.append({**request, "status": rule["status"], "at": time.monotonic()})
        return rule

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802  (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                rule = receiver._answer(self.path, {"path": self.path, "body": body,
                                                    "headers": {k.lower(): v for k, v in self.headers.items()}})
                self.send_response(rule["status"])
                if rule["retry_after"]:
                    self.send_header("Retry-After", rule["retry_after"])
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        return Handler
