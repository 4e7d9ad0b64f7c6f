"""The audit log's public contract: what a leaf is, and the events about the log itself.

Each center's audit log is a Merkle tree (RFC 9162) whose leaves are the
recorded events, one leaf per event, as **canonical JSON** (keys sorted at
every level, no whitespace, UTF-8): ``leaf_bytes``. Anyone holding an event
can compute its leaf hash, SHA-256(0x00 || leaf bytes), without asking the
log: intake prints it on the receipt of the ``dossier.received.v1`` it
publishes, notification puts it in the receipt email, and the audit log
proves its inclusion (docs/audit.md).

The events below are statements about the log, never entries in it (a
checkpoint recorded in the tree it signs would grow that tree for ever).
``audit.checkpoint.v1`` and ``audit.alarm.v1`` come from audit;
``audit.cosigned.v1`` and ``audit.inconsistency.v1`` from a witness
(examples/audit_witness.py), an independent process another agency may run.

    >>> leaf_bytes({"b": 1, "a": {"d": "Huế", "c": None}})
    b'{"a":{"c":null,"d":"Hu\\xe1\\xba\\xbf"},"b":1}'
"""
from __future__ import annotations

import hashlib

import orjson
from marshmallow import RAISE, Schema, fields, validate

from contracts.envelope import EventType

ABOUT_THE_LOG = "audit."
WITNESS_SOURCE = "witness/<the witness's name>"  # a witness is not the platform's: its own name, not a center  # the type prefix of the events about the log, which the log does not record
HEX = validate.Regexp(r"^[0-9a-f]{64}$", error="a SHA-256 hash in lowercase hex")


def leaf_bytes(event: dict) -> bytes:
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


def leaf_hash(event: dict) -> str:
    """The event's leaf hash in the audit log (RFC 9162: SHA-256 of 0x00 and the leaf), hex."""
    return hashlib.sha256(b"\x00" + leaf_bytes(event)).hexdigest()


def about_the_log(event_type: str) -> bool:
    return event_type.startswith(ABOUT_THE_LOG)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _center():
    return fields.String(required=True, metadata={"description": "center id", "example": "hue-vyda"})


def _origin():
    return fields.String(required=True, metadata={"description": "the log's name: AUDIT_ORIGIN/<center>",
                                                  "example": "onestop.local/audit/hue-vyda"})


def _size(description="leaves in the tree"):
    return fields.Integer(required=True, validate=validate.Range(min=0), metadata={"description": description,
                                                                                  "example": 42})


def _root(description="the tree's root hash (RFC 9162), hex"):
    return fields.String(required=True, validate=HEX, metadata={
        "description": description, "example": "a9f1fd9db1e4d17a3d7055d99aed14bc37eb0e3bf443598bb5334b5393757753"})


class CheckpointV1(_Strict):
    center = _center()
    origin = _origin()
    tree_size = _size()
    root_hash = _root()
    note = fields.String(required=True, metadata={
        "description": "the checkpoint as a C2SP signed note (tlog-checkpoint): origin, size and base64 root, an "
                       "empty line, one Ed25519 signature line per active key; verify it with the key of "
                       "GET /api/v1/audit/keys"})
    signed_at = fields.String(required=True, metadata={"example": "2026-02-13T02:15:00.000Z"})


class AlarmV1(_Strict):
    center = _center()
    origin = _origin()
    reason = fields.String(required=True, validate=validate.OneOf(["log_shrank", "fork", "consistency_proof_failed",
                                                                   "entry_altered", "log_damaged"]), metadata={
        "description": "why audit refused to sign: its store has fewer leaves than it signed before "
                       "(log_shrank), another root for a size it signed (fork), a tree that does not extend the "
                       "last one it signed (consistency_proof_failed), an entry whose content no longer gives its "
                       "leaf hash (entry_altered), entries missing (log_damaged)", "example": "log_shrank"})
    detail = fields.String(required=True, metadata={"example": "the store has 12 leaves; checkpoint 40 was signed"})
    signed_size = _size("the size of the last checkpoint audit signed")
    tree_size = _size("the size the store has now")


class CosignedV1(_Strict):
    center = _center()
    origin = _origin()
    tree_size = _size()
    root_hash = _root()
    witness = fields.String(required=True, metadata={"description": "the witness's key name",
                                                     "example": "witness.example.org"})
    cosigned_note = fields.String(required=True, metadata={
        "description": "the checkpoint's note with the witness's cosignature line (C2SP tlog-cosignature, "
                       "cosignature/v1) appended"})
    cosigned_at = fields.String(required=True, metadata={"example": "2026-02-13T02:15:00Z"})


class InconsistencyV1(_Strict):
    center = _center()
    origin = _origin()
    witness = fields.String(required=True, metadata={"example": "witness.example.org"})
    reason = fields.String(required=True, validate=validate.OneOf([
        "bad_signature", "log_shrank", "fork", "consistency_proof_failed", "no_consistency_proof"]), metadata={
        "example": "consistency_proof_failed"})
    detail = fields.String(required=True)
    cosigned_size = fields.Integer(required=True, allow_none=True, metadata={
        "description": "the last size the witness cosigned (null: none yet)"})
    cosigned_root_hash = fields.String(required=True, allow_none=True)
    tree_size = fields.Integer(required=True, allow_none=True, metadata={
        "description": "the size the new checkpoint claims (null: it could not be read)"})
    root_hash = fields.String(required=True, allow_none=True)


EVENTS = [
    EventType("audit.checkpoint.v1", CheckpointV1, "audit",
              "Audit signed a checkpoint of a center's log (at AUDIT_CHECKPOINT_INTERVAL when it grew, or on "
              "demand). Keep it: with it you can later prove any entry was in the log, and that the log never "
              "rewrote what it had.", about_dossier=False),
    EventType("audit.alarm.v1", AlarmV1, "audit",
              "Audit refused to sign a checkpoint: its store no longer extends the last checkpoint it signed "
              "(docs/audit.md, what to do).", about_dossier=False),
    EventType("audit.cosigned.v1", CosignedV1, "witness",
              "A witness checked a checkpoint against the last one it cosigned (a consistency proof) and "
              "cosigned it.", source=WITNESS_SOURCE, about_dossier=False),
    EventType("audit.inconsistency.v1", InconsistencyV1, "witness",
              "A witness found a checkpoint that does not extend the last one it cosigned: the log was "
              "rewritten, rolled back or forked.", source=WITNESS_SOURCE, about_dossier=False),
]
