"""Notification: tells citizens by SMS and email what happens to their dossier, and staff
by email when a dossier is due soon or overdue."""
from __future__ import annotations

from nameko.extensions import DependencyProvider
from nameko.web.handlers import http

from onestop import metrics
from onestop.catalog import load_catalog
from onestop.config import Settings
from onestop.dependencies import Health, LeaseHolder, LogContext, SettingsProvider, StaffAuth
from onestop.messaging.consumer import reliable_handler
from onestop.messaging.outbox import OutboxRelay
from onestop.storage.mongo import MongoStore, database
from onestop.timestamps import utcnow
from onestop.web.http import json_endpoint, load, read_json, respond
from onestop.web.metering import Metrics
from services.notification import api, handlers, held
from services.notification.channels import Channels, SmsGateway, SmtpSender
from services.notification.domain import SUBSCRIBED
from services.notification.limits import RecipientLimits
from services.notification.schemas import HeldDataRequestSchema
from services.notification.store import NotificationRepository

HELD = HeldDataRequestSchema()
ERASED = "citizen.data_erased.v1"


class Senders(DependencyProvider):
    """Injects {"email": send(message, id), "sms": send(message, id)} with
    `.breakers()`; one SMTP sender and SMS gateway, each with its circuit
    breaker, per container, so every worker sees the same breaker state."""

    def setup(self):
        settings = Settings.load(self.container.config)
        self.senders = Channels(SmtpSender(settings), SmsGateway(settings))

    def stop(self):
        self.senders.close()

    def get_dependency(self, worker_ctx):
        return self.senders


class HeldGauge(DependencyProvider):
    """onestop_messages_held{center}: the messages held now, counted from the store when Prometheus
    scrapes (every center of the catalog, 0 included, so a rule can compare)."""

    def setup(self):
        self.repo = NotificationRepository(database(Settings.load(self.container.config), self.container.service_name))

    def start(self):
        metrics.on_scrape(self, self.refresh)

    def stop(self):
        metrics.off_scrape(self)

    kill = stop

    def refresh(self):
        counts = self.repo.held_counts(utcnow())
        for center in load_catalog().centers:
            metrics.MESSAGES_HELD.labels(metrics.center(center)).set(counts.get(center, 0))


class NotificationService:
    name = "notification"
    log_context = LogContext()  # the service, center, code and event of every log record

    store = MongoStore(NotificationRepository)
    relay = OutboxRelay("deliveries")
    senders = Senders()
    lease_holder = LeaseHolder()  # a send leased by this worker before a crash is taken back at once
    held_gauge = HeldGauge()
    settings = SettingsProvider()
    health = Health()
    metering = Metrics()  # HTTP requests counted, and /metrics
    staff = StaffAuth()

    @reliable_handler(("private", "citizen.contact.v1"), ("public", ERASED),
                      *(("public", event_type) for event_type in SUBSCRIBED))
    def on_event(self, event):
        """citizen.contact.v1 (private) is remembered, and forgotten on citizen.data_erased.v1;
        dossier events become messages to the citizen, and due-soon / overdue events become
        emails to staff.

        {"type": "dossier.received.v1", "data": {"code": "VYDA-260213-0007", ...}}
        {"type": "dossier.overdue.v1", "data": {"code": "VYDA-260213-0007", "department_id": "vp",
         "escalate_to": ["department_head", "center_leader"], ...}}
        """
        if event["type"] == "citizen.contact.v1":
            handlers.remember_contact(event, self.store)
            return
        if event["type"] == ERASED:  # intake erased the citizen's data: so does this copy
            handlers.forget_contact(event, self.store)
            return
        handlers.notify(event, catalog=load_catalog(), repo=self.store, senders=self.senders,
                        status_url=self.settings.public_status_url, rating_url=self.settings.rating_url,
                        now=utcnow(), limits=RecipientLimits.from_settings(self.settings),
                        audit_receipt_url=self.settings.audit_receipt_url, holder=self.lease_holder)

    @http("GET", "/api/v1/held")
    @json_endpoint
    def held_messages(self, request):
        """Operators: the citizen messages held by a recipient limit, oldest first, addresses
        masked. ?center=hue-vyda&limit=50&offset=0 (default: every center of the token)."""
        principal = self.staff(request, "notification.held")
        return respond(200, held.listing(principal, request.args, repo=self.store, catalog=load_catalog(),
                                         now=utcnow()))

    @http("POST", "/api/v1/held/<string:delivery_id>/release")
    @json_endpoint
    def release_held(self, request, delivery_id):
        """Operators: send one held message now (once; it is not counted against the limit).
        200 {"id", "code", "channel", "status": "sent"|"failed", ...}; 404 unknown or another
        center's, 409 released already, 503 the provider did not take it (it stays held)."""
        principal = self.staff(request, "notification.release")
        return respond(200, held.release(delivery_id, principal, repo=self.store, senders=self.senders,
                                         now=utcnow()))

    @http("POST", "/api/v1/privacy/export")
    @json_endpoint
    def privacy_export(self, request):
        """Operators: the contacts and deliveries kept for these dossiers (an access request).
        Body: {"codes": ["VYDA-260213-0007"]}, the codes intake's export found."""
        principal = self.staff(request, "notification.privacy_export")
        payload = load(HELD, read_json(request), "The export was not accepted.")
        return respond(200, handlers.export_held(payload, principal, repo=self.store), {"Cache-Control": "no-store"})

    @http("GET", "/openapi.json")
    @json_endpoint
    def openapi(self, request):
        """This API's OpenAPI 3.1 document (services/notification/api.py)."""
        return respond(200, api.document())

    @http("GET", "/healthz")
    @json_endpoint
    def healthz(self, request):
        # A provider outage is shown, but is not this service being unhealthy:
        # the messages wait in the retry queues and go out when it recovers.
        status, body = self.health(self.store.deliveries.database,
                                   outbox_lag_seconds=round(self.relay.lag_seconds(), 3),
                                   providers=self.senders.breakers())
        return respond(status, body)

    @http("GET", "/metrics")
    @json_endpoint
    def metrics(self, request):
        """Prometheus metrics, text format (onestop.metrics; docs/metrics.md). No personal data."""
        return self.metering(request)
