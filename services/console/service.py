"""Console: the operators' and center leaders' pages in the browser (/console/), a backend-for-frontend.

The browser holds only an HttpOnly session cookie; the console keeps the person's staff token and calls
the other services' APIs with it, and RabbitMQ's management API with its own (the operator's) broker user.
docs/console.md walks through it."""
from __future__ import annotations

import dataclasses
import logging
import secrets
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from eventlet.semaphore import Semaphore
from nameko.extensions import DependencyProvider
from nameko.web.handlers import http
from werkzeug.wrappers import Response

from onestop.catalog import load_catalog
from onestop.dependencies import Health, LogContext, StaffAuth
from onestop.errors import DomainError, InvalidInput, Unauthorized
from onestop.ops.deadletters.letter import parse_queue
from onestop.storage.mongo import MongoStore
from onestop.timestamps import utcnow
from onestop.web import access
from onestop.web.http import json_endpoint, load, read_json, respond
from onestop.web.metering import Metrics
from onestop.web.oidc import PendingSignIns
from services.console import api, devstaff, gate, identity, pages, sessions, views
from services.console.schemas import CenterQuerySchema, ReplayRequestSchema
from services.console.settings import ConsoleSettings
from services.console.store import SessionRepository

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
FILES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
       "base-uri 'none'; form-action 'self'")
