"""Audit under load: the per-center Merkle tree (issue 15) beside the hash chain it grew from.

    python -m bench.auditlog             # 100 events/s for 60 s, two rounds; writes bench/results/<date>-auditlog.json
    python -m bench.auditlog --smoke     # 20 events/s for 3 s, one round: that it still runs
    python -m bench.auditlog --rate 50 --seconds 30 --rounds 3
    python -m bench.auditlog --checkpoint-interval 3600   # the tree without signing under the load

Issue 15 asks what the tree costs under load, beside the old chain. The pipeline
benchmark cannot say: audit's share there is a few milliseconds among four
services, the sinks and the broker on two cores. So here each side is the audit
service *alone*, its own process, started exactly as deployed
(``nameko run --config deploy/nameko.yaml services.audit.service`` in that
side's source tree), on a fresh vhost and a fresh DATA_DIR, EMBEDDED_SYNC=full:

- ``chain``: the tree of commit 7fe5393, the last before issue 15
  (services/audit/ held only the chain), a git worktree under var/bench/trees;
- ``tree``: this tree, signing a checkpoint of every log that grew each second
  (AUDIT_CHECKPOINT_INTERVAL=1, the worst case), so the signing's cost is in
  its figures.

The load is what audit consumes in production: real ``dossier.received.v1``
envelopes (contracts.make_event) published with confirms to onestop.events with
the routing key ``<type>.<center>``, round robin over the four centers, on an
open loop (event *i* is due at *i*/rate whatever happened to the one before),
each event's ``time`` the moment it is published.

Per run: audit's CPU (psutil, user + system, children included) from the first
publish until the last entry is in the store, per entry recorded; the latency
``recorded_at - time`` of every entry, read back from audit's SQLite file
(opened read-only); entries lost (published, not recorded within the timeout);
RSS at the end. ``recorded_at`` is stamped as the handler starts its append, so
an entry's latency holds the broker's hop and every earlier append it queued
behind (with their fsync'd commits), not its own; ``drain_s``, from the last
publish until the last entry is in the store, bounds the rest. Sides alternate
(chain, tree, tree, chain for two rounds) so that a slow drift of the shared
machine cancels out; each side's figure is the median of its runs, and the
ratios are tree / chain.

After each tree run, as an auditor would: a checkpoint of each center signed on
request (POST /api/v1/audit/checkpoints), then 100 inclusion proofs of random
leaves in it and 100 consistency proofs from a random earlier checkpoint (from
the checkpoints file) to it, over HTTP, each timed and verified against the
signed roots. The benchmark asserts nothing about speed.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import bson
import orjson
import psutil
import requests
from kombu import Connection

from bench.pipeline import CENTERS, _free_port, _summary
from contracts import CONTENT_TYPE, legacy_form, make_event
from onestop.catalog import load_catalog
from onestop.config import Settings
from onestop.dev.launcher import QUIET_EVENTLET
from onestop.dev.rabbit_admin import AMQP_HOST_DEFAULT, drop_vhost, make_vhost, queue_depths
from onestop.messaging.topology import EVENTS
from onestop.timestamps import parse_time, utcnow
from bench.tokens import BenchTokens
from services.audit.merkle import verify_consistency, verify_inclusion

ROOT = Path(__file__).resolve().parent.parent
CHAIN_REV = "7fe5393"  # the tree before issue 15: services/audit/ there has only the hash chain
CHECKPOINT_INTERVAL = 1.0  # seconds: the tree side signs every second, the worst case
PROOFS = 100  # of each kind, after each tree run
STOP_GRACE = 2.0  # seconds a side has to stop before it is killed
FULL = {"rate": 100.0, "seconds": 60.0, "rounds": 2}
SMOKE = {"rate": 20.0, "seconds": 3.0, "rounds": 1}  # make bench-smoke runs inside make test: seconds, not minutes


def trees() -> dict[str, Path]:
    """Each side's source tree: the chain's from a worktree of CHAIN_REV, the tree's this one."""
    from bench.compare import tree_of  # imported here: bench.compare imports bench.run, which imports this
    return {"chain": tree_of(CHAIN_REV), "tree": tree_of(None)}


