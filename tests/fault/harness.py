"""The fault suite's harness: a cluster of service processes, a load stream,
and the reconciliation of what was accepted against what every part did.

Figures per scenario: accepted, lost, duplicated side effects, redelivered,
dead-lettered, time to recover, and latency (201 -> SMS at the gateway).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.baseline import pct  # noqa: F401  (the scenarios import it from here)
from onestop.timestamps import parse_time
from onestop.dev.rabbit_admin import vhost_of as mgmt_vhost
from tests.conftest import free_port
from tests.support.samples import dossier
from tests.support.staff import COUNTER, SECRET
from tests.support.wait import until

ROOT = Path(__file__).resolve().parents[2]
CENTERS = ("hue-vyda", "hue-phuxuan", "hue-thuanhoa", "hue-huongthuy")
SERVICES = {
    "intake": "services.intake.service:IntakeService",
    "routing": "services.routing.service:RoutingService",
    "notification": "services.notification.service:NotificationService",
    "audit": "services.audit.service:AuditService",
}
REAL_MONGO = bool(os.environ.get("MONGO_URI"))
# Dossiers/s of the fault streams. The correctness scenarios stream at 60/s,
# the latency comparisons (scenarios 4 and 6) at 30/s: with the broker, four
# services, the sinks and the load generator on this 2-core machine the
# pipeline's highest sustained rate is about 75/s (docs/performance.md), and
# a latency ratio needs headroom, or p99 measures the queue that saturation
# builds, not the fault.
STEADY_RATE = float(os.environ.get("FAULT_RATE", "60"))
LATENCY_RATE = float(os.environ.get("FAULT_LATENCY_RATE", "30"))
WARM_UP_S = 10  # seconds of traffic that warm a cluster up before any latency is measured


class HostProcess:
    """One service container in its own process (tests/support/host.py)."""

    def __init__(self, name: str, target: str, env: dict, log_dir: Path):
        self.name, self.target, self.env, self.log_dir = name, target, env, log_dir
        self.service = next((s for s, t in SERVICES.items() if t == target), name)
        self.control = free_port()
        self.http = free_port()
        self.proc = None

    def spawn(self):
        return self.launch().wait_alive()

    def launch(self) -> "HostProcess":
        """Start the process; `wait_alive` waits for its container (several hosts
        launched first and waited for after start up side by side)."""
        log = open(self.log_dir / f"{self.name}.log", "ab")
        env = {**self.env, "WEB_SERVER_ADDRESS": f"127.0.0.1:{self.http}"}
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.support.host", self.target,
                                      f"127.0.0.1:{self.control}"], cwd=ROOT, env=env,
                                     stdout=log, stderr=subprocess.STDOUT)
        return self

    def wait_alive(self) -> "HostProcess":
        until(lambda: self._alive(), 60, 0.1, f"{self.name} host")
        return self

    def _alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} host exited {self.proc.returncode}; see {self.log_dir}/{self.name}.log")
        try:
            return requests.get(f"http://127.0.0.1:{self.control}/status", timeout=1).json()["running"]
        except requests.RequestException:
            return False

    def call(self, path: str, body: dict | None = None, timeout: float = 60):
        response = requests.post(f"http://127.0.0.1:{self.control}{path}", json=body or {}, timeout=timeout)
        response.raise_for_status()
        return response.json()

    def crash(self):
        """Die with no graceful shutdown: SIGKILL where the store survives it
        (a real MongoDB), else nameko's container.kill() inside the process."""
        if REAL_MONGO:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        else:
            self.call("/kill")

    def restart(self):
        if REAL_MONGO and self.proc.poll() is not None:
            self.spawn()
        else:
            self.call("/start")

    def query(self, collection: str, op: str = "find", **spec):
        return self.call("/query", {"collection": collection, "op": op, **spec}, timeout=120)

    def terminate(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@dataclass
class Cluster:
    amqp_uri: str
    sinks: object
    log_dir: Path
    mgmt: str  # the management URL of amqp_uri's broker (the fault suite's own node)
    env: dict = field(default_factory=dict)
    hosts: dict = field(default_factory=dict)

    def base_env(self) -> dict:
        return {**os.environ, "AMQP_URI": self.amqp_uri, "MONGO_DB_PREFIX": f"f{uuid.uuid4().hex[:8]}_",
                "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(self.sinks.smtp_port), "SMS_URL": self.sinks.sms_url,
                "RETRY_DELAYS": "0.5,1,2,4,8,15,30", "DELIVERY_LIMIT": "20", "SMS_TIMEOUT": "3", "SMTP_TIMEOUT": "3",
                "CIRCUIT_RESET": "3",  # well inside the 30 s retry budget above
                "JWT_SECRET": SECRET,
                "COUNTER_SUBMIT_LIMIT": "1000000/60",  # one counter token streams every dossier of a scenario
                "PYTHONUNBUFFERED": "1", **self.env}

    def start(self, extra: dict | None = None, overrides: dict | None = None) -> "Cluster":
        """The four services (and any extra name -> (target, env overrides));
        `overrides` adds env to the named standard services (e.g. their CENTERS)."""
        env = self.base_env_cache = self.base_env()
        wanted = {name: (target, (overrides or {}).get(name, {})) for name, target in SERVICES.items()}
        wanted.update(extra or {})
        for name, (target, more) in wanted.items():
            self.hosts[name] = HostProcess(name, target, {**env, **more}, self.log_dir).launch()
        for host in self.hosts.values():
            host.wait_alive()
        return self

    def add(self, name: str, service: str, env: dict) -> HostProcess:
        """Another worker process of a standard service (e.g. one center's own)."""
        self.hosts[name] = HostProcess(name, SERVICES[service], {**self.base_env_cache, **env}, self.log_dir).spawn()
        return self.hosts[name]

    def __getitem__(self, name) -> HostProcess:
        return self.hosts[name]

    def query(self, service: str, collection: str, op: str = "find", **spec):
        """Ask every host of a service (a center may have workers of its own, each
        with its own embedded store); with a real MongoDB they all answer the same."""
        hosts = [h for h in self.hosts.values() if h.service == service]
        if REAL_MONGO:
            hosts = hosts[:1]
        answers = [host.query(collection, op, **spec) for host in hosts]
        if op == "count":
            return sum(answers)
        out = [item for answer in answers for item in answer]
        return sorted(set(out)) if op == "distinct" else out

    def stop(self):
        for host in self.hosts.values():
            host.terminate()

    @property
    def intake_url(self) -> str:
        return f"http://127.0.0.1:{self.hosts['intake'].http}"


@dataclass
class Accepted:
    code: str
    phone: str
    email: str
    at: float  # wall-clock seconds of the 201


class Load:
    """Submit dossiers over HTTP from a few threads; a refused or failed request is
    retried with the same Idempotency-Key, so every dossier is accepted exactly once."""

    _serials = iter(range(10, 100))  # a phone prefix per load: no two loads share a number

    def __init__(self, cluster: Cluster, tag: str, centers=CENTERS, threads: int = 6):
        self.cluster, self.tag, self.centers, self.threads = cluster, tag, centers, threads
        self.serial = next(Load._serials)
        self.accepted: list[Accepted] = []
        self.retried = 0
        self.refusals = Counter()  # status codes of refused attempts (e.g. 503 under an alarm)
        self._lock = threading.Lock()

    @classmethod
    def combined(cls, *loads: "Load") -> "Load":
        """One view of several loads, for reconciling them together."""
        merged = cls.__new__(cls)
        merged.accepted = [a for load in loads for a in load.accepted]
        merged.retried = sum(load.retried for load in loads)
        merged.refusals = sum((load.refusals for load in loads), Counter())
        return merged

    def stream(self, n: int, rate: float | None = None, start: int = 0) -> "Load":
        indexes = iter(range(start, start + n))
        begin = time.monotonic()

        def worker():
            session = requests.Session()
            for i in indexes:
                if rate:
                    delay = begin + (i - start) / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                self._submit(session, i)

        threads = [threading.Thread(target=worker) for _ in range(self.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return self

    def background(self, n: int, rate: float | None = None, start: int = 0) -> threading.Thread:
        thread = threading.Thread(target=self.stream, args=(n, rate, start), daemon=True)
        thread.start()
        return thread

    def _submit(self, session, i: int):
        center = self.centers[i % len(self.centers)]
        phone, email = f"09{self.serial:02d}{i:06d}", f"{self.tag}-{i}@fault.example.vn"
        body = dossier(center=center, phone=phone, email=email)
        key = f"{self.tag}-{i}"
        for attempt in range(600):
            try:
                response = session.post(f"{self.cluster.intake_url}/api/v1/dossiers", json=body,
                                        headers={"Idempotency-Key": key, **COUNTER}, timeout=10)
                if response.status_code == 201:
                    with self._lock:
                        self.accepted.append(Accepted(response.json()["code"], "+84" + phone[1:], email, time.time()))
                        self.retried += attempt > 0
                    return
                with self._lock:
                    self.refusals[response.status_code] += 1
                wait = float(response.headers.get("Retry-After", 0.2))
            except requests.RequestException:
                wait = 0.2
            time.sleep(min(wait, 2.0))
        raise AssertionError(f"dossier {key} was never accepted")


@dataclass
class Report:
    scenario: str
    accepted: int
    lost: int
    duplicated: int
    redelivered: int
    dead_lettered: int
    gateway_resends: int
    recover_s: float | None
    p50_ms: float
    p95_ms: float
    p99_ms: float
    notes: dict = field(default_factory=dict)

    def line(self) -> str:
        rec = "-" if self.recover_s is None else f"{self.recover_s:.1f}"
        return (f"{self.scenario}: accepted={self.accepted} lost={self.lost} duplicated={self.duplicated} "
                f"redelivered={self.redelivered} dead_lettered={self.dead_lettered} "
                f"gateway_resends={self.gateway_resends} recover_s={rec} "
                f"p50={self.p50_ms:.0f}ms p95={self.p95_ms:.0f}ms p99={self.p99_ms:.0f}ms {self.notes or ''}")


EXPECTED = {"dossier.received.v1": 1, "dossier.routed.v1": 1, "dossier.assigned.v1": 1, "notification.sent.v1": 2}


def audit_counts(cluster: Cluster, types=None) -> Counter:
    """(dossier code, event type) -> entries in the audit log. Only the citizen's
    receipt counts as a notification here: a deadline escalation to staff (a
    same-day dossier can be due soon while the stream runs) is not the citizen's."""
    spec = {"filter": {"type": {"$in": list(types)}}} if types else {}
    entries = cluster.query("audit", "entries", projection={"subject": 1, "type": 1, "event.data.template": 1,
                                                            "_id": 0}, **spec)
    return Counter((e["subject"], e["type"]) for e in entries
                   if e["type"] != "notification.sent.v1" or e["event"]["data"]["template"] == "receipt")


def delivered(cluster: Cluster, accepted: list[Accepted]) -> set:
    """Codes whose every expected event is in the audit log: the whole pipeline is done
    (a message may still sit in a delay queue after its notification went out)."""
    seen = audit_counts(cluster, EXPECTED)
    return {a.code for a in accepted if all(seen[(a.code, t)] >= n for t, n in EXPECTED.items())}


def wait_all_delivered(cluster, accepted, timeout: float) -> float:
    start = time.monotonic()
    until(lambda: len(delivered(cluster, accepted)) == len(accepted), timeout, 1.0,
          f"all {len(accepted)} dossiers delivered")
    return time.monotonic() - start


def broker_figures(amqp_uri: str, mgmt: str) -> tuple[int, dict]:
    """(redelivered, {dead-letter queue: depth}) across the vhost's OneStop queues."""
    queues = requests.get(f"{mgmt}/api/queues/{mgmt_vhost(amqp_uri)}", auth=("guest", "guest"), timeout=10).json()
    redelivered = sum(q.get("message_stats", {}).get("redeliver", 0) for q in queues if q["name"].startswith("onestop."))
    dead = {q["name"]: q.get("messages", 0) for q in queues if q["name"].endswith(".dlq") and q.get("messages")}
    return redelivered, dead


def reconcile(cluster: Cluster, load: Load, scenario: str, recover_s=None, notes=None) -> Report:
    accepted = load.accepted
    codes = {a.code for a in accepted}
    lost = set()
    lost |= codes - set(cluster.query("intake", "dossiers", "distinct", field="_id"))
    lost |= codes - set(cluster.query("routing", "assignments", "distinct", field="_id"))
    audit = audit_counts(cluster)
    emails, retransmitted = email_counts(cluster.sinks.emails())
    sms = {m["to"]: m for m in cluster.sinks.sms()}
    sms_count = Counter(m["to"] for m in cluster.sinks.sms())
    duplicated, examples, missing = 0, [], []
    for a in accepted:
        seen = [(event_type, audit[(a.code, event_type)], n) for event_type, n in EXPECTED.items()]
        seen += [("email", emails[a.email.lower()], 1), ("sms", sms_count[a.phone], 1)]
        for kind, got, n in seen:
            if got < n:
                lost.add(a.code)
                missing.append(f"{a.code}:{kind}x{got}")
            duplicated += max(0, got - n)
            if got > n and len(examples) < 5:
                examples.append(f"{a.code}:{kind}x{got}")
    latencies = sms_latencies_ms(accepted, sms)
    redelivered, dead = broker_figures(cluster.amqp_uri, cluster.mgmt)
    notes = {**(notes or {}), **({"duplicates": examples} if examples else {}),
             **({"lost": sorted(lost)[:5], "missing": missing[:5]} if lost else {}),
             **({"smtp_retransmissions": retransmitted} if retransmitted else {}),
             **({"dead_letter_queues": dead} if dead else {})}
    return Report(scenario, len(accepted), len(lost), duplicated, redelivered, sum(dead.values()),
                  sum(m.get("resends", 0) for m in sms.values()), recover_s,
                  pct(latencies, 0.50), pct(latencies, 0.95), pct(latencies, 0.99), notes)


def longest_pause_s(accepted: list[Accepted]) -> float:
    """The longest time intake answered no 201 while the stream ran."""
    times = sorted(a.at for a in accepted)
    return max((b - a for a, b in zip(times, times[1:])), default=0.0)


def email_counts(messages: list[dict]) -> tuple[Counter, int]:
    """Emails per recipient, one per Message-ID, and how many copies were retransmissions.

    SMTP has no idempotency key: a sender killed between the end of DATA and
    the server's 250 cannot know the message went through, and sends it again.
    Notification gives every (event, channel) a stable Message-ID, so such a
    copy is the same message (mailboxes that dedupe on Message-ID show it once);
    a second Message-ID for the same citizen and event would be a true duplicate.
    """
    ids = {}
    for m in messages:
        to = (m["to"][0] if isinstance(m["to"], list) else m["to"]).lower()
        ids.setdefault(to, []).append(m.get("message_id") or id(m))
    per_recipient = Counter({to: len(set(found)) for to, found in ids.items()})
    return per_recipient, sum(len(found) - len(set(found)) for found in ids.values())


def sms_latencies_ms(accepted: list[Accepted], sms: dict | None = None, sinks=None) -> list[float]:
    """Sorted latencies from each dossier's 201 to its SMS at the gateway."""
    sms = sms if sms is not None else {m["to"]: m for m in sinks.sms()}
    return sorted(_sms_latency_ms(a, sms) for a in accepted if a.phone in sms)


def warm_up(cluster: Cluster, centers=CENTERS) -> Load:
    """Traffic before a latency baseline, at the rate it is measured at: the first
    seconds of a fresh cluster (connection pools filling, first SMTP sessions,
    workers spawning) are slower for a while, and would inflate the baseline.
    Reconciled with the rest of the run, never measured."""
    n = int(WARM_UP_S * LATENCY_RATE)
    load = Load(cluster, "warm-up", centers=centers).stream(n, rate=LATENCY_RATE)
    wait_all_delivered(cluster, load.accepted, 600)
    return load


def _sms_latency_ms(a: Accepted, sms: dict) -> float:
    at = parse_time(sms[a.phone]["received_at"]).timestamp()
    return max(0.0, (at - a.at) * 1000)

