"""Audit's use cases beyond recording: signing checkpoints, and the proofs an outsider checks.

Signing is where the log's promise is kept: audit never signs a checkpoint
that does not extend the last one it signed (the checkpoints file outside the
database, or the database's own, whichever is newer). It checks that with the
same consistency proof a witness asks for, and recomputes every new leaf from
its entry's content, so a store that was emptied, rolled back, cut or
rewritten gets an alarm instead of a signature (docs/audit.md).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from contracts import make_event
from contracts.audit import leaf_bytes
from onestop.errors import Conflict, InvalidInput, NotFound
from onestop.timestamps import iso
from services.audit.merkle import (EMPTY_ROOT, Frontier, ProofError, consistency_proof, inclusion_proof, leaf_hash,
                                   subtree, verify_consistency)
from services.audit.notes import Checkpoint, NoteError, open_checkpoint, sign_checkpoint
from services.audit.store import LogDamaged

PAGE_LIMIT = 1000
MAX_COUNT = 10**15  # leaves: far beyond any center's log, well within 64 bits
VERIFIED_KEPT = 1000  # checked notes remembered (a few a center: the file's last, the store's last)
PAUSE_EVERY = 100  # entries recomputed between two pauses of a signature (about 10 ms of work)
SYSTEM = {"id": "audit", "role": "system"}


class Refused(Conflict):
    """Audit will not sign: the store does not extend the last checkpoint signed."""

    def __init__(self, center: str, reason: str, detail: str, signed_size: int, tree_size: int):
        super().__init__(f"audit refuses to sign a checkpoint of {center}: {detail}", error="log_inconsistent",
                         reason=reason, signed_size=signed_size, tree_size=tree_size)
        self.center, self.reason, self.detail = center, reason, detail
        self.signed_size, self.tree_size = signed_size, tree_size


@dataclass
class Log:
    """What signing needs besides the store: the log's names, the keys and the checkpoints file."""

    origin_prefix: str
    keyring: Callable  # () -> services.audit.keys.KeyRing, the keys file read afresh (a rotation needs no restart)
    ledger: object  # services.audit.ledger.Ledger
    _verified: set = field(default_factory=set, repr=False)  # notes whose signature checked out once

    def origin(self, center: str) -> str:
        return f"{self.origin_prefix}/{center}"

    def last_signed(self, center: str, repo) -> dict | None:
        """The newest checkpoint signed for `center`: the file's, or the store's if newer and
        signed by one of our keys (a row anyone could write proves nothing)."""
        candidates = [c for c in (self.ledger.last(center), repo.latest_checkpoint(center)) if c]
        trusted = [c for c in candidates if self._signed(c)]
        return max(trusted, key=lambda c: c["tree_size"], default=None)

    def _signed(self, checkpoint: dict) -> bool:
        """Whether one of our keys signed it; a note checked once is not read, nor the keys file, again
        (a retired key still verifies what it signed, so the answer cannot change)."""
        if checkpoint["note"] in self._verified:
            return True
        try:
            open_checkpoint(checkpoint["note"], self.keyring().verifiers(checkpoint["origin"]))
        except NoteError:
            return False
        if len(self._verified) > VERIFIED_KEPT:
            self._verified.clear()
        self._verified.add(checkpoint["note"])
        return True


def _damaged(center: str, exc: LogDamaged, signed: dict | None, size: int) -> Refused:
    return Refused(center, "log_damaged", str(exc), signed["tree_size"] if signed else 0, size)


def sign(center: str, *, repo, log: Log, now, pause=lambda: None) -> tuple[dict, bool] | None:
    """Sign a checkpoint of `center`'s log if it grew: (checkpoint, True); the last one if it
    did not: (checkpoint, False); None for a log with no entries and no past. Raises Refused.

    `pause()` is called every PAUSE_EVERY entries recomputed: the service passes one that lets
    its other work run (the entries of a minute at the national peak take a while to re-read)."""
    size, signed = repo.size(center), log.last_signed(center, repo)
    if size == 0 and signed is None:
        return None
    node = repo.node_reader(center)
    try:
        root = subtree(0, size, node) if size else EMPTY_ROOT
        if signed:
            _extends(center, signed, size, root, node)
        _recompute(center, repo, node, signed["tree_size"] if signed else 0, size, root, pause)
    except LogDamaged as exc:
        raise _damaged(center, exc, signed, size) from None
    if signed and signed["tree_size"] == size:
        if repo.save_checkpoint(signed, _event(signed)):  # signed, but a crash kept it from the store
            return signed, True
        return signed, False
    origin = log.origin(center)
    checkpoint = {"center": center, "origin": origin, "tree_size": size, "root_hash": root.hex(),
                  "note": sign_checkpoint(Checkpoint(origin, size, root), log.keyring().active),
                  "signed_at": iso(now)}
    log.ledger.append(checkpoint)  # outside the store first: never signed without a trace
    repo.save_checkpoint(checkpoint, _event(checkpoint))
    return checkpoint, True


