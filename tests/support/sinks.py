"""The SMTP and SMS sinks as real processes, read through their HTTP APIs."""
from __future__ import annotations

import os
import subprocess
import sys

import requests

from tests.support.wait import until


class Sinks:
    def __init__(self, smtp_port: int, smtp_http: int, sms_http: int):
        self.smtp_port, self.smtp_http, self.sms_http = smtp_port, smtp_http, sms_http
        self.procs = []

    @property
    def sms_url(self) -> str:
        return f"http://127.0.0.1:{self.sms_http}/api/v1/sms"

    def start(self) -> "Sinks":
        env = {**os.environ, "SMTP_SINK_HOST": "127.0.0.1", "SMTP_SINK_PORT": str(self.smtp_port),
               "SMTP_SINK_HTTP": f"127.0.0.1:{self.smtp_http}", "SMS_SINK_HTTP": f"127.0.0.1:{self.sms_http}"}
        for module in ("onestop.dev.sinks.smtp", "onestop.dev.sinks.sms"):
            self.procs.append(subprocess.Popen([sys.executable, "-m", module], env=env,
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port in (self.smtp_http, self.sms_http):
            until(lambda: _ok(f"http://127.0.0.1:{port}/healthz"), 20, 0.1, f"sink on {port}")
        return self

    def stop(self):
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(10)

    def emails(self, to: str | None = None) -> list[dict]:
        return requests.get(f"http://127.0.0.1:{self.smtp_http}/api/v1/messages",
                            params={"to": to} if to else {}, timeout=5).json()

    def sms(self, to: str | None = None) -> list[dict]:
        return requests.get(self.sms_url, params={"to": to} if to else {}, timeout=5).json()

    def clear(self) -> None:
        requests.delete(f"http://127.0.0.1:{self.smtp_http}/api/v1/messages", timeout=5).raise_for_status()
        requests.delete(self.sms_url, timeout=5).raise_for_status()
        for sink in ("smtp", "sms"):
            self.fault(sink, mode="ok")

    def _faults_url(self, sink: str) -> str:
        return f"http://127.0.0.1:{self.smtp_http if sink == 'smtp' else self.sms_http}/api/v1/faults"

    def fault(self, sink: str, **spec) -> None:
        requests.post(self._faults_url(sink), json=spec, timeout=5).raise_for_status()

    def calls_taken(self, sink: str, times: int) -> int:
        """Calls a fault set with `times` has taken so far (what is left counts them)."""
        left = requests.get(self._faults_url(sink), timeout=5).json().get("times")
        return times - left if left is not None else times


def _ok(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False
