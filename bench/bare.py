"""The bare chain under the pipeline's load: the same phases, the same load generator,
the same monitor and the same "sustained" rule as bench.pipeline, against the four
nameko services of bench/bare_services.py (nothing but nameko), so that `make bench`
can say how the platform's highest sustained rate compares with what nameko itself
carries on this machine in the same run (issue 18).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from bench.pipeline import Pipeline, _free_port
from bench.bare_services import SERVICES

ROOT = Path(__file__).resolve().parent.parent


class BareChain(Pipeline):
    """Four processes, one per bare service, on the run's vhost; no sinks, no store, no tokens."""

    def __init__(self, amqp_uri: str, log_dir: Path):  # not Pipeline's: that one builds a platform
        self.amqp_uri, self.log_dir = amqp_uri, log_dir
        self.http_ports = {"intake": _free_port(), "audit": _free_port()}
        self.procs: dict[str, subprocess.Popen] = {}

    def __enter__(self):
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for name in SERVICES:  # audit first: its queues must be bound before intake publishes
            argv = [sys.executable, "-m", "bench.bare_services", name, self.amqp_uri,
                    str(self.http_ports.get(name, 0))]
            log = open(self.log_dir / f"bare-{name}.log", "w")
            self.procs[name] = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        for name in SERVICES:
            while "started" not in (self.log_dir / f"bare-{name}.log").read_text():
                if self.procs[name].poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    raise RuntimeError(f"bare {name} did not start; see {self.log_dir / f'bare-{name}.log'}")
                time.sleep(0.1)
        return self

    def __exit__(self, *exc):
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()

    def processes(self) -> dict:
        return self.procs

    def intake_port(self) -> int:
        return self.http_ports["intake"]

    def counter_token(self) -> str:
        return "bare"  # the bare intake reads no token

    def _sms_ms(self, accepted: list) -> tuple[list[float], int]:
        return [], 0  # no provider: the journey's end in audit is the only latency

    def _journey_end(self, code: str) -> float | None:
        response = requests.get(f"http://127.0.0.1:{self.http_ports['audit']}/journeys/{code}", timeout=30)
        return response.json()["end"] if response.status_code == 200 else None
