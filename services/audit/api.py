"""Audit's HTTP API as OpenAPI describes it: its routes, what each reads and answers
(onestop.web.openapi builds the document; the rows of onestop.web.access say who may call)."""
from __future__ import annotations

from onestop.web.health import HealthSchema
from onestop.web.openapi import METRICS, OPENAPI, Route, documented, query
from services.audit import schemas as s
from services.audit.handlers import MAX_COUNT, PAGE_LIMIT

CENTER = query("center", {"type": "string", "minLength": 1, "example": "hue-vyda"}, "the center's log", required=True)
COUNT = {"type": "integer", "minimum": 0, "maximum": MAX_COUNT}
SIZE = {"type": "integer", "minimum": 1, "maximum": MAX_COUNT}
RATE = (429,)  # every audit endpoint is rate-limited per client address (AUDIT_RATE_LIMIT)
NAMED = RATE + (404,)  # a center audit does not serve

ROUTES = (
    Route("GET", "/api/v1/audit/dossiers/<code>", answers={200: s.TimelineSchema}, errors=RATE,
          params=(query("proofs", {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]},
                        "true: each entry's leaf and inclusion proof in its center's latest checkpoint"),)),
    Route("GET", "/api/v1/audit/verify", answers={200: s.VerifySchema}, errors=RATE,
          params=(query("center", {"type": "string"}, "one center (default: every center of the token)"),)),
    Route("GET", "/api/v1/audit/keys", answers={200: s.KeysSchema}, errors=RATE),
    Route("GET", "/api/v1/audit/checkpoints/latest", answers={200: s.CheckpointSchema}, params=(CENTER,),
          errors=NAMED),
    Route("POST", "/api/v1/audit/checkpoints", body=s.SignRequestSchema, example={"center": "hue-vyda"},
          answers={201: s.CheckpointSchema, 200: s.CheckpointSchema}, errors=NAMED + (409,),
          description="201 a new checkpoint, 200 the latest if the log did not grow; 409 audit refuses (the "
                      "store does not extend the last checkpoint signed)."),
    Route("GET", "/api/v1/audit/proofs/inclusion", answers={200: s.InclusionSchema}, errors=NAMED + (409,),
          params=(CENTER, query("leaf_index", COUNT, "the leaf (or leaf_hash)"),
                  query("leaf_hash", {"type": "string", **s.HASH}),
                  query("tree_size", SIZE, "default: the latest checkpoint's"))),
    Route("GET", "/api/v1/audit/proofs/consistency", answers={200: s.ConsistencySchema}, errors=NAMED + (409,),
          params=(CENTER, query("first", SIZE, required=True), query("second", SIZE, required=True))),
    Route("GET", "/api/v1/audit/entries", answers={200: s.EntriesSchema}, errors=NAMED,
          params=(CENTER, query("start", COUNT), query("limit", {**SIZE, "maximum": PAGE_LIMIT}))),
    Route("GET", "/api/v1/audit/receipts/<leaf_hash>", answers={200: s.ReceiptProofSchema}, errors=RATE + (404, 409),
          path_params={"leaf_hash": {"type": "string", **s.HASH}}),
    Route("GET", "/healthz", answers={200: HealthSchema, 503: HealthSchema}),
    OPENAPI,
    METRICS,
)

document = documented("audit", ROUTES)
