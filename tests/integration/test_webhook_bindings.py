"""Webhooks' queues bound only to what live subscriptions want (issue 18), on real RabbitMQ.

- While nobody subscribed, a dossier's events never reach webhooks, and an older release's ``#``
  binding goes at start-up.
- A subscription's types are bound before its 201; a change and a delete unbind only what no other
  subscription wants; a subscription's events reach its receiver.
- The lock is the broker's: while another connection holds it a change waits and, past its wait,
  refuses with nothing written; a process SIGKILLed while holding it frees it at once.
- Two webhooks processes creating and deleting side by side leave exactly the bindings the live
  subscriptions want.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from urllib.parse import quote

import eventlet
import pytest
import requests
from amqp.exceptions import ResourceLocked
from kombu import Connection
from prometheus_client import REGISTRY

from onestop.catalog import load_catalog
from onestop.dev.rabbit_admin import request, vhost_of
from onestop.messaging.topology import EVENTS, ServiceQueues, declare_service, work_queue_name
from services.intake.service import IntakeService
from services.routing.service import RoutingService
from services.webhooks.bindings import LOCK_QUEUE, BindingsBusy, BrokerUnreachable, QueueBindings
from services.webhooks.domain import wanted_patterns
from services.webhooks.service import WebhooksService
from tests.integration.test_webhooks import FAST, INTEGRATOR, submit, verified
from tests.support.receiver import Receiver
from tests.support.tap import Tap
from tests.conftest import free_port
from tests.support.wait import until

pytestmark = pytest.mark.integration
VYDA, PHUXUAN = "hue-vyda", "hue-phuxuan"
RECEIVED = "dossier.received.v1"


def bound(amqp_uri, center) -> list[str]:
    """The routing keys webhooks' queue of `center` is bound with on onestop.events, as the broker lists them."""
    vhost = quote(vhost_of(amqp_uri), safe="")
    rows = request("GET", f"/api/queues/{vhost}/{quote(work_queue_name('webhooks', center))}/bindings").json()
    return sorted(r["routing_key"] for r in rows if r["source"] == EVENTS.name)


def consumed_by_webhooks() -> float:
    return sum(s.value for metric in REGISTRY.collect() if metric.name == "onestop_events_consumed"
               for s in metric.samples if s.name.endswith("_total") and s.labels.get("service") == "webhooks")


def took_lock(connection) -> bool:
    try:
        connection.channel().queue_declare(LOCK_QUEUE, exclusive=True, auto_delete=True)
        return True
    except ResourceLocked:
        return False


def create(webhooks, url, **body):
    answer = requests.post(f"{webhooks.http}/api/v1/subscriptions", headers=INTEGRATOR, timeout=30,
                           json={"url": url, "centers": [VYDA], **body})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_nobody_subscribed_nothing_reaches_webhooks_and_an_older_binding_goes(services, amqp_uri, config):
    # an older release declared the queues bound to every public event of their center
    with Connection(amqp_uri) as conn:
        declare_service(conn.default_channel, [ServiceQueues("webhooks", c, (("public", "#"),), (0.2, 0.4, 0.8), 5)
                                               for c in load_catalog().centers])
    assert bound(amqp_uri, VYDA) == [f"#.{VYDA}"]
    tap = Tap(amqp_uri, EVENTS, routing_key=f"#.{VYDA}")
    intake = services.start(IntakeService)
    services.start(RoutingService)
    services.start(WebhooksService, **FAST)
    until(lambda: all(bound(amqp_uri, c) == [] for c in load_catalog().centers), message="the old binding gone")
    before = consumed_by_webhooks()
    code = submit(intake)
    seen = []
    until(lambda: seen.extend(tap.messages()) or {"dossier.routed.v1", "dossier.assigned.v1"} <= {
        e["type"] for e in seen if e["subject"] == code}, message="the dossier routed")
    eventlet.sleep(0.5)  # a delivery to webhooks would have come by now
    assert consumed_by_webhooks() == before


