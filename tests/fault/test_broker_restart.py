"""Scenario 2: restart RabbitMQ mid-stream, gently (stop_app / start_app) and
hard (SIGKILL the node, boot it again). The services reconnect by themselves;
intake keeps taking dossiers into its outbox meanwhile. 0 lost."""
import time

import pytest
import requests

from tests.fault.harness import NOTHING_NOTICED, Load, longest_pause_s, reconcile, wait_all_delivered
from tests.support.wait import until

pytestmark = pytest.mark.fault


def _health(cluster) -> dict:
    out = {}
    for name, host in cluster.hosts.items():
        try:
            out[name] = requests.get(f"http://127.0.0.1:{host.http}/healthz", timeout=5).status_code
        except requests.RequestException as exc:
            out[name] = type(exc).__name__
    return out


def test_services_recover_from_broker_restarts(cluster, broker, n_dossiers, report):
    cluster.start()
    load = Load(cluster, "rabbit")
    stream = load.background(n_dossiers, rate=60)
    outages, unhealthy = [], []

    until(lambda: len(load.accepted) >= n_dossiers // 4, 600, 0.05, "a quarter of the stream")
    accepted_before = len(load.accepted)
    broker.stop_app()
    time.sleep(3)
    unhealthy.append(_health(cluster))
    broker.start_app()
    outages.append(("stop_app/start_app", round(broker.wait_up(cluster.amqp_uri), 1),
                    len(load.accepted) - accepted_before))

    until(lambda: len(load.accepted) >= n_dossiers * 3 // 5, 600, 0.05, "three fifths of the stream")
    accepted_before = len(load.accepted)
    broker.kill_node()
    time.sleep(2)
    unhealthy.append(_health(cluster))
    broker.boot_node()
    outages.append(("kill -9 node, boot", round(broker.wait_up(cluster.amqp_uri, 180), 1),
                    len(load.accepted) - accepted_before))

    stream.join()
    recover = wait_all_delivered(cluster, load.accepted, 600)
    rep = reconcile(cluster, load, "2 broker restarts", recover, {
        "outages (kind, s until the broker answered, dossiers accepted meanwhile)": outages,
        "healthz while the broker was down": unhealthy,
        "longest time without a 201 (s)": round(longest_pause_s(load.accepted), 2),
        "note": "redelivered counts only since the node restart (broker statistics are not durable)"})
    report(rep)
    assert rep.accepted == n_dossiers
    assert rep.noticed() == NOTHING_NOTICED
    # every service said it was unhealthy while the broker was away
    for snapshot in unhealthy:
        assert all(code == 503 for code in snapshot.values()), snapshot
