"""`make bench`: the broker's own limit, then the pipeline against it and against the bare chain.

    python -m bench.run              # the whole benchmark (about 50 minutes)
    python -m bench.run --smoke      # a few hundred dossiers: that it all still runs (CI)
    python -m bench.run --core       # the baseline, the pipeline and the bare chain only

Writes bench/results/<date>.json (or --out) and prints every figure. It asserts
nothing about speed; the figures and their ratios go into docs/performance.md.

Environment: BENCH_PEAK_SECONDS (how long the 60/s phase runs, default 600),
BENCH_STEP_SECONDS (each step of the search for the highest rate, default 15),
BENCH_STORED (dossiers in store for the start-up and memory figures, default 100,000).
The audit service's tree against its old chain (bench/auditlog.py) runs on its own
vhosts, one per side and run; like the stored figures, not with MONGO_URI.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from dataclasses import asdict
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

import psutil
import requests

from bench import auditlog, baseline, report, stored
from bench.bare import BareChain
from bench.pipeline import CENTERS, Pipeline
from onestop.dev.rabbit_admin import AMQP_HOST_DEFAULT, AUTH, MGMT, drop_vhost, make_vhost

ROOT = Path(__file__).resolve().parent.parent
PEAK_RATE = 60.0  # Vietnam's national peak, dossiers/s
LOW_RATE = 30.0  # half of it: the latency with headroom (the fault suite's latency rate too)
STORED = 100_000  # dossiers in store for the start-up and memory figures: a ward's year (issue 14)


def machine() -> dict:
    overview = requests.get(f"{MGMT}/api/overview", auth=AUTH, timeout=10).json()
    return {"cpus": psutil.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "cpu_model": _cpu_model(), "python": platform.python_version(),
            "rabbitmq": overview.get("rabbitmq_version"), "erlang": overview.get("erlang_version"),
            **{pkg: version(pkg) for pkg in ("nameko", "kombu", "amqp", "eventlet", "pymongo", "mongomock")},
            "store": "MongoDB" if os.environ.get("MONGO_URI") else
            f"embedded SQLite (EMBEDDED_SYNC={os.environ.get('EMBEDDED_SYNC', 'full')})"}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def search(pipe: Pipeline, step_s: float, start: float, limit: float) -> tuple[float, list]:
    """The highest rate the pipeline sustains: raise the rate by a quarter per step
    until a step is not sustained; the answer is the last step that was."""
    best, phases, rate = 0.0, [], start
    while rate <= limit:
        phase = pipe.phase(f"search {rate:.0f}/s", rate, step_s, drain_timeout=max(20.0, step_s * 2))
        print(phase.line(), flush=True)
        phases.append(phase)
        if not phase.sustained:
            break
        best = rate
        rate = round(rate * 1.25, 1)
    return best, phases


def pipeline_run(amqp_uri: str, log_dir: Path, smoke: bool, shards: dict | None = None, full: bool = True,
                 env: dict | None = None, peak_s: float | None = None) -> dict:
    step = float(os.environ.get("BENCH_STEP_SECONDS", 3 if smoke else 15))
    peak_s = peak_s or float(os.environ.get("BENCH_PEAK_SECONDS", 5 if smoke else 600))
    out = {"shards": shards or {}, "env": env or {}}
    with Pipeline(amqp_uri, log_dir, shards, env=env) as pipe:
        pipe.phase("warm-up", 10, 2 if smoke else 5, drain_timeout=60)
        best, phases = search(pipe, step, 10.0 if smoke else 20.0, 10.0 if smoke else 2000.0)  # smoke: one step
        out["max_sustained_rate"] = best
        out["search"] = [asdict(p) for p in phases]
        if full:
            for name, rate, seconds in (("30/s", LOW_RATE, step * 4), ("peak 60/s", PEAK_RATE, peak_s),
                                        ("half max", max(best / 2, 1), step * 2)):
                phase = pipe.phase(name, rate, seconds)
                print(phase.line(), flush=True)
                out[name] = asdict(phase)
    return out


def bare_run(amqp_uri: str, log_dir: Path, smoke: bool) -> dict:
    """The bare four-service nameko chain (bench/bare_services.py): its highest sustained rate,
    found the same way and with the same load as the pipeline's."""
    step = float(os.environ.get("BENCH_STEP_SECONDS", 3 if smoke else 15))
    with BareChain(amqp_uri, log_dir) as bare:
        bare.phase("warm-up", 10, 2 if smoke else 5, drain_timeout=60)
        best, phases = search(bare, step, 10.0 if smoke else 40.0, 10.0 if smoke else 2000.0)
    return {"max_sustained_rate": best, "search": [asdict(p) for p in phases]}


