"""The pipeline under load: the four services as processes (as `make run` starts
them), a load generator over HTTP, and what it takes to carry the load.

Per phase: the offered and achieved rate; end-to-end latency from the intake's
201 to the dossier's last audit entry (received, routed, assigned and both
receipts on record) and from the 201 to its SMS at the gateway sink; CPU
seconds and peak RSS per service (and the broker); the longest queue seen;
confirmed publishes per dossier, from the broker's own counters.
"""
from __future__ import annotations

import shutil
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from bench.baseline import pct
from bench.load import Load
from bench.tokens import BenchTokens
from onestop.timestamps import parse_time
from onestop.dev.launcher import Platform, Ports
from onestop.dev.rabbit_admin import MGMT, AUTH, queue_depths, vhost_of

CENTERS = ("hue-vyda", "hue-phuxuan", "hue-thuanhoa", "hue-huongthuy")
# the audit entries a new dossier's journey leaves: its end is the last of them
JOURNEY = {"dossier.received.v1": 1, "dossier.routed.v1": 1, "dossier.assigned.v1": 1, "notification.sent.v1": 2}
STATS_SETTLE = 5.5  # seconds: RabbitMQ's management statistics are sampled every 5 s
LATENCY_SAMPLE = 2000  # dossiers per phase whose audit timeline is read back (all of them below that)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _broker_process():
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "beam.smp" and "rabbit" in " ".join(proc.info["cmdline"] or []):
            return proc
    return None


class Monitor:
    """Samples, twice a second: CPU and RSS of every process, and queue depths."""

    def __init__(self, procs: dict, amqp_uri: str):
        self.procs = {name: psutil.Process(p.pid) for name, p in procs.items()}
        broker = _broker_process()
        if broker is not None:
            self.procs["rabbitmq"] = broker
        self.amqp_uri = amqp_uri
        self._stop = threading.Event()

    def __enter__(self):
        self.cpu0 = {n: self._cpu(p) for n, p in self.procs.items()}
        self.rss = {n: 0 for n in self.procs}
        self.longest = ("", 0)
        self.total_max = 0
        self.started = time.monotonic()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()
        self.elapsed = time.monotonic() - self.started
        self.cpu = {n: round(self._cpu(p) - self.cpu0[n], 2) for n, p in self.procs.items()}

    @staticmethod
    def _cpu(proc) -> float:
        times = proc.cpu_times()
        return times.user + times.system

    def _run(self):
        while not self._stop.wait(0.5):
            for name, proc in self.procs.items():
                try:
                    self.rss[name] = max(self.rss[name], proc.memory_info().rss)
                except psutil.Error:
                    pass
            try:
                depths = {q: d for q, d in queue_depths(self.amqp_uri, timeout=5).items() if not q.endswith(".dlq")}
            except (requests.RequestException, ValueError):
                continue
            if depths:
                name, depth = max(depths.items(), key=lambda kv: kv[1])
                if depth > self.longest[1]:
                    self.longest = (name, depth)
                self.total_max = max(self.total_max, sum(depths.values()))


@dataclass
class Phase:
    name: str
    offered_rate: float
    seconds: float
    accepted: int = 0
    achieved_rate: float = 0.0
    drain_s: float | None = None
    sustained: bool = False
    e2e_ms: dict = field(default_factory=dict)
    sms_ms: dict = field(default_factory=dict)
    cpu_s: dict = field(default_factory=dict)
    cpu_ms_per_dossier: dict = field(default_factory=dict)
    peak_rss_mb: dict = field(default_factory=dict)
    longest_queue: dict = field(default_factory=dict)
    publishes_per_dossier: float = 0.0
    lost: int = 0

    def line(self) -> str:
        e, s = self.e2e_ms, self.sms_ms
        return (f"{self.name:<14} offered {self.offered_rate:6.1f}/s achieved {self.achieved_rate:6.1f}/s "
                f"{'sustained' if self.sustained else 'NOT sustained'}; e2e p50/p95/p99 "
                f"{e.get('p50', 0):.0f}/{e.get('p95', 0):.0f}/{e.get('p99', 0):.0f} ms; sms p99 {s.get('p99', 0):.0f} ms; "
                f"longest queue {self.longest_queue.get('messages', 0)}; lost {self.lost}; "
                f"cpu ms/dossier {self.cpu_ms_per_dossier}")


