"""Who is calling the console: its session (the cookie) or, for scripts and the access walk, a bearer
token; and, for a state-changing request made with a session, its CSRF token and origin.

The session's principal is authorised by the platform's one table (onestop.web.access), exactly as a
bearer token's would be by any other service."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from onestop.web import access
from onestop.web.auth import Principal
from services.console import identity, sessions


@dataclass(frozen=True)
class Caller:
    principal: Principal
    token: str  # what the console sends to the other services for this person
    session: dict | None  # None: a bearer token (no cookie, so nothing to forge across sites)


def session_of(request, repo, now: datetime) -> dict | None:
    sid = request.cookies.get(sessions.COOKIE)
    return repo.get(sessions.key_of(sid)) if sid else None


def caller(request, endpoint_id: str, *, repo, verifier, origin: str, now: datetime) -> Caller:
    """The caller, allowed by the access row `endpoint_id`; Unauthorized, or Forbidden (the role, or
    a state-changing request without the session's CSRF token or from another origin)."""
    if request.cookies.get(sessions.COOKIE) or not request.headers.get("Authorization"):
        record = sessions.alive(session_of(request, repo, now), now)
        if request.method in sessions.UNSAFE:
            sessions.check_csrf(record, request.headers.get(sessions.CSRF_HEADER))
            sessions.check_origin(request.headers, origin)
        repo.seen(record["_id"], now)
        return Caller(access.require(identity.principal_of(record), endpoint_id), record["token"], record)
    principal = verifier.authenticate(request.headers.get("Authorization"))
    token = request.headers["Authorization"].split(None, 1)[1].strip()
    return Caller(access.require(principal, endpoint_id), token, None)
