"""Intake's repository: dossiers (with their outbox) and the daily code counters."""
from __future__ import annotations

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from onestop.messaging.outbox import ensure_outbox_index

STATUS_RANK = {"received": 0, "routed": 1, "assigned": 2}


class IntakeRepository:
    def __init__(self, db):
        self.dossiers = db["dossiers"]
        self.counters = db["counters"]

    def ensure_indexes(self) -> None:
        self.dossiers.create_index("idempotency_key", unique=True, sparse=True)
        self.dossiers.create_index([("center", ASCENDING), ("received_at", ASCENDING)])
        ensure_outbox_index(self.dossiers)

    def next_sequence(self, center: str, day) -> int:
        """Atomic per center and day, so codes stay unique under concurrency and restarts."""
        doc = self.counters.find_one_and_update(
            {"_id": f"{center}:{day:%Y%m%d}"}, {"$inc": {"seq": 1}},
            upsert=True, return_document=ReturnDocument.AFTER)
        return doc["seq"]

    def insert(self, dossier: dict) -> bool:
        """False if a dossier with the same idempotency key already exists."""
        try:
            self.dossiers.insert_one(dossier)
            return True
        except DuplicateKeyError:
            if dossier.get("idempotency_key") and self.by_idempotency_key(dossier["idempotency_key"]):
                return False
            raise

    def get(self, code: str) -> dict | None:
        return self.dossiers.find_one({"_id": code}, {"outbox": 0, "seen": 0})

    def by_idempotency_key(self, key: str) -> dict | None:
        return self.dossiers.find_one({"idempotency_key": key}, {"outbox": 0, "seen": 0})

    def advance(self, code: str, event_id: str, status: str, changes: dict, entry: dict) -> bool:
        """Apply a lifecycle event once: the status only moves forward (events can
        arrive out of order), the history gets one entry per event id."""
        self.dossiers.update_one(
            {"_id": code, "status_rank": {"$lt": STATUS_RANK[status]}},
            {"$set": {"status": status, "status_rank": STATUS_RANK[status]}})
        result = self.dossiers.update_one(
            {"_id": code, "seen": {"$ne": event_id}},
            {"$set": changes, "$push": {"seen": event_id, "history": entry}})
        return result.modified_count == 1

    def exists(self, code: str) -> bool:
        return self.dossiers.count_documents({"_id": code}, limit=1) == 1
