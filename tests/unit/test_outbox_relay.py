"""The outbox relay publishes every pending event once, in turn across centers."""
from onestop.messaging.outbox import OutboxRelay, Relay, with_outbox
from contracts import make_event


def an_event(code, center):
    return make_event("dossier.rated.v1", center=center, subject=code, actor={"id": "c", "role": "citizen"},
                      data={"code": code, "procedure_code": "1.001193", "score": 5, "has_comment": False,
                            "rated_at": "2026-11-26T03:00:00.000Z"})


def test_a_flooded_center_does_not_hold_back_another_centers_events(mongo_db):
    db = mongo_db("relay")
    flood = [f"HTHU-261126-{n:04d}" for n in range(50)]
    for code in flood:
        db.dossiers.insert_one(with_outbox({"_id": code, "center": "hue-huongthuy"}, [an_event(code, "hue-huongthuy")]))
    db.dossiers.insert_one(with_outbox({"_id": "VYDA-261126-0001", "center": "hue-vyda"},
                                       [an_event("VYDA-261126-0001", "hue-vyda")]))
    published = []
    relay = Relay(db, ("dossiers",), lambda entries: published.extend(e["event"]["subject"] for e in entries), batch=10)
    relay.drain()
    assert "VYDA-261126-0001" in published[:2]  # in the first pass, not after the flood
    while relay.drain():
        pass
    assert sorted(published) == sorted(flood + ["VYDA-261126-0001"])  # every event, once
    assert relay.pending() == 0


def test_the_relay_wakes_after_a_worker_that_queued_events_and_not_after_one_that_queued_none():
    kicks = []
    relay = OutboxRelay("dossiers")
    relay.kick = lambda: kicks.append(1)
    reader, writer = object(), object()  # two workers' contexts
    relay.worker_setup(reader)
    relay.worker_teardown(reader)  # a status read: nothing to publish, no look at the store
    assert kicks == []
    relay.worker_setup(writer)
    with_outbox({"_id": "VYDA-261126-0002", "center": "hue-vyda"}, [an_event("VYDA-261126-0002", "hue-vyda")])
    relay.worker_teardown(writer)
    assert kicks == [1]
    quiet = OutboxRelay("checkpoints", after_workers=False)  # audit: its interval alone
    quiet.kick = lambda: kicks.append(2)
    quiet.worker_setup(writer)
    with_outbox({"_id": "x"}, [an_event("VYDA-261126-0003", "hue-vyda")])
    quiet.worker_teardown(writer)
    assert kicks == [1]
