"""Webhooks' repository: subscriptions (with their outbox) and one delivery per event and subscription."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from contracts.webhooks import REASONS as STOP_REASONS
from onestop.messaging.outbox import ensure_outbox_index, push_outbox
from services.webhooks.domain import ACTIVE, CANCELLED, DELETED, DELIVERED, DISABLED, PAUSED, PENDING

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
HIDDEN = {"outbox": 0, "outbox_pending": 0}


class WebhooksRepository:
    def __init__(self, db):
        self.subscriptions = db["subscriptions"]
        self.deliveries = db["deliveries"]

    def ensure_indexes(self) -> None:
        ensure_outbox_index(self.subscriptions)
        self.deliveries.create_index([("status", ASCENDING), ("subscription_id", ASCENDING)])
        self.deliveries.create_index([("subscription_id", ASCENDING), ("seq", ASCENDING)])
        self.deliveries.create_index([("subscription_id", ASCENDING), ("status", ASCENDING), ("order_time", ASCENDING),
                                      ("seq", ASCENDING)])
        self.deliveries.create_index([("subscription_id", ASCENDING), ("event_time", ASCENDING)])
        self.deliveries.create_index([("status", ASCENDING), ("closed_at", ASCENDING)])

    # Subscriptions

    def add(self, subscription: dict) -> None:
        self.subscriptions.insert_one(subscription)

    def get(self, sub_id: str) -> dict | None:
        doc = self.subscriptions.find_one({"_id": sub_id}, HIDDEN)
        return None if doc is None or doc["state"] == DELETED else doc

    def live(self) -> list[dict]:
        """Every subscription not deleted (events are queued for paused and disabled ones too)."""
        return list(self.subscriptions.find({"state": {"$ne": DELETED}}, HIDDEN).sort("_id", ASCENDING))

    def stopped(self) -> list[dict]:
        """The subscriptions the platform stopped (not those an operator or their owner paused)."""
        return list(self.subscriptions.find({"state": {"$in": [PAUSED, DISABLED]},
                                             "state_reason": {"$in": list(STOP_REASONS)}},
                                            {"centers": 1, "state_reason": 1}))

    def change(self, sub_id: str, version: int, fields: dict, events: list = (), now=None) -> dict | None:
        """Set `fields` if the subscription is still at `version`; the new document, or None."""
        update = {"$set": {**fields}, "$inc": {"version": 1}}
        if events:
            update = push_outbox(update, list(events), now)
        return self.subscriptions.find_one_and_update(
            {"_id": sub_id, "version": version, "state": {"$ne": DELETED}}, update,
            return_document=ReturnDocument.AFTER, projection=HIDDEN)

    def next_seq(self, sub_id: str) -> int:
        doc = self.subscriptions.find_one_and_update({"_id": sub_id}, {"$inc": {"seq": 1}},
                                                     return_document=ReturnDocument.AFTER, projection={"seq": 1})
        return doc["seq"]

    # The dispatcher's lease: one process delivers a subscription at a time, in order.

    def due(self, now: datetime, limit: int, centers: list[str], owner: str = "") -> list[str]:
        """Active subscriptions of any of these centers with events waiting, not in backoff, not leased
        (or leased by `owner`: the same worker before a crash)."""
        waiting = self.deliveries.distinct("subscription_id", {"status": PENDING})
        if not waiting:
            return []
        docs = self.subscriptions.find({"_id": {"$in": waiting}, "state": ACTIVE, "centers": {"$in": centers},
                                        "retry_at": {"$lte": now},
                                        "$or": [{"lease_until": {"$lt": now}}, {"lease_owner": owner}]},
                                       {"_id": 1}).limit(limit)
        return [d["_id"] for d in docs]

    def lease(self, sub_id: str, owner: str, now: datetime, seconds: float) -> dict | None:
        """Take (or, for its holder, renew) the right to deliver; the subscription, or None."""
        return self.subscriptions.find_one_and_update(
            {"_id": sub_id, "state": ACTIVE, "$or": [{"lease_until": {"$lt": now}}, {"lease_owner": owner}]},
            {"$set": {"lease_until": now + timedelta(seconds=seconds), "lease_owner": owner}},
            return_document=ReturnDocument.AFTER, projection=HIDDEN)

    def release(self, sub_id: str, owner: str, retry_at: datetime | None = None) -> None:
        fields = {"lease_until": EPOCH, "lease_owner": None, **({"retry_at": retry_at} if retry_at else {})}
        self.subscriptions.update_one({"_id": sub_id, "lease_owner": owner}, {"$set": fields})

    # Deliveries

    def has_delivery(self, delivery_id: str) -> bool:
        return self.deliveries.count_documents({"_id": delivery_id}) > 0

    def queue(self, delivery: dict) -> bool:
        """False when it was queued already (a redelivered event)."""
        try:
            self.deliveries.insert_one(delivery)
            return True
        except DuplicateKeyError:
            return False

    def head(self, sub_id: str) -> dict | None:
        """The subscription's oldest undelivered event, delivered before any later one: by the event's
        time (a replay's: when it was asked for), then by arrival (``seq``)."""
        docs = self.deliveries.find({"subscription_id": sub_id, "status": PENDING}).sort(
            [("order_time", ASCENDING), ("seq", ASCENDING)]).limit(1)
        return next(iter(docs), None)

    def attempted(self, delivery_id: str, attempt: dict, fields: dict) -> None:
        """Record one attempt (and, when it succeeded, that the event is delivered)."""
        self.deliveries.update_one({"_id": delivery_id}, {"$set": fields, "$inc": {"attempts": 1},
                                                          "$push": {"history": {"$each": [attempt]}}})

    def restart_schedules(self, sub_id: str) -> None:
        """A resumed subscription's backlog starts its retry schedule over."""
        self.deliveries.update_many({"subscription_id": sub_id, "status": PENDING}, {"$set": {"failures": 0}})

    def forget_delivered(self, before: datetime) -> int:
        """Events delivered (or given up with their deleted subscription) before `before` go;
        undelivered ones never do."""
        return self.deliveries.delete_many({"status": {"$in": [DELIVERED, CANCELLED]},
                                            "closed_at": {"$lt": before}}).deleted_count

    def cancel(self, sub_id: str, now: datetime) -> None:
        """A deleted subscription's backlog is given up (its owner's choice)."""
        self.deliveries.update_many({"subscription_id": sub_id, "status": PENDING},
                                    {"$set": {"status": CANCELLED, "closed_at": now}})

    def backlog(self, sub_id: str) -> int:
        return self.deliveries.count_documents({"subscription_id": sub_id, "status": PENDING})

    def delivery(self, delivery_id: str) -> dict | None:
        return self.deliveries.find_one({"_id": delivery_id})

    def listing(self, sub_id: str, status: str | None, skip: int, limit: int) -> tuple[int, list]:
        query = {"subscription_id": sub_id, **({"status": status} if status else {})}
        total = self.deliveries.count_documents(query)
        docs = self.deliveries.find(query, {"payload": 0}).sort("seq", DESCENDING).skip(skip).limit(limit)
        return total, list(docs)

    def originals_between(self, sub_id: str, start: datetime, end: datetime):
        """The events first queued for the subscription whose time is in [start, end), oldest first."""
        return self.deliveries.find({"subscription_id": sub_id, "replay_of": None,
                                     "event_time": {"$gte": start, "$lt": end}}).sort("seq", ASCENDING)

