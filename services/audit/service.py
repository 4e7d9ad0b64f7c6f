"""Audit: the tamper-evident record of every event of every service."""
from __future__ import annotations

from nameko.web.handlers import http

from onestop.catalog import load_catalog
from onestop.timestamps import iso, utcnow
from onestop.errors import NotFound
from onestop.web.http import json_endpoint, respond
from onestop.messaging.consumer import reliable_handler
from onestop.dependencies import Health, LogContext
from onestop.storage.mongo import MongoStore
from services.audit.store import AuditRepository

PUBLIC_FIELDS = ("seq", "center", "event_id", "type", "time", "recorded_at", "hash", "prev_hash")


class AuditService:
    name = "audit"
    log_context = LogContext()  # the service, center, code and event of every log record

    store = MongoStore(AuditRepository)
    health = Health()

    @reliable_handler(("public", "#"), any_type=True)
    def record(self, event):
        """Every public event of the center, whatever its type (only the envelope is
        checked), e.g. {"type": "dossier.routed.v1", ...}."""
        self.store.append(event, iso(utcnow()))

    @http("GET", "/api/v1/audit/dossiers/<string:code>")
    @json_endpoint
    def timeline(self, request, code):
        """A dossier's timeline: each entry's type, time, actor, hash and previous hash."""
        entries = self.store.timeline(code.strip().upper())
        if not entries:
            raise NotFound("No audit entries for this dossier code.", fields=[{"field": "code", "reason": "unknown"}])
        return respond(200, {"code": code.upper(), "entries": [
            {**{k: e[k] for k in PUBLIC_FIELDS}, "actor": e["event"]["actor"], "data": e["event"]["data"]}
            for e in entries]})

    @http("GET", "/api/v1/audit/verify")
    @json_endpoint
    def verify(self, request):
        """Recompute every chain (or ?center=...): OK, or the first entry where it breaks."""
        known = sorted(set(load_catalog().centers) | set(self.store.centers()))
        wanted = request.args.get("center")
        if wanted and wanted not in known:
            raise NotFound("No such center.",
                           fields=[{"field": "center", "reason": f"unknown; known: {', '.join(known)}"}])
        centers = [wanted] if wanted else self.store.centers()
        verdicts = [self.store.verify(c).to_dict() for c in centers]
        return respond(200, {"ok": all(v["ok"] for v in verdicts), "centers": verdicts})

    @http("GET", "/healthz")
    @json_endpoint
    def healthz(self, request):
        status, body = self.health(self.store.entries.database)
        return respond(status, body)
