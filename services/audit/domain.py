"""The hash chain: each entry's hash covers its content and the previous hash.

Changing, removing or reordering any entry breaks every hash after it, and
`verify_chain` names the first entry where that happens.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

GENESIS = "0" * 64
HASHED = ("center", "seq", "event_id", "type", "subject", "time", "recorded_at", "event", "prev_hash")


def entry_hash(entry: dict) -> str:
    """sha256 over the canonical JSON (sorted keys) of the hashed fields."""
    content = {key: entry[key] for key in HASHED}
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def chain_entry(center: str, seq: int, prev_hash: str, event: dict, recorded_at: str) -> dict:
    entry = {"center": center, "seq": seq, "event_id": event["id"], "type": event["type"],
             "subject": event["subject"], "time": event["time"], "recorded_at": recorded_at,
             "event": event, "prev_hash": prev_hash}
    entry["hash"] = entry_hash(entry)
    return entry


@dataclass(frozen=True)
class Verdict:
    center: str
    ok: bool
    entries: int
    first_break: dict | None = None

    def to_dict(self) -> dict:
        return {"center": self.center, "ok": self.ok, "entries": self.entries, "first_break": self.first_break}


def verify_chain(center: str, entries, head: dict | None = None) -> Verdict:
    """Walk entries in seq order; stop at the first that does not fit.

    ``head`` is the center's recorded head ({"seq", "hash"}), kept apart from
    the entries: without it, cutting the newest entries would leave a shorter
    chain that still verifies.
    """
    prev, count = GENESIS, 0
    for expected_seq, entry in enumerate(entries, start=1):
        count = expected_seq
        problem = None
        if entry.get("seq") != expected_seq:
            problem = f"sequence gap: expected {expected_seq}, found {entry.get('seq')}"
        elif entry.get("prev_hash") != prev:
            problem = "prev_hash does not match the previous entry's hash"
        elif entry_hash(entry) != entry.get("hash"):
            problem = "hash does not match the entry's content"
        if problem:
            return Verdict(center, False, count, {"seq": expected_seq, "event_id": entry.get("event_id"),
                                                  "reason": problem})
        prev = entry["hash"]
    if head and head["seq"] > count:
        return Verdict(center, False, count, {"seq": count + 1, "event_id": None,
                                              "reason": f"the chain ends at #{count} but its head is #{head['seq']}: entries were removed"})
    return Verdict(center, True, count)
