"""Scenario 7: the broker raises a memory alarm, then a disk alarm, mid-stream.

While an alarm blocks publishers, intake keeps answering 201: each dossier is
written with its event in intake's outbox (the store, not the broker), and the
relay publishes it once the alarm clears. /healthz shows the outbox growing.
Nothing accepted is lost.
"""
import time

import pytest
import requests

from tests.fault.harness import NOTHING_NOTICED, STEADY_RATE, Load, reconcile, wait_all_delivered
from tests.support.wait import until

pytestmark = pytest.mark.fault
HOLD_S = 10


def _outbox(cluster) -> dict:
    try:
        body = requests.get(f"{cluster.intake_url}/healthz", timeout=5).json()
        return {"pending": body.get("outbox_pending"), "lag_s": body.get("outbox_lag_seconds")}
    except (requests.RequestException, ValueError):
        return {}


def _alarm(cluster, broker, load, kind: str, raise_it) -> dict:
    accepted_before = len(load.accepted)
    raise_it(True)
    try:
        took = broker.wait_alarm(kind, True)
        time.sleep(HOLD_S)
        during = _outbox(cluster)
    finally:
        raise_it(False)
    cleared = broker.wait_alarm(kind, False)
    return {"alarm": kind, "raised_after_s": round(took, 1), "held_s": HOLD_S, "cleared_after_s": round(cleared, 1),
            "accepted_during": len(load.accepted) - accepted_before, "intake_outbox_at_end_of_alarm": during}


def test_broker_alarms_lose_nothing(cluster, broker, n_dossiers, report):
    cluster.start()
    load = Load(cluster, "alarm")
    rate = min(STEADY_RATE, n_dossiers / (2 * HOLD_S + 25))  # the stream outlasts both alarms
    stream = load.background(n_dossiers, rate=rate)
    alarms = []
    try:
        until(lambda: len(load.accepted) >= n_dossiers // 10, 600, 0.05, "a tenth of the stream")
        alarms.append(_alarm(cluster, broker, load, "memory", broker.memory_alarm))
        time.sleep(3)
        alarms.append(_alarm(cluster, broker, load, "disk", broker.disk_alarm))
    finally:  # never leave the node blocked for the next scenario
        broker.memory_alarm(False)
        broker.disk_alarm(False)
    stream.join()
    recover = wait_all_delivered(cluster, load.accepted, 600)
    rep = reconcile(cluster, load, "7 memory and disk alarms", recover, {
        "alarms": alarms, "refused_attempts": dict(load.refusals), "rate_per_s": round(rate, 1)})
    report(rep)
    assert rep.accepted == n_dossiers
    assert rep.noticed() == NOTHING_NOTICED
    assert broker.alarms() == {"memory": False, "disk": False}
    for alarm in alarms:  # intake kept taking dossiers in while the broker refused publishes
        assert alarm["accepted_during"] > 0 and alarm["intake_outbox_at_end_of_alarm"]["pending"] > 0, alarm