def _event(checkpoint: dict) -> dict:
    return make_event("audit.checkpoint.v1", center=checkpoint["center"], subject=checkpoint["origin"],
                      actor=SYSTEM, data=checkpoint)


def _extends(center: str, signed: dict, size: int, root: bytes, node) -> None:
    """Refused unless the tree of `size` leaves and `root` extends the signed checkpoint."""
    old_size, old_root = signed["tree_size"], bytes.fromhex(signed["root_hash"])
    if size < old_size:
        raise Refused(center, "log_shrank", f"the store has {size} leaves; checkpoint {old_size} was signed",
                      old_size, size)
    if size == old_size:
        if root != old_root:
            raise Refused(center, "fork", f"the store's root for size {size} is not the one signed", old_size, size)
        return
    if not verify_consistency(old_size, size, consistency_proof(old_size, size, node), old_root, root):
        raise Refused(center, "consistency_proof_failed",
                      f"the tree of {size} leaves does not extend checkpoint {old_size}", old_size, size)


def _recompute(center: str, repo, node, start: int, size: int, root: bytes, pause) -> None:
    """Each leaf since `start` recomputed from its entry's content, and the root from them."""
    frontier = Frontier.at(start, node)
    for count, entry in enumerate(repo.leaves(center, start, size - start) if size > start else (), start=1):
        if count % PAUSE_EVERY == 0:
            pause()
        if leaf_hash(leaf_bytes(entry["event"])).hex() != entry.get("leaf_hash"):
            raise Refused(center, "entry_altered", f"entry #{entry['seq']} no longer gives its leaf hash",
                          start, size)
        frontier.push(bytes.fromhex(entry["leaf_hash"]))
    if frontier.size != size or frontier.root() != root:
        raise Refused(center, "log_damaged", f"the entries from #{start + 1} to #{size} do not give the tree's root",
                      start, size)


def alarm(refused: Refused, log: Log) -> tuple[dict, dict]:
    """The alarm for a refusal, and its event."""
    body = {"center": refused.center, "origin": log.origin(refused.center), "reason": refused.reason,
            "detail": refused.detail, "signed_size": refused.signed_size, "tree_size": refused.tree_size}
    return body, make_event("audit.alarm.v1", center=refused.center, subject=body["origin"], actor=SYSTEM,
                            data=body)


# Proofs.

def _count(args, name: str, default=None, minimum: int = 0) -> int:
    """A leaf index or a tree size from the query: ASCII digits (str.isdigit also takes '²'), and at most
    MAX_COUNT, which the store's 64-bit integers hold."""
    text = args.get(name)
    if text is None or text == "":
        if default is None:
            raise InvalidInput([{"field": name, "reason": "required"}])
        return default
    if not (text.isascii() and text.isdigit()) or not minimum <= int(text) <= MAX_COUNT:
        raise InvalidInput([{"field": name, "reason": f"a whole number from {minimum} to {MAX_COUNT}"}])
    return int(text)


def _tree_size(center: str, args, repo, log: Log) -> int:
    """?tree_size=, by default that of the latest checkpoint; never beyond the store's tree."""
    latest = log.last_signed(center, repo)
    size = _count(args, "tree_size", latest["tree_size"] if latest else None, minimum=1)
    have = repo.size(center)
    if size > have:
        raise InvalidInput([{"field": "tree_size", "reason": f"the {center} log has {have} leaves"}])
    return size


def _hexes(hashes) -> list[str]:
    return [h.hex() for h in hashes]


