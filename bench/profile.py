"""Where each service spends its CPU under load: py-spy on every process.

    python -m bench.profile [--rate 20] [--seconds 30]

Starts the pipeline, samples each service with py-spy while the load runs,
writes the collapsed stacks to var/bench/profile/<service>.txt (for
flamegraph.pl or speedscope) and prints each service's top functions, by own
time and by time including callees.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from bench.pipeline import Pipeline
from onestop.dev.rabbit_admin import AMQP_HOST_DEFAULT, drop_vhost, make_vhost

ROOT = Path(__file__).resolve().parent.parent


def package(frame: str) -> str | None:
    """The package a frame's file belongs to ('eventlet', 'services', ...), None for the standard library."""
    where = frame.rpartition(" (")[2]
    return where.split("/")[0] if "/" in where and not where.startswith("<") else None


# What each package's time is, for the question of issue 18: the store's, the runtime's (messaging
# and green threads), the services' own, and what they use on the way. onestop's own modules go by
# their second part (onestop/storage is the store, onestop/messaging the runtime).
LAYERS = {
    "store": ("bson", "pymongo", "mongomock", "onestop/storage", "sentinels"),
    "runtime: messaging": ("amqp", "kombu", "vine", "nameko", "onestop/messaging"),
    "runtime: eventlet": ("eventlet", "greenlet", "dns"),
    "validation": ("marshmallow", "contracts"),
    "HTTP server and identity": ("werkzeug", "jwt", "cryptography", "onestop/web"),
    "provider clients": ("requests", "urllib3", "idna", "charset_normalizer", "certifi"),
    "metrics and logs": ("prometheus_client", "onestop/metrics.py", "onestop/logs.py", "logging"),
    "services' own": ("services", "onestop"),
}


def layer(raw: list[str]) -> str:
    """The layer of a sample: that of the innermost frame outside the standard library (whose
    time goes to its caller: the email package to notification's channels, sqlite3 to the store)."""
    for frame in reversed(raw):
        where = frame.rpartition(" (")[2]
        if "/" not in where or where.startswith("<"):
            continue
        parts = where.split("/")
        if parts[0] in sys.stdlib_module_names:
            continue
        name = "/".join(parts[:2]).split(":")[0] if parts[0] == "onestop" else parts[0]
        # in the table's order: onestop's modules named above first, the rest of it as its own
        return next((kind for kind, packages in LAYERS.items() if name in packages or parts[0] in packages),
                    "other libraries")
    return "other libraries"


def layers(path: Path) -> dict[str, float]:
    """Each layer's share of the samples in a py-spy raw file."""
    counts, samples = Counter(), 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            counts[layer(stack.split(";"))] += int(count)
            samples += int(count)
    return {kind: n / samples for kind, n in counts.most_common()} if samples else {}


def summarize(path: Path, top: int) -> str:
    own, total, packages, samples = Counter(), Counter(), Counter(), 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        raw = stack.split(";")
        frames = [f.split(" (")[0] + " " + f.split("/")[-1].rstrip(")") for f in raw]
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
        # the standard library's time goes to the package that called into it
        packages[next((p for p in map(package, reversed(raw)) if p), "stdlib")] += n
    if not samples:
        return "  (no samples)"
    rows = ["  by layer:"] + [f"    {share * 100:5.1f}%  {kind}" for kind, share in layers(path).items()]
    rows += ["  by package (standard library time to its caller):"]
    rows += [f"    {n * 100 / samples:5.1f}%  {p}" for p, n in packages.most_common(12)]
    rows += ["  own time:"] + [f"    {n * 100 / samples:5.1f}%  {f}" for f, n in own.most_common(top)]
    rows += ["  including callees:"] + [f"    {n * 100 / samples:5.1f}%  {f}" for f, n in total.most_common(top * 2)]
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--idle", action="store_true", help="also count idle stacks (waiting on I/O)")
    parser.add_argument("--gil", action="store_true",
                        help="only samples holding the GIL: Python's own CPU, without time in system calls "
                             "or waiting for a core")
    args = parser.parse_args(argv)
    out = ROOT / "var" / "bench" / "profile"
    out.mkdir(parents=True, exist_ok=True)
    vhost = make_vhost("onestop-bench")
    try:
        with Pipeline(f"amqp://guest:guest@{AMQP_HOST_DEFAULT}:5672/{vhost}", out / "logs") as pipe:
            pipe.phase("warm-up", 10, 5, drain_timeout=60)
            spies = {name: subprocess.Popen(
                ["py-spy", "record", "-p", str(proc.pid), "-r", "250", "-d", str(int(args.seconds)),
                 "--format", "raw", "-o", str(out / f"{name}.txt"), *(["--idle"] if args.idle else []), *(["--gil"] if args.gil else [])],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for name, proc in pipe.services().items()}
            time.sleep(1)
            phase = pipe.phase("profiled", args.rate, args.seconds - 2)
            print(phase.line())
            for spy in spies.values():
                spy.wait(60)
    finally:
        drop_vhost(vhost)
    for name in spies:
        print(f"\n== {name}\n{summarize(out / f'{name}.txt', args.top)}")
    # CPU per dossier per service, spread over the layers by the samples' shares (issue 18's table)
    table = {name: {kind: round(share * phase.cpu_ms_per_dossier.get(name, 0.0), 2)
                    for kind, share in layers(out / f"{name}.txt").items()} for name in spies}
    table["rabbitmq"] = {"broker": phase.cpu_ms_per_dossier.get("rabbitmq", 0.0)}
    (out / "layers.json").write_text(json.dumps({"rate": args.rate, "gil": args.gil, "cpu_ms_per_dossier":
                                                 phase.cpu_ms_per_dossier, "ms_per_dossier_by_layer": table},
                                                indent=1) + "\n")
    print(f"\nCPU ms per dossier by layer (written to {out / 'layers.json'}):")
    for name, kinds in table.items():
        print(f"  {name:<13} " + ", ".join(f"{kind} {ms:.1f}" for kind, ms in kinds.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
