"""Notification's HTTP API as OpenAPI describes it: its routes, what each reads and answers
(onestop.web.openapi builds the document; the rows of onestop.web.access say who may call)."""
from __future__ import annotations

from onestop.web.health import HealthSchema
from onestop.web.openapi import METRICS, OPENAPI, Route, documented, query
from services.notification.held import MAX_PAGE
from services.notification.schemas import HeldDataRequestSchema, HeldDataSchema, HeldPageSchema, ReleasedSchema

ROUTES = (
    Route("GET", "/api/v1/held", answers={200: HeldPageSchema},
          params=(query("center", {"type": "string", "example": "hue-vyda"}, "default: every center of the token"),
                  query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 50}),
                  query("offset", {"type": "integer", "minimum": 0, "maximum": 10**6, "default": 0}))),
    Route("POST", "/api/v1/held/<delivery_id>/release", answers={200: ReleasedSchema}, errors=(409,),
          description="Send one held message now, once. 409 released already; 503 the provider did not take "
                      "it (it stays held)."),
    Route("POST", "/api/v1/privacy/export", body=HeldDataRequestSchema, answers={200: HeldDataSchema},
          example={"codes": ["VYDA-260213-0007"]}),
    Route("GET", "/healthz", answers={200: HealthSchema, 503: HealthSchema}),
    OPENAPI,
    METRICS,
)

document = documented("notification", ROUTES)
