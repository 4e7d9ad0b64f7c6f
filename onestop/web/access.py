"""Who may call what: every HTTP endpoint of every service, the roles that may call it, and its centers.

This table is the one home of the rule. The services read it (``require`` at
the edge, through ``StaffAuth``; ``require_center`` where the center is known),
docs/access.md is generated from it (``make docs``), and
tests/integration/test_access_table.py walks it against the running services,
role by role, own center and another center.

A row names the endpoint as its nameko entrypoint does (method and path), the
roles that may call it (or ``PUBLIC``: anyone, no token) and how the caller's
centers bound it (``Scope``). Adding an endpoint takes a row here, the
``self.staff(request, "<id>")`` call in its entrypoint, a request for the walk
(tests/integration/test_access_table.py ``REQUESTS``) and ``make docs``; a
unit test fails while an entrypoint has no row.

    >>> from onestop.web.auth import Principal
    >>> leader = Principal("vyda-leader", "center_leader", frozenset({"hue-vyda"}))
    >>> allows(leader, "audit.timeline"), allows(leader, "routing.act.start")
    (True, False)
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from contracts.lifecycle import LIFECYCLE
from onestop import errors
from onestop.web.auth import ROLES, Forbidden, Principal

__all__ = ["Scope", "Endpoint", "ANYONE", "PUBLIC", "DOSSIER", "NAMED", "HIDDEN", "FILTERED", "SUBSCRIPTION",
           "ENDPOINTS", "BY_ID",
           "endpoint", "allows", "require", "covers", "require_center", "submit", "act"]


@dataclass(frozen=True)
class Scope:
    """How the caller's centers bound an endpoint, and what a token without the center gets."""

    name: str
    rule: str  # what docs/access.md says
    refusal: type | None  # the error kind (onestop.errors) for another center's token; None: not bounded


PUBLIC = Scope("public", "anyone, without a token", None)
DOSSIER = Scope("dossier", "the dossier's center must be one of the token's; another center's dossier "
                           "answers 404, exactly as a missing one", errors.NotFound)
NAMED = Scope("center", "the center the request names (body `center`, or `?center=`) must be one of the "
                        "token's; another answers 403", errors.Forbidden)
FILTERED = Scope("filtered", "answers with what belongs to the token's centers only; another center's data "
                             "is left out, as if it did not exist", None)
HIDDEN = Scope("centers", "only the token's centers: `?center=` naming another answers 404, as an unknown "
                          "center; without it, every center of the token", errors.NotFound)
SUBSCRIPTION = Scope("subscription", "every center of the webhook subscription must be one of the token's (and an "
                                     "integrator's own subscription); another answers 404, exactly as a missing one",
                     errors.NotFound)
ANYONE = ()  # the roles of a public endpoint: no token is asked for


@dataclass(frozen=True)
class Endpoint:
    """One row: an endpoint (or one variant of it), who may call it, and its scope."""

    id: str
    service: str
    method: str
    path: str  # as the entrypoint's rule, without converters: /api/v1/dossiers/<code>
    roles: tuple[str, ...]
    scope: Scope
    summary: str  # what a call does, as "role X may not <summary>" says it: "read a dossier's audit timeline"
    when: str = ""  # the variant this row is about, e.g. '"channel": "online"'
    fixed: tuple[tuple[str, str], ...] = ()  # path parameters this row fixes, e.g. (("action", "start"),)
    note: str = ""  # a finer rule the service adds (docs only)

    def __post_init__(self):
        unknown = [r for r in self.roles if r not in ROLES]
        if unknown or bool(self.roles) == (self.scope is PUBLIC):
            raise ValueError(f"{self.id}: a public row has no roles, any other needs known roles; got {self.roles}")

    @property
    def public(self) -> bool:
        return self.scope is PUBLIC

    @property
    def route(self) -> str:
        """The nameko rule of the entrypoint, e.g. ``/api/v1/dossiers/<string:code>``."""
        return re.sub(r"<(\w+)>", r"<string:\1>", self.path)

    @property
    def shown(self) -> str:
        """The path as a caller writes it, with this row's fixed parameters filled in."""
        path = self.path
        for name, value in self.fixed:
            path = path.replace(f"<{name}>", value)
        return path


