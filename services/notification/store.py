"""Notification's repository: contacts (private), deliveries with their outbox."""
from __future__ import annotations

from pymongo import ASCENDING


class NotificationRepository:
    def __init__(self, db):
        self.contacts = db["contacts"]
        self.deliveries = db["deliveries"]

    def ensure_indexes(self) -> None:
        self.deliveries.create_index([("code", ASCENDING)])
        self.deliveries.create_index("outbox.id", sparse=True)

    def save_contact(self, code: str, contact: dict, event_id: str) -> None:
        self.contacts.update_one({"_id": code}, {"$set": {**contact, "event_id": event_id}}, upsert=True)

    def contact(self, code: str) -> dict | None:
        return self.contacts.find_one({"_id": code})

    def delivery(self, delivery_id: str) -> dict | None:
        return self.deliveries.find_one({"_id": delivery_id}, {"outbox": 0})

    def attempt(self, delivery_id: str, base: dict) -> dict:
        """Count an attempt before sending, so a crash mid-send is visible."""
        return self.deliveries.find_one_and_update(
            {"_id": delivery_id}, {"$setOnInsert": {**base, "status": "pending"}, "$inc": {"attempts": 1}},
            upsert=True, return_document=True, projection={"outbox": 0})

    def finish(self, delivery_id: str, status: str, fields: dict, event_entry: dict) -> None:
        """Record the outcome and its event in one write."""
        self.deliveries.update_one({"_id": delivery_id},
                                   {"$set": {"status": status, **fields}, "$push": {"outbox": event_entry}})
