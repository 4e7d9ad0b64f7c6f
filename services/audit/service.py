"""Audit: the tamper-evident record of every event of every service, read by staff who may."""
from __future__ import annotations

from nameko.web.handlers import http

from onestop.catalog import load_catalog
from onestop.dependencies import Health, LogContext, StaffAuth
from onestop.errors import NotFound
from onestop.messaging.consumer import reliable_handler
from onestop.storage.mongo import MongoStore
from onestop.timestamps import iso, utcnow
from onestop.web import access
from onestop.web.http import json_endpoint, respond
from onestop.web.throttle import Throttle
from services.audit.store import AuditRepository

PUBLIC_FIELDS = ("seq", "center", "event_id", "type", "time", "recorded_at", "hash", "prev_hash")


class AuditService:
    name = "audit"
    log_context = LogContext()  # the service, center, code and event of every log record

    store = MongoStore(AuditRepository)
    health = Health()
    staff = StaffAuth()
    throttle = Throttle("audit_rate_limit")

    @reliable_handler(("public", "#"), any_type=True)
    def record(self, event):
        """Every public event of the center, whatever its type (only the envelope is
        checked), e.g. {"type": "dossier.routed.v1", ...}."""
        self.store.append(event, iso(utcnow()))

    @http("GET", "/api/v1/audit/dossiers/<string:code>")
    @json_endpoint
    def timeline(self, request, code):
        """A dossier's timeline: each entry's type, time, actor, hash and previous hash.
        For a token that may read audit (onestop.web.access) and lists the dossier's center."""
        self.throttle(request)
        principal = self.staff(request, "audit.timeline")
        code = code.strip().upper()
        entries = [e for e in self.store.timeline(code) if access.covers(principal, "audit.timeline", e["center"])]
        if not entries:  # another center's dossier answers exactly as a missing one
            raise NotFound("No audit entries for this dossier code.", fields=[{"field": "code", "reason": "unknown"}])
        return respond(200, {"code": code, "entries": [
            {**{k: e[k] for k in PUBLIC_FIELDS}, "actor": e["event"]["actor"], "data": e["event"]["data"]}
            for e in entries]})

    @http("GET", "/api/v1/audit/verify")
    @json_endpoint
    def verify(self, request):
        """Recompute the chains of the token's centers (or ?center=...): OK, or the first entry where it breaks."""
        self.throttle(request)
        principal = self.staff(request, "audit.verify")
        mine = [c for c in sorted(set(load_catalog().centers) | set(self.store.centers()))
                if access.covers(principal, "audit.verify", c)]
        wanted = request.args.get("center")
        if wanted and wanted not in mine:  # another center's answers as an unknown one
            raise NotFound("No such center.",
                           fields=[{"field": "center", "reason": f"unknown; known: {', '.join(mine)}"}])
        centers = [wanted] if wanted else [c for c in self.store.centers() if c in mine]
        verdicts = [self.store.verify(c).to_dict() for c in centers]
        return respond(200, {"ok": all(v["ok"] for v in verdicts), "centers": verdicts})

    @http("GET", "/healthz")
    @json_endpoint
    def healthz(self, request):
        status, body = self.health(self.store.entries.database)
        return respond(status, body)
