"""The hash chain: each entry's hash covers its content and the previous hash.

Changing, removing or reordering any entry breaks every hash after it, and
`verify_chain` names the first entry where that happens. The chain alone
cannot see a rewrite by someone who recomputes every hash after it, or a cut
tail with a lowered head: the same walk also rebuilds the Merkle tree
(services/audit/merkle.py) and compares it with the last checkpoint signed,
whose copy lives outside the database.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

from contracts.audit import leaf_bytes
from services.audit.merkle import Frontier, leaf_hash

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
    checkpoint: int | None = None  # the size of the signed checkpoint the tree was compared with

    def to_dict(self) -> dict:
        return {"center": self.center, "ok": self.ok, "entries": self.entries, "first_break": self.first_break,
                "checkpoint": self.checkpoint}


def verify_chain(center: str, entries, head: dict | None = None, signed: dict | None = None) -> Verdict:
    """Walk entries in seq order; stop at the first that does not fit.

    ``head`` is the center's recorded head ({"seq", "hash"}), kept apart from
    the entries: without it, cutting the newest entries would leave a shorter
    chain that still verifies. ``signed`` is the last checkpoint signed
    ({"tree_size", "root_hash"}): the tree of its first entries must have its root.
    """
    prev, count, frontier = GENESIS, 0, Frontier()
    for expected_seq, entry in enumerate(entries, start=1):
        count = expected_seq
        problem = _misfit(entry, expected_seq, prev, frontier)
        if problem is None and signed and expected_seq == signed["tree_size"] \
                and frontier.root().hex() != signed["root_hash"]:
            problem = f"the tree of the first {expected_seq} entries does not have the root of checkpoint {expected_seq}"
        if problem:
            return Verdict(center, False, count, {"seq": expected_seq, "event_id": entry.get("event_id"),
                                                  "reason": problem})
        prev = entry["hash"]
    for kept, what in ((head and head["seq"], "head"), (signed and signed["tree_size"], "last signed checkpoint")):
        if kept and kept > count:
            return Verdict(center, False, count, {"seq": count + 1, "event_id": None,
                                                  "reason": f"the log ends at #{count} but its {what} is #{kept}: "
                                                            "entries were removed"})
    return Verdict(center, True, count, checkpoint=signed["tree_size"] if signed else None)


def _misfit(entry: dict, expected_seq: int, prev: str, frontier: Frontier) -> str | None:
    """Why the entry does not belong at `expected_seq`, or None; pushes its leaf on the frontier."""
    if entry.get("seq") != expected_seq:
        return f"sequence gap: expected {expected_seq}, found {entry.get('seq')}"
    if entry.get("prev_hash") != prev:
        return "prev_hash does not match the previous entry's hash"
    if entry_hash(entry) != entry.get("hash"):
        return "hash does not match the entry's content"
    leaf = leaf_hash(leaf_bytes(entry["event"]))
    if "leaf_hash" in entry and entry["leaf_hash"] != leaf.hex():
        return "leaf_hash does not match the entry's event"
    nodes = [n.hex() for n in frontier.push(leaf)]
    if "nodes" in entry and entry["nodes"] != nodes:
        return "the tree's node hashes kept with the entry do not match the entries before it"
    return None
