"""Webhooks' HTTP API as OpenAPI describes it: its routes, what each reads and answers
(onestop.web.openapi builds the document; the rows of onestop.web.access say who may call)."""
from __future__ import annotations

from onestop.web.health import HealthSchema
from onestop.web.openapi import METRICS, OPENAPI, Route, documented, query
from services.webhooks.schemas import (
    CreatedSubscriptionSchema,
    DeletedSchema,
    DeliveryPageSchema,
    ReplayedSchema,
    ReplayRangeSchema,
    SecretRotatedSchema,
    SubscriptionCreateSchema,
    SubscriptionListSchema,
    SubscriptionSchema,
    SubscriptionUpdateSchema,
)

SUB = {"sub_id": {"type": "string", "example": "whsub_3f1c2d4e5f60a7b8", "description": "the subscription's id"}}
ONE = "/api/v1/subscriptions/<sub_id>"
SUBSCRIPTION = {"url": "https://so-tu-phap.example.vn/onestop/hooks", "centers": ["hue-vyda"],
                "event_types": ["dossier.received.v1", "dossier.returned.v1"], "procedures": ["1.001193"],
                "fields": [], "description": "Sở Tư pháp: birth registrations", "contact_email": "it@stp.example.vn"}
CHANGED = "409 the subscription changed meanwhile (read it again and retry)."
BUSY = ("503 `bindings_busy` (the queues' bindings were being changed elsewhere for over 10 s) or "
        "`broker_unreachable`: nothing was written.")

ROUTES = (
    Route("POST", "/api/v1/subscriptions", body=SubscriptionCreateSchema, example=SUBSCRIPTION,
          answers={201: CreatedSubscriptionSchema}, errors=(503,),
          description=f"Subscribe a URL: 201 with the subscription and its `secret` (whsec_..., shown once). {BUSY}"),
    Route("GET", "/api/v1/subscriptions", answers={200: SubscriptionListSchema}),
    Route("GET", ONE, answers={200: SubscriptionSchema}, path_params=SUB, errors=(404,)),
    Route("PATCH", ONE, body=SubscriptionUpdateSchema, example={"event_types": ["dossier.received.v1"]},
          answers={200: SubscriptionSchema}, path_params=SUB, errors=(404, 409, 503), description=f"{CHANGED} {BUSY}"),
    Route("DELETE", ONE, answers={200: DeletedSchema}, path_params=SUB, errors=(404, 409, 503),
          description=f"{CHANGED} {BUSY}"),
    Route("POST", f"{ONE}/pause", answers={200: SubscriptionSchema}, path_params=SUB, errors=(404, 409)),
    Route("POST", f"{ONE}/resume", answers={200: SubscriptionSchema}, path_params=SUB, errors=(404, 409)),
    Route("POST", f"{ONE}/rotate-secret", answers={200: SecretRotatedSchema}, path_params=SUB, errors=(404, 409)),
    Route("GET", f"{ONE}/deliveries", answers={200: DeliveryPageSchema}, path_params=SUB, errors=(404,),
          params=(query("status", {"type": "string", "enum": ["pending", "delivered", "cancelled"]}),
                  query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}),
                  query("offset", {"type": "integer", "minimum": 0, "default": 0}))),
    Route("POST", f"{ONE}/deliveries/<event_id>/replay", answers={202: ReplayedSchema}, errors=(404,),
          path_params={**SUB, "event_id": {"type": "string", "format": "uuid", "description": "the event's id"}}),
    Route("POST", f"{ONE}/replay", body=ReplayRangeSchema,
          example={"from": "2026-02-13T00:00:00Z", "to": "2026-02-13T06:00:00Z"},
          answers={202: ReplayedSchema}, path_params=SUB, errors=(404,),
          description="After an outage: the events of that time again, in their order, behind the backlog."),
    Route("GET", "/healthz", answers={200: HealthSchema, 503: HealthSchema}),
    OPENAPI,
    METRICS,
)

document = documented("webhooks", ROUTES)
