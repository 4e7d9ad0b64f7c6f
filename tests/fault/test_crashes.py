"""Scenario 1: crash each service in turn mid-stream, then restart it."""
import time

import pytest

from tests.fault.harness import Load, reconcile, wait_all_delivered
from tests.support.wait import until

pytestmark = pytest.mark.fault


def test_crash_each_service_in_turn(cluster, n_dossiers, report):
    cluster.start()
    load = Load(cluster, "crash")
    stream = load.background(n_dossiers)
    for step, name in enumerate(("intake", "routing", "notification", "audit"), start=1):
        until(lambda: len(load.accepted) >= n_dossiers * step // 5, 600, 0.05, f"progress before crashing {name}")
        cluster[name].crash()
        time.sleep(1.0)
        cluster[name].restart()
    stream.join()
    recover = wait_all_delivered(cluster, load.accepted, 600)
    rep = reconcile(cluster, load, "1 crash each service", recover, {"client_retries": load.retried})
    report(rep)
    assert rep.accepted == n_dossiers
    assert rep.lost == 0 and rep.duplicated == 0