def ratio_r(pipe: dict, base: dict) -> dict:
    """R = dossiers/s x confirmed publishes per dossier / the baseline's msgs/s."""
    rate = pipe["max_sustained_rate"]
    found = [p for p in pipe["search"] if p["sustained"]]
    per = found[-1]["publishes_per_dossier"] if found else 0.0
    hops = rate * per
    return {"dossiers_per_s": rate, "publishes_per_dossier": per, "confirmed_publishes_per_s": round(hops, 1),
            **{f"R_vs_{name}": round(hops / b["msgs_per_s"], 3) for name, b in base.items() if b["msgs_per_s"]}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a few hundred dossiers: that it all still runs")
    parser.add_argument("--out", type=Path, help="the JSON file (default bench/results/<date>.json)")
    parser.add_argument("--no-scale-out", action="store_true", help="skip the two-worker rerun")
    parser.add_argument("--core", action="store_true",
                        help="only the baseline, the pipeline and the bare chain (issue 18's targets; "
                             "no other store, no stored year, no audit log alone, no two workers); the "
                             "report is not refreshed")
    args = parser.parse_args(argv)
    if args.core:
        args.no_scale_out = True
    stamp = datetime.now(timezone.utc)
    out_file = args.out or ROOT / "bench" / "results" / f"{stamp:%Y-%m-%d}{'-smoke' if args.smoke else ''}{'-core' if args.core else ''}.json"
    log_dir = ROOT / "var" / "bench" / f"{stamp:%Y%m%dT%H%M%S}"
    result = {"date": stamp.isoformat(timespec="seconds"), "smoke": args.smoke, "machine": machine()}
    vhost = make_vhost("onestop-bench")
    amqp_uri = f"amqp://guest:guest@{AMQP_HOST_DEFAULT}:5672/{vhost}"
    try:
        print("baseline: kombu, 1 KB persistent messages, one durable queue", flush=True)
        result["baseline"] = baseline.run(amqp_uri, args.smoke)
        for name, b in result["baseline"].items():
            print(f"  {name:<22} {b['msgs_per_s']:8.1f} msgs/s  hop p50 {b['p50_ms']} ms  p99 {b['p99_ms']} ms", flush=True)
        print("pipeline: the four services, one process each", flush=True)
        result["pipeline"] = pipeline_run(amqp_uri, log_dir / "one", args.smoke)
        result["R"] = ratio_r(result["pipeline"], result["baseline"])
        print(f"R: {result['R']}", flush=True)
        print("bare chain: four nameko services and nothing else (bench/bare_services.py)", flush=True)
        result["bare_chain"] = bare_run(amqp_uri, log_dir / "bare", args.smoke)
        bare = result["bare_chain"]["max_sustained_rate"]
        result["bare_chain"]["pipeline_over_bare"] = (
            round(result["pipeline"]["max_sustained_rate"] / bare, 2) if bare else None)
        print(f"pipeline / bare chain: {result['bare_chain']['pipeline_over_bare']}", flush=True)
        if not os.environ.get("MONGO_URI") and not args.core:
            print("pipeline on the in-memory store (EMBEDDED_STORE=memory), for the durable store's cost", flush=True)
            result["memory_store"] = pipeline_run(amqp_uri, log_dir / "memory", args.smoke, full=not args.smoke,
                                                  env={"EMBEDDED_STORE": "memory"}, peak_s=120)
            n = 500 if args.smoke else int(os.environ.get("BENCH_STORED", STORED))
            print(f"start-up and memory with {n:,} dossiers stored", flush=True)
            result["stored"] = stored.run(amqp_uri, log_dir / "stored", n, 5 if args.smoke else 60)
            # the embedded store's files are what it reads back; with MONGO_URI the services hold none
            print(f"audit alone: the Merkle tree against the chain of {auditlog.CHAIN_REV} (bench/auditlog.py)",
                  flush=True)
            result["audit_log"] = auditlog.run(log_dir / "auditlog", args.smoke)
            print(auditlog.summary(result["audit_log"]), flush=True)
        if not args.no_scale_out:
            half = (",".join(CENTERS[0::2]), ",".join(CENTERS[1::2]))
            print("scale-out: two routing and two notification workers (two centers each)", flush=True)
            two = pipeline_run(amqp_uri, log_dir / "two", args.smoke,
                               shards={"routing": list(half), "notification": list(half)}, full=False)
            result["scale_out"] = {"max_sustained_rate": two["max_sustained_rate"], "search": two["search"],
                                   "ratio": round(two["max_sustained_rate"] / result["pipeline"]["max_sustained_rate"], 2)
                                   if result["pipeline"]["max_sustained_rate"] else None}
            print(f"scale-out ratio (2 workers / 1): {result['scale_out']['ratio']}", flush=True)
    finally:
        drop_vhost(vhost)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {out_file}", flush=True)
    if not args.smoke and not args.core and args.out is None:
        report.refresh(out_file)
        print(f"refreshed {report.DOC}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