def test_a_subscription_is_bound_before_its_answer_and_unbound_when_no_one_wants_it(services, amqp_uri):
    receiver = Receiver().start()
    try:
        intake = services.start(IntakeService)
        services.start(RoutingService)
        webhooks = services.start(WebhooksService, **FAST)
        a = create(webhooks, receiver.url("/a"), event_types=[RECEIVED])
        assert bound(amqp_uri, VYDA) == [f"{RECEIVED}.{VYDA}"] and bound(amqp_uri, PHUXUAN) == []
        code = submit(intake)  # the very first dossier after the 201 reaches the receiver
        until(lambda: [e["subject"] for e in verified(receiver, "/a", a["secret"])] == [code],
              message="the received event delivered")

        b = create(webhooks, receiver.url("/b"), centers=[VYDA, PHUXUAN], event_types=[], procedures=["1.001193"])
        assert bound(amqp_uri, VYDA) == [f"#.{VYDA}"] and bound(amqp_uri, PHUXUAN) == [f"#.{PHUXUAN}"]

        answer = requests.patch(f"{webhooks.http}/api/v1/subscriptions/{b['id']}", headers=INTEGRATOR, timeout=30,
                                json={"centers": [PHUXUAN]})
        assert answer.status_code == 200, answer.text
        assert bound(amqp_uri, VYDA) == [f"{RECEIVED}.{VYDA}"] and bound(amqp_uri, PHUXUAN) == [f"#.{PHUXUAN}"]

        paused = requests.post(f"{webhooks.http}/api/v1/subscriptions/{a['id']}/pause", headers=INTEGRATOR, timeout=30)
        assert paused.status_code == 200 and bound(amqp_uri, VYDA) == [f"{RECEIVED}.{VYDA}"]  # its backlog still grows

        for sub in (a, b):
            gone = requests.delete(f"{webhooks.http}/api/v1/subscriptions/{sub['id']}", headers=INTEGRATOR, timeout=30)
            assert gone.status_code == 200, gone.text
        assert bound(amqp_uri, VYDA) == [] and bound(amqp_uri, PHUXUAN) == []
    finally:
        receiver.stop()


def test_a_change_waits_for_the_lock_and_past_its_wait_writes_nothing(services, amqp_uri):
    services.start(WebhooksService, **FAST)  # declares the queues
    written = []
    with Connection(amqp_uri) as holder:
        until(lambda: took_lock(holder), message="the lock, once the service's start-up matching let it go")
        bindings = QueueBindings(amqp_uri, load_catalog().centers, lock_wait=0.5)
        started = time.monotonic()
        with pytest.raises(BindingsBusy):
            bindings.change(lambda: written.append(1), live=lambda: [], centers=[VYDA],
                            adding=[{"centers": [VYDA], "event_types": [RECEIVED]}])
        assert time.monotonic() - started >= 0.5 and written == [] and bound(amqp_uri, VYDA) == []
        assert bindings.match(lambda: [], wait=0.2) is False  # the periodic matching skips while another holds it

        eventlet.spawn_after(0.5, holder.release)  # the holder lets go while the change waits
        patient = QueueBindings(amqp_uri, load_catalog().centers, lock_wait=10)
        live = [{"centers": [VYDA], "event_types": [RECEIVED]}]
        patient.change(lambda: written.append(1), live=lambda: live, centers=[VYDA], adding=live)
    assert written == [1] and bound(amqp_uri, VYDA) == [f"{RECEIVED}.{VYDA}"]


HOLDER = textwrap.dedent("""
    import sys, time
    from onestop.catalog import load_catalog
    from services.webhooks.bindings import QueueBindings
    with QueueBindings(sys.argv[1], load_catalog().centers)._locked(10):
        print("held", flush=True)
        time.sleep(600)
""")


