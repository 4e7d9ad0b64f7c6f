"""The SQLite store answers as MongoDB does: random sequences of the operations the
services use, run on it and on mongomock side by side, must give the same answers;
then its own rules: unique indexes, upserts, datetimes, refusals, backups.

mongomock is the reference (its matcher is the one the SQLite store decides with,
so the test checks everything around it: SQL pre-selection, index columns, sorts in
SQL, updates, projections, counts). Where mongomock is known to differ from MongoDB
the test normalises, and says so at the place.
"""
from __future__ import annotations

import tempfile
from datetime import datetime, timedelta, timezone

import bson
import mongomock
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from pymongo import ASCENDING, DESCENDING, InsertOne, ReturnDocument, UpdateMany, UpdateOne
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError, WriteError

from onestop.config import Settings
from onestop.storage.mongo import get_client
from onestop.storage.sqlite import Client

T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
# Dates to the millisecond: mongomock and MongoDB both keep milliseconds, but mongomock
# compares a filter's microseconds before truncating them (test_dates_* covers those).
dates = st.integers(0, 5).map(lambda n: T0 + timedelta(minutes=n, milliseconds=n * 7))
# (No float equal to an int: MongoDB counts $set of 2.0 over 2 as a change, the type changed;
# mongomock does not.)
scalars = st.one_of(st.integers(-2, 3), st.sampled_from([0.5, 2.5]), st.sampled_from(["a", "b", "B", "é"]),
                    st.booleans(), st.none(), dates)
anything = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.sampled_from(["p", "q"]), inner, max_size=2)),
                        max_leaves=4)
ids = st.one_of(st.integers(0, 12), st.sampled_from(["x", "y", "z"]))
# f, g and n.x may be indexed, so they hold scalars only; h holds anything; l holds
# sub-documents (what the outbox holds); c is a counter
documents = st.fixed_dictionaries({}, optional={
    "f": scalars, "g": scalars, "h": anything, "c": st.integers(0, 5),
    "n": st.fixed_dictionaries({}, optional={"x": scalars, "y": st.lists(scalars, max_size=2)}),
    "l": st.lists(st.fixed_dictionaries({"id": st.integers(0, 4)}, optional={"at": dates}), max_size=3)})
FIELDS = ["_id", "f", "g", "h", "n.x", "c"]
INDEXES = [["f"], ["g"], ["n.x"], ["f", "g"], ["g", "c"]]


def conditions(field: str):
    values = ids if field == "_id" else st.integers(-2, 3) if field == "c" else scalars  # c stays a number ($inc)
    bound = st.one_of(st.integers(-2, 4), st.sampled_from(["a", "b", "c"]), dates)
    return st.one_of(
        values, values,
        st.fixed_dictionaries({"$in": st.lists(values, max_size=3)}),
        st.dictionaries(st.sampled_from(["$lt", "$lte", "$gt", "$gte"]), bound, min_size=1, max_size=2),
        st.fixed_dictionaries({"$ne": values}),
        st.fixed_dictionaries({"$exists": st.booleans()}))


def simple_filters():
    return st.lists(st.sampled_from(FIELDS), max_size=2, unique=True).flatmap(
        lambda fields: st.fixed_dictionaries({f: conditions(f) for f in fields}))


filters = st.one_of(
    simple_filters(), simple_filters(),
    st.fixed_dictionaries({"$or": st.lists(simple_filters(), min_size=1, max_size=2)}),
    st.fixed_dictionaries({"l": st.fixed_dictionaries({"$size": st.integers(0, 2)})}),
    simple_filters().map(lambda f: {**f, "$or": [{"f": {"$exists": False}}, {"g": {"$lt": 2}}]}))


@st.composite
def updates(draw):
    """An update whose operators touch different fields (overlaps are the server's
    conflict error, which mongomock does not raise)."""
    update = {}
    fields = draw(st.permutations(["f", "g", "h", "n.x", "s"]))
    how = draw(st.lists(st.sampled_from(["$set", "$unset", "$setOnInsert", None]), min_size=5, max_size=5))
    for field, op in zip(fields, how):
        if op:
            value = draw(anything if field == "h" else scalars)
            update.setdefault(op, {})[field] = "" if op == "$unset" else value
    if draw(st.booleans()):
        update["$inc"] = {"c": draw(st.integers(-2, 3))}
    which = draw(st.sampled_from(["push", "pull", None]))
    if which == "push":
        update["$push"] = {"l": {"$each": draw(st.lists(st.fixed_dictionaries({"id": st.integers(0, 4)}), max_size=2))}}
    elif which == "pull":
        update["$pull"] = {"l": {"id": {"$in": draw(st.lists(st.integers(0, 4), max_size=2))}}}
    return update or {"$set": {"f": 1}}


