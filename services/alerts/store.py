"""Alerts' repository: the alerts (each with its outbox and its notices to email) and the signals
the consumed events leave (overdue dossiers, paused webhook subscriptions)."""
from __future__ import annotations

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from onestop.messaging.outbox import ensure_outbox_index, push_outbox, with_outbox
from services.alerts.domain import OPEN, RESOLVED

HIDDEN = {"outbox": 0, "outbox_pending": 0}
NOTICES = ("raised", "resolved")


class AlertsRepository:
    def __init__(self, db):
        self.alerts = db["alerts"]
        self.signals = db["signals"]

    def ensure_indexes(self) -> None:
        ensure_outbox_index(self.alerts)
        self.alerts.create_index([("state", ASCENDING), ("key", ASCENDING)])
        self.alerts.create_index("mail_pending", sparse=True)
        self.alerts.create_index([("raised_at", DESCENDING)])
        self.signals.create_index([("kind", ASCENDING), ("active", ASCENDING)])

    # Alerts

    def open_alerts(self) -> list[dict]:
        return list(self.alerts.find({"state": OPEN}, HIDDEN))

    def raise_alert(self, alert: dict, events: list, now) -> None:
        """The alert, its event and its email to send, in one write."""
        self.alerts.insert_one(with_outbox(alert, events, now))

    def mark(self, alert_ids: list, fields: dict) -> None:
        if alert_ids:
            self.alerts.update_many({"_id": {"$in": list(alert_ids)}, "state": OPEN}, {"$set": fields})

    def resolve(self, alert_id: str, fields: dict, events: list, now) -> dict | None:
        """Resolved (if still open), its event and its email to send, in one write."""
        update = push_outbox({"$set": {**fields, "state": RESOLVED}}, events, now)
        if self.alerts.update_one({"_id": alert_id, "state": OPEN}, update).modified_count:
            return self.alerts.find_one({"_id": alert_id}, HIDDEN)
        return None

    def listing(self, states: tuple, centers: tuple | None, limit: int) -> list[dict]:
        query = {"state": {"$in": list(states)}, **({"center": {"$in": list(centers)}} if centers is not None else {})}
        return list(self.alerts.find(query, HIDDEN).sort("raised_at", DESCENDING).limit(limit))

    # Notices to email

    def unsent(self) -> list[dict]:
        return list(self.alerts.find({"mail_pending": True}, HIDDEN).sort("raised_at", ASCENDING))

    def sent(self, alert_id: str, notice: str) -> None:
        self.alerts.update_one({"_id": alert_id}, {"$set": {f"notices.{notice}": "sent"}})
        doc = self.alerts.find_one({"_id": alert_id}, {"notices": 1})
        if all(doc["notices"].get(n) != "pending" for n in NOTICES):
            self.alerts.update_one({"_id": alert_id}, {"$set": {"mail_pending": False}})

    # Signals: what the consumed events say, newest first (an older event never undoes a newer one)

    def signal(self, signal_id: str, fields: dict, at: str, create: bool) -> None:
        """Set the signal if this event is newer than the one it holds; `create`: make it if missing."""
        if self.signals.update_one({"_id": signal_id, "at": {"$lt": at}}, {"$set": {**fields, "at": at}}).matched_count:
            return
        if create:
            try:
                self.signals.insert_one({"_id": signal_id, **fields, "at": at})
            except DuplicateKeyError:
                pass  # it holds a newer event already (or this one, redelivered)

    def active(self, kind: str) -> list[dict]:
        return list(self.signals.find({"kind": kind, "active": True}))

    def forget_signals(self, before: str) -> int:
        """Inactive signals older than `before` (ISO time) go: they only guarded against old events."""
        return self.signals.delete_many({"active": False, "at": {"$lt": before}}).deleted_count
