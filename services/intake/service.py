"""Intake: takes dossiers in over HTTP and follows their progress.

Entrypoints only: load the wire format, call a handler, answer.
"""
from __future__ import annotations

import hashlib
import re

import orjson
from marshmallow import ValidationError
from nameko.web.handlers import http

import onestop.contracts  # noqa: F401  (registers every event type)
from onestop.catalog import load_catalog
from onestop.calendars import calendar_for
from onestop.errors import InvalidInput
from onestop.events import utcnow
from onestop.http import ApiError, flatten, json_endpoint, read_json, respond
from onestop.messaging.consumer import reliable_handler
from onestop.messaging.outbox import OutboxRelay
from onestop.providers import Health, SettingsProvider
from onestop.store import MongoStore
from services.intake import handlers
from services.intake.domain import DossierCode
from services.intake.schemas import DossierRequestSchema
from services.intake.store import IntakeRepository

REQUEST = DossierRequestSchema()
KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
ACTORS = {"counter": "counter_staff", "postal": "counter_staff", "online": "citizen"}


def _invalid(problems: list[dict]) -> ApiError:
    return ApiError(422, "validation_failed", "The dossier was not accepted.", problems)


class IntakeService:
    name = "intake"

    store = MongoStore(IntakeRepository)
    relay = OutboxRelay("dossiers")
    settings = SettingsProvider()
    health = Health()

    @http("POST", "/api/v1/dossiers")
    @json_endpoint
    def submit(self, request):
        """Take a dossier in; 201 with its code and appointment date.

        Body: see DossierRequestSchema. Header ``Idempotency-Key`` makes retries safe.
        """
        key = request.headers.get("Idempotency-Key")
        if key is not None and not KEY.match(key):
            raise _invalid([{"field": "Idempotency-Key", "reason": "1 to 255 printable ASCII characters"}])
        body = read_json(request)
        try:
            payload = REQUEST.load(body)
        except ValidationError as exc:
            raise _invalid(flatten(exc.messages)) from None
        try:
            dossier, created = handlers.submit_dossier(
                payload, catalog=load_catalog(), repo=self.store, now=utcnow(),
                calendar_for=lambda c: calendar_for(c, self.settings.cutoff_time),
                actor={"id": request.headers.get("X-Staff-Id", payload["channel"]),
                       "role": ACTORS[payload["channel"]]},
                idempotency_key=key,
                request_hash=hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest())
        except InvalidInput as exc:
            raise _invalid(exc.problems) from None
        headers = {"Location": f"/api/v1/dossiers/{dossier['code']}"}
        if not created:
            headers["Idempotent-Replayed"] = "true"
        return respond(201, handlers.receipt_view(dossier, load_catalog()), headers)

    @http("GET", "/api/v1/dossiers/<string:code>")
    @json_endpoint
    def public_status(self, request, code):
        """The public status of a dossier: no personal data."""
        try:
            code = str(DossierCode.parse(code))
        except ValueError as exc:
            raise ApiError(404, "not_found", "No dossier has this code.", [{"field": "code", "reason": str(exc)}])
        dossier = self.store.get(code)
        if dossier is None:
            raise ApiError(404, "not_found", "No dossier has this code.", [{"field": "code", "reason": "unknown"}])
        return respond(200, handlers.public_view(dossier, load_catalog()))

    @http("GET", "/api/v1/procedures")
    @json_endpoint
    def procedures(self, request):
        return respond(200, {"procedures": [p.to_public() for p in load_catalog().procedures.values()]})

    @http("GET", "/api/v1/centers")
    @json_endpoint
    def centers(self, request):
        return respond(200, {"centers": [c.to_public() for c in load_catalog().centers.values()]})

    @http("GET", "/healthz")
    @json_endpoint
    def healthz(self, request):
        status, body = self.health(self.store.dossiers.database,
                              outbox_lag_seconds=round(self.relay.lag_seconds(), 3),
                              outbox_pending=self.relay.pending())
        return respond(status, body)

    @reliable_handler(("public", "dossier.routed.v1"), ("public", "dossier.assigned.v1"))
    def on_routing_event(self, event):
        """Follow routing: {"type": "dossier.assigned.v1", "data": {"code": ..., "officer_id": ...}}"""
        handlers.apply_routing_event(event, self.store)
