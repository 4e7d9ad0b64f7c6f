"""Audit's repository: append-only, one chain per center."""
from __future__ import annotations

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from services.audit.domain import GENESIS, Verdict, chain_entry, verify_chain


def _entry_id(center: str, seq: int) -> str:
    return f"{center}:{seq:012d}"


class AuditRepository:
    def __init__(self, db):
        self.entries = db["entries"]
        self.heads = db["heads"]
        self._known: dict[str, tuple[int, str]] = {}  # center -> (seq, hash) this process appended last

    def ensure_indexes(self) -> None:
        self.entries.create_index("event_id", unique=True)
        self.entries.create_index([("center", ASCENDING), ("seq", ASCENDING)], unique=True)
        self.entries.create_index([("subject", ASCENDING), ("seq", ASCENDING)])

    def append(self, event: dict, recorded_at: str, attempts: int = 50) -> dict | None:
        """Add the event at the head of its center's chain; None if already recorded.

        The entry id is ``<center>:<seq>`` and event ids are unique, so two writers
        racing for the same place cannot both win, and an event cannot go in twice:
        the insert itself says so. The head this process last wrote is kept in
        memory, so an append is one insert and one head update; when another writer
        has moved on (or the event is in already), the insert fails, and the head
        is read afresh.
        """
        center = event["center"]
        for _ in range(attempts):
            seq, prev = self._known.get(center) or self._head(center)
            entry = chain_entry(center, seq + 1, prev, event, recorded_at)
            try:
                self.entries.insert_one({"_id": _entry_id(center, seq + 1), **entry})
            except DuplicateKeyError:
                self._known.pop(center, None)
                if self.entries.count_documents({"event_id": event["id"]}, limit=1):
                    return None  # recorded before (a redelivery), or a concurrent copy won
                continue
            self._known[center] = (entry["seq"], entry["hash"])
            self._advance_head(center, entry)
            return entry
        raise RuntimeError(f"could not append to the {center} chain after {attempts} attempts")

    def _head(self, center: str) -> tuple[int, str]:
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

    def verify(self, center: str) -> Verdict:
        return verify_chain(center, self.chain(center), self.heads.find_one({"_id": center}))

    def timeline(self, code: str) -> list[dict]:
        return list(self.entries.find({"subject": code}, {"_id": 0}).sort([("time", ASCENDING), ("seq", ASCENDING)]))

    def chain(self, center: str):
        return self.entries.find({"center": center}, {"_id": 0}).sort("seq", ASCENDING)

    def centers(self) -> list[str]:
        return sorted(self.entries.distinct("center"))