PAGE = {"Content-Security-Policy": CSP, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin"}
CENTER = CenterQuerySchema()
REPLAY = ReplayRequestSchema()


class Console(DependencyProvider):
    """The console's settings, token issuer/verifier, OIDC client and the broker lock, made once."""

    def setup(self):
        config = self.container.config
        self.settings = ConsoleSettings.load(config)
        self.config = config
        self.lock = Semaphore(1)
        self.oidc = identity.oidc_client(config)  # None without OIDC_ISSUER
        self.oidc_pending = PendingSignIns()  # begun OIDC sign-ins by state (this process)
        if self.settings.dev_signin and self.settings.production:
            log.error("CONSOLE_DEV_SIGNIN is on where real staff sign in (ONESTOP_ENV=production or OIDC_ISSUER "
                      "set): the development sign-in stays OFF. Unset CONSOLE_DEV_SIGNIN.")
            self.settings = dataclasses.replace(self.settings, dev_signin=False)
        elif self.settings.dev_signin:
            log.warning("CONSOLE_DEV_SIGNIN is on: anyone who opens /console/login can sign in as any sample "
                        "staff member. FOR DEVELOPMENT ONLY.")

    def get_dependency(self, worker_ctx):
        return self


def _page(body: str, status: int = 200, cookies=()) -> Response:
    headers = [(k, v) for k, v in PAGE.items()] + [("Set-Cookie", c) for c in cookies]
    return Response(body, status=status, headers=headers, content_type="text/html; charset=utf-8")


def _file(name: str) -> Response:
    return Response((STATIC / name).read_bytes(), headers={**PAGE, "Content-Type": FILES[name]})


def _redirect(where: str, cookies=()) -> Response:
    return Response("", status=303, headers=[("Location", where), ("Cache-Control", "no-store"),
                                             *(("Set-Cookie", c) for c in cookies)])


class ConsoleService:
    name = "console"
    log_context = LogContext()

    store = MongoStore(SessionRepository)
    console = Console()
    staff = StaffAuth()  # the platform's token check: JWKS, kid, revocations (onestop.dependencies)
    health = Health()
    metering = Metrics()  # HTTP requests counted, and /metrics

    # --- pages (public: the shell holds no data) --------------------------------------------

    @http("GET", "/console/")
    def index(self, request):
        """The console's one page; app.js asks /console/api/me who is signed in (401: to /console/login)."""
        return _page((STATIC / "index.html").read_text(encoding="utf-8"))

    @http("GET", "/console/app.js")
    def script(self, request):
        """The page's script: vanilla JavaScript, no build step, nothing fetched from elsewhere."""
        return _file("app.js")

    @http("GET", "/console/app.css")
    def style(self, request):
        return _file("app.css")

    @http("GET", "/console/login")
    def login(self, request):
        """The sign-in page; sets the pre-session cookie its form's token is bound to."""
        token = secrets.token_urlsafe(32)
        staff = devstaff.sample_staff(load_catalog()) if self.console.settings.dev_signin else None
        body = pages.login_page(staff=staff, form_token=token, oidc=self.console.oidc
                                is not None, error=request.args.get("error", ""))
        return _page(body, cookies=[self._cookie(sessions.LOGIN_COOKIE, token, 900)])

    @http("POST", "/console/login/dev")
    @json_endpoint
    def login_dev(self, request):
        """Development sign-in (CONSOLE_DEV_SIGNIN=true): form user=<sample staff id>, form_token -> 303 to
        /console/ with the session cookie."""
        problems = [{"field": f, "reason": "missing"} for f in ("user", "form_token") if not request.form.get(f)]
        if problems:
            raise InvalidInput(problems, "The sign-in form was not complete.")
        sessions.check_form_token(request.cookies.get(sessions.LOGIN_COOKIE), request.form.get("form_token"))
        sessions.check_origin(request.headers, self.console.settings.origin)
        if not self.console.settings.dev_signin:
            raise InvalidInput([{"field": "user", "reason": "the development sign-in is off (CONSOLE_DEV_SIGNIN)"}])
        person = devstaff.find(load_catalog(), request.form["user"])
        if person is None:
            raise InvalidInput([{"field": "user", "reason": "not one of the sample staff"}])
        sid_seed = secrets.token_urlsafe(16)  # names the session in the token (sid) where the issuer can
        token = identity.mint_dev(identity.dev_issuer(self.console.config), person, sid_seed)
        return self._signed_in(token)

    @http("GET", "/console/login/oidc")
    def login_oidc(self, request):
        """To the OpenID Connect provider (OIDC_ISSUER); not configured: back to the sign-in page, saying so."""
        client = self.console.oidc
        bound = request.cookies.get(sessions.LOGIN_COOKIE)
        if client is None or not bound:
            return _redirect("/console/login?error=" + ("oidc_not_configured" if client is None else "signin_failed"))
        url, pending = client.begin()
        # bound to this browser's pre-session cookie: a callback URL another browser began (login CSRF) is refused
        self.console.oidc_pending.put({**pending, "browser": sessions.key_of(bound)})
        return _redirect(url)

    @http("GET", "/console/login/callback")
    def login_callback(self, request):
        """The provider's redirect back (?code=&state=): the code exchanged, the token verified, a session made."""
        client = self.console.oidc
        if client is None:
            return _redirect("/console/login?error=oidc_not_configured")
        pending = self.console.oidc_pending.pop(request.args.get("state"))
        bound = request.cookies.get(sessions.LOGIN_COOKIE) or ""
        if pending is None or pending.get("browser") != sessions.key_of(bound):
            return _redirect("/console/login?error=signin_failed")
        try:
            signed_in = identity.finish_oidc(client, request.args.to_dict(), pending)
            return self._signed_in(signed_in.access_token, id_token=signed_in.id_token)
        except DomainError as exc:  # the provider said no, or its token is not one the platform accepts
            log.warning("console: an OIDC sign-in failed: %s", exc)
            return _redirect("/console/login?error=signin_failed")

    @http("POST", "/console/logout")
    @json_endpoint
    def logout(self, request):
        """Ends the session at once (the cookie answers 401 from now on) and revokes its token; needs the
        session's X-CSRF-Token. Without a session: nothing to end."""
        record = gate.session_of(request, self.store, utcnow())
        revoked, then = False, "/console/login?error=signed_out"
        if record is not None:
            sessions.check_csrf(record, request.headers.get(sessions.CSRF_HEADER))
            sessions.check_origin(request.headers, self.console.settings.origin)
            self.store.delete(record["_id"])
            try:
                revoked = identity.revoke_session(self.console.settings.amqp_uri, record,
                                                  identity.principal_of(record).actor())
            except Exception:  # the broker unreachable: the session is gone, and the answer says the token is not
                log.exception("console: the signed-out session's token could not be revoked")
            back = f"{self.console.settings.origin}/console/" if self.console.settings.origin else None
            then = identity.end_session_url(self.console.oidc, record, back) or then
        return respond(200, {"signed_out": record is not None, "revoked": revoked, "next": then},
                       {"Set-Cookie": sessions.cleared(sessions.COOKIE, secure=self._secure())})

    # --- the console's JSON (rows console.* of onestop.web.access) --------------------------

    @http("GET", "/console/api/me")
    @json_endpoint
    def me(self, request):
        """Who is signed in, the session's CSRF token, the views their role has, how often to poll."""
        return respond(200, views.me(self._caller(request, "console.me"), self.console.settings), PAGE)

    @http("GET", "/console/api/ops")
    @json_endpoint
    def ops(self, request):
        """Operators, ?center=: queues, dead letters, breakers, outbox lag, held messages, alerts."""
        caller = self._caller(request, "console.ops")
        center = self._center(request, caller, "console.ops")
        return respond(200, views.ops(caller, center, self.console.settings, self.console.lock), PAGE)

    @http("GET", "/console/api/leader")
    @json_endpoint
    def leader(self, request):
        """Center leaders, ?center=: today's and this month's figures from routing's reports, the 766 indicators."""
        caller = self._caller(request, "console.leader")
        center = self._center(request, caller, "console.leader")
        today = datetime.now(ZoneInfo(load_catalog().centers[center].timezone)).date()
        return respond(200, views.leader(caller, center, today, self.console.settings), PAGE)

    @http("POST", "/console/api/deadletters/replay")
    @json_endpoint
    def replay(self, request):
        """{"queue": "routing/hue-vyda", "ids": [...]}: back to the work queue through `onestop dlq replay`'s
        path, audited (deadletter.replayed.v1) with the signed-in operator as replayed_by."""
        caller = self._caller(request, "console.replay")
        payload = load(REPLAY, read_json(request), "The replay was not accepted.")
        try:
            queue = parse_queue(payload["queue"])
        except ValueError as exc:
            raise InvalidInput([{"field": "queue", "reason": str(exc)}]) from None
        access.require_center(caller.principal, "console.replay", queue.center)
        return respond(200, views.replay(caller, queue, payload["ids"], self.console.settings, self.console.lock))

    @http("GET", "/openapi.json")
    @json_endpoint
    def openapi(self, request):
        """This API's OpenAPI 3.1 document (services/console/api.py)."""
        return respond(200, api.document())

    @http("GET", "/healthz")
    @json_endpoint
    def healthz(self, request):
        status, body = self.health(self.store.sessions.database)
        return respond(status, body)

    @http("GET", "/metrics")
    @json_endpoint
    def metrics(self, request):
        """Prometheus metrics, text format (onestop.metrics; docs/metrics.md). No personal data."""
        return self.metering(request)

    # --- helpers ------------------------------------------------------------------------------

    def _caller(self, request, endpoint_id: str) -> gate.Caller:
        return gate.caller(request, endpoint_id, repo=self.store, guard=self.staff,
                           origin=self.console.settings.origin, now=utcnow())

    def _center(self, request, caller, endpoint_id: str) -> str:
        center = load(CENTER, request.args.to_dict(), "The query was not accepted.")["center"]
        access.require_center(caller.principal, endpoint_id, center)
        return center

    def _signed_in(self, token: str, id_token: str | None = None) -> Response:
        """A session for a token just minted or just received from the provider; 303 to the console."""
        principal = self.staff.token(token)
        if not access.allows(principal, "console.me"):
            raise Unauthorized(f"role {principal.role} has no console", reason="unknown_role")
        now = utcnow()
        self.store.forget_expired(now)
        made = sessions.new_session(token, identity.as_record(principal), expires_at=identity.expiry_of(token),
                                    now=now, id_token=id_token)
        self.store.add(made.record)
        max_age = int((made.record["expires_at"] - now).total_seconds())
        return _redirect("/console/", [self._cookie(sessions.COOKIE, made.sid, max_age),
                                       sessions.cleared(sessions.LOGIN_COOKIE, secure=self._secure())])

    def _secure(self) -> bool:
        return not self.console.settings.insecure_cookie

    def _cookie(self, name: str, value: str, max_age: int) -> str:
        return sessions.cookie(name, value, max_age=max_age, secure=self._secure())
