"""Alerts' HTTP API as OpenAPI describes it (onestop.web.openapi builds the document; the rows of
onestop.web.access say who may call)."""
from __future__ import annotations

from onestop.web.health import HealthSchema
from onestop.web.openapi import METRICS, OPENAPI, Route, documented, query
from services.alerts.schemas import AlertListSchema

ROUTES = (
    Route("GET", "/api/v1/alerts", answers={200: AlertListSchema}, errors=(404,),
          params=(query("state", {"type": "string", "enum": ["open", "resolved", "all"], "default": "open"}),
                  query("center", {"type": "string"}, "one of the token's centers, or all (the platform's own)"),
                  query("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100})),
          description="The operator alerts of the token's centers and of the whole platform (center all), "
                      "newest first, each with its runbook's anchor in docs/operations.md."),
    Route("GET", "/healthz", answers={200: HealthSchema, 503: HealthSchema}),
    OPENAPI,
    METRICS,
)

document = documented("alerts", ROUTES)
