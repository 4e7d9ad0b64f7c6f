"""Audit: the tamper-evident record of every event of every service, read by staff who may,
and proved to anyone who kept a checkpoint (docs/audit.md)."""
from __future__ import annotations

import logging

import eventlet
from nameko.web.handlers import http

from contracts import actor_of, current_form
from contracts.audit import about_the_log
from onestop.catalog import load_catalog
from onestop.dependencies import Health, LogContext, StaffAuth
from onestop.errors import InvalidInput, NotFound
from onestop.messaging.consumer import batch_handler
from onestop.messaging.outbox import OutboxRelay
from onestop.storage.mongo import MongoStore
from onestop.timers import every
from onestop.timestamps import iso, utcnow
from onestop.web import access
from onestop.web.http import json_endpoint, read_json, respond
from onestop.web.metering import Metrics
from onestop.web.throttle import Throttle
from services.audit import api, handlers
from services.audit.handlers import Refused
from services.audit.signing import Transparency
from services.audit.store import AuditRepository

log = logging.getLogger(__name__)
RECORD_BATCH = 50  # events a worker appends at most at once (docs/performance.md)
PUBLIC_FIELDS = ("seq", "center", "event_id", "type", "time", "recorded_at", "hash", "prev_hash")


class AuditService:
    name = "audit"
    log_context = LogContext()  # the service, center, code and event of every log record

    store = MongoStore(AuditRepository)
    transparency = Transparency()
    relay = OutboxRelay("checkpoints", "alarms", after_workers=False)  # published within its 0.5 s look
    health = Health()
    metering = Metrics()  # HTTP requests counted, and /metrics
    staff = StaffAuth()
    throttle = Throttle("audit_rate_limit")

    @batch_handler(("public", "#"), any_type=True, batch=RECORD_BATCH)
    def record(self, events):
        """Every public event of the served centers, whatever its type (only the envelope is
        checked), e.g. [{"type": "dossier.routed.v1", ...}, ...], in batches (BatchHandler: what
        came in while the last batch was being written); not the events about the log itself.
        Each center's run goes in with one write, acked once it is durable."""
        kept = [event for event in events if not about_the_log(event["type"])]
        if kept:
            self.store.append_many(kept, iso(utcnow()))

    @every("audit_checkpoint_interval")  # AUDIT_CHECKPOINT_INTERVAL, read when the container starts
    def checkpoint_all(self):
        """Sign a checkpoint of each served center's log that grew since its last one."""
        for center in self.transparency.centers:
            try:
                self._sign(center)
            except Refused:
                pass  # alarmed in _sign; the next interval tries again

    def _sign(self, center: str):
        try:
            signed = handlers.sign(center, repo=self.store, log=self.transparency.log, now=utcnow(),
                                   pause=lambda: eventlet.sleep(0))  # the hub runs between batches of entries
        except Refused as refused:
            if self.transparency.first_refusal(refused):
                body, event = handlers.alarm(refused, self.transparency.log)
                self.store.save_alarm(body, event)
                log.error("AUDIT LOG INCONSISTENT (%s): %s; no checkpoint is signed until an operator acts "
                          "(docs/audit.md)", refused.reason, refused.detail, extra={"center": center})
            raise
        self.transparency.signed(center)
        return signed

    def _center(self, request, endpoint: str) -> str:
        """The `?center=` (or body) a NAMED endpoint is about, checked against the caller's token."""
        self.throttle(request)
        principal = self.staff(request, endpoint)
        center = request.args.get("center") or ""
        if request.method == "POST":
            body = read_json(request)
            center = body.get("center") if isinstance(body, dict) else None
            if not isinstance(center, str):
                raise InvalidInput([{"field": "center", "reason": "required: a center id (a string)"}])
        center = center.strip()
        if not center:
            raise InvalidInput([{"field": "center", "reason": "required"}])
        access.require_center(principal, endpoint, center)
        if center not in self.transparency.centers:
            raise NotFound("No such center.", fields=[{"field": "center", "reason": "unknown"}])
        return center

    @http("GET", "/api/v1/audit/dossiers/<string:code>")
    @json_endpoint
    def timeline(self, request, code):
        """A dossier's timeline: each entry's type, time, actor, hash and previous hash, and with
        ``?proofs=true`` its leaf and inclusion proof in its center's latest checkpoint.
        For a token that may read audit (onestop.web.access) and lists the dossier's center."""
        self.throttle(request)
        principal = self.staff(request, "audit.timeline")
        code = code.strip().upper()
        entries = [e for e in self.store.timeline(code) if access.covers(principal, "audit.timeline", e["center"])]
        if not entries:  # another center's dossier answers exactly as a missing one
            raise NotFound("No audit entries for this dossier code.", fields=[{"field": "code", "reason": "unknown"}])
        shown = [{**{k: e[k] for k in PUBLIC_FIELDS}, "actor": actor_of(current_form(e["event"])),
                  "data": e["event"]["data"]}
                 for e in entries]
        if request.args.get("proofs", "").lower() not in ("true", "1", "yes"):
            return respond(200, {"code": code, "entries": shown})
        proved, checkpoints = handlers.with_proofs(entries, repo=self.store, log=self.transparency.log)
        return respond(200, {"code": code, "entries": [{**s, **p} for s, p in zip(shown, proved)],
                             "checkpoints": checkpoints})

    @http("GET", "/api/v1/audit/verify")
    @json_endpoint
    def verify(self, request):
        """Recompute the chains and trees of the token's centers (or ?center=...) and compare them with the
        last checkpoint signed: OK, or the first entry where it breaks."""
        self.throttle(request)
        principal = self.staff(request, "audit.verify")
        mine = [c for c in sorted(set(load_catalog().centers) | set(self.store.centers()))
                if access.covers(principal, "audit.verify", c)]
        wanted = request.args.get("center")
        if wanted and wanted not in mine:  # another center's answers as an unknown one
            raise NotFound("No such center.",
                           fields=[{"field": "center", "reason": f"unknown; known: {', '.join(mine)}"}])
        signed = {c: self.transparency.log.last_signed(c, self.store) for c in mine}
        recorded = set(self.store.centers())  # and those signed for: an emptied store is no clean log
        centers = [wanted] if wanted else [c for c in mine if c in recorded or signed[c]]
        verdicts = [self.store.verify(c, signed[c]).to_dict() for c in centers]
        return respond(200, {"ok": all(v["ok"] for v in verdicts), "centers": verdicts})

    @http("GET", "/api/v1/audit/keys")
    @json_endpoint
    def keys(self, request):
        """The verifier keys of every center's log (signed-note format), active and retired."""
        self.throttle(request)
        return respond(200, {"keys": self.transparency.log.keyring().listing(self.transparency.origins())})

    @http("GET", "/api/v1/audit/checkpoints/latest")
    @json_endpoint
    def latest_checkpoint(self, request):
        """The latest checkpoint signed for ?center=, with its signed note."""
        center = self._center(request, "audit.checkpoint")
        checkpoint = self.transparency.log.last_signed(center, self.store)
        if not checkpoint:
            raise NotFound("No checkpoint signed yet for this center.", fields=[{"field": "center",
                                                                                  "reason": "no checkpoint yet"}])
        return respond(200, checkpoint)

    @http("POST", "/api/v1/audit/checkpoints")
    @json_endpoint
    def sign_checkpoint(self, request):
        """Sign a checkpoint of {"center": ...} now: 201 if the log grew, 200 with the latest if not,
        409 if audit refuses (the store does not extend the last checkpoint signed)."""
        center = self._center(request, "audit.sign")
        signed = self._sign(center)
        if signed is None:
            raise NotFound("Nothing recorded yet for this center.", fields=[{"field": "center",
                                                                              "reason": "no entries yet"}])
        checkpoint, created = signed
        return respond(201 if created else 200, checkpoint)

    @http("GET", "/api/v1/audit/proofs/inclusion")
    @json_endpoint
    def inclusion_proof(self, request):
        """An inclusion proof of ?leaf_index= (or ?leaf_hash=) in the tree of ?tree_size= (default: the
        latest checkpoint's) of ?center='s log."""
        center = self._center(request, "audit.inclusion")
        return respond(200, handlers.inclusion(center, request.args, repo=self.store, log=self.transparency.log))

    @http("GET", "/api/v1/audit/proofs/consistency")
    @json_endpoint
    def consistency_proof(self, request):
        """A consistency proof from the tree of ?first= leaves to that of ?second= of ?center='s log."""
        center = self._center(request, "audit.consistency")
        return respond(200, handlers.consistency(center, request.args, repo=self.store, log=self.transparency.log))

    @http("GET", "/api/v1/audit/entries")
    @json_endpoint
    def entries(self, request):
        """?center='s leaves from ?start= (0), ?limit= (at most 1000) at a time: to recompute the whole tree."""
        center = self._center(request, "audit.entries")
        return respond(200, handlers.page(center, request.args, repo=self.store, log=self.transparency.log))

    @http("GET", "/api/v1/audit/receipts/<string:leaf_hash>")
    @json_endpoint
    def receipt(self, request, leaf_hash):
        """Where the leaf of a receipt (its hash, printed on it) is, and its inclusion proof in the
        latest checkpoint: hashes only, never the entry's content."""
        self.throttle(request)
        return respond(200, handlers.receipt(leaf_hash, repo=self.store, log=self.transparency.log))

    @http("GET", "/openapi.json")
    @json_endpoint
    def openapi(self, request):
        """This API's OpenAPI 3.1 document (services/audit/api.py)."""
        return respond(200, api.document())

    @http("GET", "/healthz")
    @json_endpoint
    def healthz(self, request):
        status, body = self.health(self.store.entries.database, outbox_lag_seconds=round(self.relay.lag_seconds(), 3))
        return respond(status, body)

    @http("GET", "/metrics")
    @json_endpoint
    def metrics(self, request):
        """Prometheus metrics, text format (onestop.metrics; docs/metrics.md). No personal data."""
        return self.metering(request)
