"""Intake: takes dossiers in over HTTP, follows their life, and answers the citizen.

Entrypoints only: load the wire format, call a handler, answer.
"""
from __future__ import annotations

import hashlib

import eventlet
import orjson
from marshmallow import ValidationError
from nameko.web.handlers import http

from onestop.catalog import load_catalog
from onestop.dependencies import Health, LogContext, SettingsProvider, StaffAuth
from onestop.errors import InvalidInput, NotFound
from onestop.messaging.consumer import reliable_handler
from onestop.messaging.outbox import OutboxRelay
from onestop.storage.mongo import MongoStore
from onestop.timers import every
from onestop.timestamps import utcnow
from onestop.web.http import flatten, json_endpoint, load, read_json, respond
from onestop.web.metering import Metrics
from onestop.web.throttle import SubmitThrottle, Throttle
from services.intake import api, handlers, privacy, views
from services.intake.domain import DossierCode
from services.intake.lockout import Lockout
from services.intake.progress import LIFECYCLE_TYPES
from services.intake.schemas import (
    IDEMPOTENCY_KEY,
    CitizenLookupSchema,
    DossierRequestSchema,
    ErasureRequestSchema,
    RatingRequestSchema,
    lookup_code,
)
from services.intake.store import IntakeRepository

REQUEST = DossierRequestSchema()
RATING = RatingRequestSchema()
LOOKUP, ERASURE = CitizenLookupSchema(), ErasureRequestSchema()
PRIVATE_ANSWER = {"Cache-Control": "no-store", "Vary": "X-Lookup-Code"}