@dataclass
class Run:
    """One side's run: what was published, what audit recorded, and what that took."""

    side: str
    round: int
    rate: float
    seconds: float
    published: int = 0
    recorded: int = 0
    lost: int = 0
    achieved_rate: float = 0.0
    drain_s: float | None = None
    cpu_s: float = 0.0
    cpu_ms_per_entry: float = 0.0
    latency_ms: dict = field(default_factory=dict)
    rss_mb: float = 0.0
    checkpoints_signed: int = 0
    proofs: dict = field(default_factory=dict)

    def line(self) -> str:
        lat = self.latency_ms
        extra = f"; {self.checkpoints_signed} checkpoints signed" if self.side == "tree" else ""
        return (f"  round {self.round} {self.side:<5} {self.published} published at {self.achieved_rate:.1f}/s, "
                f"lost {self.lost}; CPU {self.cpu_ms_per_entry:.2f} ms/entry; latency p50/p95/p99/max "
                f"{lat.get('p50', 0):.0f}/{lat.get('p95', 0):.0f}/{lat.get('p99', 0):.0f}/{lat.get('max', 0):.0f} ms; "
                f"drain {self.drain_s} s; RSS {self.rss_mb:.0f} MB{extra}")


class AuditProcess:
    """One side's audit service: its own process, vhost, store and keys, as deployed."""

    def __init__(self, tree: Path, side: str, log_file: Path, tokens: BenchTokens,
                 checkpoint_interval: float = CHECKPOINT_INTERVAL):
        self.tree, self.side, self.log_file, self.tokens = tree, side, log_file, tokens
        self.checkpoint_interval = checkpoint_interval
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.vhost = self.tmp = self.proc = None

    def __enter__(self):
        try:
            self.vhost = make_vhost("onestop-bench")
            self.amqp_uri = f"amqp://guest:guest@{AMQP_HOST_DEFAULT}:5672/{self.vhost}"
            self.tmp = tempfile.TemporaryDirectory(prefix=f"onestop-auditbench-{self.side}-")
            env = self._env(Path(self.tmp.name))
            settings = Settings.load(env)
            self.store_file = Path(settings.data_dir) / f"{settings.mongo_db_prefix}audit.sqlite3"
            self.checkpoints_file = Path(settings.audit_checkpoints_file)
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            argv = [str(Path(sys.executable).parent / "nameko"), "run", "--config",
                    str(self.tree / "deploy" / "nameko.yaml"), "services.audit.service"]
            with open(self.log_file, "ab") as log:
                self.proc = subprocess.Popen(argv, cwd=self.tree, env=env, stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True)
            self._wait_healthy(60)
            self._check_side()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _env(self, tmp: Path) -> dict:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONWARNINGS": QUIET_EVENTLET,
               "AMQP_URI": self.amqp_uri, "WEB_SERVER_ADDRESS": f"127.0.0.1:{self.port}",
               **self.tokens.env(), "EMBEDDED_STORE": "sqlite", "EMBEDDED_SYNC": "full", "CENTERS": "all",
               "DATA_DIR": str(tmp / "data"), "AUDIT_KEYS_FILE": str(tmp / "keys" / "audit-signing.json"),
               "AUDIT_RATE_LIMIT": "1000000/60",  # the proofs' requests are the bench's, not a flood
               **({"AUDIT_CHECKPOINT_INTERVAL": f"{self.checkpoint_interval:g}"} if self.side == "tree" else {})}
        for name in ("MONGO_URI", "AUDIT_CHECKPOINTS_FILE", "MONGO_DB_PREFIX"):  # the defaults, in the tmp dir
            env.pop(name, None)
        return env

    def __exit__(self, *exc):
        """Stop it, its vhost and its files gone. nameko's graceful stop waits 5 s for the
        service's threads; nothing is measured after the load and the store is thrown
        away, so a short grace, then SIGKILL (the smoke run's budget is seconds)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.vhost is not None:
            drop_vhost(self.vhost)
        if self.tmp is not None:
            self.tmp.cleanup()

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"audit ({self.side}) exited with {self.proc.returncode}; see {self.log_file}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"audit ({self.side}) not healthy after {timeout:.0f} s; see {self.log_file}")

    def _check_side(self) -> None:
        """That the process runs its side's code (the chain has no keys endpoint), and that
        it consumes every center's queue: the figures are worthless otherwise."""
        has_tree = requests.get(f"{self.url}/api/v1/audit/keys", timeout=10).status_code == 200
        if has_tree != (self.side == "tree"):
            raise RuntimeError(f"the {self.side} side runs {'the tree' if has_tree else 'the chain'}'s code")
        queues = queue_depths(self.amqp_uri)
        missing = [c for c in CENTERS if f"onestop.audit.{c}" not in queues]
        if missing:
            raise RuntimeError(f"audit ({self.side}) declared no queue for {', '.join(missing)}")

    def cpu_s(self) -> float:
        times = psutil.Process(self.proc.pid).cpu_times()
        return times.user + times.system + times.children_user + times.children_system

    def rss_mb(self) -> float:
        return round(psutil.Process(self.proc.pid).memory_info().rss / 2**20, 1)

    # Audit's store, read-only: what is durable is what the bench counts.

    def _query(self, sql: str) -> list:
        try:
            with closing(sqlite3.connect(f"file:{self.store_file}?mode=ro", uri=True, timeout=30)) as conn:
                return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:  # no file or no table yet: nothing recorded
            return []

    def recorded(self) -> int:
        rows = self._query('SELECT count(*) FROM "entries"')
        return rows[0][0] if rows else 0

    def entries(self) -> dict[str, tuple[str, str]]:
        """{event id: (its time, its recorded_at)} of every entry in the store."""
        out = {}
        for (doc,) in self._query('SELECT doc FROM "entries"'):
            entry = bson.decode(doc)
            out[entry["event_id"]] = (entry["time"], entry["recorded_at"])
        return out

    def checkpoints(self) -> list[dict]:
        """Every checkpoint signed, from the checkpoints file (the tree side's)."""
        if not self.checkpoints_file.exists():
            return []
        return [json.loads(line) for line in self.checkpoints_file.read_text().splitlines() if line.strip()]


