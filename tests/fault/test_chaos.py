"""Scenario 5: every handler fails on every code path, now and then."""
import pytest

from tests.fault.harness import NOTHING_NOTICED, Load, reconcile, wait_all_delivered

pytestmark = pytest.mark.fault
CHAOS = "before=0.05,after=0.05,republish=0.05,requeue=0.05"


def test_failures_on_every_code_path_lose_and_double_nothing(cluster, n_dossiers, report):
    cluster.env["CHAOS"] = CHAOS
    cluster.start()
    load = Load(cluster, "chaos").stream(n_dossiers)
    recover = wait_all_delivered(cluster, load.accepted, 600)
    rep = reconcile(cluster, load, "5 failures on every code path", recover, {"chaos": CHAOS})
    report(rep)
    assert rep.accepted == n_dossiers
    assert rep.noticed() == NOTHING_NOTICED
