"""The SMTP and SMS sinks as real processes, read through their HTTP APIs.

Each sink keeps what it accepted in a JSON-lines file of its own (a directory
made for this `Sinks`, removed by `stop`), fsynced before it answers, and
reads it back when it starts: `crash()` SIGKILLs both and `restart()` starts
them again on the same ports and files, so what they had received is still
there, as at a real provider.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

from tests.support.wait import until

MODULES = {"smtp": "onestop.dev.sinks.smtp", "sms": "onestop.dev.sinks.sms"}


class Sinks:
    def __init__(self, smtp_port: int, smtp_http: int, sms_http: int):
        self.smtp_port, self.smtp_http, self.sms_http = smtp_port, smtp_http, sms_http
        self.data_dir = Path(tempfile.mkdtemp(prefix="onestop-sinks-"))
        self.procs: dict[str, subprocess.Popen] = {}

    @property
    def sms_url(self) -> str:
        return f"http://127.0.0.1:{self.sms_http}/api/v1/sms"

    def env(self) -> dict:
        """The same for every start, so a restarted sink reads the file the first one wrote."""
        return {**os.environ, "SMTP_SINK_HOST": "127.0.0.1", "SMTP_SINK_PORT": str(self.smtp_port),
                "SMTP_SINK_HTTP": f"127.0.0.1:{self.smtp_http}", "SMS_SINK_HTTP": f"127.0.0.1:{self.sms_http}",
                "SMTP_SINK_FILE": str(self.data_dir / "smtp.jsonl"), "SMS_SINK_FILE": str(self.data_dir / "sms.jsonl")}

    def start(self) -> "Sinks":
        for sink, module in MODULES.items():
            self.procs[sink] = subprocess.Popen([sys.executable, "-m", module], env=self.env(),
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for sink, port in (("smtp", self.smtp_http), ("sms", self.sms_http)):
            until(lambda: self._answers(sink, port), 20, 0.1, f"the {sink} sink on {port}")
        return self

    def _answers(self, sink: str, port: int) -> bool:
        if self.procs[sink].poll() is not None:
            raise RuntimeError(f"the {sink} sink exited with {self.procs[sink].returncode} (port taken?)")
        return _ok(f"http://127.0.0.1:{port}/healthz")

    def crash(self) -> None:
        """SIGKILL both: no clean shutdown, no last write."""
        self.kill()
        for proc in self.procs.values():
            proc.wait()

    def kill(self) -> None:
        """Send both their SIGKILL without waiting (a whole machine's processes die together)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)

    def restart(self) -> "Sinks":
        if any(proc.poll() is None for proc in self.procs.values()):
            raise RuntimeError("restart() starts sinks that died: crash() them first")
        return self.start()

    def ensure_running(self) -> None:
        """Start again whatever died (a scenario that failed between a crash and its restart)."""
        if any(proc.poll() is not None for proc in self.procs.values()):
            self.crash()
            self.start()

    def stop(self):
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            proc.wait(10)
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def emails(self, to: str | None = None) -> list[dict]:
        return requests.get(f"http://127.0.0.1:{self.smtp_http}/api/v1/messages",
                            params={"to": to} if to else {}, timeout=5).json()

    def sms(self, to: str | None = None) -> list[dict]:
        return requests.get(self.sms_url, params={"to": to} if to else {}, timeout=5).json()

    def clear(self) -> None:
        self.ensure_running()
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