def _no_ids(spec):
    """A filter without its _id condition: an upsert whose filter names no _id gets a new
    ObjectId in each store, so the test gives every upsert an _id of its own."""
    return {k: v for k, v in spec.items() if k != "_id"}


projections = st.sampled_from([None, {"f": 1}, {"f": 1, "g": 1}, {"_id": 0}, {"_id": 0, "f": 1}, {"h": 0},
                               {"n.x": 1}, {"n.y": 0}, {"l.id": 1}, {"l": 0, "h": 0}])
sorts = st.lists(st.tuples(st.sampled_from(FIELDS), st.sampled_from([ASCENDING, DESCENDING])), min_size=1,
                 max_size=2, unique_by=lambda p: p[0])
reads = st.one_of(
    st.tuples(st.just("find"), filters, projections, st.none() | sorts, st.integers(0, 3), st.integers(0, 4)),
    st.tuples(st.just("count"), filters, st.none() | st.integers(1, 3)),
    # (not h: mongomock's distinct cannot hash a list inside a list)
    st.tuples(st.just("distinct"), st.sampled_from([f for f in FIELDS if f != "h"] + ["l.id"]), filters))
writes = st.one_of(
    st.tuples(st.just("insert"), ids, documents),
    st.tuples(st.sampled_from(["update_one", "update_many", "find_one_and_update"]), filters, updates(),
              st.booleans(), st.sampled_from([ReturnDocument.BEFORE, ReturnDocument.AFTER])),
    st.tuples(st.just("upsert"), ids, simple_filters(), updates()),
    # (mongomock refuses an empty replacement, and one whose filter has a condition on _id;
    # MongoDB takes both)
    st.tuples(st.just("replace"), filters.map(_no_ids), documents.filter(bool), st.booleans()),
    st.tuples(st.just("delete"), filters),
    st.tuples(st.just("index"), st.sampled_from(INDEXES), st.sampled_from([ASCENDING, DESCENDING]), st.booleans()))


def write(coll, op):
    kind = op[0]
    if kind == "insert":
        return coll.insert_one({"_id": op[1], **op[2]}).inserted_id
    if kind in ("update_one", "update_many"):
        result = getattr(coll, kind)(op[1], op[2])
        return result.matched_count, result.modified_count
    if kind == "find_one_and_update":
        return coll.find_one_and_update(op[1], op[2], return_document=op[4])
    if kind == "upsert":
        result = coll.update_one({**_no_ids(op[2]), "_id": op[1]}, op[3], upsert=True)
        return result.matched_count, result.modified_count, result.upserted_id
    if kind == "replace":
        result = coll.replace_one(op[1], op[2])
        return result.matched_count, result.modified_count
    if kind == "delete":
        return coll.delete_one(op[1]).deleted_count
    keys = [(field, op[2]) for field in op[1]]
    return coll.create_index(keys, sparse=op[3])


def read(coll, op):
    kind = op[0]
    if kind == "find":
        _, spec, projection, sort, skip, limit = op
        cursor = coll.find(spec, projection)
        if sort:
            cursor = cursor.sort(sort)
        return list(cursor.skip(skip).limit(limit))
    if kind == "count":
        return coll.count_documents(op[1], **({"limit": op[2]} if op[2] else {}))
    # mongomock's distinct is a Python set (True and 1 are one value, MongoDB keeps both):
    # compared as such
    return _python_set(coll.distinct(op[1], op[2]))


def _python_set(values):
    return {bson.encode({"v": v}) if isinstance(v, (dict, list)) else v for v in values}


def outcome(call, coll, op):
    try:
        return "ok", call(coll, op)
    except (PyMongoError, ValueError) as exc:
        return "error", type(exc).__name__


