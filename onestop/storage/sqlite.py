"""The durable embedded store (no MONGO_URI): SQLite files in pymongo's shape.

Exactly the part of pymongo the services use (``Client`` -> ``Database`` ->
``Collection`` -> ``Cursor``), with MongoDB's behaviour, so that every
``store.py``, the outbox relay and the health check run unchanged on it or on
MongoDB. Anything else raises NotImplementedError naming it.

Layout: one file per database, i.e. per service (``<DATA_DIR>/<name>.sqlite3``);
one table per collection with ``id`` (the encoded ``_id``, primary key), ``doc``
(the document as BSON, pymongo's own codec; dates come back as a tz-aware
client gives them: UTC, to the millisecond) and one column per indexed field
(onestop/storage/columns.py), with a SQLite index per ``create_index`` (UNIQUE
for ``unique=True``: the database enforces it, and a violation is pymongo's
DuplicateKeyError, code 11000). The index definitions are kept in the table
``_onestop_indexes``, so a process knows them before ``ensure_indexes`` runs.

Queries: SQL pre-selects with what columns.py can say exactly; every candidate
is decoded and decided by mongomock's matcher (onestop/storage/documents.py), so
SQL may return too many candidates, never too few. When SQL said the whole
filter, counts, skip, limit and distinct run in SQL; sorts run in SQL when every
key is ``_id`` or an indexed field, else in Python on the matches. Results
stream; nothing loads a whole table. The planner's statistics are refreshed
(ANALYZE, sampled) at open and every OPTIMIZE_EVERY writes.

Atomicity and durability: every write (with the read of a read-modify-write
such as update_one or find_one_and_update, and all of update_many) is one
``BEGIN IMMEDIATE`` ... ``COMMIT`` transaction: atomic across threads and
across processes sharing the file (WAL, busy timeout 30 s), returning only
after the commit. EMBEDDED_SYNC=full (the default) fsyncs each commit, durable
against power loss; normal is durable against a crash of the process only.

Connections: a small pool per database, each connection used by one caller at
a time (a write, or a cursor until it is exhausted or closed). This is correct
both under eventlet and under real threads: a connection per thread
(threading.local) would, once eventlet has patched it, be a connection per
green thread (one per nameko worker, opened each time and never reused), and
one connection behind a lock would hold every other caller behind a cursor
still being read. No greenlet switch can happen inside a transaction (it does
no I/O but SQLite's), so green threads never interleave writes; real threads
wait for each other in SQLite's own lock. While another process holds the
write lock, SQLite's busy wait blocks the calling OS thread (under eventlet,
the whole hub) for as long as that transaction lasts (milliseconds).
"""
from __future__ import annotations

import heapq
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Mapping, MutableMapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import timezone
from pathlib import Path

import bson
from bson import ObjectId
from bson.codec_options import CodecOptions
from pymongo import UpdateMany, UpdateOne
from pymongo.errors import DocumentTooLarge, DuplicateKeyError, InvalidOperation, OperationFailure
from pymongo.results import BulkWriteResult, DeleteResult, InsertManyResult, InsertOneResult, UpdateResult

from onestop.storage import columns
from onestop.storage import documents as docs

OPTIONS = CodecOptions(tz_aware=True, tzinfo=timezone.utc)
SYNC_MODES = ("full", "normal")
BUSY_TIMEOUT = 30.0  # seconds a write waits for another process's transaction
META = "_onestop_indexes"
BATCH = 500  # documents read at a time by a write over many (update_many, a backfill)
MAX_BSON = 16 * 1024 * 1024  # MongoDB's largest document
IDLE_CONNECTIONS = 4  # kept open per database for the next caller
OPTIMIZE_EVERY = 1000  # write transactions between two refreshes of the query planner's statistics
DATABASE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,120}$")


def as_bson(value: Mapping) -> dict:
    """A document, filter or update as MongoDB sees it: through BSON and back
    (dates to the millisecond in UTC, naive ones taken as UTC; tuples as lists)."""
    return bson.decode(bson.encode(value), OPTIONS)


def _write_ahead(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode (once per file: the mode is kept in it). Two processes opening a new file at
    once can both try to switch it, and SQLite answers the loser "database is locked" without waiting on the
    busy timeout (it would deadlock otherwise), so the switch is retried until the timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    pause = 0.001
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0].lower()
            if mode != "wal":  # the answer is the mode the file is in after it, whether it switched or not
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower()
            if mode == "wal":
                return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError(f"could not put the embedded store in WAL mode within {BUSY_TIMEOUT} s")
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