def test_a_holder_killed_with_sigkill_frees_the_lock_at_once(services, amqp_uri):
    services.start(WebhooksService, **FAST)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, amqp_uri], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})
    try:
        assert holder.stdout.readline().strip() == "held"
        bindings = QueueBindings(amqp_uri, load_catalog().centers)
        assert bindings.match(lambda: [], wait=0.3) is False
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        started = time.monotonic()
        assert bindings.match(lambda: [], wait=10) is True
        assert time.monotonic() - started < 5  # the broker freed it with the connection, no lease to run out
    finally:
        holder.kill()


def test_two_processes_changing_side_by_side_leave_what_the_live_subscriptions_want(services, amqp_uri):
    receiver = Receiver().start()
    try:
        one = services.start(WebhooksService, **FAST)
        two = services.start(WebhooksService, **FAST)  # the same store: two processes of one deployment
        types = ([RECEIVED], ["dossier.routed.v1"], ["dossier.assigned.v1", RECEIVED], [])
        centers = ([VYDA], [PHUXUAN], [VYDA, PHUXUAN])

        def churn(i):
            webhooks = (one, two)[i % 2]
            sub = create(webhooks, receiver.url(f"/{i}"), event_types=types[i % 4], centers=centers[i % 3])
            if i % 3:  # two of three go again, each through the other process
                other = (one, two)[(i + 1) % 2]
                gone = requests.delete(f"{other.http}/api/v1/subscriptions/{sub['id']}", headers=INTEGRATOR,
                                       timeout=60)
                assert gone.status_code == 200, gone.text

        list(eventlet.GreenPool(6).imap(churn, range(18)))
        listed = requests.get(f"{one.http}/api/v1/subscriptions", headers=INTEGRATOR, timeout=30).json()
        live = listed["subscriptions"]
        assert len(live) == 6
        for center in (VYDA, PHUXUAN):
            assert bound(amqp_uri, center) == sorted(f"{p}.{center}" for p in wanted_patterns(live, center))
    finally:
        receiver.stop()


def test_an_unbinder_that_read_the_store_before_a_new_subscription_never_unbinds_it(services, amqp_uri):
    """The race the lock is for: a matching reads the subscriptions (none want hue-vyda), then stalls;
    meanwhile a subscription is created for hue-vyda. Without the lock the stalled matching would then
    unbind what the new subscription was just bound with."""
    services.start(WebhooksService, **FAST)
    until(lambda: bound(amqp_uri, VYDA) == [], message="the start-up matching")
    store, gate = [], eventlet.Event()
    sub = {"centers": [VYDA], "event_types": [RECEIVED]}

    def stalled_read():
        snapshot = list(store)  # before the subscription exists
        gate.wait()
        return snapshot

    centers = load_catalog().centers
    unbinder = eventlet.spawn(QueueBindings(amqp_uri, centers).match, stalled_read, [VYDA])
    eventlet.sleep(0.3)  # it holds the lock and has read
    creator = eventlet.spawn(QueueBindings(amqp_uri, centers).change, lambda: store.append(sub), lambda: list(store),
                             [VYDA], adding=[sub])
    eventlet.sleep(0.5)
    assert store == []  # the create waits for the lock: nothing written yet
    gate.send()
    assert unbinder.wait() is True
    creator.wait()
    assert store == [sub] and bound(amqp_uri, VYDA) == [f"{RECEIVED}.{VYDA}"]


def test_with_the_broker_unreachable_a_change_refuses_and_writes_nothing():
    written = []
    nowhere = QueueBindings(f"amqp://guest:guest@127.0.0.1:{free_port()}/", load_catalog().centers, lock_wait=1)
    with pytest.raises(BrokerUnreachable) as refused:
        nowhere.change(lambda: written.append(1), live=lambda: [], centers=[VYDA],
                       adding=[{"centers": [VYDA], "event_types": [RECEIVED]}])
    assert written == [] and refused.value.body()["error"] == "broker_unreachable"