def _idempotency_key(request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise InvalidInput([{"field": "Idempotency-Key", "reason": "1 to 255 printable ASCII characters"}],
                           handlers.DOSSIER_REFUSED)
    return key


def _body_hash(body) -> str:
    """What a replay with the same Idempotency-Key must match: the body, keys sorted."""
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _receipt_headers(dossier: dict, created: bool) -> dict:
    # no-store: the first receipt carries the dossier's lookup code
    headers = {"Location": f"/api/v1/dossiers/{dossier['code']}", "Cache-Control": "no-store"}
    return headers if created else {**headers, "Idempotent-Replayed": "true"}


class IntakeService:
    name = "intake"
    log_context = LogContext()  # the service, center, code and event of every log record

    store = MongoStore(IntakeRepository)
    relay = OutboxRelay("dossiers")
    settings = SettingsProvider()
    health = Health()
    metering = Metrics()  # HTTP requests counted, and /metrics
    throttle = Throttle()
    submit_throttle = SubmitThrottle()
    lockout = Lockout()
    staff = StaffAuth()

    @http("POST", "/api/v1/dossiers")
    @json_endpoint
    def submit(self, request):
        """Take a dossier in; 201 with its code and appointment date.

        Body: see DossierRequestSchema, e.g. {"center": "hue-vyda", "procedure_code": "1.001193",
        "channel": "counter", "citizen": {...}, "documents": [{"code": "birth_declaration"}]}.
        A bearer token is required: counter staff's for counter and postal dossiers, a portal's
        for online ones (onestop.web.access). Header ``Idempotency-Key`` makes retries safe.
        Rate-limited per caller (429 with Retry-After).
        """
        key = _idempotency_key(request)
        body = read_json(request)
        caller = self.staff(request)  # counter staff, or a portal online: 401 before the body is judged
        self.submit_throttle(caller, request)  # per caller: one caller's flood cannot hold up the others
        payload = load(REQUEST, body, handlers.DOSSIER_REFUSED)
        taken = handlers.submit_dossier(payload, catalog=load_catalog(), repo=self.store, now=utcnow(), caller=caller,
                                        idempotency_key=key, request_hash=_body_hash(body))
        receipt = views.receipt_view(taken.dossier, load_catalog(), taken.lookup_code, self.settings.audit_receipt_url)
        return respond(201, receipt, _receipt_headers(taken.dossier, taken.created))

    @http("GET", "/api/v1/dossiers/<string:code>")
    @json_endpoint
    def public_status(self, request, code):
        """The status of a dossier: public (code, status and its label, procedure),
        or with the lookup code of its receipt, ``?lookup_code=K7P2Q-X9MAB`` (or header
        ``X-Lookup-Code``), the details: appointment date, steps, papers asked for,
        where to collect, rated or not. 403 a wrong code, 429 (``lookup_locked``) after
        too many; rate-limited per client address (429 with Retry-After)."""
        self.throttle(request)
        try:
            proof = lookup_code(request.args, request.headers)
        except ValidationError as exc:
            raise InvalidInput(flatten(exc.messages), "The lookup was not accepted.") from None
        dossier = self._dossier(code)
        view = handlers.status_view(dossier, load_catalog(), proof, repo=self.store, lock=self.lockout, now=utcnow())
        return respond(200, view, PRIVATE_ANSWER)

    @http("POST", "/api/v1/dossiers/<string:code>/rating")
    @json_endpoint
    def rate(self, request, code):
        """The citizen rates the service once the result is returned; 201 with the rating.

        Body: {"rating_code": "K7P2QX9M", "score": 5, "comment": "Nhanh, chu đáo."}
        403 wrong rating code, 409 not returned yet or already rated, 429 too many requests.
        """
        self.throttle(request)
        dossier = self._dossier(code)
        body = read_json(request)
        payload = load(RATING, body, "The rating was not accepted.")
        rating = handlers.rate_dossier(dossier, payload, repo=self.store, now=utcnow())
        return respond(201, {"code": dossier["code"], "rating": rating},
                       {"Location": f"/api/v1/dossiers/{dossier['code']}"})

    def _dossier(self, code: str) -> dict:
        try:
            code = str(DossierCode.parse(code))
        except ValueError as exc:
            raise NotFound("No dossier has this code.", fields=[{"field": "code", "reason": str(exc)}]) from None
        dossier = self.store.get(code)
        if dossier is None:
            raise NotFound("No dossier has this code.", fields=[{"field": "code", "reason": "unknown"}])
        return dossier

    @http("GET", "/api/v1/procedures")
    @json_endpoint
    def procedures(self, request):
        return respond(200, {"procedures": [p.to_public() for p in load_catalog().procedures.values()]})

    @http("GET", "/api/v1/centers")
    @json_endpoint
    def centers(self, request):
        return respond(200, {"centers": [c.to_public() for c in load_catalog().centers.values()]})

    @http("GET", "/openapi.json")
    @json_endpoint
    def openapi(self, request):
        """This API's OpenAPI 3.1 document (services/intake/api.py)."""
        return respond(200, api.document())

    @http("GET", "/healthz")
    @json_endpoint
    def healthz(self, request):
        status, body = self.health(self.store.dossiers.database,
                              outbox_lag_seconds=round(self.relay.lag_seconds(), 3),
                              outbox_pending=self.relay.pending())
        return respond(status, body)

    @http("GET", "/metrics")
    @json_endpoint
    def metrics(self, request):
        """Prometheus metrics, text format (onestop.metrics; docs/metrics.md). No personal data."""
        return self.metering(request)

    @reliable_handler(*(("public", event_type) for event_type in LIFECYCLE_TYPES))
    def on_routing_event(self, event):
        """Follow the dossier's life: {"type": "dossier.supplement_requested.v1",
        "data": {"code": ..., "seq": 4, "to_state": "supplement_requested", "documents": [...], ...}}"""
        handlers.follow_lifecycle(event, self.store)

    @http("POST", "/api/v1/privacy/export")
    @json_endpoint
    def privacy_export(self, request):
        """Operators: everything intake holds about one citizen (an access request), from the
        dossiers of the token's centers. Body: {"id_number": "046095001234"}."""
        principal = self.staff(request, "intake.privacy_export")
        payload = load(LOOKUP, read_json(request), "The export was not accepted.")
        return respond(200, privacy.export_citizen(payload, principal, repo=self.store), {"Cache-Control": "no-store"})

    @http("POST", "/api/v1/privacy/erase")
    @json_endpoint
    def privacy_erase(self, request):
        """Operators: erase one citizen's personal data from their closed dossiers (an erasure request);
        409 naming the open ones, erasing nothing. Body: {"id_number": "046095001234", "reason": "..."}."""
        principal = self.staff(request, "intake.privacy_erase")
        payload = load(ERASURE, read_json(request), "The erasure was not accepted.")
        return respond(200, privacy.erase_on_request(payload, principal, repo=self.store, now=utcnow()))

    @every("retention_sweep_interval", eager=True)  # at start too: a service restarted often still sweeps
    def erase_expired(self):
        """Erase the personal data of dossiers closed more than PERSONAL_DATA_RETENTION_DAYS ago, a batch at a time."""
        days = self.settings.personal_data_retention_days
        while privacy.erase_expired(repo=self.store, now=utcnow(), days=days) == privacy.RETENTION_BATCH:
            eventlet.sleep(0)  # between batches, let requests and heartbeats through