def _row(row_id: str, method: str, path: str, roles, scope: Scope, summary: str, **extra) -> Endpoint:
    """A row of the service its id begins with, its roles in the order of ``ROLES``."""
    return Endpoint(row_id, row_id.split(".")[0], method, path, tuple(r for r in ROLES if r in roles), scope,
                    summary, **extra)


# Officers and department heads see their department's dossiers only, and an officer acts on
# those assigned to them (services/routing: cases.visible_to, lifecycle.SCOPE).
_DEPARTMENT = "Officers and department heads: their department's dossiers only (another's: 404, as missing)."
_AUDIT_RATE = "Rate-limited per client address (AUDIT_RATE_LIMIT)."
_ASSIGNEE = "An officer: only dossiers assigned to them (others: 403)."


def _action_note(action) -> str:
    notes = [action.summary]
    if action.roles & {"officer", "department_head"}:
        notes.append(_DEPARTMENT)
    if "officer" in action.roles:
        notes.append(_ASSIGNEE)
    return " ".join(notes)


def _actions() -> tuple[Endpoint, ...]:
    """One row per lifecycle action, its roles as contracts/lifecycle.py gives them (the system's aside)."""
    return tuple(
        _row(f"routing.act.{a.name}", "POST", "/api/v1/work/dossiers/<code>/actions/<action>",
             a.roles - {"system"}, DOSSIER, f"take the action {a.name}", fixed=(("action", a.name),),
             note=_action_note(a))
        for a in LIFECYCLE.actions)


_SUBMIT = "take a dossier in"
_OPENAPI = "read the service's OpenAPI document"
_SUBSCRIPTIONS = "/api/v1/subscriptions"
_READERS = ("integrator", "operator")  # operators see and replay every subscription of their centers


def _webhooks() -> tuple[Endpoint, ...]:
    """The webhook subscription API (services/webhooks, docs/webhooks.md)."""
    one = f"{_SUBSCRIPTIONS}/<sub_id>"
    rows = (("get", "GET", one, _READERS, "read a webhook subscription"),
            ("update", "PATCH", one, ("integrator",), "change a webhook subscription"),
            ("delete", "DELETE", one, ("integrator",), "delete a webhook subscription"),
            ("pause", "POST", f"{one}/pause", _READERS, "pause a webhook subscription"),
            ("resume", "POST", f"{one}/resume", _READERS, "resume a webhook subscription"),
            ("rotate_secret", "POST", f"{one}/rotate-secret", ("integrator",), "rotate a webhook secret"),
            ("deliveries", "GET", f"{one}/deliveries", _READERS, "read a subscription's delivery attempts"),
            ("replay_one", "POST", f"{one}/deliveries/<event_id>/replay", _READERS, "replay one webhook event"),
            ("replay_range", "POST", f"{one}/replay", _READERS, "replay a time range of webhook events"))
    return (
        _row("webhooks.create", "POST", _SUBSCRIPTIONS, ("integrator",), NAMED, "create a webhook subscription",
             note="Every center in the body's `centers` must be the token's (another: 403)."),
        _row("webhooks.list", "GET", _SUBSCRIPTIONS, _READERS, FILTERED, "list webhook subscriptions",
             note="An integrator: the subscriptions it created; an operator: all of its centers'."),
        *(_row(f"webhooks.{name}", method, path, roles, SUBSCRIPTION, summary) for name, method, path, roles, summary
          in rows),
        _row("webhooks.healthz", "GET", "/healthz", ANYONE, PUBLIC, "read the service's health"),
        _row("webhooks.openapi", "GET", "/openapi.json", ANYONE, PUBLIC, _OPENAPI),
    )


# --- issue 17, the console in the browser (services/console, docs/console.md) ---------------
_CONSOLE_STAFF = ("counter_staff", "officer", "department_head", "center_leader", "auditor", "operator")
_CONSOLE_PAGE = "The page shell holds no data: what it shows comes from the console's JSON below."
_SESSION = ("A console session (the onestop_session cookie) or a bearer token; with a session, a POST needs its "
            "X-CSRF-Token and the console's own Origin (403 otherwise).")


