"""Webhooks: delivers the public events to other systems' HTTP endpoints, signed (Standard Webhooks),
in order per subscription, retried for days; the subscription API at /api/v1/subscriptions."""
from __future__ import annotations

from datetime import timedelta

from nameko.web.handlers import http

from onestop.catalog import load_catalog
from onestop.dependencies import Health, LogContext, SettingsProvider, StaffAuth
from onestop.messaging.consumer import batch_handler
from onestop.messaging.outbox import OutboxRelay
from onestop.storage.mongo import MongoStore
from onestop.timers import every
from onestop.timestamps import utcnow
from onestop.web.http import json_endpoint, load, read_json, respond
from onestop.web.metering import Metrics
from services.webhooks import api, fanout, handlers
from services.webhooks.bindings import Bindings
from services.webhooks.dispatch import Dispatch
from services.webhooks.domain import ACTIVE, PAUSED
from services.webhooks.schemas import (
    DeliveryQuerySchema,
    ReplayRangeSchema,
    SubscriptionCreateSchema,
    SubscriptionUpdateSchema,
)
from services.webhooks.store import WebhooksRepository
from services.webhooks.targets import Policy

CREATE, UPDATE, RANGE, QUERY = (SubscriptionCreateSchema(), SubscriptionUpdateSchema(), ReplayRangeSchema(),
                                DeliveryQuerySchema())


