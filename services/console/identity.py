"""Where the console meets the platform's staff identity: every call to the token issuer, the
verifier, the revocation list and the OpenID Connect client goes through one function here, so
a change of any of them (keys with a ``kid``, JWKS, revocation: onestop.web.auth,
onestop.web.revocation, onestop.web.oidc) is wired in this file alone."""
from __future__ import annotations

from datetime import datetime, timezone

import jwt

from onestop.dependencies import StaffNotConfigured
from onestop.errors import Unauthorized
from onestop.web.auth import Principal, TokenIssuer
from onestop.web.oidc import OidcClient, OidcError, OidcSettings
from onestop.web.revocation import revoke

def dev_issuer(config: dict | None) -> TokenIssuer:
    """The issuer the development sign-in mints with (make run's development key set, AUTH_SIGNING_KEYS:
    onestop.web.auth.TokenIssuer); StaffNotConfigured if unset."""
    try:
        return TokenIssuer.load(config)
    except ValueError as exc:
        raise StaffNotConfigured(str(exc)) from None


def mint_dev(issuer: TokenIssuer, staff: dict, session: str) -> str:
    """A token for a sample staff member, naming the console session (``sid``)."""
    return issuer.mint(staff["user"], staff["role"], staff["centers"], staff.get("department"),
                       name=staff.get("name"), session=session)


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


def revoke_session(amqp_uri: str, record: dict, by: dict) -> bool:
    """Revoke the signed-out session's token on every service until it would have expired
    (onestop.web.revocation: the stream every service reads): by its ``sid``, which covers every token
    of the session, or by its ``jti`` where a provider's token names no session."""
    claims = claims_of(record["token"])
    named = {"sid": claims["sid"]} if claims.get("sid") else {"jti": claims["jti"]}
    revoke(amqp_uri, **named, until=int(claims["exp"]), by=by)
    return True


def oidc_client(config: dict | None) -> OidcClient | None:
    """The OpenID Connect client (onestop.web.oidc: ``begin() -> (url, pending)``, ``finish(args, pending) ->
    SignedIn``; its discovery document cached in it), or None: no OIDC_ISSUER set."""
    settings = OidcSettings.load(config)
    return OidcClient(settings) if settings is not None else None


def end_session_url(client: OidcClient | None, record: dict, back_to: str | None) -> str | None:
    """Where to send the browser after signing out of an OIDC session (the provider's RP-initiated logout,
    which ends its single sign-on too), or None (a development session, or no provider)."""
    if client is None or not record.get("id_token"):
        return None
    return client.end_session_url(record["id_token"], back_to)


def finish_oidc(client, query_args: dict, pending: dict):
    """The finished sign-in (``.access_token``, ``.id_token``); Unauthorized (with the provider's reason) if
    it was refused."""
    try:
        return client.finish(query_args, pending)
    except OidcError as exc:
        raise Unauthorized(str(exc), reason=getattr(exc, "reason", "oidc_refused")) from None