class Pipeline:
    """A running platform on its own vhost, ready to take load phases."""

    def __init__(self, amqp_uri: str, log_dir: Path, shards: dict | None = None, root: Path | None = None,
                 env: dict | None = None):
        self.amqp_uri = amqp_uri
        if "DATA_DIR" not in (env or {}):  # a store of the run's own, empty: a run before in the same
            shutil.rmtree(log_dir / "data", ignore_errors=True)  # place left codes audit would find again
        ports = Ports(**{name: _free_port() for name in Ports().__dict__})
        self.tokens, self.root = BenchTokens(log_dir / "staff-auth"), root
        self.platform = Platform(ports=ports, log_dir=log_dir, shards=shards or {}, witness=False, tools=False,
                                 env={"AMQP_URI": amqp_uri, **self.tokens.env(), "LOG_LEVEL": "WARNING",
                                      # one counter token carries the whole load: measure the platform, not the limit
                                      "COUNTER_SUBMIT_LIMIT": "1000000/60",
                                      "AUDIT_RATE_LIMIT": "1000000/60",  # the journeys are read from audit
                                      # a store of its own beside its logs: never make run's var/data
                                      "DATA_DIR": str(log_dir / "data"),
                                      **(env or {})}, **({"root": root} if root else {}))
        # the audit API is staff work: the bench reads the journeys as an auditor of every center
        auditor = self.tokens.mint(root, "bench-auditor", "auditor", CENTERS, ttl_s=12 * 3600)
        self.audit_headers = {"Authorization": f"Bearer {auditor}"}

    def __enter__(self):
        self.platform.start(timeout=120)
        return self

    def __exit__(self, *exc):
        self.platform.stop()

    @property
    def ports(self) -> Ports:
        return self.platform.ports

    def services(self) -> dict:
        return {n: p for n, p in self.platform.procs.items() if not n.endswith("-sink")}

    def processes(self) -> dict:
        """What the monitor samples: the services and the sinks (and it adds the broker)."""
        return self.platform.procs

    def intake_port(self) -> int:
        return self.ports.intake

    def counter_token(self) -> str:
        return self.tokens.mint(self.root, "bench-counter", "counter_staff", CENTERS)

    def phase(self, name: str, rate: float, seconds: float, drain_timeout: float | None = None) -> Phase:
        load = Load("127.0.0.1", self.intake_port(), self.counter_token(), CENTERS,
                    threads=max(4, min(32, int(rate / 10))))
        published0 = self._published()
        with Monitor(self.processes(), self.amqp_uri) as monitor:  # the services, the sinks and the broker
            start = time.monotonic()
            load.run(rate, seconds)
            sent_for = time.monotonic() - start
            drain_s = self._drain(load, drain_timeout if drain_timeout is not None else max(30.0, seconds * 2))
        time.sleep(STATS_SETTLE)  # the broker's counters are refreshed every 5 s
        phase = Phase(name, rate, seconds, accepted=len(load.accepted),
                      achieved_rate=round(len(load.accepted) / sent_for, 1),
                      drain_s=None if drain_s is None else round(drain_s, 1))
        n = max(1, len(load.accepted))
        phase.cpu_s = monitor.cpu
        phase.cpu_ms_per_dossier = {k: round(v * 1000 / n, 1) for k, v in monitor.cpu.items()}
        phase.peak_rss_mb = {k: round(v / 2**20, 1) for k, v in monitor.rss.items()}
        phase.longest_queue = {"queue": monitor.longest[0], "messages": monitor.longest[1],
                               "all_queues_max": monitor.total_max}
        phase.publishes_per_dossier = round((self._published() - published0) / n, 2)
        self._latencies(phase, load)
        self.last_accepted = load.accepted  # the codes of the phase's dossiers (bench/stored.py copies them)
        # Sustained: the platform kept up with the schedule and had no backlog to speak of:
        # the last dossiers were through within a second of their submission.
        phase.sustained = (drain_s is not None and drain_s <= 1.0
                           and phase.achieved_rate >= 0.95 * rate and phase.lost == 0)
        return phase

    def _published(self) -> int:
        info = requests.get(f"{MGMT}/api/vhosts/{vhost_of(self.amqp_uri)}", auth=AUTH, timeout=10).json()
        return info.get("message_stats", {}).get("publish", 0)

    def _drain(self, load: Load, timeout: float) -> float | None:
        """Seconds from the last 201 until the journeys of the last dossiers taken in are
        all on record in audit (each center's queues are first in, first out, so the
        rest are done by then), or None if that takes longer than `timeout`."""
        last = sorted(load.accepted, key=lambda a: a.at)[-20:]
        if not last:
            return 0.0
        pending = {a.code for a in last}
        while pending and time.time() - last[-1].at < timeout:
            pending = {code for code in pending if self._journey_end(code) is None}
            if pending:
                time.sleep(0.1)
        return None if pending else max(0.0, time.time() - last[-1].at)

    def _sms_ms(self, accepted: list) -> tuple[list[float], int]:
        """From each 201 to its SMS at the gateway sink, and how many SMS are missing."""
        sms = {}
        for message in requests.get(f"http://127.0.0.1:{self.ports.sms_http}/api/v1/sms", timeout=120).json():
            sms.setdefault(message["to"], message)
        sms_ms, missing = [], 0
        for a in accepted:
            if a.phone in sms:
                sms_ms.append((_ts(sms[a.phone]["received_at"]) - a.at) * 1000)
            else:
                missing += 1
        return sms_ms, missing

    def _latencies(self, phase: Phase, load: Load) -> None:
        accepted = sorted(load.accepted, key=lambda a: a.at)
        sms_ms, missing = self._sms_ms(accepted)
        step = max(1, len(accepted) // LATENCY_SAMPLE)
        sample = accepted[::step]
        with ThreadPoolExecutor(8) as pool:
            ends = list(pool.map(self._journey_end, [a.code for a in sample]))
        e2e_ms = [(end - a.at) * 1000 for a, end in zip(sample, ends) if end is not None]
        missing += sum(end is None for end in ends)
        phase.lost = missing
        phase.e2e_ms = _summary(e2e_ms)
        phase.sms_ms = _summary(sms_ms)
        phase.e2e_ms["sampled"] = len(sample)

    def _journey_end(self, code: str) -> float | None:
        """When the last entry of the dossier's journey was recorded, or None if one is missing."""
        response = requests.get(f"http://127.0.0.1:{self.ports.audit}/api/v1/audit/dossiers/{code}",
                                headers=self.audit_headers, timeout=30)
        if response.status_code != 200:
            return None
        entries = response.json()["entries"]
        seen = {t: 0 for t in JOURNEY}
        for entry in entries:
            if entry["type"] in seen:
                seen[entry["type"]] += 1
        if any(seen[t] < n for t, n in JOURNEY.items()):
            return None
        return max(_ts(e["recorded_at"]) for e in entries if e["type"] in JOURNEY)


def _ts(value: str) -> float:
    return parse_time(value).timestamp()


def _summary(ms: list[float]) -> dict:
    ms = sorted(ms)
    return {"n": len(ms), "p50": round(pct(ms, 0.50), 1), "p95": round(pct(ms, 0.95), 1),
            "p99": round(pct(ms, 0.99), 1), "max": round(ms[-1], 1) if ms else 0.0}
