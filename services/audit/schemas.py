"""What audit's HTTP API reads and answers, as its OpenAPI document shows it (services/audit/api.py).

Hashes are lowercase hex SHA-256; a tree's size counts leaves (docs/audit.md).
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from onestop.web.http import Answer

HASH = {"pattern": "^[0-9a-f]{64}$"}


class SignRequestSchema(Schema):
    """POST /api/v1/audit/checkpoints. Example: {"center": "hue-vyda"}"""

    center = fields.String(required=True, validate=validate.Length(min=1))


class OfLogSchema(Answer):
    """What every answer about a center's log begins with: the center, and its log's origin line."""

    center = fields.String(required=True)
    origin = fields.String(required=True, metadata={"example": "onestop.local/audit/hue-vyda"})


class CheckpointSchema(OfLogSchema):
    tree_size = fields.Integer(required=True)
    root_hash = fields.String(required=True, metadata=HASH)
    note = fields.String(required=True, metadata={"description": "the signed note (C2SP signed-note format)"})
    signed_at = fields.String(required=True, metadata={"format": "date-time"})


class ProofSchema(Answer):
    tree_size = fields.Integer(required=True)
    hashes = fields.List(fields.String(metadata=HASH), required=True)


class TimelineEntrySchema(Answer):
    seq = fields.Integer(required=True)
    center = fields.String(required=True)
    event_id = fields.String(required=True)
    type = fields.String(required=True)
    time = fields.String(required=True)
    recorded_at = fields.String(required=True)
    hash = fields.String(required=True)
    prev_hash = fields.String(required=True, allow_none=True)
    actor = fields.Raw(required=True)
    data = fields.Dict(required=True)
    leaf_index = fields.Integer(metadata={"description": "with ?proofs=true"})
    leaf = fields.String()
    leaf_hash = fields.String(allow_none=True)
    inclusion = fields.Nested(ProofSchema, allow_none=True)


class TimelineSchema(Answer):
    code = fields.String(required=True)
    entries = fields.List(fields.Nested(TimelineEntrySchema), required=True)
    checkpoints = fields.Dict(keys=fields.String(), values=fields.Nested(CheckpointSchema),
                              metadata={"description": "with ?proofs=true: each center's latest checkpoint"})


class VerdictSchema(Answer):
    center = fields.String(required=True)
    ok = fields.Boolean(required=True)
    entries = fields.Integer(required=True)
    first_break = fields.Raw(required=True, allow_none=True)
    checkpoint = fields.Raw(required=True, allow_none=True)


class VerifySchema(Answer):
    ok = fields.Boolean(required=True)
    centers = fields.List(fields.Nested(VerdictSchema), required=True)


class KeySchema(OfLogSchema):
    vkey = fields.String(required=True, metadata={"description": "the verifier key (signed-note format)"})
    public = fields.String(required=True)
    key_id = fields.String(required=True)
    status = fields.String(required=True)
    created = fields.String(required=True, allow_none=True)


class KeysSchema(Answer):
    keys = fields.List(fields.Nested(KeySchema), required=True)


class InclusionSchema(OfLogSchema):
    leaf_index = fields.Integer(required=True)
    leaf_hash = fields.String(required=True, metadata=HASH)
    tree_size = fields.Integer(required=True)
    hashes = fields.List(fields.String(metadata=HASH), required=True)


class ConsistencySchema(OfLogSchema):
    first = fields.Integer(required=True)
    second = fields.Integer(required=True)
    hashes = fields.List(fields.String(metadata=HASH), required=True)


class LeafSchema(Answer):
    leaf_index = fields.Integer(required=True)
    leaf = fields.String(required=True, metadata={"description": "the leaf's bytes, as text"})
    leaf_hash = fields.String(required=True, allow_none=True)


class EntriesSchema(OfLogSchema):
    entries = fields.List(fields.Nested(LeafSchema), required=True)
    next = fields.Integer(required=True, allow_none=True, metadata={"description": "the next page's start"})


class ReceiptProofSchema(OfLogSchema):
    leaf_index = fields.Integer(required=True)
    leaf_hash = fields.String(required=True, metadata=HASH)
    checkpoint = fields.Nested(CheckpointSchema, required=True, allow_none=True)
    inclusion = fields.Nested(ProofSchema, required=True, allow_none=True)
