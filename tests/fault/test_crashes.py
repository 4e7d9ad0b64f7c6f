"""Scenarios 1, 1b and 1c: real SIGKILLs mid-stream, and each process started again
as the launcher starts it, on the store it had (DATA_DIR under the test's tmp_path).

1   each service in turn;
1b  all four services and both sinks at once (a power cut);
1c  a service killing itself between the broker's confirm of an outbox batch and
    the outbox's clearing (CHAOS relay_confirmed), started again each time as the
    launcher's supervisor would: the restarted relay publishes the batch again.

What is tolerated, and why. The citizen must get exactly one receipt SMS and
one receipt email, naming the dossier's code; the reconciliation counts those
per phone and address. A provider may still receive a message twice when the
sender died, or the provider died, between taking the message and the answer
reaching the sender: the sender cannot know, and sends it again.
- SMS: any number of such resends is tolerated, because none reaches a phone:
  notification sends every SMS under a reference that is its delivery id
  (`<event id>:sms`, the same on every attempt) and the gateway keeps one
  message per reference, across its own crash too (tests/support/sinks.py).
  They are counted (`sms_resent`), never as duplicates.
- Email: SMTP has no idempotency key, so a resend is a second copy at the relay,
  under the same Message-ID (notification's is stable per delivery), which
  mailboxes drop: counted as `email_resent`. Each email in flight at a kill can
  come back once, so at most MAX_WORKERS (notification's concurrent workers,
  each sending one email at a time) per kill of notification or of the SMTP
  sink. A second Message-ID for one receipt is a duplicate, and none is tolerated.

1b and 1c stream a quarter of FAULT_DOSSIERS (at least 400): what they test
is what is in flight at a kill (set by the rate and the pipeline's depth, not by
the stream's length), and the whole suite has to stay within about ten minutes.
"""
import time

import pytest
import requests

from tests.fault.cluster import MAX_WORKERS, SERVICES
from tests.fault.harness import NOTHING_NOTICED, STEADY_RATE, Load, mgmt_vhost, reconcile, settle
from tests.support.wait import until

pytestmark = pytest.mark.fault
SIGKILLED = -9
RELAYS = ("intake", "routing", "notification")  # the services with an outbox
# relay_confirmed's rate is per published batch, and at 60/s a relay's batch gathers the events
# of a few dossiers (0.6 % over 500 dossiers killed intake once, routing once and notification
# never), so a rate of KILL_RATE / n gives each relay a few kills over the stream
KILL_RATE = 10.0


def short(n_dossiers: int) -> int:
    return max(400, n_dossiers // 4)


def test_crash_each_service_in_turn(cluster, n_dossiers, report):
    cluster.start()
    load = Load(cluster, "crash")
    stream = load.background(n_dossiers)
    for step, name in enumerate(SERVICES, start=1):
        until(lambda: len(load.accepted) >= n_dossiers * step // 5, 600, 0.05, f"progress before killing {name}")
        cluster[name].crash()
        time.sleep(1.0)
        cluster[name].restart()
    stream.join()
    recover = settle(cluster, load.accepted)
    rep = reconcile(cluster, load, "1 SIGKILL each service in turn", recover, {"client_retries": load.retried})
    report(rep)
    assert {name: cluster[name].exits for name in SERVICES} == {name: [SIGKILLED] for name in SERVICES}
    assert rep.accepted == n_dossiers and recover is not None
    assert rep.noticed() == NOTHING_NOTICED
    assert rep.email_resent <= MAX_WORKERS  # one kill of notification; the SMTP sink lived


def test_everything_killed_at_once(cluster, n_dossiers, report):
    n = short(n_dossiers)
    cluster.start()
    load = Load(cluster, "power-cut")
    stream = load.background(n, rate=STEADY_RATE)
    until(lambda: len(load.accepted) >= n // 2, 600, 0.05, "half the stream")
    at_kill = {"accepted": len(load.accepted), "sms_at_gateway": len(cluster.sinks.sms()),
               "emails_at_relay": len(cluster.sinks.emails())}
    cluster.crash_all()
    sinks_exits = sorted(proc.returncode for proc in cluster.sinks.procs.values())
    time.sleep(1.0)
    began = time.monotonic()
    cluster.restart_all()
    restart_s = time.monotonic() - began
    stream.join()
    recover = settle(cluster, load.accepted)
    rep = reconcile(cluster, load, "1b SIGKILL all services and both sinks at once", recover, {
        "at_the_kill": at_kill, "restart_all_s": round(restart_s, 1), "client_retries": load.retried,
        "sinks_after_restart": {"sms": len(cluster.sinks.sms()), "emails": len(cluster.sinks.emails())}})
    report(rep)
    assert {name: host.exits for name, host in cluster.hosts.items()} == {name: [SIGKILLED] for name in SERVICES}
    assert sinks_exits == [SIGKILLED, SIGKILLED]
    assert rep.accepted == n and recover is not None
    assert rep.noticed() == NOTHING_NOTICED
    assert rep.email_resent <= 2 * MAX_WORKERS  # notification and the SMTP sink were killed


def test_a_kill_between_the_relays_confirm_and_the_outbox_clearing(cluster, n_dossiers, report):
    n = short(n_dossiers)
    chaos = f"relay_confirmed={KILL_RATE / n:.5f}"
    cluster.start(overrides={name: {"CHAOS": chaos} for name in RELAYS})
    cluster.watch(RELAYS)
    load = Load(cluster, "relay-kill").stream(n, rate=STEADY_RATE)
    recover = settle(cluster, load.accepted)
    rep = reconcile(cluster, load, "1c SIGKILL between the relay's confirm and the outbox clearing", recover, {
        "chaos": chaos, "client_retries": load.retried,
        "relay_kills": {name: len(cluster[name].exits) for name in RELAYS}})
    rep.notes["published_to_onestop.events"] = public_publishes(cluster)
    report(rep)
    exits = [code for name in RELAYS for code in cluster[name].exits]
    assert exits and set(exits) == {SIGKILLED}  # the fault struck, and each time as a SIGKILL
    assert rep.accepted == n and recover is not None
    assert rep.noticed() == NOTHING_NOTICED  # the batches published again were each taken once
    assert rep.email_resent <= MAX_WORKERS * len(cluster["notification"].exits)


def public_publishes(cluster) -> dict:
    """Messages the broker took into the public exchange against the distinct events the audit
    log holds: more messages than events are batches a restarted relay published again (the
    broker's statistics, refreshed every few seconds, so a figure and not an assertion)."""
    url = f"{cluster.mgmt}/api/exchanges/{mgmt_vhost(cluster.amqp_uri)}/onestop.events"
    stats = requests.get(url, auth=("guest", "guest"), timeout=10).json().get("message_stats", {})
    return {"messages": stats.get("publish_in", 0), "distinct_events": cluster.query("audit", "entries", "count")}
