"""The dispatcher's core (services/webhooks/dispatch.Deliverer) on a real store, with a receiver
that answers what the test says and a clock the test moves: order by the events' time, a lease
left by a dead process, exhaustion that pauses (its event in the outbox) and a resume."""
from datetime import datetime, timedelta, timezone

import pytest

from contracts import make_event
from onestop.catalog import load_catalog
from onestop.timestamps import iso
from services.webhooks import fanout
from services.webhooks.dispatch import Deliverer
from services.webhooks.domain import Outcome, Schedule
from services.webhooks.store import WebhooksRepository
from services.webhooks.targets import Policy
from tests.support.fakes import ready

T0 = datetime(2026, 2, 13, 2, 15, tzinfo=timezone.utc)
CATALOG = load_catalog()


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


class Receiver:
    """Answers each POST with the next of `answers` (then 204), and records the event ids."""

    def __init__(self, *answers):
        self.answers, self.got = list(answers), []

    def post(self, target, payload, headers):
        self.got.append(headers["webhook-id"])
        status = self.answers.pop(0) if self.answers else 204
        return (Outcome("delivered", status=status) if status < 300 else Outcome("retry", f"HTTP {status}", status)), 0.0


class Alerts:
    def __init__(self):
        self.sent = []

    def paused(self, subscription, head, reason, error):
        self.sent.append((subscription["_id"], reason))


@pytest.fixture
def repo(mongo_db):
    return ready(WebhooksRepository(mongo_db("webhooks")))


def subscription(repo, clock):
    repo.add({"_id": "whsub_1", "url": "http://127.0.0.1:9/h", "centers": ["hue-vyda", "hue-phuxuan"],
              "event_types": [], "procedures": [], "fields": [], "owner": "portal-tinh", "state": "active",
              "secrets": [{"secret": "whsec_" + "A" * 43 + "=", "created_at": T0, "expires_at": None}],
              "version": 1, "seq": 0, "retry_at": T0, "lease_until": T0 - timedelta(seconds=1), "lease_owner": None,
              "created_at": T0, "updated_at": T0})


def event(minute: int) -> dict:
    return make_event("dossier.routed.v1", center="hue-vyda", subject="VYDA-260213-0001",
                      time=T0 + timedelta(minutes=minute), actor={"id": "routing", "role": "system"},
                      data={"code": "VYDA-260213-0001", "procedure_code": "1.001193", "department_id": "vp",
                            "department_name": "Văn phòng", "routed_at": iso(T0)})


def deliverer(repo, receiver, clock, owner="a", schedule=(10.0, 20.0), alerts=None):
    policy = Policy(allow_loopback=True, allow_http=True)
    return Deliverer(repo, receiver, policy, Schedule(schedule, jitter=0.0), alerts or Alerts(), owner=owner,
                     lease=60, clock=clock)


def test_events_go_in_the_order_they_happened_whatever_order_they_were_queued_in(repo):
    clock = Clock()
    subscription(repo, clock)
    later, earlier = event(2), event(1)
    for e in (later, earlier):  # two workers, the later event's first
        fanout.accept(e, repo=repo, catalog=CATALOG, now=clock())
    receiver = Receiver()
    assert repo.due(clock(), 10, ["hue-thuanhoa"]) == [] and repo.due(clock(), 10, ["hue-phuxuan"]) == ["whsub_1"]
    assert deliverer(repo, receiver, clock).run("whsub_1") == 2
    assert receiver.got == [earlier["id"], later["id"]]
    assert fanout.accept(earlier, repo=repo, catalog=CATALOG, now=clock()) == 0  # redelivered: queued once


def test_a_batch_is_queued_in_its_order_once_each_and_nothing_is_queued_without_a_subscription(repo):
    clock = Clock()
    first, second = event(1), event(2)
    assert fanout.accept_all([first, second], repo=repo, catalog=CATALOG, now=clock()) == 0  # nobody subscribed
    subscription(repo, clock)
    assert fanout.accept_all([first, second, first], repo=repo, catalog=CATALOG, now=clock()) == 2  # a copy twice
    receiver = Receiver()
    assert deliverer(repo, receiver, clock).run("whsub_1") == 2 and receiver.got == [first["id"], second["id"]]


def test_a_lease_left_by_a_dead_process_is_taken_over_once_it_expires(repo):
    clock = Clock()
    subscription(repo, clock)
    fanout.accept(event(1), repo=repo, catalog=CATALOG, now=clock())
    assert repo.lease("whsub_1", "dead", clock(), 60) is not None  # it died mid-attempt
    receiver = Receiver()
    assert deliverer(repo, receiver, clock, owner="b").run("whsub_1") == 0 and receiver.got == []
    clock.now += timedelta(seconds=61)
    assert deliverer(repo, receiver, clock, owner="b").run("whsub_1") == 1 and len(receiver.got) == 1


def test_an_exhausted_schedule_pauses_with_its_event_and_resume_starts_it_over(repo):
    clock, alerts = Clock(), Alerts()
    subscription(repo, clock)
    fanout.accept(event(1), repo=repo, catalog=CATALOG, now=clock())
    receiver = Receiver(500, 500, 500)
    run = deliverer(repo, receiver, clock, alerts=alerts)
    for wait in (0, 10, 20):  # the first attempt, then one after each delay of the schedule
        clock.now += timedelta(seconds=wait)
        assert run.run("whsub_1") == 0
        assert repo.get("whsub_1")["state"] == ("paused" if wait == 20 else "active")
    assert repo.due(clock.now + timedelta(days=9), 10, ["hue-vyda"]) == [] and repo.backlog("whsub_1") == 1
    paused = repo.subscriptions.find_one({"_id": "whsub_1"})
    assert [e["routing_key"] for e in paused["outbox"]] == ["webhook.subscription_paused.v1.hue-vyda",
                                                             "webhook.subscription_paused.v1.hue-phuxuan"]
    assert paused["outbox"][0]["event"]["data"]["attempts"] == 3 and alerts.sent == [("whsub_1", "retries_exhausted")]

    repo.restart_schedules("whsub_1")
    repo.change("whsub_1", paused["version"], {"state": "active", "retry_at": clock.now})
    assert run.run("whsub_1") == 1 and len(receiver.got) == 4  # the backlog, its schedule fresh


def test_delivered_events_are_forgotten_after_their_time_undelivered_ones_never_unless_deleted(repo):
    clock = Clock()
    subscription(repo, clock)
    for minute in (1, 2):
        fanout.accept(event(minute), repo=repo, catalog=CATALOG, now=clock())
    deliverer(repo, Receiver(204, 500), clock).run("whsub_1")  # the first delivered, the second not
    assert repo.forget_delivered(clock.now + timedelta(days=30)) == 1
    assert repo.backlog("whsub_1") == 1 and repo.deliveries.count_documents({}) == 1
    repo.cancel("whsub_1", clock.now)  # its subscription deleted: the backlog is given up, then forgotten
    assert repo.forget_delivered(clock.now + timedelta(days=30)) == 1 and repo.deliveries.count_documents({}) == 0
