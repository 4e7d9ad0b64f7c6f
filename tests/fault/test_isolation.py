"""Scenario 6: one center's workers stop and that center is flooded; the other
centers keep their pace, and the stopped center drains once its workers return.

The routing, notification and audit work of Hương Thủy runs in processes of
its own (`CENTERS=hue-huongthuy`), the other three centers in the usual ones,
as an operator would deploy a busy ward. The other centers' p99 while Hương
Thủy is stopped and flooded is compared with their p99 in a first phase of the
same run, at the same rate.
"""
import pytest

from tests.fault.harness import (CENTERS, LATENCY_RATE, Load, delivered, pct, reconcile, sms_latencies_ms,
                                 steady, wait_all_delivered)
from tests.support.wait import until

pytestmark = pytest.mark.fault
VICTIM = "hue-huongthuy"
OTHERS = tuple(c for c in CENTERS if c != VICTIM)
WORKERS = ("routing", "notification", "audit")


def test_a_stopped_flooded_center_slows_no_other(cluster, n_dossiers, report):
    others_env = {"CENTERS": ",".join(OTHERS)}
    cluster.start(overrides={name: others_env for name in WORKERS})
    victims = [cluster.add(f"{name}-{VICTIM}", name, {"CENTERS": VICTIM}) for name in WORKERS]
    phase = (n_dossiers * 7 // 20)               # 35 % before, 35 % during, 30 % flood
    flood_n = n_dossiers - 2 * phase

    before = Load(cluster, "before", centers=OTHERS).stream(phase, rate=LATENCY_RATE)
    wait_all_delivered(cluster, before.accepted, 600)

    for host in victims:
        host.call("/stop")
    flood = Load(cluster, "flood", centers=(VICTIM,), threads=8).stream(flood_n)
    during = Load(cluster, "during", centers=OTHERS).stream(phase, rate=LATENCY_RATE)
    wait_all_delivered(cluster, during.accepted, 600)
    held = len(flood.accepted) - len(delivered(cluster, flood.accepted))

    for host in victims:
        host.call("/start")
    drain_s = wait_all_delivered(cluster, flood.accepted, 600)

    base = sms_latencies_ms(steady(before.accepted), sinks=cluster.sinks)
    hit = sms_latencies_ms(during.accepted, sinks=cluster.sinks)
    rep = reconcile(cluster, Load.combined(before, flood, during), "6 one center stopped and flooded", drain_s, {
        "stopped_center": VICTIM, "flood": flood_n, "flood_waiting_while_stopped": held,
        "rate_per_s": LATENCY_RATE, "others_p99_before_ms": round(pct(base, 0.99)),
        "others_p99_during_ms": round(pct(hit, 0.99)),
        "others_p99_ratio": round(pct(hit, 0.99) / max(pct(base, 0.99), 1e-9), 2),
        "others_p95_ratio": round(pct(hit, 0.95) / max(pct(base, 0.95), 1e-9), 2)})
    report(rep)
    assert rep.accepted == n_dossiers
    assert rep.lost == 0 and rep.duplicated == 0
    assert held == flood_n  # nothing of the stopped center moved while its workers were away
    until(lambda: len(delivered(cluster, flood.accepted)) == flood_n, 5, 0.5, "the flood drained")
