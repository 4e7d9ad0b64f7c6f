"""Routing: sends each dossier to its department and officer."""
from __future__ import annotations

from nameko.web.handlers import http

import onestop.contracts  # noqa: F401  (registers every event type)
from onestop.catalog import load_catalog
from onestop.events import utcnow
from onestop.http import json_endpoint, respond
from onestop.messaging.consumer import reliable_handler
from onestop.messaging.outbox import OutboxRelay
from onestop.providers import Health
from onestop.store import MongoStore
from services.routing import handlers
from services.routing.store import RoutingRepository


class RoutingService:
    name = "routing"

    store = MongoStore(RoutingRepository)
    relay = OutboxRelay("assignments")
    health = Health()

    @reliable_handler(("public", "dossier.received.v1"))
    def on_received(self, event):
        """{"type": "dossier.received.v1", "center": "hue-vyda",
        "data": {"code": "VYDA-260213-0007", "procedure_code": "1.001193", ...}}"""
        handlers.route_dossier(event, catalog=load_catalog(), repo=self.store, now=utcnow())

    @http("GET", "/healthz")
    @json_endpoint
    def healthz(self, request):
        status, body = self.health(self.store.assignments.database,
                                   outbox_lag_seconds=round(self.relay.lag_seconds(), 3))
        return respond(status, body)
