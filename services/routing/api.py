"""Routing's staff API as OpenAPI describes it: its routes, what each reads and answers
(onestop.web.openapi builds the document; the rows of onestop.web.access say who may call)."""
from __future__ import annotations

from onestop.web.health import HealthSchema
from onestop.web.openapi import METRICS, OPENAPI, Route, documented, query
from services.routing.queries import MAX_LIMIT, MAX_REPORT_DAYS, SORTS
from services.routing.schemas import ActionRequestSchema, CaseSchema, QueuePageSchema, ReportSchema

CENTER = query("center", {"type": "string", "example": "hue-vyda"},
               "the center (required when the token lists more than one)")
DATE = {"type": "string", "format": "date"}

ROUTES = (
    Route("GET", "/api/v1/work/queue", answers={200: QueuePageSchema},
          params=(CENTER, query("status", {"type": "string"}, "states, comma-separated"),
                  query("sort", {"type": "string", "enum": list(SORTS)}),
                  query("officer", {"type": "string"}, "one officer's dossiers (an officer: their own only)"),
                  query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50}),
                  query("offset", {"type": "integer", "minimum": 0, "maximum": 10**6, "default": 0}))),
    Route("GET", "/api/v1/work/dossiers/<code>", answers={200: CaseSchema}, errors=(404,)),
    Route("POST", "/api/v1/work/dossiers/<code>/actions/<action>", body=ActionRequestSchema, body_required=False,
          example={"reason": "Thiếu bản sao giấy khai sinh", "documents": ["birth_declaration"]},
          answers={200: CaseSchema}, errors=(404, 409),
          description="One lifecycle action; the body carries the fields the action needs. 403 an action the "
                      "caller may not take on this dossier, 409 one its state does not allow now."),
    Route("GET", "/api/v1/reports", answers={200: ReportSchema},
          params=(CENTER, query("from", DATE, "first day (default: the month's first)"),
                  query("to", DATE, f"last day (default: today; at most {MAX_REPORT_DAYS} days)"))),
    Route("GET", "/healthz", answers={200: HealthSchema, 503: HealthSchema}),
    OPENAPI,
    METRICS,
)

document = documented("routing", ROUTES)
