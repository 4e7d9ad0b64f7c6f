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


def caller(request, endpoint_id: str, *, repo, guard, origin: str, now: datetime) -> Caller:
    """The caller, allowed by the access row `endpoint_id`; Unauthorized, or Forbidden (the role, or
    a state-changing request without the session's CSRF token or from another origin). A session's token
    is checked again at every request (`guard`: onestop.dependencies.StaffGuard), so a token revoked on
    the platform (onestop.web.revocation) or expired ends its console session at once too."""
    if request.cookies.get(sessions.COOKIE) or not request.headers.get("Authorization"):
        record = sessions.alive(session_of(request, repo, now), now)
        if request.method in sessions.UNSAFE:
            sessions.check_csrf(record, request.headers.get(sessions.CSRF_HEADER))
            sessions.check_origin(request.headers, origin)
        principal = guard.token(record["token"], endpoint_id)
        repo.seen(record["_id"], now)
        return Caller(principal, record["token"], record)
    principal = guard(request, endpoint_id)
    token = request.headers["Authorization"].split(None, 1)[1].strip()
    return Caller(principal, token, None)