def _console() -> tuple[Endpoint, ...]:
    """The console's pages (public shells) and its JSON, authorised by the session's principal."""
    return (
        _row("console.index", "GET", "/console/", ANYONE, PUBLIC, "open the console's page", note=_CONSOLE_PAGE),
        _row("console.script", "GET", "/console/app.js", ANYONE, PUBLIC, "read the console's script"),
        _row("console.style", "GET", "/console/app.css", ANYONE, PUBLIC, "read the console's style sheet"),
        _row("console.login", "GET", "/console/login", ANYONE, PUBLIC, "open the console's sign-in page"),
        _row("console.login_dev", "POST", "/console/login/dev", ANYONE, PUBLIC,
             "sign in as a sample staff member (development)",
             note="Only with CONSOLE_DEV_SIGNIN=true (make run); the form's token must match its pre-session cookie."),
        _row("console.login_oidc", "GET", "/console/login/oidc", ANYONE, PUBLIC,
             "start signing in at the OpenID Connect provider"),
        _row("console.login_callback", "GET", "/console/login/callback", ANYONE, PUBLIC,
             "finish signing in at the OpenID Connect provider"),
        _row("console.logout", "POST", "/console/logout", ANYONE, PUBLIC, "sign out of the console",
             note="With a session: its X-CSRF-Token; the session ends at once and its token is revoked."),
        _row("console.me", "GET", "/console/api/me", _CONSOLE_STAFF, FILTERED, "read who is signed in to the console",
             note=_SESSION),
        _row("console.ops", "GET", "/console/api/ops", ("operator",), NAMED,
             "read the console's operations view", note=_SESSION),
        _row("console.replay", "POST", "/console/api/deadletters/replay", ("operator",), NAMED,
             "replay dead letters from the console",
             note="The queue's center must be the token's (another: 403). Audited: replayed_by is the caller. "
                  + _SESSION),
        _row("console.leader", "GET", "/console/api/leader", ("department_head", "center_leader", "auditor"), NAMED,
             "read the console's center leader view", note=_SESSION),
        _row("console.healthz", "GET", "/healthz", ANYONE, PUBLIC, "read the service's health"),
        _row("console.openapi", "GET", "/openapi.json", ANYONE, PUBLIC, _OPENAPI),
    )


