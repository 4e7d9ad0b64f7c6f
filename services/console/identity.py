"""Where the console meets the platform's staff identity: every call to the token issuer, the
verifier, the revocation list and the OpenID Connect client goes through one function here, so
a change of any of them (keys with a ``kid``, JWKS, revocation: onestop.web.auth,
onestop.web.revocation, onestop.web.oidc) is wired in this file alone."""
from __future__ import annotations

import inspect
import logging
from datetime import datetime, timezone

import jwt

from onestop.dependencies import StaffNotConfigured
from onestop.errors import Unauthorized
from onestop.web.auth import Principal, TokenIssuer

log = logging.getLogger(__name__)


def dev_issuer(config: dict | None) -> TokenIssuer:
    """The issuer the development sign-in mints with (make run's JWT_SECRET today); StaffNotConfigured if unset."""
    try:
        return TokenIssuer.load(config)
    except ValueError as exc:
        raise StaffNotConfigured(str(exc)) from None


def verifier(config: dict | None):
    """What checks a staff token: ``.verify(token) -> Principal`` (Unauthorized otherwise), ``.authenticate(header)``;
    StaffNotConfigured (503) while the service has no usable key."""
    try:
        return TokenIssuer.load(config)
    except ValueError as exc:
        raise StaffNotConfigured(str(exc)) from None


def mint_dev(issuer: TokenIssuer, staff: dict, session: str) -> str:
    """A token for a sample staff member, naming the console session (``sid``) where the issuer can."""
    extra = {"session": session} if "session" in inspect.signature(issuer.mint).parameters else {}
    return issuer.mint(staff["user"], staff["role"], staff["centers"], staff.get("department"),
                       name=staff.get("name"), **extra)


def claims_of(token: str) -> dict:
    """The claims of a token that was just verified (or just minted): read without checking again."""
    return jwt.decode(token, options={"verify_signature": False})


def expiry_of(token: str) -> datetime:
    return datetime.fromtimestamp(int(claims_of(token)["exp"]), timezone.utc)


def as_record(principal: Principal) -> dict:
    return {"user": principal.user, "role": principal.role, "centers": sorted(principal.centers),
            "department": principal.department, "name": principal.name}


def principal_of(record: dict) -> Principal:
    p = record["principal"]
    return Principal(p["user"], p["role"], frozenset(p["centers"]), p.get("department"), p.get("name") or p["user"])


def revoke_session(amqp_uri: str, record: dict, by: str) -> bool:
    """Revoke the signed-out session's token on every service (its ``sid`` and ``jti``) until it would
    have expired; False where this tree has no revocation list yet (onestop.web.revocation)."""
    try:
        from onestop.web.revocation import revoke
    except ImportError:
        log.warning("console: no onestop.web.revocation in this tree; the signed-out token stays valid "
                    "until it expires (the console session itself is gone)")
        return False
    claims = claims_of(record["token"])
    revoke(amqp_uri, jti=claims.get("jti"), sid=claims.get("sid"), until=expiry_of(record["token"]), by=by)
    return True


def oidc_client(config: dict | None):
    """The OpenID Connect client (onestop.web.oidc: ``begin() -> (url, pending)``, ``finish(args, pending) ->
    SignedIn``), or None: no OIDC_ISSUER set, or no onestop.web.oidc in this tree."""
    try:
        from onestop.web.oidc import OidcClient, OidcSettings
    except ImportError:
        return None
    settings = OidcSettings.load(config)
    return OidcClient(settings) if settings is not None else None


class _Pending:
    """Begun sign-ins by state, each taken once (what onestop.web.oidc.PendingSignIns does, for a tree without it)."""

    def __init__(self):
        self._pending: dict = {}

    def put(self, pending: dict) -> None:
        self._pending[pending["state"]] = pending

    def pop(self, state):
        return self._pending.pop(state, None) if isinstance(state, str) else None


def pending_sign_ins():
    """Where begun OIDC sign-ins wait for their callback: server-side, in this process."""
    try:
        from onestop.web.oidc import PendingSignIns
    except ImportError:
        return _Pending()
    return PendingSignIns()


def end_session_url(config: dict | None, record: dict, back_to: str | None) -> str | None:
    """Where to send the browser after signing out of an OIDC session (the provider's RP-initiated logout,
    which ends its single sign-on too), or None (a development session, or no provider)."""
    client = oidc_client(config) if record.get("id_token") else None
    return client.end_session_url(record["id_token"], back_to) if client is not None else None


def finish_oidc(client, query_args: dict, pending: dict):
    """The finished sign-in (``.access_token``, ``.id_token``); Unauthorized (with the provider's reason) if
    it was refused."""
    try:
        from onestop.web.oidc import OidcError
    except ImportError:  # no client without the module: nothing to finish
        raise Unauthorized("OpenID Connect is not configured", reason="oidc_not_configured") from None
    try:
        return client.finish(query_args, pending)
    except OidcError as exc:
        raise Unauthorized(str(exc), reason=getattr(exc, "reason", "oidc_refused")) from None
