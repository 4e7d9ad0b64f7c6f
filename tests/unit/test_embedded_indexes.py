"""The embedded store's hash indexes never change an answer, only its speed."""
import mongomock
from hypothesis import given, settings, strategies as st

from onestop.storage.embedded import install

install()

scalars = st.one_of(st.integers(0, 3), st.sampled_from(["a", "b", "c"]), st.booleans(), st.none())
# lists are rare, so that most runs keep the indexes usable (a list value turns a field's index off)
values = st.one_of(scalars, scalars, scalars, scalars, scalars, scalars, scalars, scalars,
                   st.lists(st.integers(0, 2), max_size=2))
docs = st.fixed_dictionaries({"_id": st.integers(0, 30)}, optional={"f": values, "g": values})
ops = st.lists(st.tuples(st.sampled_from(["insert", "update", "update_by_field", "find_and_update", "upsert", "delete"]),
                         docs), max_size=40)
queries = st.one_of(
    st.dictionaries(st.sampled_from(["_id", "f", "g"]), st.one_of(values, st.integers(0, 30)), max_size=2),
    # {"_id": {"$in": [...]}}, as the outbox relay asks for a batch (duplicates and unknown ids included)
    st.fixed_dictionaries({"_id": st.fixed_dictionaries({"$in": st.lists(st.integers(-1, 32), max_size=6)})},
                          optional={"f": values}),
    # a range and nothing else narrowing, as routing asks for its due timers
    st.fixed_dictionaries({"f": st.dictionaries(st.sampled_from(["$lt", "$lte", "$gt", "$gte"]),
                                                st.one_of(st.integers(-1, 4), st.floats(-1, 4)), min_size=1)},
                          optional={"g": st.fixed_dictionaries({"$in": st.lists(scalars, max_size=3)})}))


@settings(max_examples=300, deadline=None)
@given(ops, st.lists(queries, min_size=1, max_size=5))
def test_indexed_answers_equal_full_scans(operations, specs):
    coll = mongomock.MongoClient().db.c
    coll.insert_one({"_id": -1, "f": 0, "g": "a"})
    coll.find_one({"f": 1})  # build the indexes early, so later writes must maintain them
    coll.find_one({"g": "a"})
    coll.count_documents({"f": 1, "g": "a"})  # and a compound one
    list(coll.find({"f": {"$lte": 2}}))  # and a sorted one
    for op, doc in operations:
        if op == "upsert" and coll.count_documents({"_id": doc["_id"]}):
            continue  # an upsert that would collide on _id is a DuplicateKeyError in MongoDB too
        if op == "insert" and coll.count_documents({"_id": doc["_id"]}) == 0:
            coll.insert_one(dict(doc))
        elif op == "update":
            coll.update_one({"_id": doc["_id"]}, {"$set": {k: v for k, v in doc.items() if k != "_id"} or {"h": 1}})
        elif op == "update_by_field":
            coll.update_many({"f": doc.get("f", 1)}, {"$set": {"g": doc.get("g", "b")}})
        elif op == "find_and_update":
            coll.find_one_and_update({"g": doc.get("g", "a")}, {"$set": {"f": doc.get("f", 2)}, "$unset": {"g": ""}})
        elif op == "upsert":
            coll.update_one({"_id": doc["_id"], "f": doc.get("f", 3)}, {"$set": {"g": "c"}}, upsert=True)
        elif op == "delete":
            coll.delete_one({"_id": doc["_id"]})
    for spec in specs:
        fast = sorted(d["_id"] for d in coll.find(spec))
        slow = sorted(d["_id"] for d in coll._onestop_original_iter(spec))
        assert fast == slow, spec
        assert coll.count_documents(spec) == len(slow), spec  # counted from an index where it can be


def test_an_update_moves_a_document_between_buckets():
    coll = mongomock.MongoClient().db.m
    coll.insert_one({"_id": "a", "s": "pending"})
    assert coll.find_one({"s": "pending"})
    coll.update_one({"_id": "a"}, {"$set": {"s": "sent"}})
    assert coll.find_one({"s": "sent"}) and not coll.find_one({"s": "pending"})


def test_a_unique_index_still_refuses_duplicates():
    coll = mongomock.MongoClient().db.u
    coll.create_index("k", unique=True)
    coll.insert_one({"k": "x"})
    try:
        coll.insert_one({"k": "x"})
    except mongomock.DuplicateKeyError:
        return
    raise AssertionError("duplicate accepted")


def test_due_timers_come_from_the_sorted_index_and_follow_every_write():
    """Routing's {"next_timer_at": {"$lte": now}, "center": {"$in": [...]}} on a tz-aware
    client, while timers are set, moved, cleared and documents deleted."""
    from datetime import datetime, timedelta, timezone
    from mongomock.helpers import patch_datetime_awareness_in_document
    coll = mongomock.MongoClient(tz_aware=True).db.cases
    t0 = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
    for n in range(300):
        doc = {"_id": f"VYDA-{n:04d}", "center": ("hue-vyda", "hue-phuxuan")[n % 2]}
        if n % 7:
            doc["next_timer_at"] = t0 + timedelta(minutes=n - n % 3)  # some share a time, as cases do
        coll.insert_one(doc)
    query = lambda now: {"next_timer_at": {"$lte": now}, "center": {"$in": ["hue-vyda"]}}  # noqa: E731
    scan = lambda now: coll._onestop_original_iter(patch_datetime_awareness_in_document(query(now)))  # noqa: E731
    assert sorted(d["_id"] for d in coll.find(query(t0 + timedelta(minutes=100)))) == \
        sorted(d["_id"] for d in scan(t0 + timedelta(minutes=100)))
    coll.update_one({"_id": "VYDA-0002"}, {"$unset": {"next_timer_at": ""}})              # fired, nothing next
    coll.update_one({"_id": "VYDA-0250"}, {"$set": {"next_timer_at": t0}})                  # extended backwards
    coll.update_one({"_id": "VYDA-0004"}, {"$set": {"next_timer_at": t0 + timedelta(days=9)}})  # moved on
    coll.delete_one({"_id": "VYDA-0006"})
    for minutes in (-1, 0, 50, 100, 299, 10_000, 20_000):
        now = t0 + timedelta(minutes=minutes)
        fast = sorted(d["_id"] for d in coll.find(query(now)))
        assert fast == sorted(d["_id"] for d in scan(now)), minutes
    assert "VYDA-0250" in fast and "VYDA-0002" not in fast and "VYDA-0006" not in fast
    index = coll._store._onestop_indexes[("range", "next_timer_at")]
    assert index.usable and len(index.entries) == len(index.where) == 300 - 43 - 2  # every set timer, once
