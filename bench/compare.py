"""Before and after, in the same run: what one change does to the pipeline's cost.

    python -m bench.compare --before HEAD~1                  # that commit vs the working tree
    python -m bench.compare --before-env RELAY_BATCH=1       # one setting vs its default
    python -m bench.compare --before abc123 --search          # also the highest sustained rate
    python -m bench.compare --chain A B C                      # each commit against the one before it

Each side runs the four services from its own source tree (a git worktree of
the commit) on the same broker (a fresh vhost each time), alternating sides for
`--rounds`, every other round in reverse order, at the same fixed rate. The ratios (after / before) are of CPU per dossier, the services'
and the broker's, and of the end-to-end p50 and p99; with --search, of the
highest sustained rate too. The benchmark's own code is this tree's.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from bench.pipeline import Pipeline
from bench.run import search
from onestop.dev.rabbit_admin import AMQP_HOST_DEFAULT, drop_vhost, make_vhost

ROOT = Path(__file__).resolve().parent.parent


def tree_of(rev: str | None) -> Path:
    """The working tree for None, else a detached worktree of the commit under var/bench/trees."""
    if rev is None:
        return ROOT
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, check=True, capture_output=True,
                         text=True).stdout.strip()
    path = ROOT / "var" / "bench" / "trees" / sha
    if not path.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), sha], cwd=ROOT, check=True,
                       capture_output=True)
    return path


def env_of(pairs: list[str]) -> dict:
    return dict(pair.split("=", 1) for pair in pairs)


def measure(tree: Path, env: dict, rate: float, seconds: float, do_search: bool, log_dir: Path) -> dict:
    """One side's run, on a vhost of its own (a broker carrying the queues of earlier
    runs drifts: the same commit measured twice in a row came out 10 % apart)."""
    vhost = make_vhost("onestop-bench")
    try:
        with Pipeline(f"amqp://guest:guest@{AMQP_HOST_DEFAULT}:5672/{vhost}", log_dir, root=tree, env=env) as pipe:
            pipe.phase("warm-up", 10, 5, drain_timeout=60)
            phase = pipe.phase(f"{rate:.0f}/s", rate, seconds)
            out = {"phase": phase}
            if do_search:
                out["max_rate"], _ = search(pipe, 15, 20.0, 2000.0)
    finally:
        drop_vhost(vhost)
    return out


def figures(result: dict) -> dict:
    phase = result["phase"]
    services = sum(v for k, v in phase.cpu_ms_per_dossier.items() if k != "rabbitmq")
    figures = {"cpu_ms_per_dossier_services": round(services, 2),
               "cpu_ms_per_dossier_broker": phase.cpu_ms_per_dossier.get("rabbitmq", 0.0),
               "e2e_p50_ms": phase.e2e_ms.get("p50", 0.0), "e2e_p99_ms": phase.e2e_ms.get("p99", 0.0),
               "sustained": phase.sustained,
               **{f"cpu_{name}": float(ms) for name, ms in phase.cpu_ms_per_dossier.items()}}  # where it went
    if "max_rate" in result:
        figures["max_sustained_rate"] = result["max_rate"]
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", help="commit of the 'before' side (default: this tree)")
    parser.add_argument("--after", help="commit of the 'after' side (default: this tree)")
    parser.add_argument("--before-env", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--after-env", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--search", action="store_true", help="also find each side's highest sustained rate")
    parser.add_argument("--chain", nargs="+", metavar="REV", help="several commits, each against the one before")
    args = parser.parse_args(argv)
    if args.chain:
        sides = {rev: (tree_of(rev), {}) for rev in args.chain}
    else:
        sides = {"before": (tree_of(args.before), env_of(args.before_env)),
                 "after": (tree_of(args.after), env_of(args.after_env))}
    runs = {side: [] for side in sides}
    for round_ in range(args.rounds):
        order = list(sides) if round_ % 2 == 0 else list(reversed(sides))  # a slow drift cancels out
        for side in order:
            tree, env = sides[side]
            result = measure(tree, env, args.rate, args.seconds, args.search,
                             ROOT / "var" / "bench" / "compare" / f"{side}-{round_}")
            runs[side].append(figures(result))
            print(f"round {round_ + 1} {side:<8} {runs[side][-1]}", flush=True)
    mean = {side: {k: round(sum(r[k] for r in rs) / len(rs), 2) for k in rs[0] if k != "sustained"}
            for side, rs in runs.items()}
    names = list(sides)
    if not args.chain:
        mean["before"] = {"rev": args.before or "working tree", "env": sides["before"][1], **mean["before"]}
        mean["after"] = {"rev": args.after or "working tree", "env": sides["after"][1], **mean["after"]}
    steps = [{"before": a, "after": b, **{k: round(mean[b][k] / mean[a][k], 3) for k in mean[a]
                                          if isinstance(mean[a][k], float) and mean[a][k]}}
             for a, b in zip(names, names[1:])]
    print(json.dumps({"rate": args.rate, "seconds": args.seconds, "rounds": args.rounds, "means": mean,
                      "ratios_after_over_before": steps}, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