class _Connections:
    """The pool: each connection serves one caller at a time."""

    def __init__(self, path: Path, sync: str):
        self.path, self.sync = path, sync
        self._idle: list = []
        self._lock = threading.Lock()
        self._closed = False
        self.statistics = 0  # bumped by each ANALYZE; a connection that read older ones reloads them
        self._read: dict = {}  # connection -> the statistics it has loaded

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
        _write_ahead(conn)
        conn.execute(f"PRAGMA synchronous={self.sync.upper()}")
        conn.execute("PRAGMA analysis_limit=1000")  # statistics from a sample: milliseconds whatever the size
        return conn

    @contextmanager
    def using(self):
        with self._lock:
            if self._closed:
                raise InvalidOperation(f"the embedded store {self.path} is closed")
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self._open()  # it reads the statistics there are
            self._read[conn] = self.statistics
        elif self._read.get(conn, 0) < self.statistics:
            conn.execute("ANALYZE sqlite_schema")  # SQLite's way to reload statistics another connection made
            self._read[conn] = self.statistics
        try:
            yield conn
        finally:
            with self._lock:
                keep = not self._closed and not conn.in_transaction and len(self._idle) < IDLE_CONNECTIONS
                if keep:
                    self._idle.append(conn)
            if not keep:
                self._read.pop(conn, None)
                conn.close()

    def analyze(self) -> None:
        with self.using() as conn:
            conn.execute("ANALYZE")
            self.statistics += 1
            self._read[conn] = self.statistics

    def close(self) -> None:
        with self._lock:
            self._closed, idle, self._idle = True, self._idle, []
            self._read.clear()
        for conn in idle:
            conn.close()


