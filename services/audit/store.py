"""Audit's repository: per center, an append-only hash chain that is also a Merkle tree.

Entry ``seq`` is leaf ``seq - 1`` of the center's tree. Besides its chain
hash, each entry keeps its leaf hash and the roots of the perfect subtrees
that end at it (``nodes``, level 1 first): every hash a proof needs is one of
those, so appending stays one insert and one head update, and a proof reads a
few dozen entries whatever the size of the log (services/audit/merkle.py).
"""
from __future__ import annotations

import logging

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import BulkWriteError, DuplicateKeyError

from contracts.audit import leaf_bytes
from onestop.messaging.outbox import with_outbox
from services.audit.domain import GENESIS, Verdict, chain_entry, verify_chain
from services.audit.merkle import Frontier, leaf_hash

log = logging.getLogger(__name__)


class LogDamaged(RuntimeError):
    """An entry a proof needs is not in the store: the log was cut or emptied."""


def _entry_id(center: str, seq: int) -> str:
    return f"{center}:{seq:012d}"


def _entry(center: str, seq: int, prev: str, frontier: Frontier, event: dict, recorded_at: str) -> dict:
    """Entry `seq` of the center's log: its chain fields, its leaf hash and the subtree roots it
    completes (pushed onto `frontier`, which the caller owns)."""
    leaf = leaf_hash(leaf_bytes(event))
    nodes = frontier.push(leaf)
    entry = chain_entry(center, seq, prev, event, recorded_at)
    entry.update(leaf_hash=leaf.hex(), nodes=[n.hex() for n in nodes])
    return entry