class WebhooksService:
    name = "webhooks"
    log_context = LogContext()

    store = MongoStore(WebhooksRepository)
    relay = OutboxRelay("subscriptions")
    bindings = Bindings()  # its queues bound to what live subscriptions want
    dispatch = Dispatch()
    settings = SettingsProvider()
    staff = StaffAuth()
    health = Health()
    metering = Metrics()  # HTTP requests counted, and /metrics

    @batch_handler(any_type=True, verbatim=True, batch=50)  # bound by `bindings`, not by the declaration
    def on_event(self, events):
        """The public events of the served centers that some live subscription wants (its queues are
        bound to those only), queued for each subscription that wants them (the body kept exactly as
        received), in batches (BatchHandler: what came in while the last batch was being queued):
        [{"specversion": "1.0", "type": "dossier.received.v1", ...}, ...]"""
        if fanout.accept_all(events, repo=self.store, catalog=load_catalog(), now=utcnow()):
            self.dispatch.kick()

    @every("webhook_bindings_interval", eager=True)
    def match_bindings(self):
        """At start-up (an older release bound every queue to ``#``) and then as a repair: every center's
        queue bound to what the live subscriptions want; skipped while another process matches them."""
        self.bindings.match(self.store.live, wait=0)

    @every("retention_sweep_interval")
    def forget_delivered(self):
        """Delivered events older than WEBHOOK_KEEP_DELIVERED go; nothing undelivered ever does."""
        self.store.forget_delivered(utcnow() - timedelta(seconds=self.settings.webhook_keep_delivered))

    @http("POST", "/api/v1/subscriptions")
    @json_endpoint
    def create(self, request):
        """Integrators: {"url", "centers", "event_types", "procedures", "fields", "description",
        "contact_email"} -> 201 the subscription and its `secret` (whsec_..., shown once)."""
        principal = self.staff(request, "webhooks.create")
        payload = load(CREATE, read_json(request), "The subscription was not accepted.")
        return respond(201, handlers.create(payload, principal, repo=self.store, catalog=load_catalog(),
                                            policy=self._policy(), bindings=self.bindings, now=utcnow()))

    @http("GET", "/api/v1/subscriptions")
    @json_endpoint
    def listing(self, request):
        """The caller's subscriptions (an operator: every one of its centers')."""
        principal = self.staff(request, "webhooks.list")
        return respond(200, handlers.listing(principal, self.store))

    @http("GET", "/api/v1/subscriptions/<string:sub_id>")
    @json_endpoint
    def get(self, request, sub_id):
        principal = self.staff(request, "webhooks.get")
        return respond(200, handlers.one(sub_id, principal, self.store))

    @http("PATCH", "/api/v1/subscriptions/<string:sub_id>")
    @json_endpoint
    def update(self, request, sub_id):
        """Any of the creation's fields: {"event_types": ["dossier.received.v1"]}."""
        principal = self.staff(request, "webhooks.update")
        payload = load(UPDATE, read_json(request), "The change was not accepted.")
        return respond(200, handlers.update(sub_id, payload, principal, repo=self.store, catalog=load_catalog(),
                                            policy=self._policy(), bindings=self.bindings, now=utcnow()))

    @http("DELETE", "/api/v1/subscriptions/<string:sub_id>")
    @json_endpoint
    def delete(self, request, sub_id):
        principal = self.staff(request, "webhooks.delete")
        return respond(200, handlers.delete(sub_id, principal, repo=self.store, bindings=self.bindings,
                                                      now=utcnow()))

    @http("POST", "/api/v1/subscriptions/<string:sub_id>/pause")
    @json_endpoint
    def pause(self, request, sub_id):
        """Stop delivering; events keep being queued (nothing is dropped)."""
        principal = self.staff(request, "webhooks.pause")
        return respond(200, handlers.set_state(sub_id, PAUSED, principal, repo=self.store, now=utcnow()))

    @http("POST", "/api/v1/subscriptions/<string:sub_id>/resume")
    @json_endpoint
    def resume(self, request, sub_id):
        """Deliver again, the backlog first, in order, its retry schedule started over."""
        principal = self.staff(request, "webhooks.resume")
        answer = handlers.set_state(sub_id, ACTIVE, principal, repo=self.store, now=utcnow())
        self.dispatch.kick()
        return respond(200, answer)

    @http("POST", "/api/v1/subscriptions/<string:sub_id>/rotate-secret")
    @json_endpoint
    def rotate_secret(self, request, sub_id):
        """A new secret (shown once); the old one signs beside it for WEBHOOK_SECRET_GRACE."""
        principal = self.staff(request, "webhooks.rotate_secret")
        return respond(200, handlers.rotate(sub_id, principal, repo=self.store, now=utcnow(),
                                            grace=self.settings.webhook_secret_grace))

    @http("GET", "/api/v1/subscriptions/<string:sub_id>/deliveries")
    @json_endpoint
    def deliveries(self, request, sub_id):
        """The events queued for it, newest first, each with its attempts: ?status=pending&limit=&offset="""
        principal = self.staff(request, "webhooks.deliveries")
        query = load(QUERY, request.args.to_dict(), "The query was not accepted.")
        return respond(200, fanout.deliveries(sub_id, query, principal, repo=self.store))

    @http("POST", "/api/v1/subscriptions/<string:sub_id>/deliveries/<string:event_id>/replay")
    @json_endpoint
    def replay_one(self, request, sub_id, event_id):
        """Send one event again, behind the backlog (same webhook-id)."""
        principal = self.staff(request, "webhooks.replay_one")
        answer = fanout.replay_one(sub_id, event_id, principal, repo=self.store, now=utcnow())
        self.dispatch.kick()
        return respond(202, answer)

    @http("POST", "/api/v1/subscriptions/<string:sub_id>/replay")
    @json_endpoint
    def replay_range(self, request, sub_id):
        """After an outage: {"from": "2026-02-13T00:00:00Z", "to": "2026-02-13T06:00:00Z"}, the events of
        that time again, in their order, behind the backlog."""
        principal = self.staff(request, "webhooks.replay_range")
        payload = load(RANGE, read_json(request), "The replay was not accepted.")
        answer = fanout.replay_range(sub_id, payload, principal, repo=self.store, now=utcnow())
        self.dispatch.kick()
        return respond(202, answer)

    @http("GET", "/openapi.json")
    @json_endpoint
    def openapi(self, request):
        """This API's OpenAPI 3.1 document (services/webhooks/api.py)."""
        return respond(200, api.document())

    @http("GET", "/healthz")
    @json_endpoint
    def healthz(self, request):
        # A receiver that is down is its subscription's business, not this service being unhealthy.
        status, body = self.health(self.store.subscriptions.database,
                                   outbox_lag_seconds=round(self.relay.lag_seconds(), 3),
                                   subscriptions_in_delivery=len(self.dispatch.running))
        return respond(status, body)

    @http("GET", "/metrics")
    @json_endpoint
    def metrics(self, request):
        """Prometheus metrics, text format (onestop.metrics; docs/metrics.md). No personal data."""
        return self.metering(request)

    def _policy(self) -> Policy:
        return Policy.from_settings(self.settings)
