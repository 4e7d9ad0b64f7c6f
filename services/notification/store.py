"""Notification's repository: contacts (private), deliveries with their outbox."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from onestop.messaging.outbox import ensure_outbox_index, push_outbox

LEASE = 25.0  # seconds: longer than SMTP_TIMEOUT + SMS_TIMEOUT (10 s each by default), and far shorter
#               than the retry budget, so a crash mid-send does not block the retries
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class NotificationRepository:
    def __init__(self, db):
        self.contacts = db["contacts"]
        self.deliveries = db["deliveries"]
        self.recipients = db["recipient_sends"]  # per address hash: the recent sends (limits.py)

    def ensure_indexes(self) -> None:
        self.deliveries.create_index([("code", ASCENDING)])
        ensure_outbox_index(self.deliveries)
        self.deliveries.create_index([("status", ASCENDING), ("center", ASCENDING)])  # the held messages

    def save_contact(self, code: str, contact: dict, event_id: str) -> bool:
        """Keep the contact, in one conditional write; False, the stored one untouched, if the code's
        contact was erased (a contact event redelivered late does not bring it back) or is another
        dossier's (another ``dossier_id``: the code issued twice). A stored contact without a
        ``dossier_id`` (kept before it existed) is taken over."""
        query = {"_id": code, "erased_at": {"$exists": False}}
        if contact.get("dossier_id"):
            query["$or"] = [{"dossier_id": contact["dossier_id"]}, {"dossier_id": {"$exists": False}}]
        try:
            self.contacts.update_one(query, {"$set": {**contact, "event_id": event_id}}, upsert=True)
        except DuplicateKeyError:  # the code's contact exists but did not match: erased, or another dossier's
            return False
        return True

    def contact(self, code: str) -> dict | None:
        return self.contacts.find_one({"_id": code})

    def delivery(self, delivery_id: str) -> dict | None:
        return self.deliveries.find_one({"_id": delivery_id}, {"outbox": 0})

    def claim(self, delivery_id: str, base: dict, now: datetime, lease: float = LEASE,
              holder: tuple[str, str] | None = None) -> dict | None:
        """Take the right to send, for `lease` seconds, and count the attempt.

        Two copies of one event handled at once (a redelivery) cannot both send:
        the second finds the delivery leased or finished and gets None. With a
        `holder` (address, boot: onestop.dependencies.LeaseHolder), a lease taken at
        the same address under another boot, by a process that died mid-send, is
        taken back at once rather than after `lease` seconds.
        """
        free = {"lease_until": {"$lt": now}}
        taken = {"lease_until": now + timedelta(seconds=lease)}
        if holder is not None:
            address, boot = holder
            free = {"$or": [free, {"lease_holder": address, "lease_boot": {"$ne": boot}}]}
            taken |= {"lease_holder": address, "lease_boot": boot}
        try:
            return self.deliveries.find_one_and_update(
                {"_id": delivery_id, "status": "pending", **free},
                {"$setOnInsert": base, "$set": taken, "$inc": {"attempts": 1}},
                upsert=True, return_document=ReturnDocument.AFTER, projection={"outbox": 0})
        except DuplicateKeyError:
            return None

    def release(self, delivery_id: str, error: str) -> None:
        """A transient failure: let the next attempt claim it at once."""
        self.deliveries.update_one({"_id": delivery_id, "status": "pending"},
                                   {"$set": {"lease_until": EPOCH, "last_error": error}})

    # Per-address limits and held messages (services/notification/limits.py, held.py).

    def recipient_log(self, key: str) -> tuple[int, list]:
        """(version, recent sends) of one address; (0, []) if it has none."""
        doc = self.recipients.find_one({"_id": key}) or {}
        return doc.get("version", 0), doc.get("sends", [])

    def save_recipient_log(self, key: str, version: int, sends: list, now: datetime) -> bool:
        """Write the address's sends if nobody did since `version` was read."""
        try:
            result = self.recipients.update_one(
                {"_id": key, "version": version}, {"$set": {"sends": sends, "updated_at": now},
                                                   "$inc": {"version": 1}}, upsert=version == 0)
        except DuplicateKeyError:  # another worker wrote the address's first send meanwhile
            return False
        return result.matched_count == 1 or result.upserted_id is not None

    def hold(self, delivery_id: str, fields: dict) -> None:
        """The claimed delivery is held: not sent, and no longer leased."""
        self.deliveries.update_one({"_id": delivery_id, "status": "pending"},
                                   {"$set": {"status": "held", "lease_until": EPOCH, **fields}})

    def held(self, centers: list, skip: int, limit: int, now: datetime) -> tuple[int, list]:
        """The held messages of these centers, oldest first, and their total."""
        query = {"center": {"$in": centers}, **_releasable(now)}
        total = self.deliveries.count_documents(query)
        docs = self.deliveries.find(query, {"outbox": 0}).sort("held_at", ASCENDING).skip(skip).limit(limit)
        return total, list(docs)

    def held_counts(self, now: datetime) -> dict[str, int]:
        """How many messages each center has held now (for onestop_messages_held)."""
        counts: dict[str, int] = {}
        for doc in self.deliveries.find(_releasable(now), {"center": 1, "_id": 0}):
            counts[doc.get("center")] = counts.get(doc.get("center"), 0) + 1
        return counts

    def take_held(self, delivery_id: str, actor: str, now: datetime) -> dict | None:
        """Held -> pending, free to claim, in one conditional write: of two releases one wins."""
        return self.deliveries.find_one_and_update(
            {"_id": delivery_id, **_releasable(now)},
            {"$set": {"status": "pending", "lease_until": EPOCH, "released_at": now, "released_by": actor}},
            return_document=ReturnDocument.AFTER, projection={"outbox": 0})

    def rehold(self, delivery_id: str, error: str) -> None:
        """A released message the provider did not take now: held again (unless being sent)."""
        self.deliveries.update_one({"_id": delivery_id, "status": "pending", "lease_until": EPOCH},
                                   {"$set": {"status": "held", "last_error": error}})

    def forget_held_message(self, delivery_id: str) -> None:
        """Once sent (or failed for good), the copy of the message and its address go."""
        self.deliveries.update_one({"_id": delivery_id, "status": {"$in": ["sent", "failed"]}},
                                   {"$unset": {"held_message": ""}})

    def finish(self, delivery_id: str, status: str, fields: dict, event: dict, now: datetime) -> None:
        """Record the outcome and its event in one write."""
        self.deliveries.update_one({"_id": delivery_id}, push_outbox(
            {"$set": {"status": status, "lease_until": EPOCH, **fields}}, [event], now))

    def forget(self, code: str, erasure: dict) -> None:
        """Erase what is kept of a citizen for a dossier: the contact becomes the record of its erasure,
        and the citizen's deliveries lose their address and the providers' texts (which may hold it)."""
        self.contacts.replace_one({"_id": code}, {"_id": code, **erasure}, upsert=True)
        self.deliveries.update_many({"code": code, "staff_id": {"$exists": False}},
                                    {"$unset": {"recipient": "", "error": "", "last_error": ""}})

    def held_for(self, codes: list[str], centers: list[str]) -> dict:
        """The contacts and the citizen's deliveries of these dossiers in these centers (an access request)."""
        scope = {"_id": {"$in": codes}, "center": {"$in": centers}}
        contacts = list(self.contacts.find(scope))
        deliveries = list(self.deliveries.find({"code": {"$in": codes}, "center": {"$in": centers},
                                                "staff_id": {"$exists": False}},
                                               {"outbox": 0, "outbox_pending": 0, "lease_until": 0}).sort("_id", ASCENDING))
        return {"contacts": contacts, "deliveries": deliveries}

def _releasable(now: datetime) -> dict:
    """Held, or released by a worker that died before it finished: more than a lease ago,
    and no lease left (a release under way is neither)."""
    return {"$or": [{"status": "held"},
                    {"status": "pending", "released_at": {"$lt": now - timedelta(seconds=LEASE)},
                     "lease_until": {"$lt": now}}]}