ENDPOINTS: tuple[Endpoint, ...] = (
    _row("intake.submit.counter", "POST", "/api/v1/dossiers", ("counter_staff",), NAMED, _SUBMIT,
         when='"channel": "counter"'),
    _row("intake.submit.postal", "POST", "/api/v1/dossiers", ("counter_staff",), NAMED, _SUBMIT,
         when='"channel": "postal"'),
    _row("intake.submit.online", "POST", "/api/v1/dossiers", ("portal",), NAMED, _SUBMIT,
         when='"channel": "online"',
         note="A portal's client credential (`onestop token portal`); the portal is the event's actor."),
    _row("intake.status", "GET", "/api/v1/dossiers/<code>", ANYONE, PUBLIC,
         "read a dossier's status",
         note="The citizen's details need the citizen's proof. Rate-limited per client address "
              "(STATUS_RATE_LIMIT)."),
    _row("intake.rating", "POST", "/api/v1/dossiers/<code>/rating", ANYONE, PUBLIC,
         "rate the service",
         note="With the rating code the citizen was sent. Rate-limited per client address (STATUS_RATE_LIMIT)."),
    _row("intake.procedures", "GET", "/api/v1/procedures", ANYONE, PUBLIC, "read the catalog's procedures"),
    _row("intake.centers", "GET", "/api/v1/centers", ANYONE, PUBLIC, "read the catalog's centers"),
    _row("intake.openapi", "GET", "/openapi.json", ANYONE, PUBLIC, _OPENAPI),
    _row("intake.healthz", "GET", "/healthz", ANYONE, PUBLIC, "read the service's health"),
    _row("intake.privacy_export", "POST", "/api/v1/privacy/export", ("operator",), FILTERED,
         "export a citizen's personal data", note="The ID number in the body, never in the URL (docs/privacy.md)."),
    _row("intake.privacy_erase", "POST", "/api/v1/privacy/erase", ("operator",), FILTERED,
         "erase a citizen's personal data", note="Closed dossiers only: an open one answers 409, naming it."),
    _row("routing.queue", "GET", "/api/v1/work/queue",
         ("counter_staff", "officer", "department_head", "center_leader", "auditor"), NAMED,
         "read a work queue",
         note="An officer's own dossiers, a department head's department, the whole center for the others."),
    _row("routing.case", "GET", "/api/v1/work/dossiers/<code>",
         ("counter_staff", "officer", "department_head", "center_leader", "auditor"), DOSSIER,
         "read a dossier's case",
         note="Officers and department heads: their department's dossiers (others: 404, as missing)."),
    *_actions(),
    _row("routing.reports", "GET", "/api/v1/reports", ("department_head", "center_leader", "auditor"), NAMED,
         "read the reports", note="A department head: their department's."),
    _row("routing.openapi", "GET", "/openapi.json", ANYONE, PUBLIC, _OPENAPI),
    _row("routing.healthz", "GET", "/healthz", ANYONE, PUBLIC, "read the service's health"),
    _row("notification.openapi", "GET", "/openapi.json", ANYONE, PUBLIC, _OPENAPI),
    _row("notification.healthz", "GET", "/healthz", ANYONE, PUBLIC, "read the service's health",
         note="With each provider's circuit breaker."),
    _row("notification.privacy_export", "POST", "/api/v1/privacy/export", ("operator",), FILTERED,
         "export what notification keeps of a citizen", note="Body: the codes intake's export found."),
    _row("notification.held", "GET", "/api/v1/held", ("operator",), NAMED,
         "see the citizen messages held by a recipient limit",
         note="Without `?center=`, the held messages of every center of the token; addresses masked."),
    _row("notification.release", "POST", "/api/v1/held/<delivery_id>/release", ("operator",), DOSSIER,
         "release a held citizen message",
         note="The held message's center must be one of the token's; another center's answers 404, as a missing id."),
    _row("audit.timeline", "GET", "/api/v1/audit/dossiers/<code>", ("center_leader", "auditor", "operator"),
         DOSSIER, "read a dossier's audit timeline", note="Rate-limited per client address (AUDIT_RATE_LIMIT)."),
    _row("audit.verify", "GET", "/api/v1/audit/verify", ("center_leader", "auditor", "operator"), HIDDEN,
         "verify the audit chains", note="Rate-limited per client address (AUDIT_RATE_LIMIT)."),
    _row("audit.keys", "GET", "/api/v1/audit/keys", ANYONE, PUBLIC, "read the audit log's verifier keys",
         note="Public keys only: what a verifier or a witness needs to check a checkpoint."),
    _row("audit.checkpoint", "GET", "/api/v1/audit/checkpoints/latest", ("center_leader", "auditor", "operator"),
         NAMED, "read a center's latest audit checkpoint", note=_AUDIT_RATE),
    _row("audit.sign", "POST", "/api/v1/audit/checkpoints", ("auditor", "operator"), NAMED,
         "have audit sign a checkpoint now", note="Body `{\"center\": ...}`. " + _AUDIT_RATE),
    _row("audit.inclusion", "GET", "/api/v1/audit/proofs/inclusion", ("center_leader", "auditor", "operator"),
         NAMED, "read an inclusion proof", note=_AUDIT_RATE),
    _row("audit.consistency", "GET", "/api/v1/audit/proofs/consistency", ("center_leader", "auditor", "operator"),
         NAMED, "read a consistency proof", note=_AUDIT_RATE),
    _row("audit.entries", "GET", "/api/v1/audit/entries", ("auditor", "operator"), NAMED,
         "read a center's audit log leaf by leaf", note="At most 1,000 leaves a page. " + _AUDIT_RATE),
    _row("audit.receipt", "GET", "/api/v1/audit/receipts/<leaf_hash>", ANYONE, PUBLIC,
         "read a receipt's inclusion proof",
         note="The leaf hash printed on a receipt is the key; the answer holds hashes and sizes only. " + _AUDIT_RATE),
    _row("audit.openapi", "GET", "/openapi.json", ANYONE, PUBLIC, _OPENAPI),
    _row("audit.healthz", "GET", "/healthz", ANYONE, PUBLIC, "read the service's health"),
    *_webhooks(),
    # Metrics (issue 17): every service's Prometheus scrape endpoint.
    *(_row(f"{service}.metrics", "GET", "/metrics", ANYONE, PUBLIC, "read the service's Prometheus metrics",
           note="Counts and timings only, no personal data (docs/metrics.md); for the internal network. With "
                "METRICS_TOKEN set, only `Authorization: Bearer <METRICS_TOKEN>` (else 401).")
      for service in ("intake", "routing", "notification", "audit", "webhooks", "console", "alerts")),
    *_console(),  # issue 17: the console
    # Issue 17, alerts (services/alerts): operators and center leaders read the alerts of their centers.
    _row("alerts.list", "GET", "/api/v1/alerts", ("center_leader", "operator"), HIDDEN, "read the operator alerts",
         note="The token's centers' alerts and the platform's own (center `all`)."),
    _row("alerts.healthz", "GET", "/healthz", ANYONE, PUBLIC, "read the service's health"),
    _row("alerts.openapi", "GET", "/openapi.json", ANYONE, PUBLIC, _OPENAPI),
)


