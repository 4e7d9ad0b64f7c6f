"""The console's sessions (pure): what a session holds, its cookie, and the checks on each request.

The browser holds only ``onestop_session``, an HttpOnly, SameSite=Strict cookie on Path=/console that
carries a random session id; the staff token it stands for stays server-side (the session store keeps
the id's SHA-256, never the id itself, so a copy of the store opens no session). A state-changing
request must carry the session's ``csrf`` in ``X-CSRF-Token`` and come from the console's own origin.

    >>> s = new_session("tok", {"user": "ops-01", "role": "operator", "centers": ["hue-vyda"]},
    ...                 expires_at=datetime(2026, 1, 1, 1, tzinfo=timezone.utc), now=datetime(2026, 1, 1, tzinfo=timezone.utc))
    >>> len(s.sid) >= 43, s.record["_id"] == key_of(s.sid), "sid" in s.record
    (True, True, False)
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

from onestop.errors import Forbidden, Unauthorized

COOKIE = "onestop_session"
LOGIN_COOKIE = "onestop_login"  # the pre-session cookie the sign-in form's token is bound to
PATH = "/console"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def key_of(sid: str) -> str:
    """What the store keys a session by: the id's SHA-256 (hex)."""
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewSession:
    sid: str  # goes to the cookie, once
    record: dict  # goes to the store


def new_session(token: str, principal: dict, *, expires_at: datetime, now: datetime,
                id_token: str | None = None) -> NewSession:
    """A fresh session (a new id at every sign-in: no fixation) for a verified token (and, signed in at an
    OpenID Connect provider, its id_token, for the provider's sign-out)."""
    sid = secrets.token_urlsafe(32)
    record = {"_id": key_of(sid), "token": token, "principal": principal, "csrf": secrets.token_urlsafe(32),
              "created_at": now, "expires_at": expires_at, "last_seen": now, "id_token": id_token}
    return NewSession(sid, record)


def alive(record: dict | None, now: datetime) -> dict:
    """The session, or Unauthorized: none (signed out, never signed in) or past its token's expiry."""
    if record is None:
        raise Unauthorized("No console session: sign in at /console/login.", reason="missing")
    expires = record["expires_at"]
    if expires.tzinfo is None:  # the embedded store gives naive UTC back
        expires = expires.replace(tzinfo=timezone.utc)
    if expires <= now:
        raise Unauthorized("The console session has expired: sign in again.", reason="expired")
    return record


def cookie(name: str, value: str, *, max_age: int, secure: bool) -> str:
    """A Set-Cookie value: HttpOnly, SameSite=Strict, Path=/console, Secure unless told otherwise."""
    parts = [f"{name}={value}", f"Path={PATH}", f"Max-Age={max(0, int(max_age))}", "HttpOnly", "SameSite=Strict"]
    return "; ".join(parts + (["Secure"] if secure else []))


def cleared(name: str, *, secure: bool) -> str:
    return cookie(name, "", max_age=0, secure=secure)


def refuse(field: str, reason: str) -> Forbidden:
    return Forbidden("The request was refused as a possible cross-site request.",
                     fields=[{"field": field, "reason": reason}], error="csrf_refused")


def check_csrf(record: dict, sent: str | None) -> None:
    """The header must equal the session's token (compared in constant time)."""
    if not sent:
        raise refuse(CSRF_HEADER, "missing: send the csrf token of GET /console/api/me")
    if not hmac.compare_digest(sent.encode(), record["csrf"].encode()):
        raise refuse(CSRF_HEADER, "does not match this session's")


def check_form_token(cookie_value: str | None, sent: str | None) -> None:
    """The sign-in form's token must equal its pre-session cookie (set with the form)."""
    if not cookie_value:
        raise refuse(LOGIN_COOKIE, "missing: open /console/login again")
    if not sent or not hmac.compare_digest(sent.encode(), cookie_value.encode()):
        raise refuse("form_token", "does not match the sign-in form's cookie: open /console/login again")


def check_origin(headers, expected: str) -> None:
    """Origin (else Referer) must be the console's own: `expected` (scheme://host[:port]) when set,
    else the Host the request came to."""
    seen = headers.get("Origin") or headers.get("Referer")
    if not seen or seen == "null":
        raise refuse("Origin", "missing: a state-changing request must say where it comes from")
    parts = urlsplit(seen)
    if expected:
        ok = f"{parts.scheme}://{parts.netloc}" == expected
    else:
        ok = parts.netloc == (headers.get("Host") or "")
    if not ok:
        raise refuse("Origin", f"{parts.scheme}://{parts.netloc} is not the console's origin")
