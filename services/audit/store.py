"""Audit's repository: append-only, one chain per center."""
from __future__ import annotations

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from services.audit.domain import GENESIS, Verdict, chain_entry, verify_chain


class AuditRepository:
    def __init__(self, db):
        self.entries = db["entries"]
        self.heads = db["heads"]

    def ensure_indexes(self) -> None:
        self.entries.create_index("event_id", unique=True)
        self.entries.create_index([("center", ASCENDING), ("seq", ASCENDING)], unique=True)
        self.entries.create_index([("subject", ASCENDING), ("seq", ASCENDING)])

    def append(self, event: dict, recorded_at: str, attempts: int = 50) -> dict | None:
        """Add the event at the head of its center's chain; None if already recorded.

        The entry id is ``<center>:<seq>``, so two writers racing for the same
        place cannot both win: the loser reads the new head and tries again.
        """
        center = event["center"]
        for _ in range(attempts):
            if self.entries.count_documents({"event_id": event["id"]}, limit=1):
                return None
            head = self.entries.find_one({"center": center}, {"seq": 1, "hash": 1},
                                         sort=[("seq", DESCENDING)])
            seq, prev = (head["seq"], head["hash"]) if head else (0, GENESIS)
            entry = chain_entry(center, seq + 1, prev, event, recorded_at)
            try:
                self.entries.insert_one({"_id": f"{center}:{seq + 1:012d}", **entry})
            except DuplicateKeyError:
                continue
            self._advance_head(center, entry)
            return entry
        raise RuntimeError(f"could not append to the {center} chain after {attempts} attempts")

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