class Pair:
    """The SQLite store and mongomock, given the same calls."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory(prefix="onestop-sqlite-")
        self.client = Client(self.dir.name)
        self.sqlite = self.client["pair"]["c"]
        self.mongomock = mongomock.MongoClient(tz_aware=True)["pair"]["c"]

    def close(self):
        self.client.close()
        self.dir.cleanup()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.tuples(st.just("index"), st.sampled_from(INDEXES), st.just(ASCENDING), st.booleans()), max_size=3),
       st.lists(st.one_of(writes, reads), min_size=1, max_size=30))
def test_answers_equal_mongomocks(indexes, operations):
    """Indexes made first (on an empty collection) and on the way (over documents, filled then)."""
    pair = Pair()
    try:
        for op in indexes + operations:
            call = read if op[0] in ("find", "count", "distinct") else write
            ours, theirs = outcome(call, pair.sqlite, op), outcome(call, pair.mongomock, op)
            assert ours == theirs, op
        assert list(pair.sqlite.find({}).sort("_id")) == list(pair.mongomock.find({}).sort("_id"))
    finally:
        pair.close()


# --- its own rules ---------------------------------------------------------------------

@pytest.fixture
def client(tmp_path):
    opened = Client(tmp_path)
    yield opened
    opened.close()


def test_a_unique_index_refuses_a_second_key_and_writes_nothing(client):
    coll = client["d"]["entries"]
    coll.create_index("event_id", unique=True)
    coll.insert_one({"_id": 1, "event_id": "e1"})
    with pytest.raises(DuplicateKeyError) as refused:
        coll.insert_one({"_id": 2, "event_id": "e1"})
    assert refused.value.code == 11000 and "event_id_1" in str(refused.value)
    coll.insert_one({"_id": 3, "event_id": "e3"})
    with pytest.raises(DuplicateKeyError):
        coll.update_one({"_id": 3}, {"$set": {"event_id": "e1", "note": "changed"}})
    with pytest.raises(DuplicateKeyError):
        coll.update_one({"_id": 9}, {"$set": {"event_id": "e1"}}, upsert=True)
    assert list(coll.find({}, sort=[("_id", 1)])) == [{"_id": 1, "event_id": "e1"}, {"_id": 3, "event_id": "e3"}]


def test_a_unique_index_takes_a_missing_field_as_null_unless_sparse(client):
    entries, dossiers = client["d"]["entries"], client["d"]["dossiers"]
    entries.create_index([("center", ASCENDING), ("seq", ASCENDING)], unique=True)
    entries.insert_one({"_id": 1, "center": "hue-vyda"})
    with pytest.raises(DuplicateKeyError):  # (hue-vyda, null) twice, as on MongoDB
        entries.insert_one({"_id": 2, "center": "hue-vyda"})
    entries.insert_one({"_id": 3, "center": "hue-vyda", "seq": 1})
    dossiers.create_index("idempotency_key", unique=True, sparse=True)
    dossiers.insert_one({"_id": "a"})
    dossiers.insert_one({"_id": "b"})  # sparse: documents without the key are not in the index
    assert entries.count_documents({}) == 2 and dossiers.count_documents({}) == 2


def test_update_many_writes_all_or_nothing(client):
    coll = client["d"]["c"]
    coll.create_index("k", unique=True, sparse=True)
    for i in range(3):
        coll.insert_one({"_id": i, "group": "g"})
    coll.insert_one({"_id": 3, "k": "taken"})
    with pytest.raises(DuplicateKeyError):  # the second document would take the key again
        coll.update_many({"group": "g"}, {"$set": {"k": "taken2"}})
    assert coll.count_documents({"k": "taken2"}) == 0
    assert coll.update_many({"group": "g"}, {"$set": {"seen": True}}).modified_count == 3


def test_insert_many_writes_all_in_one_commit_or_nothing(client):
    coll = client["d"]["entries"]
    coll.create_index("event_id", unique=True)
    database = client["d"]
    writes = database._writes
    result = coll.insert_many([{"_id": i, "event_id": f"e{i}"} for i in range(5)] + [{"event_id": "e5"}])
    assert result.inserted_ids[:5] == [0, 1, 2, 3, 4] and len(result.inserted_ids) == 6
    assert database._writes == writes + 1  # one transaction, so one sync of the log for the lot
    with pytest.raises(DuplicateKeyError):  # e2 again, after two new ones: none of the three goes in
        coll.insert_many([{"_id": 10, "event_id": "e10"}, {"_id": 11, "event_id": "e11"},
                          {"_id": 12, "event_id": "e2"}])
    with pytest.raises(DuplicateKeyError):  # two of the batch share a key
        coll.insert_many([{"_id": 20, "event_id": "x"}, {"_id": 21, "event_id": "x"}])
    assert coll.count_documents({}) == 6 and coll.find_one({"_id": 10}) is None and coll.find_one({"_id": 20}) is None


def test_bulk_write_applies_its_updates_in_order_in_one_commit_or_none(client):
    """The outbox relay's clearing: pull the published entries, then drop the flag where none is left."""
    coll = client["d"]["cases"]
    coll.create_index("k", unique=True)
    coll.insert_many([{"_id": 1, "k": "a", "outbox": [{"id": "e1"}], "pending": True},
                      {"_id": 2, "k": "b", "outbox": [{"id": "e2"}, {"id": "e3"}], "pending": True}])
    database = client["d"]
    writes = database._writes
    result = coll.bulk_write([UpdateMany({"_id": {"$in": [1, 2]}}, {"$pull": {"outbox": {"id": {"$in": ["e1", "e2"]}}}}),
                              UpdateMany({"_id": {"$in": [1, 2]}, "outbox": {"$size": 0}}, {"$set": {"pending": False}}),
                              UpdateOne({"_id": 3}, {"$set": {"k": "c"}}, upsert=True)])
    assert database._writes == writes + 1  # one transaction, one sync of the log
    assert (result.matched_count, result.modified_count, result.upserted_ids) == (3, 3, {2: 3})
    assert [(d["outbox"], d["pending"]) for d in coll.find({"_id": {"$in": [1, 2]}}).sort("_id", 1)] == [
        ([], False), ([{"id": "e3"}], True)]
    with pytest.raises(DuplicateKeyError):  # the second update breaks a unique key: the first is undone too
        coll.bulk_write([UpdateOne({"_id": 1}, {"$set": {"pending": "x"}}), UpdateOne({"_id": 2}, {"$set": {"k": "a"}})])
    assert coll.find_one({"_id": 1})["pending"] is False
    with pytest.raises(NotImplementedError):
        coll.bulk_write([InsertOne({"_id": 9})])


