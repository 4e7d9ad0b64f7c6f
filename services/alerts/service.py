"""Alerts: watches the broker and the services, and tells the operators, once per incident, by email
(OPERATORS_EMAIL) and by event (ops.alert_raised.v1 / ops.alert_resolved.v1); GET /api/v1/alerts.

A service of its own, so that alerting keeps working while any other service (or the console) is down.
"""
from __future__ import annotations

from nameko.web.handlers import http

from onestop.dependencies import Health, LogContext, SettingsProvider, StaffAuth
from onestop.messaging.consumer import reliable_handler
from onestop.messaging.outbox import OutboxRelay
from onestop.storage.mongo import MongoStore
from onestop.timers import every
from onestop.timestamps import utcnow
from onestop.web.http import json_endpoint, load, respond
from onestop.web.metering import Metrics
from services.alerts import api, handlers
from services.alerts.mailer import Mailer
from services.alerts.schemas import AlertQuerySchema
from services.alerts.store import AlertsRepository
from services.alerts.watches import Watches

QUERY = AlertQuerySchema()


class AlertsService:
    name = "alerts"
    log_context = LogContext()

    store = MongoStore(AlertsRepository)
    relay = OutboxRelay("alerts")
    watches = Watches()
    settings = SettingsProvider()
    staff = StaffAuth()
    health = Health()
    metering = Metrics()  # HTTP requests counted, and /metrics

    @reliable_handler(*(("public", event_type) for event_type in handlers.CONSUMED))
    def on_event(self, event):
        """What the watches cannot poll: {"type": "dossier.overdue.v1", "center": "hue-vyda",
        "data": {"code": "VYDA-260213-0007", ...}}, what ends an overdue, a webhook subscription paused
        or resumed."""
        handlers.on_event(event, repo=self.store)

    @every("alerts_interval", eager=True)
    def look(self):
        """Every ALERTS_INTERVAL: what is wrong now, as alerts raised or resolved, then their emails."""
        now, s = utcnow(), self.settings
        seen = self.watches.look(now)
        findings = seen.findings + handlers.signalled(self.store)
        handlers.look(findings, repo=self.store, now=now, resolve_after=s.alerts_resolve_after,
                      docs_url=s.alerts_docs_url, notify=bool(s.operators_email), unknown=seen.unknown)
        handlers.send_notices(repo=self.store, mailer=Mailer(s))

    @every("retention_sweep_interval")
    def forget(self):
        """Signals of ended overdues and resumed subscriptions go after a day."""
        handlers.forget(repo=self.store, now=utcnow())

    @http("GET", "/api/v1/alerts")
    @json_endpoint
    def listing(self, request):
        """Operators and center leaders: ?state=open|resolved|all&center=&limit= ->
        {"alerts": [{"id", "kind", "center", "title", "details", "runbook", "state", "raised_at", "resolved_at"}]}"""
        principal = self.staff(request, "alerts.list")
        query = load(QUERY, request.args.to_dict(), "The query was not accepted.")
        return respond(200, handlers.listing(query, principal, self.store))

    @http("GET", "/openapi.json")
    @json_endpoint
    def openapi(self, request):
        """This API's OpenAPI 3.1 document (services/alerts/api.py)."""
        return respond(200, api.document())

    @http("GET", "/healthz")
    @json_endpoint
    def healthz(self, request):
        status, body = self.health(self.store.alerts.database, outbox_lag_seconds=round(self.relay.lag_seconds(), 3),
                                   open_alerts=len(self.store.open_alerts()))
        return respond(status, body)

    @http("GET", "/metrics")
    @json_endpoint
    def metrics(self, request):
        """Prometheus metrics, text format (onestop.metrics; docs/metrics.md). No personal data."""
        return self.metering(request)
