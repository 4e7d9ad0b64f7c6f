"""Scenario 3: the providers fail mid-stream. The SMTP server is down for 30 s,
then the SMS gateway answers 500 for a while, then it hangs. Notifications are
retried with backoff, the circuit breakers keep most retries away from a
provider that is down, and every citizen still gets exactly one email and one SMS."""
import threading
import time

import pytest
import requests

from tests.fault.harness import NOTHING_NOTICED, Load, reconcile, wait_all_delivered
from tests.support.wait import until

pytestmark = pytest.mark.fault
BIG = 1_000_000  # a fault's `times`: what is left of it afterwards counts the calls it took
SMTP_DOWN_S = 30
SMS_OUTAGES = (  # (fault, seconds), one after the other while the SMTP server is down
    ({"mode": "error"}, 10),
    ({"mode": "hang", "seconds": 5}, 10),  # longer than the client's 3 s timeout
)


def _outage(sinks, sink, fault, seconds) -> dict:
    sinks.fault(sink, **fault, times=BIG)
    time.sleep(seconds)
    reached = sinks.calls_taken(sink, BIG)
    sinks.fault(sink, mode="ok")
    return {"sink": sink, **fault, "held_s": seconds, "calls_that_reached_it": reached}


def test_provider_outages_lose_and_double_nothing(cluster, n_dossiers, report):
    cluster.start()
    load = Load(cluster, "providers")
    rate = min(40.0, n_dossiers / (SMTP_DOWN_S + 15))  # the stream outlasts the outages
    stream = load.background(n_dossiers, rate=rate)
    until(lambda: len(load.accepted) >= n_dossiers // 10, 600, 0.05, "a tenth of the stream")
    outages = []
    smtp = threading.Thread(target=lambda: outages.insert(0, _outage(cluster.sinks, "smtp", {"mode": "down"},
                                                                      SMTP_DOWN_S)))
    smtp.start()
    time.sleep(3)
    for fault, seconds in SMS_OUTAGES:
        outages.append(_outage(cluster.sinks, "sms", fault, seconds))
    smtp.join()
    stream.join()
    recover = wait_all_delivered(cluster, load.accepted, 600)

    attempts = cluster["notification"].query("deliveries", filter={}, projection={"channel": 1, "attempts": 1})
    failed = {ch: sum(d.get("attempts", 1) - 1 for d in attempts if d.get("channel") == ch) for ch in ("email", "sms")}
    breakers = requests.get(f"http://127.0.0.1:{cluster['notification'].http}/healthz", timeout=5).json()["providers"]
    rep = reconcile(cluster, load, "3 provider outages", recover, {
        "outages": outages, "failed_attempts": failed, "breakers": breakers, "rate_per_s": round(rate, 1)})
    report(rep)
    assert rep.accepted == n_dossiers
    assert rep.noticed() == NOTHING_NOTICED
    # the breaker kept most retries from reaching a provider that was down
    assert outages[0]["calls_that_reached_it"] < failed["email"]
    assert sum(o["calls_that_reached_it"] for o in outages[1:]) < failed["sms"]