class AuditRepository:
    def __init__(self, db):
        self.entries = db["entries"]
        self.heads = db["heads"]
        self.checkpoints = db["checkpoints"]  # each signed checkpoint, with its event in the outbox
        self.alarms = db["alarms"]  # each refusal to sign, with its event in the outbox
        self._known: dict[str, tuple[int, str, Frontier]] = {}  # center -> what this process appended last

    def ensure_indexes(self) -> None:
        self.entries.create_index("event_id", unique=True)
        self.entries.create_index([("center", ASCENDING), ("seq", ASCENDING)], unique=True)
        self.entries.create_index([("subject", ASCENDING), ("seq", ASCENDING)])
        self.entries.create_index("leaf_hash")
        self.checkpoints.create_index([("center", ASCENDING), ("tree_size", DESCENDING)])
        for outbox in (self.checkpoints, self.alarms):
            outbox.create_index("outbox_pending", sparse=True)
        self.backfill_tree()

    def backfill_tree(self) -> int:
        """Give the entries recorded before the log was a tree their leaf and node hashes
        (their chain hashes do not cover these fields, so the chain still verifies). A
        crash midway is harmless: the hashes follow from the entries alone. An entry that
        has hashes keeps them: recomputing them would launder an entry changed since."""
        done = 0
        for center in self._recorded_before_the_tree():
            log.warning("audit: computing the Merkle tree of the %s log, recorded before it had one", center)
            frontier = Frontier()
            for entry in self.chain(center):
                kept = entry.get("leaf_hash")
                leaf = bytes.fromhex(kept) if kept else leaf_hash(leaf_bytes(entry["event"]))
                nodes = [n.hex() for n in frontier.push(leaf)]
                if not kept:
                    self.entries.update_one({"_id": _entry_id(center, entry["seq"])},
                                            {"$set": {"leaf_hash": leaf.hex(), "nodes": nodes}})
                    done += 1
        return done

    def _recorded_before_the_tree(self) -> list[str]:
        """The centers whose entry at the head has no leaf hash: recorded before the tree, or a
        backfill cut short (it goes in order, and runs before any new entry is appended). One
        read a center, not a scan of the log at every start."""
        centers = []
        for head in self.heads.find({}, {"seq": 1}):
            entry = self.entries.find_one({"_id": _entry_id(head["_id"], head["seq"])}, {"leaf_hash": 1})
            if entry is not None and "leaf_hash" not in entry:
                centers.append(head["_id"])
        return centers

    def append(self, event: dict, recorded_at: str, attempts: int = 50) -> dict | None:
        """Add the event at the head of its center's log; None if already recorded.

        The entry id is ``<center>:<seq>`` and event ids are unique, so two writers
        racing for the same place cannot both win, and an event cannot go in twice:
        the insert itself says so. What this process appended last (the head and
        the tree's frontier) is kept in memory, so an append is one insert and one
        head update; when another writer has moved on (or the event is in
        already), the insert fails, and the head is read afresh.
        """
        center = event["center"]
        for _ in range(attempts):
            seq, prev, frontier = self._known.get(center) or self._head(center)
            frontier = frontier.copy()
            entry = _entry(center, seq + 1, prev, frontier, event, recorded_at)
            try:
                self.entries.insert_one({"_id": _entry_id(center, seq + 1), **entry})
            except DuplicateKeyError:
                self._known.pop(center, None)
                if self.entries.count_documents({"event_id": event["id"]}, limit=1):
                    return None  # recorded before (a redelivery), or a concurrent copy won
                continue
            self._known[center] = (entry["seq"], entry["hash"], frontier)
            self._advance_head(center, entry)
            return entry
        raise RuntimeError(f"could not append to the {center} log after {attempts} attempts")

    def append_many(self, events: list[dict], recorded_at: str) -> list[dict | None]:
        """`append` for a batch, in order: each center's run of entries in one insert and one head
        update (one commit of the store for the run, where `append` takes two an entry). If any of a
        run cannot go in as it stands (an event recorded before, a copy twice in the batch, another
        writer ahead), the run goes entry by entry through `append`, which sorts each case out."""
        runs: dict[str, list[int]] = {}
        for i, event in enumerate(events):
            runs.setdefault(event["center"], []).append(i)
        out: list[dict | None] = [None] * len(events)
        for center, indexes in runs.items():
            run = [events[i] for i in indexes]
            try:
                entries = self._append_run(center, run, recorded_at)
            except (DuplicateKeyError, BulkWriteError):
                self._known.pop(center, None)
                entries = [self.append(event, recorded_at) for event in run]
            for i, entry in zip(indexes, entries):
                out[i] = entry
        return out

    def _append_run(self, center: str, events: list[dict], recorded_at: str) -> list[dict]:
        seq, prev, frontier = self._known.get(center) or self._head(center)
        frontier = frontier.copy()
        entries = []
        for event in events:
            entry = _entry(center, seq + 1, prev, frontier, event, recorded_at)
            entries.append(entry)
            seq, prev = entry["seq"], entry["hash"]
        self.entries.insert_many([{"_id": _entry_id(center, e["seq"]), **e} for e in entries])
        self._known[center] = (seq, prev, frontier)
        self._advance_head(center, entries[-1])
        return entries

    def _head(self, center: str) -> tuple[int, str, Frontier]:
        """The recorded head and the tree's frontier (LogDamaged if the store lost what it needs)."""
        seq, prev = self._tip(center)
        return seq, prev, Frontier.at(seq, self.node_reader(center))

    def _tip(self, center: str) -> tuple[int, str]:
        """The recorded head, moved past any entry a crash left beyond it."""
        head = self.heads.find_one({"_id": center}) or {"seq": 0, "hash": GENESIS}
        seq, prev = head["seq"], head["hash"]
        while (ahead := self.entries.find_one({"_id": _entry_id(center, seq + 1)}, {"seq": 1, "hash": 1})):
            seq, prev = ahead["seq"], ahead["hash"]
            self._advance_head(center, ahead)
        return seq, prev

    def _advance_head(self, center: str, entry: dict) -> None:
        """The head only moves forward; if a crash skips this, the next append catches up."""
        try:
            self.heads.update_one({"_id": center, "seq": {"$lt": entry["seq"]}},
                                  {"$set": {"seq": entry["seq"], "hash": entry["hash"]}}, upsert=True)
        except DuplicateKeyError:
            pass  # a later entry already moved it

    # The tree, as the proofs read it.

    def size(self, center: str) -> int:
        """Leaves in the center's tree: its head, moved past what a crash left beyond it."""
        return self._tip(center)[0]

    def node_reader(self, center: str):
        """``node(level, index)`` over the stored entries (merkle.Node), remembering what it read."""
        read: dict[tuple[int, int], bytes] = {}

        def node(level: int, index: int) -> bytes:
            if (level, index) not in read:
                seq = (index + 1) << level  # the entry at the subtree's last leaf
                entry = self.entries.find_one({"_id": _entry_id(center, seq)}, {"leaf_hash": 1, "nodes": 1})
                hashes = [entry.get("leaf_hash"), *entry.get("nodes", [])] if entry else []
                if len(hashes) <= level or not hashes[level]:
                    raise LogDamaged(f"the {center} log is damaged: entry #{seq} is missing or has no tree hashes")
                read[(level, index)] = bytes.fromhex(hashes[level])
            return read[(level, index)]
        return node

    def leaves(self, center: str, start: int, limit: int):
        """Entries from leaf index `start` on, in order, as stored: a cursor (a first checkpoint of a
        big log reads every entry once, one at a time)."""
        return self.entries.find({"center": center, "seq": {"$gt": start}}, {"_id": 0}).sort("seq", ASCENDING) \
            .limit(limit)

    def by_leaf_hash(self, leaf: str) -> dict | None:
        return self.entries.find_one({"leaf_hash": leaf}, {"_id": 0})

    # Checkpoints and alarms (each written with its event, which the relay publishes).

    def save_checkpoint(self, checkpoint: dict, event: dict) -> bool:
        """Keep a signed checkpoint and queue its event; False if it was kept before."""
        center, size = checkpoint["center"], checkpoint["tree_size"]
        try:
            self.checkpoints.insert_one(with_outbox({"_id": f"{center}:{size:012d}", **checkpoint}, [event]))
        except DuplicateKeyError:
            return False
        return True

    def latest_checkpoint(self, center: str, at_most: int | None = None) -> dict | None:
        query = {"center": center, **({"tree_size": {"$lte": at_most}} if at_most is not None else {})}
        return self.checkpoints.find_one(query, {"_id": 0, "outbox": 0, "outbox_pending": 0},
                                         sort=[("tree_size", DESCENDING)])

    def save_alarm(self, alarm: dict, event: dict) -> None:
        self.alarms.insert_one(with_outbox({"_id": event["id"], **alarm}, [event]))

    # The chain.

    def verify(self, center: str, signed: dict | None = None) -> Verdict:
        """The chain, the tree and, if given, the last checkpoint signed (handlers.Log.last_signed)."""
        return verify_chain(center, self.chain(center), self.heads.find_one({"_id": center}), signed)

    def timeline(self, code: str) -> list[dict]:
        return list(self.entries.find({"subject": code}, {"_id": 0}).sort([("time", ASCENDING), ("seq", ASCENDING)]))

    def chain(self, center: str):
        return self.entries.find({"center": center}, {"_id": 0}).sort("seq", ASCENDING)

    def centers(self) -> list[str]:
        return sorted(self.entries.distinct("center"))
