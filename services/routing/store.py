"""Routing's repository: one assignment per dossier, with its outbox."""
from __future__ import annotations

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError


class RoutingRepository:
    def __init__(self, db):
        self.assignments = db["assignments"]

    def ensure_indexes(self) -> None:
        self.assignments.create_index([("officer_id", ASCENDING), ("open", ASCENDING)])
        self.assignments.create_index([("center", ASCENDING), ("department_id", ASCENDING)])
        self.assignments.create_index("outbox.id", sparse=True)

    def get(self, code: str) -> dict | None:
        return self.assignments.find_one({"_id": code}, {"outbox": 0})

    def open_loads(self, officer_ids: list[str]) -> dict:
        """Open dossiers per officer, counted from the assignments themselves
        (derived, so a crash can never leave a counter out of step)."""
        rows = self.assignments.aggregate([
            {"$match": {"officer_id": {"$in": officer_ids}, "open": True}},
            {"$group": {"_id": "$officer_id", "n": {"$sum": 1}}}])
        return {row["_id"]: row["n"] for row in rows}

    def insert(self, assignment: dict) -> bool:
        """False when the dossier was already routed (a redelivered event)."""
        try:
            self.assignments.insert_one(assignment)
            return True
        except DuplicateKeyError:
            return False
