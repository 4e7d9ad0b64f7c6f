"""Intake's HTTP API as OpenAPI describes it: its routes, what each reads and answers
(onestop.web.openapi builds the document; the rows of onestop.web.access say who may call)."""
from __future__ import annotations

from onestop.web.health import HealthSchema
from onestop.web.openapi import METRICS, OPENAPI, Route, documented, header, query
from services.intake.domain import CODE as DOSSIER_CODE
from services.intake.domain import LOOKUP_CODE
from services.intake.schemas import (
    IDEMPOTENCY_KEY,
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

CODE = {"type": "string", "pattern": DOSSIER_CODE.pattern, "example": "VYDA-260213-0007",
        "description": "the dossier's code (case is ignored)"}
LOOKUP = {"type": "string", "minLength": 1, "example": "K7P2Q-X9MAB",
          "description": f"{LOOKUP_CODE.length} letters and digits as printed; case, spaces and dashes are ignored"}
KEY = {"type": "string", "pattern": IDEMPOTENCY_KEY.pattern}
DOSSIER = {"center": "hue-vyda", "procedure_code": "1.004873", "channel": "counter",
           "citizen": {"full_name": "Phan Thị Mai", "id_number": "046195002468", "phone": "+84 905 123 456",
                       "email": "mai.phan@example.vn", "channels": ["sms", "email"], "language": "vi"},
           "documents": [{"code": "marital_status_declaration"}]}
ID_NUMBER = {"id_number": "046195002468"}

ROUTES = (
    Route("POST", "/api/v1/dossiers", body=DossierRequestSchema, example=DOSSIER, answers={201: ReceiptSchema},
          params=(header("Idempotency-Key", KEY, "makes a retry safe: the same key and body answer the same "
                                                 "receipt (Idempotent-Replayed: true)"),),
          errors=(429,), description="Take a dossier in: 201 with its code, appointment date and lookup code."),
    Route("GET", "/api/v1/dossiers/<code>", answers={200: StatusSchema}, path_params={"code": CODE},
          params=(query("lookup_code", LOOKUP, "the lookup code of the receipt: the citizen's details"),
                  header("X-Lookup-Code", LOOKUP, "the lookup code, as a header")),
          errors=(403, 404, 429),
          description="403 a wrong lookup code; 429 (lookup_locked) after too many wrong ones."),
    Route("POST", "/api/v1/dossiers/<code>/rating", body=RatingRequestSchema, answers={201: RatedSchema},
          example={"rating_code": "K7P2QX9M", "score": 5, "comment": "Nhanh, chu đáo."},
          path_params={"code": CODE}, errors=(403, 404, 409, 429),
          description="403 a wrong rating code; 409 not returned yet, or rated already."),
    Route("GET", "/api/v1/procedures", answers={200: ProceduresSchema}),
    Route("GET", "/api/v1/centers", answers={200: CentersSchema}),
    Route("GET", "/healthz", answers={200: HealthSchema, 503: HealthSchema}),
    Route("POST", "/api/v1/privacy/export", body=CitizenLookupSchema, example=ID_NUMBER, answers={200: ExportSchema}),
    Route("POST", "/api/v1/privacy/erase", body=ErasureRequestSchema, answers={200: ErasureSchema}, errors=(409,),
          example={**ID_NUMBER, "reason": "Đơn yêu cầu xóa dữ liệu số 12/2026 ngày 05/01/2026"},
          description="409 naming the citizen's open dossiers, erasing nothing."),
    OPENAPI,
    METRICS,
)

document = documented("intake", ROUTES)
