"""Routing's repository: one case per dossier (its assignment, life, clock and timers), with its outbox."""
from __future__ import annotations

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from onestop.messaging.outbox import ensure_outbox_index, push_outbox

QUEUE_SORTS = {"due": [("due_at", ASCENDING), ("_id", ASCENDING)],
               "-due": [("due_at", -1), ("_id", ASCENDING)],
               "received": [("received_at", ASCENDING), ("_id", ASCENDING)]}


class RoutingRepository:
    def __init__(self, db):
        self.assignments = db["assignments"]

    def ensure_indexes(self) -> None:
        self.assignments.create_index([("officer_id", ASCENDING), ("open", ASCENDING)])
        self.assignments.create_index([("center", ASCENDING), ("department_id", ASCENDING)])
        self.assignments.create_index([("center", ASCENDING), ("status", ASCENDING), ("due_at", ASCENDING)])
        self.assignments.create_index([("center", ASCENDING), ("received_at", ASCENDING)])
        self.assignments.create_index("next_timer_at", sparse=True)
        ensure_outbox_index(self.assignments)

    def get(self, code: str) -> dict | None:
        return self.assignments.find_one({"_id": code}, {"outbox": 0})

    def open_loads(self, officer_ids: list[str]) -> dict:
        """Open dossiers per officer, counted from the cases themselves
        (derived, so a crash can never leave a counter out of step)."""
        return {officer: self.assignments.count_documents({"officer_id": officer, "open": True})
                for officer in officer_ids}

    def insert(self, case: dict) -> bool:
        """False when the dossier was already routed (a redelivered event)."""
        try:
            self.assignments.insert_one(case)
            return True
        except DuplicateKeyError:
            return False

    def apply(self, change, now) -> bool:
        """Write a Change and its events if the case is still at the version it was read at."""
        result = self.assignments.update_one({"_id": change.code, "version": change.version},
                                             push_outbox(change.update(), change.events, now))
        return result.modified_count == 1

    def queue(self, filters: dict, sort: str = "due", limit: int = 50, skip: int = 0) -> tuple[int, list]:
        total = self.assignments.count_documents(filters)
        docs = self.assignments.find(filters, {"outbox": 0, "history": 0}).sort(QUEUE_SORTS[sort]).skip(skip).limit(limit)
        return total, list(docs)

    def timers_due(self, now, centers: list[str], limit: int = 200) -> list[dict]:
        return list(self.assignments.find({"next_timer_at": {"$lte": now}, "center": {"$in": centers}},
                                          {"outbox": 0}).limit(limit))

    def for_report(self, filters: dict, projection: dict | None = None) -> list[dict]:
        return list(self.assignments.find(filters, projection or {"outbox": 0, "history": 0, "timers": 0}))

    def rate(self, code: str, rating: dict, event_id: str) -> bool:
        """Store a citizen's rating on the case once (for the reports)."""
        result = self.assignments.update_one({"_id": code, "rating": None}, {"$set": {"rating": rating}})
        return result.modified_count == 1