def test_creating_a_unique_index_over_duplicates_fails_and_leaves_no_index(client):
    coll = client["d"]["c"]
    coll.insert_one({"_id": 1, "k": "a"})
    coll.insert_one({"_id": 2, "k": "a"})
    with pytest.raises(DuplicateKeyError):
        coll.create_index("k", unique=True)
    assert coll.index_names() == ["_id_"]
    coll.delete_one({"_id": 2})
    assert coll.create_index("k", unique=True) == "k_1" == coll.create_index("k", unique=True)  # idempotent
    with pytest.raises(OperationFailure):
        coll.create_index("k", unique=False)  # same name, other options: MongoDB's error too


def test_upserts_start_from_the_filters_equalities(client):
    deliveries = client["d"]["deliveries"]
    now = T0
    claim = {"$setOnInsert": {"code": "VYDA-1", "center": "hue-vyda"}, "$set": {"lease_until": now},
             "$inc": {"attempts": 1}}
    first = deliveries.find_one_and_update({"_id": "e1:sms", "status": "pending", "lease_until": {"$lt": now}},
                                           claim, upsert=True, return_document=ReturnDocument.AFTER)
    assert first == {"_id": "e1:sms", "status": "pending", "code": "VYDA-1", "center": "hue-vyda",
                     "lease_until": now, "attempts": 1}
    # _id first, then the filter's equalities, then the update's fields in lexicographic order (MongoDB 5+)
    assert list(first) == ["_id", "status", "attempts", "center", "code", "lease_until"]
    with pytest.raises(DuplicateKeyError):  # leased: no match, and the upsert's _id is taken
        deliveries.find_one_and_update({"_id": "e1:sms", "status": "pending", "lease_until": {"$lt": now}},
                                       claim, upsert=True)
    result = deliveries.update_one({"_id": "c1", "a.b": 2}, {"$set": {"a.c": 3}}, upsert=True)
    assert (result.matched_count, result.upserted_id) == (0, "c1")
    assert deliveries.find_one({"_id": "c1"}) == {"_id": "c1", "a": {"b": 2, "c": 3}}
    generated = deliveries.update_one({"status": "x"}, {"$set": {"n": 1}}, upsert=True).upserted_id
    assert deliveries.find_one(generated) == {"_id": generated, "status": "x", "n": 1}


