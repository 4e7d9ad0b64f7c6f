"""Intake's HTTP API as OpenAPI describes it: its routes, what each reads and answers
(onestop.web.openapi builds the document; the rows of onestop.web.access say who may call)."""
from __future__ import annotations

from onestop.web.health import HealthSchema
from onestop.web.openapi import OPENAPI, Route, documented, header, query
from services.intake.schemas import (
    CentersSchema,
    CitizenLookupSchema,
    DossierRequestSchema,
    ErasureRequestSchema,
    ErasureSchema,
    ExportSchema,
    ProceduresSchema,
    RatedSchema,
    RatingRequestSchema,
    ReceiptSchema,
    StatusSchema,
)

CODE = {"type": "string", "pattern": r"^[A-Za-z]{2,8}-\d{6}-\d{4,}$", "example": "VYDA-260213-0007"}
LOOKUP = {"type": "string", "minLength": 1, "maxLength": 32, "example": "K7P2Q-X9MAB"}
KEY = {"type": "string", "pattern": r"^[\x21-\x7e]{1,255}$"}

ROUTES = (
    Route("POST", "/api/v1/dossiers", body=DossierRequestSchema, answers={201: ReceiptSchema},
          params=(header("Idempotency-Key", KEY, "makes a retry safe: the same key and body answer the same "
                                                 "receipt (Idempotent-Replayed: true)"),),
          errors=(429,), description="Take a dossier in: 201 with its code, appointment date and lookup code."),
    Route("GET", "/api/v1/dossiers/<code>", answers={200: StatusSchema}, path_params={"code": CODE},
          params=(query("lookup_code", LOOKUP, "the lookup code of the receipt: the citizen's details"),
                  header("X-Lookup-Code", LOOKUP, "the lookup code, as a header")),
          errors=(403, 404, 429),
          description="403 a wrong lookup code; 429 (lookup_locked) after too many wrong ones."),
    Route("POST", "/api/v1/dossiers/<code>/rating", body=RatingRequestSchema, answers={201: RatedSchema},
          path_params={"code": CODE}, errors=(403, 404, 409, 429),
          description="403 a wrong rating code; 409 not returned yet, or rated already."),
    Route("GET", "/api/v1/procedures", answers={200: ProceduresSchema}),
    Route("GET", "/api/v1/centers", answers={200: CentersSchema}),
    Route("GET", "/healthz", answers={200: HealthSchema, 503: HealthSchema}),
    Route("POST", "/api/v1/privacy/export", body=CitizenLookupSchema, answers={200: ExportSchema}),
    Route("POST", "/api/v1/privacy/erase", body=ErasureRequestSchema, answers={200: ErasureSchema}, errors=(409,),
          description="409 naming the citizen's open dossiers, erasing nothing."),
    OPENAPI,
)

document = documented("intake", ROUTES)
