"""Scenario 6: one center's workers stop and that center is flooded; the other
centers keep their pace, and the stopped center drains once its workers return.

The routing, notification and audit work of Hương Thủy runs in processes of
its own (`CENTERS=hue-huongthuy`), the other three centers in the usual ones,
as an operator would deploy a busy ward.

The other centers' latency is measured at one rate in three phases: before
Hương Thủy stops, while it is stopped and its flood waits in its queues, and
after it has drained. The baseline is the first and the last phase together,
so a drift over the run (the stores growing, say) weighs on both sides of the
ratio alike; the p99 ratio of those two phases to each other is printed too,
as the measurement's own noise on this machine.
"""
import pytest

from tests.fault.harness import (CENTERS, LATENCY_RATE, NOTHING_NOTICED, Load, delivered, pct, reconcile,
                                 sms_latencies_ms, wait_all_delivered, warm_up)
from tests.support.wait import until

pytestmark = pytest.mark.fault
VICTIM = "hue-huongthuy"
OTHERS = tuple(c for c in CENTERS if c != VICTIM)
WORKERS = ("routing", "notification", "audit")


def test_a_stopped_flooded_center_slows_no_other(cluster, n_dossiers, report):
    others_env = {"CENTERS": ",".join(OTHERS)}
    cluster.start(overrides={name: others_env for name in WORKERS})
    victims = [cluster.add(f"{name}-{VICTIM}", name, {"CENTERS": VICTIM}) for name in WORKERS]
    warm = warm_up(cluster)
    phase = (n_dossiers - len(warm.accepted)) // 4  # before, during, after; and the flood
    flood_n = n_dossiers - len(warm.accepted) - 3 * phase

    def measured(tag: str) -> Load:
        load = Load(cluster, tag, centers=OTHERS).stream(phase, rate=LATENCY_RATE)
        wait_all_delivered(cluster, load.accepted, 600)
        return load

    before = measured("before")
    for host in victims:
        host.call("/stop")
    flood = Load(cluster, "flood", centers=(VICTIM,), threads=8).stream(flood_n)
    during = measured("during")
    held = len(flood.accepted) - len(delivered(cluster, flood.accepted))

    for host in victims:
        host.call("/start")
    drain_s = wait_all_delivered(cluster, flood.accepted, 600)
    after = measured("after")

    sms = {m["to"]: m for m in cluster.sinks.sms()}
    lat = {load.tag: sms_latencies_ms(load.accepted, sms) for load in (before, during, after)}
    base = sms_latencies_ms(Load.combined(before, after).accepted, sms)
    rep = reconcile(cluster, Load.combined(warm, before, flood, during, after), "6 one center stopped and flooded",
                    drain_s, {
                        "stopped_center": VICTIM, "flood": flood_n, "flood_waiting_while_stopped": held,
                        "rate_per_s": LATENCY_RATE, "dossiers_per_phase": phase,
                        **{f"others_p99_{tag}_ms": round(pct(v, 0.99)) for tag, v in lat.items()},
                        "others_p99_ratio": round(pct(lat["during"], 0.99) / max(pct(base, 0.99), 1e-9), 2),
                        "others_p95_ratio": round(pct(lat["during"], 0.95) / max(pct(base, 0.95), 1e-9), 2),
                        "baseline_p99_after_over_before": round(pct(lat["after"], 0.99) /
                                                                max(pct(lat["before"], 0.99), 1e-9), 2)})
    report(rep)
    assert rep.accepted == n_dossiers
    assert rep.noticed() == NOTHING_NOTICED
    assert held == flood_n  # nothing of the stopped center moved while its workers were away
    until(lambda: len(delivered(cluster, flood.accepted)) == flood_n, 5, 0.5, "the flood drained")