class Events:
    """Real dossier.received.v1 envelopes, one fresh dossier each, round robin over the centers."""

    def __init__(self):
        catalog = load_catalog()
        self.prefix = {c: catalog.centers[c].short_code for c in CENTERS}
        self.serial = 0

    def next(self) -> dict:
        center = CENTERS[self.serial % len(CENTERS)]
        n = self.serial // len(CENTERS)
        self.serial += 1
        now = utcnow()
        code = f"{self.prefix[center]}-{now:%y%m%d}-{n % 10000 + 1:04d}"
        data = {"code": code, "official_code": f"00.00.H57.{code}", "procedure_code": "1.001193",
                "procedure_name": "Đăng ký khai sinh", "field": "justice", "channel": "counter",
                "received_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "appointment_date": f"{now:%Y-%m-%d}",
                "working_days": 0, "missing_documents": [], "applicant": "N. V. A.", "status": "received"}
        return make_event("dossier.received.v1", center=center, subject=code, data=data,
                          actor={"id": "counter-01", "role": "counter_staff"}, time=now)


def publish(amqp_uri: str, rate: float, seconds: float, legacy: bool = False) -> tuple[list[str], float]:
    """Publish rate x seconds events on an open loop, persistent, each confirmed before
    the next (kombu's confirm_publish, as ConfirmedPublisher.publish); returns their ids
    and the seconds it took. `legacy`: in the form before CloudEvents, the only one the
    chain's code (7fe5393) reads."""
    events, ids = Events(), []
    n = int(rate * seconds)
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        start = time.monotonic()
        for i in range(n):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            event = events.next()  # its time is now: the latency starts at the publish
            body, content_type = (legacy_form(event), "application/json") if legacy else (event, CONTENT_TYPE)
            producer.publish(orjson.dumps(body), exchange=EVENTS, routing_key=f"{event['type']}.{event['center']}",
                             content_type=content_type, delivery_mode=2, content_encoding="utf-8",
                             declare=[EVENTS])  # declared as the platform does, once per channel
            ids.append(event["id"])
        took = time.monotonic() - start
    return ids, took


def measure(audit: AuditProcess, run: Run, timeout: float) -> None:
    """Load one running side and fill `run` with what it took."""
    cpu0 = audit.cpu_s()
    ids, took = publish(audit.amqp_uri, run.rate, run.seconds, legacy=audit.side == "chain")
    sent_at = time.monotonic()
    while audit.recorded() < len(ids) and time.monotonic() - sent_at < timeout:
        time.sleep(0.05)
    drained = audit.recorded() >= len(ids)
    run.drain_s = round(time.monotonic() - sent_at, 2) if drained else None
    run.cpu_s = round(audit.cpu_s() - cpu0, 3)
    run.rss_mb = audit.rss_mb()
    entries = audit.entries()
    latencies = [(parse_time(entries[i][1]) - parse_time(entries[i][0])).total_seconds() * 1000
                 for i in ids if i in entries]
    run.published, run.recorded = len(ids), len(latencies)
    run.lost = run.published - run.recorded
    run.achieved_rate = round(run.published / took, 1) if took else 0.0
    run.cpu_ms_per_entry = round(run.cpu_s * 1000 / max(1, run.recorded), 3)
    run.latency_ms = _summary(latencies)
    run.checkpoints_signed = len(audit.checkpoints())


