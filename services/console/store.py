"""The console's repository: its sessions, keyed by the SHA-256 of their id."""
from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING


class SessionRepository:
    def __init__(self, db):
        self.sessions = db["sessions"]

    def ensure_indexes(self) -> None:
        self.sessions.create_index([("expires_at", ASCENDING)])

    def add(self, record: dict) -> None:
        self.sessions.insert_one(record)

    def get(self, key: str) -> dict | None:
        return self.sessions.find_one({"_id": key})

    def seen(self, key: str, now: datetime) -> None:
        self.sessions.update_one({"_id": key}, {"$set": {"last_seen": now}})

    def delete(self, key: str) -> bool:
        """The session deleted (its cookie dead at once); False if it was gone already."""
        return self.sessions.delete_one({"_id": key}).deleted_count == 1

    def forget_expired(self, now: datetime) -> int:
        return self.sessions.delete_many({"expires_at": {"$lte": now}}).deleted_count
