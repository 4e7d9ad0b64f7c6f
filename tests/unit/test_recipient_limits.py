"""Per-address limits on citizen messages: the decision on a clock, the count kept exact
under redelivery and concurrent workers, held messages listed masked and released once.

Real repository (mongomock or MONGO_URI) and templates; the providers are fake callables.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from contracts import make_event
from onestop.catalog import load_catalog
from onestop.config import Settings
from onestop.errors import Conflict, Forbidden, InvalidInput, NotFound, TransientError, Unavailable
from onestop.web.auth import Principal
from services.notification import held
from services.notification.handlers import notify, remember_contact
from services.notification.limits import RecipientLimits, Window, decide, recipient_key
from services.notification.store import LEASE, NotificationRepository
from tests.support.fakes import FakeSender, ready

CATALOG = load_catalog()
NOW = datetime(2026, 3, 2, 2, 16, tzinfo=timezone.utc)
STATUS_URL = "http://127.0.0.1:8001/api/v1/dossiers/{code}"
PHONE = "+84912345678"
TWO_AN_HOUR = RecipientLimits((Window("hour", 3600, 2), Window("day", 86400, 3)))
OPERATOR = Principal("ops-lan", "operator", frozenset({"hue-vyda"}))


@pytest.fixture
def repo(mongo_db):
    return ready(NotificationRepository(mongo_db("notification")))


@pytest.fixture
def sms():
    return FakeSender()


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def sends(*ages):
    return [{"id": f"e{i}:sms", "at": ago(age)} for i, age in enumerate(ages)]


# --- the decision --------------------------------------------------------------------------


def test_under_every_limit_the_message_goes_and_is_counted():
    verdict = decide(TWO_AN_HOUR, sends(100), "new:sms", NOW)
    assert verdict.allowed and verdict.reason is None
    assert [e["id"] for e in verdict.log] == ["e0:sms", "new:sms"]


def test_the_hour_limit_holds_with_which_limit_and_the_count():
    verdict = decide(TWO_AN_HOUR, sends(100, 3599), "new:sms", NOW)
    assert not verdict.allowed and verdict.log is None
    assert verdict.reason == {"limit": "hour", "max": 2, "window_seconds": 3600, "count": 2}


def test_the_windows_slide_a_send_an_hour_old_counts_for_the_day_only():
    assert decide(TWO_AN_HOUR, sends(3600, 4000), "new:sms", NOW).allowed
    verdict = decide(TWO_AN_HOUR, sends(100, 3600, 4000), "new:sms", NOW)
    assert verdict.reason == {"limit": "day", "max": 3, "window_seconds": 86400, "count": 3}


def test_sends_older_than_a_day_are_forgotten():
    verdict = decide(TWO_AN_HOUR, sends(86400, 90000, 100), "new:sms", NOW)
    assert verdict.allowed and [e["id"] for e in verdict.log] == ["e2:sms", "new:sms"]


def test_a_delivery_already_counted_goes_again_without_counting_twice():
    verdict = decide(TWO_AN_HOUR, sends(100, 200), "e1:sms", NOW)
    assert verdict.allowed and verdict.log is None


def test_the_key_is_per_channel_and_address_and_keeps_no_address():
    key = recipient_key("email", " An.Nguyen@Example.vn")
    assert key == recipient_key("email", "an.nguyen@example.vn") != recipient_key("sms", "an.nguyen@example.vn")
    assert "nguyen" not in key


def test_the_defaults_are_ten_an_hour_and_thirty_a_day():
    limits = RecipientLimits.from_settings(Settings.load({}))
    assert [(w.name, w.seconds, w.max) for w in limits.windows] == [("hour", 3600, 10), ("day", 86400, 30)]


@pytest.mark.parametrize("value", ["0", "-1", "ten", ""])
def test_a_bad_limit_setting_is_named(value):
    with pytest.raises(ValueError, match="CITIZEN_MESSAGES_PER_HOUR must be a whole number of at least 1"):
        Settings.load({"CITIZEN_MESSAGES_PER_HOUR": value})


# --- through notify(), on the real store ---------------------------------------------------


def dossier_received(code: str, center: str = "hue-vyda") -> dict:
    birth = CATALOG.procedure("1.001193")
    return make_event("dossier.received.v1", center=center, subject=code, time=NOW,
                      actor={"id": "counter-01", "role": "counter_staff"}, data={
                          "code": code, "official_code": f"00.00.H57.{code}", "procedure_code": birth.code,
                          "procedure_name": birth.name_vi, "field": "justice", "channel": "counter",
                          "received_at": "2026-03-02T02:15:00Z", "appointment_date": "2026-03-02",
                          "working_days": 0, "missing_documents": [], "applicant": "N. V. A.",
                          "status": "received"})


def receipt_for(repo, n: int, phone: str = PHONE, center: str = "hue-vyda", channels=("sms",)) -> dict:
    short = CATALOG.center(center).short_code
    code = f"{short}-260302-{n:04d}"
    remember_contact(make_event("citizen.contact.v1", center=center, subject=code, time=NOW,
                                actor={"id": "counter-01", "role": "counter_staff"}, data={
                                    "code": code, "full_name": "Nguyễn Văn An", "phone": phone,
                                    "email": f"an{n}@example.vn", "channels": list(channels), "language": "vi"}),
                     repo)
    return dossier_received(code, center)


def run(event, repo, sms, email=None, limits=TWO_AN_HOUR, now=NOW):
    return notify(event, catalog=CATALOG, repo=repo, senders={"sms": sms, "email": email or FakeSender()},
                  status_url=STATUS_URL, now=now, limits=limits)


def held_ids(repo) -> list:
    return [d["_id"] for d in repo.deliveries.find({"status": "held"})]


def test_over_the_limit_a_message_is_held_not_sent_not_dropped(repo, sms):
    events = [receipt_for(repo, n) for n in range(1, 4)]
    for event in events:
        run(event, repo, sms)  # nothing raises: a held message is not a failure to retry

    assert len(sms.sent) == 2
    third = repo.delivery(f"{events[2]['id']}:sms")
    assert third["status"] == "held" and not third.get("outbox")  # no notification.sent/failed for it
    assert third["hold_reason"] == {"limit": "hour", "max": 2, "window_seconds": 3600, "count": 2}
    assert third["held_message"]["to"] == PHONE and events[2]["data"]["code"] in third["held_message"]["text"]


def test_a_held_message_stays_held_when_its_event_comes_again(repo, sms):
    events = [receipt_for(repo, n) for n in range(1, 4)]
    for event in events + events:
        run(event, repo, sms)
    assert len(sms.sent) == 2 and len(held_ids(repo)) == 1


def test_a_redelivered_event_is_counted_once(repo, sms):
    first = receipt_for(repo, 1)
    for _ in range(3):
        run(first, repo, sms)
    run(receipt_for(repo, 2), repo, sms)
    assert len(sms.sent) == 2 and held_ids(repo) == []
    assert len(repo.recipient_log(recipient_key("sms", PHONE))[1]) == 2


def test_a_send_retried_after_a_provider_failure_is_counted_once(repo):
    flaky = FakeSender(TransientError("gateway 503"))
    first = receipt_for(repo, 1)
    with pytest.raises(TransientError):
        run(first, repo, flaky)
    run(first, repo, flaky)
    run(receipt_for(repo, 2), repo, flaky)
    assert len(flaky.sent) == 2 and held_ids(repo) == []


def test_each_address_has_its_own_count(repo, sms):
    for n in range(1, 4):
        run(receipt_for(repo, n), repo, sms)
    run(receipt_for(repo, 4, phone="+84912000999"), repo, sms)
    assert [m.to for m, _ in sms.sent] == [PHONE, PHONE, "+84912000999"]


def test_the_count_spans_every_center(repo, sms):
    run(receipt_for(repo, 1, center="hue-vyda"), repo, sms)
    run(receipt_for(repo, 2, center="hue-phuxuan"), repo, sms)
    run(receipt_for(repo, 3, center="hue-thuanhoa"), repo, sms)
    assert len(sms.sent) == 2 and len(held_ids(repo)) == 1


def test_an_hour_later_the_address_gets_messages_again(repo, sms):
    for n in range(1, 4):
        run(receipt_for(repo, n), repo, sms)
    run(receipt_for(repo, 4), repo, sms, now=NOW + timedelta(hours=1))
    assert len(sms.sent) == 3


def test_staff_escalations_are_not_limited(repo, sms):
    email = FakeSender()
    for _ in range(3):
        overdue = make_event("dossier.overdue.v1", center="hue-vyda", subject="VYDA-260302-0001", time=NOW,
                             actor={"id": "routing", "role": "system"}, data={
                                 "code": "VYDA-260302-0001", "procedure_code": "1.001193", "state": "in_progress",
                                 "department_id": "vp", "officer_id": "vyda-o01",
                                 "due_at": "2026-03-02T17:00:00+07:00", "escalate_to": ["center_leader"]})
        run(overdue, repo, sms, email=email, limits=RecipientLimits((Window("hour", 3600, 1),)))
    assert len(email.sent) == 3 and held_ids(repo) == []


class RacingRepository(NotificationRepository):
    """Another worker counts a send to the same address between our read and our write."""

    def __init__(self, db, rival_sends: int):
        super().__init__(db)
        self.rival_sends = rival_sends

    def recipient_log(self, key):
        version, log = super().recipient_log(key)
        if self.rival_sends:
            self.rival_sends -= 1
            rival = log + [{"id": f"rival-{self.rival_sends}:sms", "at": NOW}]
            assert super().save_recipient_log(key, version, rival, NOW)
        return version, log


def test_a_write_lost_to_another_worker_is_decided_again_on_the_new_count(mongo_db, sms):
    repo = RacingRepository(mongo_db("notification"), rival_sends=2)
    run(receipt_for(repo, 1), repo, sms)  # the rivals took both places of the hour while we read
    assert sms.sent == [] and len(held_ids(repo)) == 1
    assert len(repo.recipient_log(recipient_key("sms", PHONE))[1]) == 2  # never more than the limit


def test_a_stale_version_never_overwrites_the_log(repo):
    key = recipient_key("sms", PHONE)
    assert repo.save_recipient_log(key, 0, [{"id": "a:sms", "at": NOW}], NOW)
    assert not repo.save_recipient_log(key, 0, [{"id": "b:sms", "at": NOW}], NOW)  # a second first write
    assert repo.save_recipient_log(key, 1, [{"id": "a:sms", "at": NOW}, {"id": "c:sms", "at": NOW}], NOW)
    assert not repo.save_recipient_log(key, 1, [], NOW)
    assert [e["id"] for e in repo.recipient_log(key)[1]] == ["a:sms", "c:sms"]


# --- what operators see, and the release ---------------------------------------------------


def held_one(repo, sms) -> str:
    """Three receipts to one phone: two sent, the third held; its id."""
    for n in range(1, 4):
        run(receipt_for(repo, n), repo, sms)
    (delivery_id,) = held_ids(repo)
    return delivery_id


def test_operators_see_held_messages_masked(repo, sms):
    delivery_id = held_one(repo, sms)
    page = held.listing(OPERATOR, {}, repo=repo, catalog=CATALOG, now=NOW)
    assert page["total"] == 1
    (item,) = page["held"]
    assert item["id"] == delivery_id and item["code"] == "VYDA-260302-0003" and item["channel"] == "sms"
    assert item["recipient"] == "+8491****678" and item["state"] == "held" and item["template"] == "receipt"
    assert item["reason"]["limit"] == "hour" and "at most 2 per hour" in item["reason_text"]
    assert PHONE not in str(page) and "text" not in item


def test_the_list_is_scoped_to_the_token_and_checked(repo, sms):
    held_one(repo, sms)
    other = Principal("ops-phuxuan", "operator", frozenset({"hue-phuxuan"}))
    assert held.listing(other, {}, repo=repo, catalog=CATALOG, now=NOW)["total"] == 0
    with pytest.raises(Forbidden, match="does not list center hue-vyda"):
        held.listing(other, {"center": "hue-vyda"}, repo=repo, catalog=CATALOG, now=NOW)
    with pytest.raises(Forbidden, match="role officer may not"):
        held.listing(Principal("o1", "officer", frozenset({"hue-vyda"}), "vp"), {}, repo=repo, catalog=CATALOG,
                     now=NOW)
    for args, field in (({"center": "hue-nowhere"}, "center"), ({"limit": "0"}, "limit"),
                        ({"offset": "x"}, "offset")):
        with pytest.raises(InvalidInput) as refused:
            held.listing(OPERATOR, args, repo=repo, catalog=CATALOG, now=NOW)
        assert refused.value.fields[0]["field"] == field


def test_a_released_message_is_sent_once_and_not_counted(repo, sms):
    delivery_id = held_one(repo, sms)
    key = recipient_key("sms", PHONE)
    before = repo.recipient_log(key)

    answer = held.release(delivery_id, OPERATOR, repo=repo, senders={"sms": sms}, now=NOW)

    assert answer["status"] == "sent" and answer["released_by"] == "ops-lan" and answer["recipient"] == "+8491****678"
    assert len(sms.sent) == 3 and sms.sent[-1][1] == delivery_id
    record = repo.delivery(delivery_id)
    assert record["status"] == "sent" and "held_message" not in record  # no copy of the address is left
    assert repo.deliveries.find_one({"_id": delivery_id})["outbox"][0]["event"]["type"] == "notification.sent.v1"
    assert repo.recipient_log(key) == before
    with pytest.raises(Conflict, match="not held any more"):
        held.release(delivery_id, OPERATOR, repo=repo, senders={"sms": sms}, now=NOW)
    assert len(sms.sent) == 3
    assert held.listing(OPERATOR, {}, repo=repo, catalog=CATALOG, now=NOW)["total"] == 0


def test_a_release_the_provider_refuses_now_leaves_it_held(repo, sms):
    delivery_id = held_one(repo, sms)
    down = FakeSender(TransientError("gateway 503"))
    with pytest.raises(Unavailable, match="held again"):
        held.release(delivery_id, OPERATOR, repo=repo, senders={"sms": down}, now=NOW)
    (item,) = held.listing(OPERATOR, {}, repo=repo, catalog=CATALOG, now=NOW)["held"]
    assert item["state"] == "held" and item["released_by"] == "ops-lan"
    assert held.release(delivery_id, OPERATOR, repo=repo, senders={"sms": down}, now=NOW)["status"] == "sent"
    assert len(down.sent) == 1


def test_a_release_interrupted_by_a_crash_can_be_released_again_after_a_lease(repo, sms):
    delivery_id = held_one(repo, sms)
    assert repo.take_held(delivery_id, "ops-lan", NOW)  # the worker died right after this
    assert held.listing(OPERATOR, {}, repo=repo, catalog=CATALOG, now=NOW)["total"] == 0
    with pytest.raises(Conflict):
        held.release(delivery_id, OPERATOR, repo=repo, senders={"sms": sms}, now=NOW)  # perhaps still under way
    later = NOW + timedelta(seconds=LEASE + 1)
    (item,) = held.listing(OPERATOR, {}, repo=repo, catalog=CATALOG, now=later)["held"]
    assert item["state"] == "release_interrupted"
    assert held.release(delivery_id, OPERATOR, repo=repo, senders={"sms": sms}, now=later)["status"] == "sent"


def test_another_centers_or_an_unknown_or_a_never_held_message_is_not_found(repo, sms):
    delivery_id = held_one(repo, sms)
    sent_id = next(d["_id"] for d in repo.deliveries.find({"status": "sent"}))
    other = Principal("ops-phuxuan", "operator", frozenset({"hue-phuxuan"}))
    for who, which in ((other, delivery_id), (OPERATOR, "no-such:sms"), (OPERATOR, sent_id)):
        with pytest.raises(NotFound, match="No held message has this id"):
            held.release(which, who, repo=repo, senders={"sms": sms}, now=NOW)
    with pytest.raises(Forbidden):
        held.release(delivery_id, Principal("c1", "counter_staff", frozenset({"hue-vyda"})), repo=repo,
                     senders={"sms": sms}, now=NOW)
    assert len(sms.sent) == 2 and repo.delivery(delivery_id)["status"] == "held"


def test_the_examples_in_the_module_hold():
    import doctest

    from services.notification import limits
    assert doctest.testmod(limits).failed == 0