def proofs(audit: AuditProcess, tokens: BenchTokens, n: int = PROOFS, seed: int = 15) -> dict:
    """An auditor's work after the load: sign each center's checkpoint now, then `n`
    inclusion and `n` consistency proofs against it, each timed and verified."""
    rng = random.Random(seed)
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {tokens.mint(audit.tree, 'bench', 'auditor', CENTERS)}"
    latest = {}
    for center in CENTERS:
        response = http.post(f"{audit.url}/api/v1/audit/checkpoints", json={"center": center}, timeout=60)
        response.raise_for_status()
        latest[center] = response.json()
    earlier = {c: [cp for cp in audit.checkpoints() if cp["center"] == c and cp["tree_size"] < latest[c]["tree_size"]]
               for c in CENTERS}
    timings, verified = {"inclusion": [], "consistency": []}, {"inclusion": 0, "consistency": 0}
    for i in range(n):
        head = latest[CENTERS[i % len(CENTERS)]]
        size, root = head["tree_size"], bytes.fromhex(head["root_hash"])
        index = rng.randrange(size)
        took, body = _get(http, f"{audit.url}/api/v1/audit/proofs/inclusion",
                          {"center": head["center"], "leaf_index": index, "tree_size": size})
        timings["inclusion"].append(took)
        verified["inclusion"] += verify_inclusion(bytes.fromhex(body["leaf_hash"]), index, size,
                                                  [bytes.fromhex(h) for h in body["hashes"]], root)
        # as a witness asks: from a checkpoint it holds to the newest
        old = rng.choice(earlier[head["center"]]) if earlier[head["center"]] else head
        took, body = _get(http, f"{audit.url}/api/v1/audit/proofs/consistency",
                          {"center": head["center"], "first": old["tree_size"], "second": size})
        timings["consistency"].append(took)
        verified["consistency"] += verify_consistency(old["tree_size"], size,
                                                      [bytes.fromhex(h) for h in body["hashes"]],
                                                      bytes.fromhex(old["root_hash"]), root)
    http.close()
    return {"tree_size": {c: latest[c]["tree_size"] for c in CENTERS},
            **{f"{kind}_ms": {k: v for k, v in _summary(ms).items() if k in ("n", "p50", "p99", "max")}
               for kind, ms in timings.items()},
            "verified": verified}


