"""The audit log an inspector relies on: every event once, in order, linked by
hashes, so any change made behind the service's back is found and located."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from contracts import make_event
from services.audit.domain import GENESIS, entry_hash
from services.audit.store import AuditRepository
from tests.support.fakes import ready

T0 = datetime(2026, 3, 2, 2, 15, tzinfo=timezone.utc)
RECORDED = "2026-03-02T02:15:01Z"


@pytest.fixture
def repo(mongo_db):
    return ready(AuditRepository(mongo_db("audit")))


def routed(n, center="hue-vyda", short="VYDA"):
    code = f"{short}-260302-{n:04d}"
    return make_event("dossier.routed.v1", center=center, subject=code, time=T0 + timedelta(minutes=n),
                      actor={"id": "routing", "role": "system"},
                      data={"code": code, "procedure_code": "1.001193", "department_id": "vp",
                            "department_name": "Văn phòng HĐND và UBND", "routed_at": "2026-03-02T02:15:00Z"})


def append_all(repo, events):
    return [repo.append(e, RECORDED) for e in events]


def verdict(repo, center="hue-vyda"):
    return repo.verify(center)


def test_three_events_make_a_linked_chain_that_verifies(repo):
    events = [routed(n) for n in (1, 2, 3)]
    entries = append_all(repo, events)

    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert entries[0]["prev_hash"] == GENESIS
    assert entries[1]["prev_hash"] == entries[0]["hash"]
    assert entries[2]["prev_hash"] == entries[1]["hash"]
    assert len({e["hash"] for e in entries}) == 3
    assert [e["event_id"] for e in repo.chain("hue-vyda")] == [e["id"] for e in events]
    result = verdict(repo)
    assert result.ok and result.entries == 3 and result.first_break is None
    assert result.to_dict() == {"center": "hue-vyda", "ok": True, "entries": 3, "first_break": None,
                                "checkpoint": None}


def test_stored_entries_still_hash_to_their_recorded_hash(repo):
    append_all(repo, [routed(1), routed(2)])
    for stored in repo.chain("hue-vyda"):
        assert entry_hash(stored) == stored["hash"]


def test_the_same_event_twice_is_recorded_once(repo):
    event = routed(1)
    assert repo.append(event, RECORDED)["seq"] == 1
    assert repo.append(event, "2026-03-02T02:20:00Z") is None
    assert repo.append(dict(event), RECORDED) is None
    assert repo.entries.count_documents({}) == 1
    assert repo.append(routed(2), RECORDED)["seq"] == 2
    assert verdict(repo).ok


def test_an_empty_chain_verifies(repo):
    result = verdict(repo)
    assert result.ok and result.entries == 0


def test_changing_an_entrys_data_is_found_at_that_entry(repo):
    append_all(repo, [routed(n) for n in (1, 2, 3)])
    repo.entries.update_one({"center": "hue-vyda", "seq": 2},
                            {"$set": {"event.data.department_id": "ktht"}})
    result = verdict(repo)
    assert not result.ok
    assert result.first_break["seq"] == 2
    assert "hash" in result.first_break["reason"]


def test_changing_the_actor_is_found(repo):
    append_all(repo, [routed(n) for n in (1, 2, 3)])
    repo.entries.update_one({"seq": 3}, {"$set": {"event.actor.id": "someone-else"}})
    assert verdict(repo).first_break["seq"] == 3


def test_rewriting_an_entry_and_its_chain_hash_is_found_at_that_entry_by_its_leaf(repo):
    append_all(repo, [routed(n) for n in (1, 2, 3)])
    forged = repo.entries.find_one({"seq": 2}, {"_id": 0})
    forged["event"]["data"]["department_id"] = "ktht"
    forged["hash"] = entry_hash(forged)
    repo.entries.update_one({"seq": 2}, {"$set": {"event": forged["event"], "hash": forged["hash"]}})

    result = verdict(repo)
    assert not result.ok and result.first_break["seq"] == 2
    assert "leaf_hash" in result.first_break["reason"]


def test_rewriting_an_entry_without_its_leaf_hash_is_still_found_at_the_next_entry(repo):
    """An entry from before the tree (no leaf hash kept): the chain alone finds it."""
    append_all(repo, [routed(n) for n in (1, 2, 3)])
    forged = repo.entries.find_one({"seq": 2}, {"_id": 0})
    forged["event"]["data"]["department_id"] = "ktht"
    forged["hash"] = entry_hash(forged)
    repo.entries.update_one({"seq": 2}, {"$set": {"event": forged["event"], "hash": forged["hash"]},
                                         "$unset": {"leaf_hash": "", "nodes": ""}})

    result = verdict(repo)
    assert not result.ok and result.first_break["seq"] == 3
    assert "prev_hash" in result.first_break["reason"]


def test_deleting_an_entry_is_found_where_the_gap_is(repo):
    events = [routed(n) for n in (1, 2, 3, 4)]
    append_all(repo, events)
    repo.entries.delete_one({"seq": 2})
    result = verdict(repo)
    assert not result.ok
    assert result.first_break["seq"] == 2
    assert result.first_break["event_id"] == events[2]["id"]  # what now sits where seq 2 was


def test_deleting_the_first_entry_is_found(repo):
    append_all(repo, [routed(n) for n in (1, 2, 3)])
    repo.entries.delete_one({"seq": 1})
    assert verdict(repo).first_break["seq"] == 1


def test_deleting_an_entry_and_renumbering_is_still_found(repo):
    append_all(repo, [routed(n) for n in (1, 2, 3)])
    repo.entries.delete_one({"seq": 2})
    repo.entries.update_one({"seq": 3}, {"$set": {"seq": 2}})
    result = verdict(repo)
    assert not result.ok and result.first_break["seq"] == 2


def test_deleting_the_newest_entry_is_found(repo):
    append_all(repo, [routed(n) for n in (1, 2, 3)])
    repo.entries.delete_one({"seq": 3})
    assert not verdict(repo).ok


def test_swapping_two_entries_is_found_at_the_first_swapped_place(repo):
    events = [routed(n) for n in (1, 2, 3, 4)]
    append_all(repo, events)
    # the (center, seq) index is unique, so swap through a free number
    repo.entries.update_one({"seq": 2}, {"$set": {"seq": 99}})
    repo.entries.update_one({"seq": 3}, {"$set": {"seq": 2}})
    repo.entries.update_one({"seq": 99}, {"$set": {"seq": 3}})

    result = verdict(repo)
    assert not result.ok
    assert result.first_break["seq"] == 2
    assert result.first_break["event_id"] == events[2]["id"]


def test_each_center_has_its_own_chain(repo):
    vyda = append_all(repo, [routed(n) for n in (1, 2)])
    phuxuan = append_all(repo, [routed(n, "hue-phuxuan", "PXUA") for n in (1, 2, 3)])

    assert [e["seq"] for e in vyda] == [1, 2] and [e["seq"] for e in phuxuan] == [1, 2, 3]
    assert vyda[0]["prev_hash"] == GENESIS == phuxuan[0]["prev_hash"]
    assert repo.centers() == ["hue-phuxuan", "hue-vyda"]
    assert verdict(repo, "hue-vyda").entries == 2 and verdict(repo, "hue-phuxuan").entries == 3

    # tampering with one center's chain leaves the other's verdict alone
    repo.entries.update_one({"center": "hue-phuxuan", "seq": 1}, {"$set": {"subject": "PXUA-260302-9999"}})
    assert verdict(repo, "hue-vyda").ok
    assert verdict(repo, "hue-phuxuan").first_break["seq"] == 1


def test_a_dossiers_timeline_is_its_entries_in_order(repo):
    code = "VYDA-260302-0001"
    first = routed(1)
    assigned = make_event("dossier.assigned.v1", center="hue-vyda", subject=code, time=T0 + timedelta(minutes=2),
                          actor={"id": "routing", "role": "system"},
                          data={"code": code, "procedure_code": "1.001193", "department_id": "vp",
                                "officer_id": "vyda-o01", "officer_name": "Nguyễn Thị Thu Hà",
                                "open_dossiers": 1, "assigned_at": "2026-03-02T02:17:00Z"})
    append_all(repo, [first, routed(2), assigned])
    assert [e["type"] for e in repo.timeline(code)] == ["dossier.routed.v1", "dossier.assigned.v1"]
    assert repo.timeline("VYDA-200101-0001") == []


def test_two_workers_on_one_store_keep_one_chain_and_each_event_once(repo):
    """Each worker remembers the head it wrote last; when the other has moved the chain
    on, its insert fails on the entry id and it reads the head afresh."""
    other = AuditRepository(repo.entries.database)
    events = [routed(n) for n in range(1, 9)]
    for n, event in enumerate(events):
        (repo if n % 2 else other).append(event, RECORDED)
    for event in events[:3]:  # redelivered to the worker that did not record them
        assert repo.append(event, RECORDED) is None and other.append(event, RECORDED) is None
    result = verdict(repo)
    assert result.ok and result.entries == 8
    assert [e["event_id"] for e in repo.chain("hue-vyda")] == [e["id"] for e in events]


def test_a_log_recorded_before_the_tree_gets_its_hashes_once_and_the_same_tree(repo, mongo_db):
    """Entries from before issue 15 have no leaf or node hashes: the first start computes them, in
    order, and the tree is the one appending them now would have built."""
    events = [routed(n) for n in range(1, 12)]
    append_all(repo, events)
    kept = {e["seq"]: (e["leaf_hash"], e["nodes"]) for e in repo.entries.find()}
    repo.entries.update_many({}, {"$unset": {"leaf_hash": "", "nodes": ""}})
    assert AuditRepository(repo.entries.database).backfill_tree() == 11
    assert {e["seq"]: (e["leaf_hash"], e["nodes"]) for e in repo.entries.find()} == kept
    assert verdict(repo).ok
    assert AuditRepository(repo.entries.database).backfill_tree() == 0  # once
    repo.entries.update_many({"seq": {"$gte": 6}}, {"$unset": {"leaf_hash": "", "nodes": ""}})  # a backfill cut short
    assert AuditRepository(repo.entries.database).backfill_tree() == 6
    assert {e["seq"]: (e["leaf_hash"], e["nodes"]) for e in repo.entries.find()} == kept