def test_updates_follow_the_servers_rules(client):
    coll = client["d"]["c"]
    coll.insert_one({"_id": 1, "s": "text", "n": 5, "l": [{"id": 1}, {"id": 2}, 3]})
    for bad, code in [({"$inc": {"s": 1}}, 14), ({"$push": {"s": 1}}, 2), ({"$set": {"n.x": 1}}, 28),
                      ({"$set": {"_id": 2}}, 66), ({"$set": {"a": 1}, "$unset": {"a": ""}}, 40)]:
        with pytest.raises(WriteError) as refused:
            coll.update_one({"_id": 1}, bad)
        assert refused.value.code == code, bad
    assert coll.update_one({"_id": 1}, {"$set": {"n": 5}}).modified_count == 0  # nothing changed
    coll.update_one({"_id": 1}, {"$pull": {"l": {"id": {"$in": [2]}}}, "$unset": {"missing.deep": ""}})
    coll.update_one({"_id": 1}, {"$push": {"new": {"$each": [1, 2]}}, "$inc": {"k.j": 2}})
    assert coll.find_one({"_id": 1}) == {"_id": 1, "s": "text", "n": 5, "l": [{"id": 1}, 3], "new": [1, 2],
                                         "k": {"j": 2}}


def test_projections_reach_into_arrays_of_subdocuments(client):
    coll = client["d"]["dossiers"]
    at = T0
    coll.insert_one({"_id": "A", "outbox": [{"id": "e1", "at": at, "event": {}}, {"id": "e2", "at": at}],
                     "citizen": {"id_number": "1", "name": "N"}, "seen": ["e0"]})
    assert coll.find_one({}, {"outbox.at": 1}) == {"_id": "A", "outbox": [{"at": at}, {"at": at}]}
    assert coll.find_one({}, {"outbox": 0, "seen": 0, "citizen.name": 0}) == {"_id": "A", "citizen": {"id_number": "1"}}
    assert coll.find_one({}, {"_id": 0, "seen": 1}) == {"seen": ["e0"]}
    with pytest.raises(OperationFailure):
        coll.find_one({}, {"seen": 1, "outbox": 0})


def test_dates_come_back_as_a_tz_aware_pymongo_client_gives_them(client):
    coll = client["d"]["c"]
    naive, precise = datetime(2026, 3, 1, 8, 0, 0, 123456), datetime(2026, 3, 1, 8, 0, 0, 123999, timezone.utc)
    coll.insert_one({"_id": 1, "naive": naive, "precise": precise,
                     "hanoi": datetime(2026, 3, 1, 15, 0, tzinfo=timezone(timedelta(hours=7)))})
    assert coll.find_one({"_id": 1}) == {"_id": 1, "naive": datetime(2026, 3, 1, 8, 0, 0, 123000, timezone.utc),
                                         "precise": datetime(2026, 3, 1, 8, 0, 0, 123000, timezone.utc),
                                         "hanoi": datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)}
    # the filter is truncated as the server truncates it: the stored .123 is >= .123999
    assert coll.count_documents({"precise": {"$gte": precise}}) == 1
    coll.create_index("precise")
    assert coll.count_documents({"precise": {"$gte": precise}}) == 1
    assert coll.count_documents({"precise": {"$gt": precise}}) == 0


def test_what_it_does_not_implement_is_named(client):
    coll = client["d"]["c"]
    for call, name in [(lambda: coll.find_one({"a": {"$regex": "x"}}), "$regex"),
                       (lambda: coll.find_one({"$and": [{}]}), "$and"),
                       (lambda: coll.update_one({}, {"$addToSet": {"a": 1}}), "$addToSet"),
                       (lambda: coll.update_one({}, {"$push": {"a": {"$each": [1], "$slice": 2}}}), "$slice"),
                       (lambda: coll.find_one_and_update({}, {"$set": {"a": 1}}, sort=[("a", 1)]), "sort"),
                       (lambda: coll.create_index("a", expireAfterSeconds=5), "expireAfterSeconds"),
                       (lambda: client["d"].command("dbstats"), "dbstats")]:
        with pytest.raises(NotImplementedError, match=name.replace("$", r"\$")):
            call()