def _get(http: requests.Session, url: str, params: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    response = http.get(url, params=params, timeout=60)
    took = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return took, response.json()


def run(log_dir: Path, smoke: bool = False, rate: float | None = None, seconds: float | None = None,
        rounds: int | None = None, checkpoint_interval: float = CHECKPOINT_INTERVAL) -> dict:
    """Both sides, alternating, `rounds` times; the figures of each run, each side's medians, the ratios."""
    plan = SMOKE if smoke else FULL
    rate, seconds, rounds = rate or plan["rate"], seconds or plan["seconds"], rounds or plan["rounds"]
    sides = trees()
    tokens = BenchTokens(log_dir / "staff-auth")
    runs: list[Run] = []
    for round_ in range(rounds):
        for side in (list(sides) if round_ % 2 == 0 else list(reversed(sides))):  # chain, tree, tree, chain
            one = Run(side, round_ + 1, rate, seconds)
            with AuditProcess(sides[side], side, log_dir / f"{side}-{round_ + 1}.log", tokens,
                              checkpoint_interval) as audit:
                measure(audit, one, timeout=max(30.0, seconds))
                if side == "tree":
                    one.proofs = proofs(audit, tokens)
            print(one.line(), flush=True)
            runs.append(one)
    medians = {side: _medians([r for r in runs if r.side == side]) for side in sides}
    ratios = {key: round(medians["tree"][key] / medians["chain"][key], 3)
              for key in ("cpu_ms_per_entry", "p50_ms", "p99_ms") if medians["chain"][key]}
    return {"rate": rate, "seconds": seconds, "rounds": rounds, "chain_rev": CHAIN_REV,
            "checkpoint_interval_s": checkpoint_interval, "centers": list(CENTERS),
            "runs": [asdict(r) for r in runs], "sides": medians, "ratios_tree_over_chain": ratios}


def _medians(runs: list[Run]) -> dict:
    """A side's figures: the median over its runs (losses summed: any is one too many)."""
    def med(values):
        return round(statistics.median(values), 3)
    out = {"runs": len(runs), "published": sum(r.published for r in runs), "lost": sum(r.lost for r in runs),
           "cpu_ms_per_entry": med([r.cpu_ms_per_entry for r in runs]),
           **{f"{k}_ms": med([r.latency_ms.get(k, 0.0) for r in runs]) for k in ("p50", "p95", "p99", "max")},
           "drain_s": None if any(r.drain_s is None for r in runs) else med([r.drain_s for r in runs]),
           "rss_mb": med([r.rss_mb for r in runs])}
    if runs[0].proofs:
        out["checkpoints_signed"] = med([r.checkpoints_signed for r in runs])
        out["proofs"] = {"tree_size": max(sum(r.proofs["tree_size"].values()) for r in runs),
                         **{f"{kind}_{k}": med([r.proofs[f"{kind}_ms"][k] for r in runs])
                            for kind in ("inclusion", "consistency") for k in ("p50", "p99")},
                         "verified": {kind: sum(r.proofs["verified"][kind] for r in runs)
                                      for kind in ("inclusion", "consistency")},
                         "asked": {kind: sum(r.proofs[f"{kind}_ms"]["n"] for r in runs)
                                   for kind in ("inclusion", "consistency")}}
    return out


def summary(result: dict) -> str:
    """The figures in a few lines (what `make bench` and the standalone run print)."""
    s, r = result["sides"], result["ratios_tree_over_chain"]
    lines = [f"  {side:<5} CPU {f['cpu_ms_per_entry']:.2f} ms/entry; latency p50/p99 "
             f"{f['p50_ms']:.0f}/{f['p99_ms']:.0f} ms; RSS {f['rss_mb']:.0f} MB; lost {f['lost']}"
             for side, f in s.items()]
    lines.append(f"  tree / chain: CPU per entry {r.get('cpu_ms_per_entry')}, p99 {r.get('p99_ms')}")
    p = s["tree"].get("proofs")
    if p:
        lines.append(f"  proofs ({p['tree_size']:,} leaves over {len(result['centers'])} logs): inclusion p50/p99 "
                     f"{p['inclusion_p50']:.1f}/{p['inclusion_p99']:.1f} ms, consistency "
                     f"{p['consistency_p50']:.1f}/{p['consistency_p99']:.1f} ms; verified {p['verified']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="20 events/s for 3 s, one round")
    parser.add_argument("--rate", type=float, help="events/s (default 100)")
    parser.add_argument("--seconds", type=float, help="each run's load (default 60)")
    parser.add_argument("--rounds", type=int, help="rounds of both sides (default 2)")
    parser.add_argument("--checkpoint-interval", type=float, default=CHECKPOINT_INTERVAL, metavar="SECONDS",
                        help="the tree side's AUDIT_CHECKPOINT_INTERVAL (default 1; 3600: no signing under the load)")
    parser.add_argument("--out", type=Path, help="the JSON file (default bench/results/<date>-auditlog.json)")
    args = parser.parse_args(argv)
    stamp = datetime.now(timezone.utc)
    variant = "" if args.checkpoint_interval == CHECKPOINT_INTERVAL else f"-every{args.checkpoint_interval:g}s"
    name = f"{stamp:%Y-%m-%d}-auditlog{variant}{'-smoke' if args.smoke else ''}.json"
    out_file = args.out or ROOT / "bench" / "results" / name
    print(f"audit alone: the chain ({CHAIN_REV}) against the tree", flush=True)
    result = {"date": stamp.isoformat(timespec="seconds"),
              "audit_log": run(ROOT / "var" / "bench" / f"{stamp:%Y%m%dT%H%M%S}" / "auditlog", args.smoke,
                               args.rate, args.seconds, args.rounds, args.checkpoint_interval)}
    from bench.run import machine  # bench.run imports this module; by now both are loaded
    result["machine"] = machine()
    print(summary(result["audit_log"]), flush=True)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {out_file}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