def _proved(center: str, make):
    try:
        return make()
    except LogDamaged as exc:
        raise Conflict(str(exc), error="log_damaged") from None
    except ProofError as exc:
        raise InvalidInput([{"field": "tree_size", "reason": str(exc)}]) from None


def inclusion(center: str, args, *, repo, log: Log) -> dict:
    """An inclusion proof of one leaf (?leaf_index= or ?leaf_hash=) in the tree of ?tree_size=."""
    if args.get("leaf_hash"):
        entry = repo.by_leaf_hash(args["leaf_hash"].strip().lower())
        if not entry or entry["center"] != center:
            raise NotFound("No such leaf in this center's log.", fields=[{"field": "leaf_hash", "reason": "unknown"}])
        index = entry["seq"] - 1
    else:
        index = _count(args, "leaf_index")
    size = _tree_size(center, args, repo, log)
    if index >= size:
        raise InvalidInput([{"field": "leaf_index", "reason": f"not in a tree of {size} leaves"}])
    node = repo.node_reader(center)
    hashes = _proved(center, lambda: inclusion_proof(index, size, node))
    return {"center": center, "origin": log.origin(center), "leaf_index": index,
            "leaf_hash": node(0, index).hex(), "tree_size": size, "hashes": _hexes(hashes)}


def consistency(center: str, args, *, repo, log: Log) -> dict:
    first, second = _count(args, "first", minimum=1), _count(args, "second", minimum=1)
    have = repo.size(center)
    if first > second or second > have:
        raise InvalidInput([{"field": "second", "reason": f"need first <= second <= {have} (the log's size)"}])
    node = repo.node_reader(center)
    hashes = _proved(center, lambda: consistency_proof(first, second, node))
    return {"center": center, "origin": log.origin(center), "first": first, "second": second,
            "hashes": _hexes(hashes)}


def _proof_against(center: str, index: int, checkpoint: dict | None, node):
    """{"tree_size", "hashes"} of leaf `index` in the checkpoint's tree; None if it is newer."""
    if not checkpoint or index >= checkpoint["tree_size"]:
        return None
    size = checkpoint["tree_size"]
    return {"tree_size": size, "hashes": _hexes(_proved(center, lambda: inclusion_proof(index, size, node)))}


def leaf_view(entry: dict) -> dict:
    return {"leaf_index": entry["seq"] - 1, "leaf": leaf_bytes(entry["event"]).decode(),
            "leaf_hash": entry.get("leaf_hash")}


def with_proofs(entries: list[dict], *, repo, log: Log) -> tuple[list[dict], dict]:
    """Each entry's leaf and its inclusion in its center's latest checkpoint, and those checkpoints."""
    checkpoints = {c: log.last_signed(c, repo) for c in sorted({e["center"] for e in entries})}
    nodes = {c: repo.node_reader(c) for c in checkpoints}
    proved = [{**leaf_view(e), "inclusion": _proof_against(e["center"], e["seq"] - 1, checkpoints[e["center"]],
                                                           nodes[e["center"]])} for e in entries]
    return proved, {c: cp for c, cp in checkpoints.items() if cp}


def page(center: str, args, *, repo, log: Log) -> dict:
    start, limit = _count(args, "start", 0), _count(args, "limit", PAGE_LIMIT, minimum=1)
    if limit > PAGE_LIMIT:
        raise InvalidInput([{"field": "limit", "reason": f"at most {PAGE_LIMIT}"}])
    entries = list(repo.leaves(center, start, limit))
    return {"center": center, "origin": log.origin(center), "entries": [leaf_view(e) for e in entries],
            "next": start + limit if len(entries) == limit else None}


def receipt(leaf: str, *, repo, log: Log) -> dict:
    """What a citizen's receipt hash proves: where the leaf is, and its inclusion in the latest checkpoint."""
    entry = repo.by_leaf_hash(leaf.strip().lower())
    if not entry:
        raise NotFound("No such leaf in the audit log (yet: audit records an event within seconds).",
                       fields=[{"field": "leaf_hash", "reason": "unknown"}])
    center = entry["center"]
    checkpoint = log.last_signed(center, repo)
    return {"center": center, "origin": log.origin(center), "leaf_index": entry["seq"] - 1,
            "leaf_hash": entry["leaf_hash"], "checkpoint": checkpoint,
            "inclusion": _proof_against(center, entry["seq"] - 1, checkpoint, repo.node_reader(center))}
