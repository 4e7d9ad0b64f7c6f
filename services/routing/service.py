"""Routing: sends each dossier to its department and officer, lets staff work
it through its life, and watches its statutory deadline."""
from __future__ import annotations

from nameko.web.handlers import http

from onestop.catalog import load_catalog
from onestop.dependencies import Health, LogContext, SettingsProvider, StaffAuth
from onestop.errors import InvalidInput
from onestop.messaging.consumer import reliable_handler
from onestop.messaging.outbox import OutboxRelay
from onestop.storage.mongo import MongoStore
from onestop.timers import every
from onestop.timestamps import utcnow
from onestop.web import access
from onestop.web.http import json_endpoint, read_json, respond
from onestop.web.metering import Metrics
from services.routing import api, cases, handlers, queries
from services.routing.store import RoutingRepository


class RoutingService:
    name = "routing"
    log_context = LogContext()  # the service, center, code and event of every log record

    store = MongoStore(RoutingRepository)
    relay = OutboxRelay("assignments")
    settings = SettingsProvider()
    staff = StaffAuth()
    health = Health()
    metering = Metrics()  # HTTP requests counted, and /metrics

    @reliable_handler(("public", "dossier.received.v1"), ("public", "dossier.rated.v1"))
    def on_event(self, event):
        """A received dossier is routed: {"type": "dossier.received.v1", "center": "hue-vyda",
        "data": {"code": "VYDA-260213-0007", "procedure_code": "1.001193", ...}};
        a citizen's rating is kept on the case for the reports (dossier.rated.v1)."""
        if event["type"] == "dossier.rated.v1":
            handlers.record_rating(event, self.store)
        else:
            handlers.route_dossier(event, catalog=load_catalog(), repo=self.store, now=utcnow(),
                                   due_soon=self.settings.due_soon)

    @every("timer_interval")  # TIMER_INTERVAL, read when the container starts
    def deadlines(self):
        """Fire the due-soon and overdue points that have passed (each once)."""
        catalog = load_catalog()
        handlers.fire_due_timers(catalog=catalog, repo=self.store, now=utcnow(),
                                 centers=self.settings.center_ids(list(catalog.centers)),
                                 due_soon=self.settings.due_soon)

    @http("GET", "/api/v1/work/queue")
    @json_endpoint
    def queue(self, request):
        """The caller's work queue: ?status=a,b&sort=due|-due|received&center=&limit=&offset="""
        principal = self.staff(request, "routing.queue")
        filters, sort, limit, skip = queries.queue_filters(principal, request.args, load_catalog())
        total, docs = self.store.queue(filters, sort, limit, skip)
        return respond(200, queries.queue_page(docs, total, limit, skip))

    @http("GET", "/api/v1/work/dossiers/<string:code>")
    @json_endpoint
    def case(self, request, code):
        """One dossier's case: state, clock, history and the caller's allowed actions."""
        principal = self.staff(request, "routing.case")
        case = self.store.get(code)
        if not cases.visible_to(case, principal):
            raise cases.NotFound(code)
        return respond(200, cases.view(case, principal))

    @http("POST", "/api/v1/work/dossiers/<string:code>/actions/<string:action>")
    @json_endpoint
    def act(self, request, code, action):
        """Do one lifecycle action: start, request_supplement, receive_supplement, approve, reject,
        mark_result_ready, return_result, withdraw, transfer, send_back, reassign, route,
        extend_deadline. Body: {"reason", "documents", "officer", "department", "due"} as the action needs."""
        principal = self.staff(request, access.act(action))  # an unknown action: 404 from the lifecycle
        body = read_json(request) if request.get_data(cache=True).strip() else {}
        if not isinstance(body, dict):
            raise InvalidInput([{"field": "body", "reason": "must be a JSON object"}], "The action was not accepted.")
        view = handlers.act(code, action, principal, body, catalog=load_catalog(), repo=self.store, now=utcnow(),
                            due_soon=self.settings.due_soon)
        return respond(200, view)

    @http("GET", "/api/v1/reports")
    @json_endpoint
    def reports(self, request):
        """Per center, department and officer over a period: ?center=&from=YYYY-MM-DD&to=YYYY-MM-DD"""
        principal = self.staff(request, "routing.reports")
        catalog = load_catalog()
        scope = queries.report_scope(principal, request.args, catalog)
        return respond(200, handlers.report(scope, catalog=catalog, repo=self.store, now=utcnow(),
                                            due_soon=self.settings.due_soon))

    @http("GET", "/openapi.json")
    @json_endpoint
    def openapi(self, request):
        """This API's OpenAPI 3.1 document (services/routing/api.py)."""
        return respond(200, api.document())

    @http("GET", "/healthz")
    @json_endpoint
    def healthz(self, request):
        status, body = self.health(self.store.assignments.database,
                                   outbox_lag_seconds=round(self.relay.lag_seconds(), 3))
        return respond(status, body)

    @http("GET", "/metrics")
    @json_endpoint
    def metrics(self, request):
        """Prometheus metrics, text format (onestop.metrics; docs/metrics.md). No personal data."""
        return self.metering(request)
