"""`make bench` in miniature (a few hundred dossiers), so that the benchmark cannot rot.

It checks that every figure the benchmark promises is there and that the pipeline
lost nothing on the way; it asserts nothing about speed."""
import json
import subprocess
import sys

import pytest

from bench.report import render
from onestop.dev.launcher import ROOT

pytestmark = pytest.mark.e2e


def test_the_benchmark_runs_and_reports_every_figure(tmp_path):
    out = tmp_path / "smoke.json"
    done = subprocess.run([sys.executable, "-m", "bench.run", "--smoke", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert {"per_message_classic", "pipelined_classic", "per_message_quorum", "pipelined_quorum"} <= set(result["baseline"])
    assert all(b["msgs_per_s"] > 0 and b["p99_ms"] >= b["p50_ms"] > 0 for b in result["baseline"].values())
    pipeline = result["pipeline"]
    phases = pipeline["search"] + [pipeline["peak 60/s"], pipeline["half max"]]
    for phase in phases:
        assert phase["accepted"] > 0 and phase["lost"] == 0, phase
        assert phase["e2e_ms"]["p99"] >= phase["e2e_ms"]["p50"] > 0 and phase["sms_ms"]["p50"] > 0
        assert {"intake", "routing", "notification", "audit"} <= set(phase["cpu_ms_per_dossier"])
        assert all(mb > 0 for mb in phase["peak_rss_mb"].values())
        assert phase["publishes_per_dossier"] >= 6  # received, contact, routed, assigned and two receipts
    assert set(result["R"]) >= {"dossiers_per_s", "publishes_per_dossier", "R_vs_per_message_classic",
                                "R_vs_pipelined_classic"}
    bare = result["bare_chain"]  # the yardstick: the bare nameko chain under the same load, the same search
    assert bare["search"] and all(p["accepted"] > 0 and p["lost"] == 0 for p in bare["search"])
    assert {"intake", "routing", "notification", "audit"} <= set(bare["search"][0]["cpu_ms_per_dossier"])
    assert bare["search"][0]["e2e_ms"]["p99"] >= bare["search"][0]["e2e_ms"]["p50"] > 0
    assert "pipeline_over_bare" in bare
    two = result["scale_out"]["search"][0]
    assert {"routing-2", "notification-2"} <= set(two["cpu_ms_per_dossier"]) and two["lost"] == 0
    assert result["machine"]["rabbitmq"] and result["machine"]["nameko"]
    memory = result["memory_store"]  # the durable store's cost is measured against the in-memory one
    assert memory["env"] == {"EMBEDDED_STORE": "memory"} and memory["search"][0]["lost"] == 0
    stored = result["stored"]  # start-up, memory and size with dossiers already stored
    assert stored["dossiers"] == 500 and stored["phase"]["lost"] == 0 and stored["audit_verify"]["ok"]
    assert stored["audit_verify"]["entries"] >= 500 * 5  # the copies went into the chains, which verify
    assert all(stored["startup_s"][s] > 0 and stored["file_mb"][s] > 0 for s in ("intake", "routing", "notification", "audit"))
    audit_log = result["audit_log"]  # the audit log's tree beside its old chain, each alone under the same load
    assert set(audit_log["sides"]) == {"chain", "tree"} and {r["side"] for r in audit_log["runs"]} == {"chain", "tree"}
    assert all(r["published"] > 0 and r["lost"] == 0 and r["recorded"] == r["published"] for r in audit_log["runs"])
    assert all(s["lost"] == 0 and s["cpu_ms_per_entry"] > 0 and s["p99_ms"] >= s["p50_ms"]
               for s in audit_log["sides"].values())
    assert set(audit_log["ratios_tree_over_chain"]) >= {"cpu_ms_per_entry", "p99_ms"}
    proofs = audit_log["sides"]["tree"]["proofs"]  # an auditor's proofs after the load, each checked
    assert proofs["tree_size"] == audit_log["sides"]["tree"]["published"] // audit_log["rounds"]
    assert proofs["verified"] == proofs["asked"] == {"inclusion": 100, "consistency": 100}
    table = render(result, "smoke")  # what docs/performance.md would show
    assert "R = **" in table and "Scale-out" in table and "The bare chain" in table
    assert "The durable store's cost" in table and "dossiers stored" in table
    assert "The audit log's cost" in table
