"""Intake's repository: dossiers (with their outbox and lookup guard) and the daily code counters."""
from __future__ import annotations

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from onestop.messaging.outbox import ensure_outbox_index, push_outbox


class IntakeRepository:
    def __init__(self, db):
        self.dossiers = db["dossiers"]
        self.counters = db["counters"]

    def ensure_indexes(self) -> None:
        self.dossiers.create_index("idempotency_key", unique=True, sparse=True)
        self.dossiers.create_index([("center", ASCENDING), ("received_at", ASCENDING)])
        ensure_outbox_index(self.dossiers)
        self.dossiers.create_index("citizen.id_number", sparse=True)  # the citizen's access and erasure requests
        # The retention sweep's queue: a closed dossier has `retention_from` until its data is erased, so a
        # sweep costs what is due, not every dossier ever closed.
        self.dossiers.create_index("retention_from", sparse=True)

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

    def follow(self, code: str, event_id: str, *, seq: int | None, current: dict, facts: dict,
               entry: dict) -> bool:
        """Apply a lifecycle event once, in two writes that each stay right
        whatever the order of arrival or a crash between them:

        - its own facts and history entry, once per event id;
        - the state and current facts, only if the event's ``seq`` is above the
          stored one (a dossier stored before ``seq`` existed compares with its
          former ``status_rank``: received 0, routed 1, assigned 2).

        True if the event was new to this dossier.
        """
        update = {"$push": {"seen": event_id, "history": entry}}
        if facts:
            update["$set"] = facts
        result = self.dossiers.update_one({"_id": code, "seen": {"$ne": event_id}}, update)
        if seq is not None:  # second, so that the state never shows before its facts
            newer = {"$or": [{"seq": {"$lt": seq}}, {"seq": {"$exists": False}, "status_rank": {"$lt": seq}}]}
            self.dossiers.update_one({"_id": code, **newer}, {"$set": {**current, "seq": seq}})
        return result.modified_count == 1

    def rate(self, code: str, code_hash: str, rating: dict, events: list, now) -> bool:
        """Store the rating and queue its event in one conditional write: only a
        returned, unrated dossier with this rating code takes it, so of two
        concurrent ratings one wins."""
        result = self.dossiers.update_one(
            {"_id": code, "status": "returned", "rating": None, "rating_code_sha256": code_hash},
            push_outbox({"$set": {"rating": rating}}, events, now))
        return result.modified_count == 1

    def count_wrong_lookup(self, code: str, now, *, limit: int, stale_before) -> dict | None:
        """Count one wrong lookup code: the dossier's lookup guard after it, or None
        when `limit` wrong codes are counted already (locked: this one is not).

        Each branch is one conditional write, so concurrent wrong codes never count
        past `limit`: a count whose last wrong code is older than `stale_before`
        starts again at 1; else it goes up by one while it is below `limit`.
        """
        restarted = self._update_guard(code, {"lookup_guard.last_failure_at": {"$lte": stale_before}},
                                       {"$set": {"lookup_guard": {"failures": 1, "last_failure_at": now}}})
        if restarted is not None:
            return restarted
        below = {"$or": [{"lookup_guard.failures": {"$lt": limit}}, {"lookup_guard": {"$exists": False}}]}
        return self._update_guard(code, below, {"$inc": {"lookup_guard.failures": 1},
                                                "$set": {"lookup_guard.last_failure_at": now}})

    def _update_guard(self, code: str, condition: dict, update: dict) -> dict | None:
        doc = self.dossiers.find_one_and_update({"_id": code, **condition}, update, projection={"lookup_guard": 1},
                                                return_document=ReturnDocument.AFTER)
        return doc["lookup_guard"] if doc else None

    def lookup_guard(self, code: str) -> dict | None:
        return (self.dossiers.find_one({"_id": code}, {"lookup_guard": 1}) or {}).get("lookup_guard")

    def clear_wrong_lookups(self, code: str, *, limit: int, stale_before) -> None:
        """The right code was given: the count of wrong ones starts again, unless
        it is a lock still in force (one set after this request read the dossier:
        a lock is never lifted by the right code, only by time)."""
        open_ = {"$or": [{"lookup_guard.failures": {"$lt": limit}},
                         {"lookup_guard.last_failure_at": {"$lte": stale_before}}]}
        self.dossiers.update_one({"_id": code, **open_}, {"$unset": {"lookup_guard": ""}})

    def by_id_number(self, id_number: str, centers: list[str]) -> list[dict]:
        """The dossiers of these centers that still hold this ID number, oldest first."""
        return list(self.dossiers.find({"citizen.id_number": id_number, "center": {"$in": centers}},
                                       {"outbox": 0, "seen": 0}).sort("received_at", ASCENDING))

    def due_for_erasure(self, cutoff, limit: int) -> list[dict]:
        """Up to `limit` dossiers closed at or before `cutoff` that still hold the citizen's data."""
        return list(self.dossiers.find({"retention_from": {"$lte": cutoff}, "citizen": {"$exists": True}},
                                       {"outbox": 0, "seen": 0}).sort("retention_from", ASCENDING).limit(limit))

    def erase(self, code: str, update: dict, events: list, now) -> bool:
        """Apply an erasure and queue its event in one write, only while the dossier holds the
        citizen's data: of two erasures (the sweep and a request, a retry) one does it."""
        result = self.dossiers.update_one({"_id": code, "citizen": {"$exists": True}},
                                          push_outbox(update, events, now))
        return result.modified_count == 1
