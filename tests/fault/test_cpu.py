"""Scenario 8: a handler computes for 10 seconds while the stream runs.

The heavy subscriber (tests/fault/cpu_service.py) runs with a 2 s AMQP
heartbeat, so a handler that held the event loop for 10 s would lose its
connection (the broker closes it after two missed heartbeats) and have its
message redelivered. Through `onestop.offload` it keeps every connection:
0 heartbeat disconnects, 0 duplicates, one attempt per heavy message.
"""
import pytest

from tests.fault.harness import NOTHING_NOTICED, STEADY_RATE, Load, mgmt_vhost, reconcile, wait_all_delivered
from tests.support.wait import until

pytestmark = pytest.mark.fault
HEAVY = 2  # dossiers whose handler burns 10 s of CPU (one each in two centers)


def test_a_ten_second_cpu_bound_handler_keeps_its_connection(cluster, broker, n_dossiers, report):
    cluster.start(extra={"cpuheavy": ("tests.fault.cpu_service:CpuHeavyService",
                                      {"HEARTBEAT": "2", "BURN_S": "10", "BURN_AT": "100",
                                       "BURN_CENTERS": "hue-vyda,hue-phuxuan"})})
    load = Load(cluster, "cpu")
    stream = load.background(n_dossiers, rate=STEADY_RATE)
    until(lambda: len(load.accepted) >= 60, 600, 0.05, "the stream under way")
    vhost = mgmt_vhost(cluster.amqp_uri)
    until(lambda: len(broker.connections(vhost)) >= 8, 60, 0.5, "every service connected")
    connections = broker.connections(vhost)
    stream.join()
    recover = wait_all_delivered(cluster, load.accepted, 600)
    until(lambda: cluster["cpuheavy"].query("results", "count") >= HEAVY, 120, 0.5, "the heavy handlers done")

    attempts = cluster["cpuheavy"].query("attempts")
    results = cluster["cpuheavy"].query("results")
    now = broker.connections(vhost)
    owners = {host.proc.pid: name for name, host in cluster.hosts.items()}
    lost_connections = sorted(f"{owners.get(pid, pid)}: {name}" for name, (_, pid) in connections.items()
                              if name not in now)
    rep = reconcile(cluster, load, "8 a 10 s CPU-bound handler", recover, {
        "heavy_messages": len(results), "attempts": len(attempts),
        "handler_wall_s": [round(r["wall_s"], 1) for r in results],
        "connections_watched": len(connections), "heartbeat_disconnects": len(lost_connections),
        "heartbeat_s": 2, **({"lost": lost_connections} if lost_connections else {})})
    report(rep)
    assert rep.accepted == n_dossiers
    assert rep.noticed() == NOTHING_NOTICED
    assert len(results) == HEAVY and len(attempts) == HEAVY  # each heavy message handled once
    assert lost_connections == []