def _index(rows) -> dict[str, Endpoint]:
    index = {e.id: e for e in rows}
    if len(index) != len(rows):
        raise ValueError("two access rows share an id")
    return index


BY_ID: dict[str, Endpoint] = _index(ENDPOINTS)


def endpoint(endpoint_id: str) -> Endpoint:
    """The row `endpoint_id`; LookupError for an id without a row (a programming error)."""
    try:
        return BY_ID[endpoint_id]
    except KeyError:
        raise LookupError(f"no access row {endpoint_id!r}; see onestop.web.access.ENDPOINTS") from None


def allows(principal: Principal, endpoint_id: str) -> bool:
    """Whether the principal's role may call the endpoint (its centers aside)."""
    row = endpoint(endpoint_id)
    return row.public or principal.role in row.roles


def require(principal: Principal, endpoint_id: str) -> Principal:
    """`principal` if its role may call the endpoint, else Forbidden naming the roles that may."""
    if not allows(principal, endpoint_id):
        row = endpoint(endpoint_id)
        raise Forbidden(f"role {principal.role} may not {row.summary}; "
                        f"allowed roles: {', '.join(row.roles)}")
    return principal


def covers(principal: Principal, endpoint_id: str, center: str) -> bool:
    """Whether the endpoint's scope lets the principal reach `center` (always, if it is not bounded)."""
    return endpoint(endpoint_id).scope.refusal is None or principal.may_act_for(center)


def require_center(principal: Principal, endpoint_id: str, center: str, missing: Exception | None = None) -> None:
    """Nothing if the token lists `center`; else the row's refusal: Forbidden, or `missing`,
    the very error the endpoint gives for something that does not exist."""
    row = endpoint(endpoint_id)
    if covers(principal, endpoint_id, center):
        return
    if row.scope.refusal is errors.Forbidden:
        raise Forbidden(f"your token does not list center {center}; it lists {', '.join(sorted(principal.centers))}")
    if missing is None:
        raise ValueError(f"{endpoint_id} hides other centers: pass the error it gives for a missing one")
    raise missing


def submit(channel) -> str:
    """The row of a dossier submitted by `channel`; an unknown channel is counter work (the
    schema refuses it, after the token was checked)."""
    return f"intake.submit.{channel}" if f"intake.submit.{channel}" in BY_ID else "intake.submit.counter"


def act(action) -> str | None:
    """The row of a lifecycle action, or None for an unknown one (routing answers it 404)."""
    return f"routing.act.{action}" if isinstance(action, str) and f"routing.act.{action}" in BY_ID else None
