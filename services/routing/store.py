"""Routing's repository: one assignment per dossier, with its outbox."""
from __future__ import annotations

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from onestop.messaging.outbox import ensure_outbox_index


class RoutingRepository:
    def __init__(self, db):
        self.assignments = db["assignments"]

    def ensure_indexes(self) -> None:
        self.assignments.create_index([("officer_id", ASCENDING), ("open", ASCENDING)])
        self.assignments.create_index([("center", ASCENDING), ("department_id", ASCENDING)])
        ensure_outbox_index(self.assignments)

    def get(self, code: str) -> dict | None:
        return self.assignments.find_one({"_id": code}, {"outbox": 0})

    def open_loads(self, officer_ids: list[str]) -> dict:
        """Open dossiers per officer, counted from the assignments themselves
        (derived, so a crash can never leave a counter out of step)."""
        return {officer: self.assignments.count_documents({"officer_id": officer, "open": True})
                for officer in officer_ids}

    def insert(self, assignment: dict) -> bool:
        """False when the dossier was already routed (a redelivered event)."""
        try:
            self.assignments.insert_one(assignment)
            return True
        except DuplicateKeyError:
            return False