class Client:
    """The databases under one data directory (made if missing), like pymongo's MongoClient."""

    def __init__(self, data_dir: str | os.PathLike, sync: str = "full"):
        if sync not in SYNC_MODES:
            raise ValueError(f"EMBEDDED_SYNC must be one of {', '.join(SYNC_MODES)}; got {sync!r}")
        self.data_dir, self.sync = Path(os.path.abspath(data_dir)), sync
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._databases: dict[str, Database] = {}
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> "Database":
        with self._lock:
            if name not in self._databases:
                self._databases[name] = Database(self, name)
            return self._databases[name]

    get_database = __getitem__

    def list_database_names(self) -> list[str]:
        return sorted(path.name[: -len(".sqlite3")] for path in self.data_dir.glob("*.sqlite3"))

    def drop_database(self, name) -> None:
        """Close it and delete its file (with its WAL)."""
        name = getattr(name, "name", name)
        with self._lock:
            database = self._databases.pop(name, None)
        if database is not None:
            database.close()
        for suffix in ("", "-wal", "-shm"):
            (self.data_dir / f"{name}.sqlite3{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            databases, self._databases = list(self._databases.values()), {}
        for database in databases:
            database.close()


class Database:
    """One service's file."""

    def __init__(self, client: Client, name: str):
        if not isinstance(name, str) or not DATABASE_NAME.match(name):
            raise ValueError(f"a database name of the embedded store is 1-120 letters, digits, '_' or '-'; got {name!r}")
        self.client, self.name = client, name
        self.path = client.data_dir / f"{name}.sqlite3"
        self._connections = _Connections(self.path, client.sync)
        self._collections: dict[str, Collection] = {}
        self._lock = threading.Lock()
        self._writes = 0
        with self._writing() as conn:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {META} (collection TEXT NOT NULL, name TEXT NOT NULL, "
                         "keys TEXT NOT NULL, is_unique INTEGER NOT NULL, sparse INTEGER NOT NULL, "
                         "PRIMARY KEY (collection, name))")
        self._optimize()

    def __getitem__(self, name: str) -> "Collection":
        with self._lock:
            if name not in self._collections:
                self._collections[name] = Collection(self, name)
            return self._collections[name]

    get_collection = __getitem__

    def __getattr__(self, name: str) -> "Collection":
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __repr__(self) -> str:
        return f"Database({str(self.path)!r})"

    @contextmanager
    def _writing(self):
        """One write transaction, committed (durably, per EMBEDDED_SYNC) before it returns."""
        with self._connections.using() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        self._writes += 1
        if self._writes % OPTIMIZE_EVERY == 0:
            self._optimize()

    def _optimize(self) -> None:
        """Refresh SQLite's statistics (ANALYZE, from a sample of each index: milliseconds), so
        the planner picks the narrowest index (routing's due timers: next_timer_at, not center);
        at open and every OPTIMIZE_EVERY writes, as the data grows."""
        self._connections.analyze()

    def _reading(self):
        return self._connections.using()

    def command(self, command) -> dict:
        """``ping`` only (the health check): the file is there and answers."""
        if command not in ("ping", {"ping": 1}):
            raise NotImplementedError(f"the embedded store implements the command ping only, not {command!r}")
        if not self.path.exists():
            raise OperationFailure(f"the embedded store's file {self.path} is gone")
        with self._reading() as conn:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return {"ok": 1.0}

    def backup(self, path: str | os.PathLike) -> Path:
        """A consistent copy of this database into `path`, taken while it is in use
        (SQLite's online backup), e.g. for a nightly copy to another machine."""
        target = Path(path)
        with closing(sqlite3.connect(target)) as dest, self._reading() as conn:
            conn.backup(dest)
            dest.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        return target

    def close(self) -> None:
        self._connections.close()


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple  # ((field, 1 or -1), ...)
    unique: bool
    sparse: bool

    @property
    def fields(self) -> tuple:
        return tuple(field for field, _ in self.keys)


@dataclass(frozen=True)
class _Shape:
    """What this process knows of a table's indexes, as of a schema version."""
    version: int | None
    indexes: tuple = ()
    fields: tuple = ()  # the indexed fields with a column of their own (all but _id)


@dataclass(frozen=True)
class _Query:
    spec: dict
    clauses: list
    params: list
    exact: bool  # SQL says all the filter says
    shape: _Shape  # the indexes it was planned with (and a write under it fills)


class Collection:
    """One table. Methods and arguments as pymongo's, as far as the services use them."""

    def __init__(self, database: Database, name: str):
        if not isinstance(name, str) or not name or "\0" in name or "$" in name or \
                name.startswith(("_onestop", "sqlite_", "system.")):
            raise ValueError(f"not a collection name the embedded store takes: {name!r}")
        self.database, self.name = database, name
        self.full_name = f"{database.name}.{name}"
        self._table = columns.quote(name)
        self._shape = _Shape(None)
        with database._writing() as conn:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {self._table} (id NOT NULL PRIMARY KEY, doc BLOB NOT NULL)")
            self._refresh(conn)

    def __repr__(self) -> str:
        return f"Collection({self.full_name!r})"

    # --- what this process knows of the table ---------------------------------------------

    def _refresh(self, conn) -> _Shape:
        """Reread the index definitions when the schema changed (another process may have
        added an index): a write must fill every column there is."""
        version = conn.execute("PRAGMA schema_version").fetchone()[0]
        if version != self._shape.version:
            rows = conn.execute(f"SELECT name, keys, is_unique, sparse FROM {META} WHERE collection = ? "
                                "ORDER BY rowid", (self.name,)).fetchall()
            indexes = tuple(Index(n, tuple(map(tuple, json.loads(k))), bool(u), bool(s)) for n, k, u, s in rows)
            fields = tuple(dict.fromkeys(f for ix in indexes for f in ix.fields if f != "_id"))
            self._shape = _Shape(version, indexes, fields)
        return self._shape

    def _query(self, conn, spec: dict) -> _Query:
        shape = self._refresh(conn)
        return _Query(spec, *columns.where(spec, set(shape.fields)), shape)

    def _rows(self, conn, query: _Query, order: str = "rowid", skip: int = 0, limit: int = 0, after=None):
        """(rowid, BSON, document) of each match, streamed in `order`; `after` a rowid to start past."""
        sql, params = self._select(query, order, after)
        if query.exact and (skip or limit):
            sql += " LIMIT ? OFFSET ?"
            params += [limit or -1, skip]
            skip = limit = 0
        matched = 0
        with closing(conn.execute(sql, params)) as cursor:
            for rowid, data in cursor:
                doc = bson.decode(data, OPTIONS)
                if not (query.exact or docs.matches(query.spec, doc)):
                    continue
                matched += 1
                if matched > skip:
                    yield rowid, data, doc
                if limit and matched >= skip + limit:
                    return

    def _select(self, query: _Query, order: str = "rowid", after=None) -> tuple[str, list]:
        """The SELECT that pre-selects a query's rows in `order` (what explain() shows too)."""
        clauses, params = list(query.clauses), list(query.params)
        if order == "rowid" and clauses:
            # Natural order, but with the filter's index: told "ORDER BY rowid", the planner prefers a
            # scan in rowid order to an index and a sort, and took it for the relay's pending query
            # (an IN of two values on the outbox flag), a whole-table scan at every drain.
            order = "+rowid"
        if after is not None:
            clauses.append("rowid > ?")
            params.append(after)
        return f"SELECT rowid, doc FROM {self._table}{_where(clauses)} ORDER BY {order}", params

    @staticmethod
    def _order(pairs, shape: _Shape) -> str | None:
        """ORDER BY for a sort SQL can do (every key `_id` or an indexed field), else None."""
        if not pairs:
            return "rowid"
        if any(field != "_id" and field not in shape.fields for field, _ in pairs):
            return None
        return ", ".join(f"{columns.column(f)} {'ASC' if way > 0 else 'DESC'}" for f, way in pairs) + ", rowid"

    @staticmethod
    def _row(shape: _Shape, doc: dict, data: bytes) -> list:
        """The values of a document's row: id, BSON, then each indexed field's column."""
        if len(data) > MAX_BSON:
            raise DocumentTooLarge(f"a document of {len(data)} bytes is over MongoDB's {MAX_BSON}")
        if doc["_id"] is None:
            raise ValueError("the embedded store takes no null _id")
        return [columns.encode(doc["_id"]), data,
                *(columns.encode(docs.value_at(doc, field), field) for field in shape.fields)]

    # --- writes ----------------------------------------------------------------------------

    def _insert(self, conn, shape: _Shape, doc: dict, data: bytes | None = None) -> None:
        data = data or bson.encode(doc)
        row = self._row(shape, doc, data)
        names = ", ".join(["id", "doc", *map(columns.column, shape.fields)])
        try:
            rowid = conn.execute(f"INSERT INTO {self._table} ({names}) VALUES ({', '.join('?' * len(row))})",
                                 row).lastrowid
        except sqlite3.IntegrityError as exc:
            raise self._duplicate(shape, str(exc), doc) from None
        self._check_null_keys(conn, shape, doc, row, rowid)

    def _write(self, conn, shape: _Shape, rowid: int, old: bytes, doc: dict) -> bool:
        """Store a changed document in its row; False (nothing written) if it did not change."""
        data = bson.encode(doc)
        if data == old:
            return False
        row = self._row(shape, doc, data)
        sets = ", ".join(["doc = ?", *(f"{columns.column(f)} = ?" for f in shape.fields)])
        try:
            conn.execute(f"UPDATE {self._table} SET {sets} WHERE rowid = ?", [*row[1:], rowid])
        except sqlite3.IntegrityError as exc:
            raise self._duplicate(shape, str(exc), doc) from None
        self._check_null_keys(conn, shape, doc, row, rowid)
        return True

    def _check_null_keys(self, conn, shape: _Shape, doc: dict, row: list, rowid: int) -> None:
        """MongoDB's unique (not sparse) index takes a missing field as null, and two nulls
        collide; SQLite's UNIQUE lets NULLs be, so those keys are checked here (race-free:
        the write lock is held)."""
        values = dict(zip(("_id", *shape.fields), (row[0], *row[2:])))
        for index in shape.indexes:
            key = [values[f] for f in index.fields]
            if not index.unique or index.sparse or None not in key:
                continue
            sql = " AND ".join(f"{columns.column(f)} IS ?" for f in index.fields)
            if conn.execute(f"SELECT 1 FROM {self._table} WHERE {sql} AND rowid != ? LIMIT 1",
                            [*key, rowid]).fetchone():
                raise self._duplicate_of(index, doc)

    def _duplicate(self, shape: _Shape, message: str, doc: dict) -> Exception:
        """sqlite3's 'UNIQUE constraint failed: t.k:a, t.k:b' as pymongo's DuplicateKeyError."""
        if not message.startswith("UNIQUE constraint failed: "):
            return sqlite3.IntegrityError(message)
        failed = {part.strip()[len(self.name) + 1:] for part in message.split(": ", 1)[1].split(",")}
        for index in shape.indexes:
            if {columns.column(f).strip('"').replace('""', '"') for f in index.fields} == failed:
                return self._duplicate_of(index, doc)
        return self._duplicate_of(Index("_id_", (("_id", 1),), True, False), doc)

    def _duplicate_of(self, index: Index, doc: dict) -> DuplicateKeyError:
        key = {f: docs.value_at(doc, f) for f in index.fields}
        key = {f: (None if v is docs.MISSING else v) for f, v in key.items()}
        message = f"E11000 duplicate key error collection: {self.full_name} index: {index.name} dup key: {key}"
        return DuplicateKeyError(message, 11000, {"index": index.name, "keyPattern": dict(index.keys),
                                                  "keyValue": key, "errmsg": message, "code": 11000})

    def _matches_for_write(self, conn, query: _Query, many: bool):
        """(rowid, BSON, document) of the first match or of every match, each batch read
        in full before the caller writes it (SQLite must not see writes under a read)."""
        after = None
        while True:
            batch = list(self._rows(conn, query, limit=BATCH if many else 1, after=after))
            yield from batch
            if not many or len(batch) < BATCH:
                return
            after = batch[-1][0]

    @staticmethod
    def _encoded(document: MutableMapping) -> tuple[dict, bytes]:
        """A document to insert, as stored (BSON) and as read back; an _id given if it has none."""
        if not isinstance(document, MutableMapping):
            raise TypeError(f"document must be a mutable mapping (a dict), got {type(document).__name__}")
        if "_id" not in document:
            document["_id"] = ObjectId()  # as pymongo does, in the caller's document
        data = bson.encode(document)
        return bson.decode(data, OPTIONS), data

    def insert_one(self, document: MutableMapping) -> InsertOneResult:
        doc, data = self._encoded(document)
        with self.database._writing() as conn:
            self._insert(conn, self._refresh(conn), doc, data)
        return InsertOneResult(document["_id"], True)

    def insert_many(self, documents, ordered: bool = True) -> InsertManyResult:
        """All of them in one transaction, committed once (one sync of the log for the lot): all or
        none. A duplicate key raises DuplicateKeyError with nothing written, where MongoDB's ordered
        insert_many keeps the documents before it and raises BulkWriteError; a caller that must know
        what went in reads it back either way."""
        if not ordered:
            raise NotImplementedError("the embedded store's insert_many is ordered (all or none)")
        encoded = [self._encoded(document) for document in documents]
        if not encoded:
            raise InvalidOperation("documents must be a non-empty list")  # as pymongo says
        with self.database._writing() as conn:
            shape = self._refresh(conn)
            for doc, data in encoded:
                self._insert(conn, shape, doc, data)
        return InsertManyResult([doc["_id"] for doc, _ in encoded], True)

    def update_one(self, filter: Mapping, update: Mapping, upsert: bool = False) -> UpdateResult:
        docs.check_update(update)
        return UpdateResult(self._update(filter, as_bson(update), upsert, many=False), True)

    def update_many(self, filter: Mapping, update: Mapping, upsert: bool = False) -> UpdateResult:
        """All matches in one transaction: all written, or (on an error) none."""
        docs.check_update(update)
        return UpdateResult(self._update(filter, as_bson(update), upsert, many=True), True)

    def replace_one(self, filter: Mapping, replacement: Mapping, upsert: bool = False) -> UpdateResult:
        docs.check_replacement(replacement)
        return UpdateResult(self._update(filter, as_bson(replacement), upsert, many=False, replace=True), True)

    def _update(self, filter, change: dict, upsert: bool, many: bool, replace: bool = False) -> dict:
        with self.database._writing() as conn:
            return self._update_in(conn, _filter(filter), change, upsert, many, replace)

    def _update_in(self, conn, spec: dict, change: dict, upsert: bool, many: bool, replace: bool = False) -> dict:
        """One update inside the caller's transaction."""
        matched = modified = 0
        query = self._query(conn, spec)
        for rowid, data, doc in self._matches_for_write(conn, query, many):
            new = docs.replaced(doc["_id"], change) if replace else docs.apply_update(doc, change)
            modified += self._write(conn, query.shape, rowid, data, new)
            matched += 1
        if matched == 0 and upsert:
            new = self._upserted(spec, change, replace)
            self._insert(conn, query.shape, new)
            return {"n": 1, "nModified": 0, "upserted": new["_id"], "ok": 1.0, "updatedExisting": False}
        return {"n": matched, "nModified": modified, "ok": 1.0, "updatedExisting": matched > 0}

    def bulk_write(self, requests, ordered: bool = True) -> BulkWriteResult:
        """UpdateOne and UpdateMany requests, in order, in one transaction committed once: all written, or
        (on an error) none, where MongoDB's ordered bulk_write keeps the requests before the failed one
        (each of the relay's is idempotent, so either way a retry is right). The outbox relay's clearing
        is two of them."""
        if not ordered:
            raise NotImplementedError("the embedded store's bulk_write is ordered (all or none)")
        updates = []
        for request in requests:
            if type(request) not in (UpdateOne, UpdateMany) or request._array_filters or request._hint \
                    or request._collation or getattr(request, "_sort", None):
                raise NotImplementedError(f"the embedded store's bulk_write takes plain UpdateOne and UpdateMany "
                                          f"requests, not {request!r}")
            docs.check_update(request._doc)
            updates.append((_filter(request._filter), as_bson(request._doc), bool(request._upsert),
                            isinstance(request, UpdateMany)))
        if not updates:
            raise InvalidOperation("No operations to execute")  # as pymongo says
        matched = modified = 0
        upserted = []
        with self.database._writing() as conn:
            for index, (spec, change, upsert, many) in enumerate(updates):
                result = self._update_in(conn, spec, change, upsert, many)
                if "upserted" in result:
                    upserted.append({"index": index, "_id": result["upserted"]})
                else:
                    matched, modified = matched + result["n"], modified + result["nModified"]
        return BulkWriteResult({"nInserted": 0, "nUpserted": len(upserted), "nMatched": matched,
                                "nModified": modified, "nRemoved": 0, "upserted": upserted, "writeErrors": [],
                                "writeConcernErrors": []}, True)

    @staticmethod
    def _upserted(spec: dict, change: dict, replace: bool) -> dict:
        """The document an upsert inserts: from the filter's equalities and the update
        ($setOnInsert included), or the replacement under the filter's _id."""
        if replace:
            given = spec.get("_id", docs.MISSING)
            new = dict(change) if given is docs.MISSING or docs.is_condition(given) else docs.replaced(given, change)
        else:
            new = docs.apply_update(docs.upsert_seed(spec), change, inserting=True)
        new.setdefault("_id", ObjectId())
        return docs.id_first(new)

    def find_one_and_update(self, filter: Mapping, update: Mapping, projection=None, sort=None,
                            upsert: bool = False, return_document: bool = False):
        """The document before the update (ReturnDocument.BEFORE, the default) or after it."""
        if sort is not None:
            raise NotImplementedError("the embedded store's find_one_and_update takes no sort")
        docs.check_update(update)
        change, spec, plan = as_bson(update), _filter(filter), docs.projection_plan(projection)
        with self.database._writing() as conn:
            query = self._query(conn, spec)
            found = next(self._matches_for_write(conn, query, many=False), None)
            if found is not None:
                rowid, data, doc = found
                before = bson.decode(data, OPTIONS) if not return_document else None
                self._write(conn, query.shape, rowid, data, docs.apply_update(doc, change))
                result = doc if return_document else before
            elif upsert:
                new = self._upserted(spec, change, replace=False)
                self._insert(conn, query.shape, new)
                result = new if return_document else None
            else:
                result = None
        return None if result is None else docs.project(result, plan)

    def delete_one(self, filter: Mapping) -> DeleteResult:
        return self._delete(filter, many=False)

    def delete_many(self, filter: Mapping) -> DeleteResult:
        return self._delete(filter, many=True)

    def _delete(self, filter, many: bool) -> DeleteResult:
        spec, deleted = _filter(filter), 0
        with self.database._writing() as conn:
            query = self._query(conn, spec)
            for rowid, _data, _doc in self._matches_for_write(conn, query, many):
                conn.execute(f"DELETE FROM {self._table} WHERE rowid = ?", (rowid,))
                deleted += 1
        return DeleteResult({"n": deleted, "ok": 1.0}, True)

    # --- reads -----------------------------------------------------------------------------

    def find(self, filter: Mapping | None = None, projection=None, skip: int = 0, limit: int = 0, sort=None,
             **options) -> "Cursor":
        if options:
            raise NotImplementedError(f"the embedded store's find takes no {', '.join(sorted(options))}")
        cursor = Cursor(self, _filter(filter), docs.projection_plan(projection)).skip(skip).limit(limit)
        return cursor.sort(sort) if sort is not None else cursor

    def find_one(self, filter=None, projection=None, **options):
        if filter is not None and not isinstance(filter, Mapping):
            filter = {"_id": filter}  # pymongo: find_one(value) looks the _id up
        return next(iter(self.find(filter, projection, limit=1, **options)), None)

    def _documents(self, spec: dict, plan, pairs, skip: int, limit: int):
        """The projected matches, sorted, skipped and limited, streamed where SQL sorts."""
        with self.database._reading() as conn:
            query = self._query(conn, spec)
            order = self._order(pairs, query.shape)
            if order is not None:
                with closing(self._rows(conn, query, order, skip, limit)) as rows:
                    for _rowid, _data, doc in rows:
                        yield docs.project(doc, plan)
                return
            with closing(self._rows(conn, query)) as rows:
                keys = (docs.SortKey(doc, pairs, n) for n, (_r, _d, doc) in enumerate(rows))
                ranked = heapq.nsmallest(skip + limit, keys) if limit else sorted(keys)
        for key in ranked[skip:]:
            yield docs.project(key.doc, plan)

    def count_documents(self, filter: Mapping, limit: int | None = None, skip: int = 0) -> int:
        if limit is not None and (not isinstance(limit, int) or limit <= 0):
            raise OperationFailure(f"the limit must be a positive whole number, got {limit!r}")
        _check_skip(skip)
        with self.database._reading() as conn:
            query = self._query(conn, _filter(filter))
            if query.exact:
                sql = f"SELECT count(*) FROM (SELECT 1 FROM {self._table}{_where(query.clauses)} LIMIT ? OFFSET ?)"
                return conn.execute(sql, [*query.params, limit or -1, skip]).fetchone()[0]
            with closing(self._rows(conn, query, skip=skip, limit=limit or 0)) as rows:
                return sum(1 for _ in rows)

    def distinct(self, key: str, filter: Mapping | None = None) -> list:
        """The distinct values of a field among the matches (arrays contribute their elements)."""
        if not isinstance(key, str) or not key:
            raise TypeError(f"distinct takes a field name, got {key!r}")
        with self.database._reading() as conn:
            query = self._query(conn, _filter(filter))
            if query.exact and (key == "_id" or key in query.shape.fields):
                return self._distinct_column(conn, query, key)
            with closing(self._rows(conn, query)) as rows:
                found = {}
                for _rowid, _data, doc in rows:
                    for value in _values(doc, key):
                        found.setdefault(_distinct_key(value), value)
                return list(found.values())

    def _distinct_column(self, conn, query: _Query, key: str) -> list:
        col = columns.column(key)
        sql = f"SELECT DISTINCT {col} FROM {self._table}{_where([*query.clauses, f'{col} IS NOT NULL'])} ORDER BY {col}"
        values = [columns.decode(v) for (v,) in conn.execute(sql, query.params)]
        nulls = _Query(query.spec, [*query.clauses, f"{col} IS NULL"], query.params, True, query.shape)
        with closing(self._rows(conn, nulls)) as rows:  # null or missing: only a null counts
            if any(docs.value_at(doc, key) is None for _r, _d, doc in rows):
                values.insert(0, None)
        return values

    # --- indexes ---------------------------------------------------------------------------

    def create_index(self, keys, unique: bool = False, sparse: bool = False, **options) -> str:
        """Add a column per new field (filled from every document), then the SQLite index;
        the same index again is a no-op. Returns MongoDB's name for it."""
        if options:
            raise NotImplementedError(f"the embedded store's create_index takes unique and sparse only, not "
                                      f"{', '.join(sorted(options))}")
        pairs = docs.sort_spec(keys)
        index = Index("_".join(f"{f}_{way}" for f, way in pairs), tuple(pairs), bool(unique), bool(sparse))
        if index.fields == ("_id",):
            return "_id_"
        with self.database._writing() as conn:
            shape = self._refresh(conn)
            known = {ix.name: ix for ix in shape.indexes}
            if index.name in known:
                if known[index.name] == index:
                    return index.name
                raise OperationFailure(f"An existing index has the same name as the requested index but different "
                                       f"options: {known[index.name]} (asked for {index})", code=86)
            self._add_columns(conn, [f for f in index.fields if f != "_id" and f not in shape.fields])
            self._build(conn, index)
            conn.execute(f"INSERT INTO {META} (collection, name, keys, is_unique, sparse) VALUES (?, ?, ?, ?, ?)",
                         (self.name, index.name, json.dumps(pairs), int(index.unique), int(index.sparse)))
            self._refresh(conn)
        return index.name

    def _add_columns(self, conn, fields: list) -> None:
        """New columns (no type: values keep their own), filled once from the documents, a batch at a time."""
        if not fields:
            return
        for field in fields:
            conn.execute(f"ALTER TABLE {self._table} ADD COLUMN {columns.column(field)}")
        sets = ", ".join(f"{columns.column(f)} = ?" for f in fields)
        after = 0
        while True:
            rows = conn.execute(f"SELECT rowid, doc FROM {self._table} WHERE rowid > ? ORDER BY rowid LIMIT ?",
                                (after, BATCH)).fetchall()
            updates = []
            for rowid, data in rows:
                doc = bson.decode(data, OPTIONS)
                updates.append([*(columns.encode(docs.value_at(doc, f), f) for f in fields), rowid])
            conn.executemany(f"UPDATE {self._table} SET {sets} WHERE rowid = ?", updates)
            if len(rows) < BATCH:
                return
            after = rows[-1][0]

    def _build(self, conn, index: Index) -> None:
        cols = [columns.column(f) for f in index.fields]
        if index.unique and not index.sparse:  # nulls collide too (see _check_null_keys)
            sql = f"SELECT 1 FROM {self._table} GROUP BY {', '.join(cols)} HAVING count(*) > 1 LIMIT 1"
            if conn.execute(sql).fetchone():
                raise DuplicateKeyError(f"E11000 duplicate key error collection: {self.full_name} index: "
                                        f"{index.name}: two documents have the same key", 11000)
        order = ", ".join(f"{c} {'ASC' if way > 0 else 'DESC'}" for c, (_, way) in zip(cols, index.keys))
        name = columns.quote(f"ix:{self.name}:{index.name}")
        try:
            conn.execute(f"CREATE {'UNIQUE ' if index.unique else ''}INDEX {name} ON {self._table} ({order})")
        except sqlite3.IntegrityError:
            raise DuplicateKeyError(f"E11000 duplicate key error collection: {self.full_name} index: "
                                    f"{index.name}: two documents have the same key", 11000) from None

    def index_names(self) -> list[str]:
        with self.database._reading() as conn:
            return ["_id_", *(ix.name for ix in self._refresh(conn).indexes)]


class Cursor:
    """pymongo's Cursor as far as the services use it: sort, skip, limit, iteration.
    Nothing runs until the first document is asked for; then results stream."""

    def __init__(self, collection: Collection, spec: dict, plan):
        self.collection, self._spec, self._plan = collection, spec, plan
        self._sort, self._skip, self._limit = None, 0, 0
        self._iterator = None

    def _unstarted(self) -> None:
        if self._iterator is not None:
            raise InvalidOperation("cannot set options after executing query")

    def sort(self, key_or_list, direction=None) -> "Cursor":
        self._unstarted()
        self._sort = docs.sort_spec(key_or_list, direction)
        return self

    def skip(self, skip: int) -> "Cursor":
        self._unstarted()
        _check_skip(skip)
        self._skip = skip
        return self

    def limit(self, limit: int) -> "Cursor":
        self._unstarted()
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise ValueError(f"limit must be a whole number of at least 0 (0: no limit), got {limit!r}")
        self._limit = limit
        return self

    def __iter__(self) -> "Cursor":
        return self

    def __next__(self) -> dict:
        if self._iterator is None:
            self._iterator = self.collection._documents(self._spec, self._plan, self._sort, self._skip, self._limit)
        return next(self._iterator)

    def explain(self) -> dict:
        """How SQLite will pre-select (its query plan), and whether SQL says the whole filter
        (then nothing is decided in Python): for operators and tests."""
        with self.collection.database._reading() as conn:
            query = self.collection._query(conn, self._spec)
            order = self.collection._order(self._sort, query.shape)
            sql, params = self.collection._select(query, order or "rowid")
            plan = [row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
        return {"sql": sql, "plan": plan, "exact": query.exact, "sorted_in_sql": order is not None}

    def close(self) -> None:
        """Give the connection back now (a cursor read to its end does so by itself)."""
        if self._iterator is not None:
            self._iterator.close()

    def __enter__(self) -> "Cursor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _filter(filter) -> dict:
    if filter is None:
        return {}
    if not isinstance(filter, Mapping):
        raise TypeError(f"filter must be a mapping (a dict), got {type(filter).__name__}")
    spec = as_bson(filter)
    docs.check_filter(spec)
    return spec


def _where(clauses: list) -> str:
    return f" WHERE {' AND '.join(clauses)}" if clauses else ""


def _check_skip(skip) -> None:
    if not isinstance(skip, int) or isinstance(skip, bool) or skip < 0:
        raise ValueError(f"skip must be a whole number of at least 0, got {skip!r}")


def _values(doc: dict, key: str) -> list:
    """A field's values for distinct, as MongoDB: through arrays, an array's elements one by one."""
    values = [doc]
    for part in key.split("."):
        step = []
        for value in values:
            for item in (value if isinstance(value, list) else [value]):
                if isinstance(item, dict) and part in item:
                    step.append(item[part])
        values = step
    return [item for value in values for item in (value if isinstance(value, list) else [value])]


def _distinct_key(value):
    """Values MongoDB takes as the same (1 and 1.0) share a key; True and 1 do not."""
    if isinstance(value, (dict, list)):
        return ("bson", bson.encode({"v": value}))
    return (type(value) is bool, value)
