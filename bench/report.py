"""The results table of docs/performance.md, written from a results file.

    python -m bench.report bench/results/2026-11-26.json     # refresh docs/performance.md
    python -m bench.report bench/results/2026-12-01.json bench/results/2026-12-01-auditlog.json

`make bench` does this after a full run; the text around the table is kept.
Further files add the sections the first one lacks: a part of the benchmark run
on its own (``python -m bench.auditlog`` writes the ``audit_log`` section).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- bench:begin (written by bench/report.py) -->", "<!-- bench:end -->"
SERVICES = ("intake", "routing", "notification", "audit")


def _ms(summary: dict, key: str) -> str:
    return f"{summary.get(key, 0):.0f}"


def render(result: dict, source: str) -> str:
    m, base, pipe = result["machine"], result["baseline"], result["pipeline"]
    lines = [f"Run of {result['date']} ({source}): {m['cpus']} cores ({m['cpu_model']}), {m['memory_gib']} GiB; "
             f"RabbitMQ {m['rabbitmq']} (Erlang {m['erlang']}), Python {m['python']}, nameko {m['nameko']}, "
             f"kombu {m['kombu']}, amqp {m['amqp']}, eventlet {m['eventlet']}, pymongo {m['pymongo']}; "
             f"store: {m['store']}.", "",
             "**Baseline** (kombu, 1 KB persistent messages, one durable queue, a consumer with acks):", "",
             "| publisher | queue | msgs/s | hop p50 ms | hop p99 ms |", "|---|---|---|---|---|"]
    for b in base.values():
        mode = "per-message confirms" if b["mode"] == "per_message" else f"pipelined confirms ({b['window']} in flight)"
        lines.append(f"| {mode} | {b['queue_type']} | {b['msgs_per_s']:,.0f} | {b['p50_ms']} | {b['p99_ms']} |")
    lines += ["", "With pipelined confirms the publisher outruns the consumer, so the hop latency there is the "
              "queue that builds, not the broker's.", "",
              "**Pipeline** (four services, one process each, as `make run` starts them; load over HTTP across "
              "four centers; latency from the 201 to the dossier's last audit entry, and to its SMS at the sink):", "",
              "| phase | offered/s | achieved/s | sustained | e2e p50 | p95 | p99 ms | SMS p99 ms | longest queue |",
              "|---|---|---|---|---|---|---|---|---|"]
    phases = pipe["search"] + [pipe[k] for k in ("30/s", "peak 60/s", "half max") if k in pipe]
    for p in phases:
        e = p["e2e_ms"]
        lines.append(f"| {p['name']} ({p['seconds']:.0f} s) | {p['offered_rate']:.1f} | {p['achieved_rate']:.1f} | "
                     f"{'yes' if p['sustained'] else 'no'} | {_ms(e, 'p50')} | {_ms(e, 'p95')} | {_ms(e, 'p99')} | "
                     f"{_ms(p['sms_ms'], 'p99')} | {p['longest_queue']['messages']} |")
    lines += ["", f"Highest sustained rate: **{pipe['max_sustained_rate']:.0f} dossiers/s**.", "",
              "CPU per dossier (ms) and peak RSS (MB) per process:", "",
              "| phase | " + " | ".join(SERVICES) + " | RabbitMQ | SMTP sink | SMS sink | RSS " +
              " / ".join(SERVICES) + " |", "|---|" + "---|" * (len(SERVICES) + 4)]
    for p in phases:
        cpu, rss = p["cpu_ms_per_dossier"], p["peak_rss_mb"]
        lines.append(f"| {p['name']} | " + " | ".join(f"{cpu.get(s, 0):.1f}" for s in SERVICES) +
                     f" | {cpu.get('rabbitmq', 0):.1f} | {cpu.get('smtp-sink', 0):.1f} | {cpu.get('sms-sink', 0):.1f} | " +
                     " / ".join(f"{rss.get(s, 0):.0f}" for s in SERVICES) + " |")
    if "bare_chain" in result:
        bare = result["bare_chain"]
        lines += ["", "**The bare chain** (bench/bare_services.py: four nameko services with `http`, "
                  "`EventDispatcher` and `event_handler` only, the same journey and load, no store, schema, outbox, "
                  "retry, provider or authentication), the same search:", "",
                  "| phase | offered/s | achieved/s | sustained | e2e p50 | p99 ms | CPU ms/dossier services | "
                  "RabbitMQ |", "|---|---|---|---|---|---|---|---|"]
        for p in bare["search"]:
            cpu = p["cpu_ms_per_dossier"]
            lines.append(f"| {p['name']} | {p['offered_rate']:.1f} | {p['achieved_rate']:.1f} | "
                         f"{'yes' if p['sustained'] else 'no'} | {_ms(p['e2e_ms'], 'p50')} | "
                         f"{_ms(p['e2e_ms'], 'p99')} | {sum(v for k, v in cpu.items() if k != 'rabbitmq'):.1f} | "
                         f"{cpu.get('rabbitmq', 0):.1f} |")
        lines += ["", f"Highest sustained rate of the bare chain: **{bare['max_sustained_rate']:.0f}/s**; the "
                  f"pipeline's over it: **{bare.get('pipeline_over_bare')}** (target ≥ 1)."]
    r = result["R"]
    lines += ["", f"**R** = {r['dossiers_per_s']:.0f} dossiers/s × {r['publishes_per_dossier']} confirmed publishes "
              f"per dossier = {r['confirmed_publishes_per_s']:.0f}/s, against:", ""]
    lines += [f"- {name.removeprefix('R_vs_').replace('_', ' ')}: R = **{value}**"
              for name, value in r.items() if name.startswith("R_vs_")]
    if "scale_out" in result:
        s = result["scale_out"]
        lines += ["", f"**Scale-out**: two routing and two notification workers (two centers each): "
                  f"highest sustained rate {s['max_sustained_rate']:.0f}/s, ratio to one worker each: "
                  f"**{s['ratio']}**."]
    lines += _stores(result)
    lines += _audit_log(result)
    return "\n".join(lines)


def _stores(result: dict) -> list[str]:
    """The durable store against the in-memory one, and the figures with a year of dossiers stored."""
    lines = []
    if "memory_store" in result:
        stores = {"SQLite (durable)": result["pipeline"], "in-memory (mongomock)": result["memory_store"]}
        lines += ["", "**The durable store's cost** (the same pipeline on each embedded store; CPU per dossier at 30/s):",
                  "", "| store | highest sustained/s | p99 at 30/s ms | p99 at 60/s ms | CPU ms/dossier " +
                  " / ".join(SERVICES) + " |", "|---|---|---|---|---|"]
        for name, run in stores.items():
            low, peak = run.get("30/s", {}), run.get("peak 60/s", {})
            cpu = low.get("cpu_ms_per_dossier", {})
            lines.append(f"| {name} | {run['max_sustained_rate']:.0f} | {_ms(low.get('e2e_ms', {}), 'p99')} | "
                         f"{_ms(peak.get('e2e_ms', {}), 'p99')} ({peak.get('seconds', 0):.0f} s) | " +
                         " / ".join(f"{cpu.get(s, 0):.1f}" for s in SERVICES) + " |")
        durable = result["pipeline"].get("30/s", {}).get("cpu_ms_per_dossier", {})
        memory = result["memory_store"].get("30/s", {}).get("cpu_ms_per_dossier", {})
        ratios = [f"{s} {durable[s] / memory[s]:.2f}" for s in SERVICES if durable.get(s) and memory.get(s)]
        lines += ["", f"CPU per dossier, SQLite / in-memory (target ≤ 1.3): {', '.join(ratios)}."]
    if "stored" in result:
        st = result["stored"]
        lines += ["", f"**With {st['dossiers']:,} dossiers stored** (a ward receives about 100,000 a year; seeded from {st['templates']} real "
                  f"dossiers, bench/stored.py), then 30 dossiers/s for {st['phase']['seconds']:.0f} s "
                  f"(targets: start-up ≤ 20 s, RSS ≤ 300 MB):", "",
                  "| service | file MB | start-up s | RSS after start MB | peak RSS at 30/s MB |", "|---|---|---|---|---|"]
        for s in SERVICES:
            lines.append(f"| {s} | {st['file_mb'].get(s, 0):,.0f} | {st['startup_s'].get(s)} | "
                         f"{st['rss_after_start_mb'].get(s)} | {st['phase']['peak_rss_mb'].get(s, 0):.0f} |")
        e = st["phase"]["e2e_ms"]
        lines += ["", f"At 30/s on the full store: e2e p50/p99 {_ms(e, 'p50')}/{_ms(e, 'p99')} ms, "
                  f"{'sustained' if st['phase']['sustained'] else 'NOT sustained'}; audit verify over "
                  f"{st['audit_verify']['entries']:,} entries: {'OK' if st['audit_verify']['ok'] else 'FAILED'}."]
    return lines


def _audit_log(result: dict) -> list[str]:
    """The audit service's Merkle tree against the hash chain it replaced (bench/auditlog.py)."""
    if "audit_log" not in result:
        return []
    a = result["audit_log"]
    names = {"chain": f"hash chain ({a['chain_rev']})", "tree": "Merkle tree, signed checkpoints"}
    lines = ["", f"**The audit log's cost** (issue 15; bench/auditlog.py): the audit service alone, as deployed, on "
             f"the durable store (EMBEDDED_SYNC=full), {a['rate']:.0f} real events/s for {a['seconds']:.0f} s over "
             f"{len(a['centers'])} centers, sides alternating for {a['rounds']} round{'s' if a['rounds'] > 1 else ''}; "
             "the tree signs a checkpoint "
             f"of every grown log each {a['checkpoint_interval_s']:g} s; latency from the publish to `recorded_at`; "
             "medians of each side's runs:", "",
             "| audit | CPU ms/entry | latency p50 ms | p95 | p99 | max | drain s | RSS MB | lost |",
             "|---|---|---|---|---|---|---|---|---|"]
    for side, f in a["sides"].items():
        lines.append(f"| {names.get(side, side)} | {f['cpu_ms_per_entry']:.2f} | {f['p50_ms']:.0f} | "
                     f"{f['p95_ms']:.0f} | {f['p99_ms']:.0f} | {f['max_ms']:.0f} | {f['drain_s']} | "
                     f"{f['rss_mb']:.0f} | {f['lost']} |")
    r = a["ratios_tree_over_chain"]
    lines.append(f"| **tree / chain** | **{r.get('cpu_ms_per_entry', 0):.2f}** | {r.get('p50_ms', 0):.2f} | | "
                 f"**{r.get('p99_ms', 0):.2f}** | | | | |")
    p = a["sides"].get("tree", {}).get("proofs")
    if p:
        lines += ["", f"Proofs over HTTP after the load, as an auditor asks for them ({p['tree_size']:,} leaves in "
                  f"{len(a['centers'])} logs, {a['sides']['tree']['checkpoints_signed']:.0f} checkpoints signed "
                  f"in a run): inclusion p50/p99 {p['inclusion_p50']:.1f}/{p['inclusion_p99']:.1f} ms, consistency "
                  f"{p['consistency_p50']:.1f}/{p['consistency_p99']:.1f} ms; verified against the signed roots: "
                  f"{p['verified']['inclusion']}/{p['asked']['inclusion']} and "
                  f"{p['verified']['consistency']}/{p['asked']['consistency']}."]
    return lines


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name


def refresh(result_file: Path, doc: Path = DOC, sections: tuple[Path, ...] = ()) -> None:
    """Rewrite the generated part of `doc` from `result_file`, with the sections of
    `sections` (files of parts run on their own) that it does not have."""
    result = json.loads(result_file.read_text())
    source = _name(result_file)
    for extra in sections:
        added = {k: v for k, v in json.loads(extra.read_text()).items() if k not in result}
        result.update(added)
        source += f"; {', '.join(added)} from {_name(extra)}"
    text = doc.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    doc.write_text(text[:start] + "\n" + render(result, source) + "\n" + text[end:])


if __name__ == "__main__":
    refresh(Path(sys.argv[1]).resolve(), sections=tuple(Path(a).resolve() for a in sys.argv[2:]))