def test_a_list_in_an_indexed_field_is_refused_by_name(client):
    coll = client["d"]["c"]
    coll.create_index("citizen.id_number")
    with pytest.raises(ValueError, match="citizen.id_number"):
        coll.insert_one({"_id": 1, "citizen": {"id_number": ["1", "2"]}})
    coll.insert_one({"_id": 2, "tags": ["a"]})
    with pytest.raises(ValueError, match="'tags'"):
        coll.create_index("tags")
    assert coll.count_documents({}) == 1 and coll.index_names() == ["_id_", "citizen.id_number_1"]


def test_a_backup_is_a_store_of_its_own(client, tmp_path):
    db = client["onestop_audit"]
    for seq in range(1, 4):
        db.entries.insert_one({"_id": f"hue-vyda:{seq:012d}", "center": "hue-vyda", "seq": seq})
    db.entries.create_index([("center", ASCENDING), ("seq", ASCENDING)], unique=True)
    (tmp_path / "copy").mkdir()
    target = db.backup(tmp_path / "copy" / "onestop_audit.sqlite3")
    restored = Client(tmp_path / "copy")["onestop_audit"].entries
    assert [d["seq"] for d in restored.find({"center": "hue-vyda"}).sort("seq", -1)] == [3, 2, 1]
    assert restored.index_names() == ["_id_", "center_1_seq_1"] and target.exists()


def test_ping_fails_when_the_file_is_gone(client):
    db = client["onestop_routing"]
    assert db.command("ping") == {"ok": 1.0}
    db.path.unlink()
    with pytest.raises(OperationFailure, match="gone"):
        db.command("ping")


def test_the_settings_choose_the_store_and_refuse_what_they_do_not_know(tmp_path):
    with pytest.raises(ValueError, match="EMBEDDED_SYNC must be one of full, normal; got 'fast'"):
        Settings.load({"EMBEDDED_SYNC": "fast"})
    with pytest.raises(ValueError, match="EMBEDDED_STORE must be one of sqlite, memory"):
        Settings.load({"EMBEDDED_STORE": "mongita"})
    chosen = {"MONGO_URI": "", "EMBEDDED_STORE": "sqlite", "EMBEDDED_SYNC": "full"}  # whatever the environment says
    here = Settings.load({**chosen, "DATA_DIR": str(tmp_path / "a")})
    elsewhere = Settings.load({**chosen, "DATA_DIR": str(tmp_path / "b")})
    first = get_client(store=here.embedded_store, data_dir=here.data_dir, sync=here.embedded_sync)
    assert first is get_client(store="sqlite", data_dir=str(tmp_path / "a"))
    assert first is not get_client(store="sqlite", data_dir=elsewhere.data_dir)
    assert (tmp_path / "a").is_dir() and isinstance(get_client(store="memory"), mongomock.MongoClient)


def test_the_launcher_says_where_the_data_lives(monkeypatch, tmp_path):
    from onestop.dev.launcher import Platform
    monkeypatch.setenv("AUTH_JWKS_URL", "https://sso.example.vn/jwks")  # no development key set written for this
    for name in ("MONGO_URI", "EMBEDDED_STORE"):
        monkeypatch.delenv(name, raising=False)
    assert Platform(root=tmp_path, env={"DATA_DIR": "var/data"}).store() == (
        f"embedded SQLite, one file per service in {tmp_path}/var/data/ (durable on this machine only: back it up; "
        "MONGO_URI for MongoDB)")
    assert "NOT DURABLE" in Platform(env={"EMBEDDED_STORE": "memory"}).store()
    assert Platform(env={"MONGO_URI": "mongodb://ops:secret@db:27017/"}).store() == "mongodb://ops:***@db:27017/"
    with pytest.raises(ValueError, match="EMBEDDED_STORE"):  # before anything starts
        Platform(env={"EMBEDDED_STORE": "disk"}).settings()
