"""OpenID Connect sign-in for staff: the relying party the console uses (framework-free).

In production an OpenID Connect provider (Keycloak in docker-compose, or any other) signs staff in with the
authorization code flow and PKCE (S256)::

    client, pending_sign_ins = OidcClient(OidcSettings.load(config)), PendingSignIns()
    url, pending = client.begin()          # keep `pending` SERVER-SIDE, keyed by pending["state"]
    pending_sign_ins.put(pending)          # ... and redirect the browser to `url`
    # the provider calls back with ?code=...&state=...
    signed_in = client.finish(request.args, pending_sign_ins.pop(request.args.get("state")))
    signed_in.access_token                 # what the console forwards to the services (Bearer)
    signed_in.claims                       # the verified id_token's claims (who signed in)

``begin`` makes a fresh ``state`` (CSRF on the callback), ``nonce`` (binds the id_token to this attempt) and
PKCE ``code_verifier``; none of them leaves the server except as the provider's request parameters (the
verifier only as its S256 challenge). ``finish`` refuses, with an ``OidcError`` whose ``reason`` is a key of
``REASONS``: an unknown or mismatched state, an attempt older than ``OIDC_PENDING_TTL``, an ``error`` the
provider sent back, a code the token endpoint refuses (a replayed code, a wrong verifier), and an id_token whose
signature (JWKS, by ``kid``; only ``OIDC_ALGORITHMS``, never ``none`` or HMAC), ``iss``, ``aud`` (the client id;
``azp`` too when ``aud`` has several values), ``exp``/``iat`` or ``nonce`` is wrong. The caller must ``pop``
the pending attempt before ``finish``, so that a replayed callback finds none.

The ACCESS token is what the services check (onestop.web.auth: its ``iss``, ``aud`` = ``onestop-staff``,
``kid``, and the claims mapped to role and centers): the provider must put the audience ``onestop-staff`` in
the access tokens it issues to this client (Keycloak: an "Audience" protocol mapper, see
deploy/keycloak/onestop-realm.json and docs/identity-oidc.md). This module does not read the access token.

Why Authlib (``authlib.integrations.requests_client.OAuth2Session``): it is the maintained OAuth 2 / OIDC
library of the Python field (RFC 6749, 7636 PKCE, client authentication methods, error responses parsed into
``OAuthError``), on top of ``requests``, which the project already uses. The id_token is checked with PyJWT's
``PyJWKClient``, the same verifier family the services use for access tokens: its JWKS is cached, and a token
with an unknown ``kid`` makes it fetch the set again once, so a key rotation at the provider needs no restart.

Settings (nameko/console config first, then the environment): ``OIDC_ISSUER`` (the provider's issuer as this
process reaches it, e.g. ``http://keycloak:8080/realms/onestop``; unset: no OIDC, ``load`` returns None),
``OIDC_CLIENT_ID``, ``OIDC_CLIENT_SECRET``, ``OIDC_REDIRECT_URI`` (``https://<console>/console/login/callback``),
``OIDC_SCOPES`` (default ``openid profile``), ``OIDC_PUBLIC_ISSUER`` (the browser-facing issuer when it differs:
it is then the expected ``iss``, and browser URLs under ``OIDC_ISSUER`` are rewritten to it),
``OIDC_ALGORITHMS`` (default ``RS256,ES256``), ``OIDC_LEEWAY`` (seconds, default 30), ``OIDC_PENDING_TTL``
(seconds a sign-in may take, default 600), ``OIDC_TIMEOUT`` (seconds per call to the provider, default 10),
``OIDC_JWKS_COOLDOWN`` (seconds between two fetches of the key set caused by unknown ``kid`` values, default 30:
a flood of forged kids cannot make the console hammer the provider; a real rotation is seen within that time).
"""
from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import jwt
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from onestop.web.auth import DECODE_ERRORS  # PyJWT's errors -> reasons, as the services' verifier names them

__all__ = ["REASONS", "OidcError", "OidcSettings", "SignedIn", "OidcClient", "PendingSignIns"]

DEFAULT_SCOPES = "openid profile"
DEFAULT_ALGORITHMS = "RS256,ES256"
# Never accepted, whatever a setting says: `none` is unsigned, and HMAC would take the client secret (or a
# published key) as the verification key.
REFUSED_ALGORITHMS = frozenset({"none", "HS256", "HS384", "HS512"})
DISCOVERY_PATH = "/.well-known/openid-configuration"
DISCOVERY_TTL_S = 3600.0
REQUIRED_METADATA = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")

REASONS = {
    "unknown_state": "no sign-in was started with this state (expired, already used, or forged)",
    "state_mismatch": "the callback's state is not the one this sign-in was started with",
    "attempt_expired": "the sign-in took too long; start again",
    "provider_error": "the identity provider refused the sign-in",
    "missing_code": "the callback carries no authorization code",
    "code_rejected": "the identity provider refused the authorization code (used already, or not ours)",
    "provider_unreachable": "the identity provider could not be reached",
    "bad_discovery": "the identity provider's discovery document is unusable",
    "no_id_token": "the identity provider returned no id_token",
    "malformed_token": "the id_token is not a well-formed JWT",
    "algorithm_refused": "the id_token is signed with an algorithm that is not accepted",
    "unknown_key": "the id_token is signed with a key the provider does not publish",
    "bad_signature": "the id_token's signature does not match",
    "wrong_issuer": "the id_token was issued by someone else",
    "wrong_audience": "the id_token was issued for another client",
    "expired": "the id_token has expired",
    "not_yet_valid": "the id_token is not valid yet",
    "missing_claim": "the id_token lacks a required claim",
    "nonce_mismatch": "the id_token's nonce is not this sign-in's",
}



class OidcError(Exception):
    """A refused sign-in; ``reason`` is a key of ``REASONS``, ``detail`` what was seen (safe to log)."""

    def __init__(self, reason: str, detail: str | None = None):
        super().__init__(REASONS.get(reason, reason) + (f" ({detail})" if detail else ""))
        self.reason = reason
        self.detail = detail


def _setting(config, key: str, default: str = "") -> str:
    if config and config.get(key) is not None:
        return str(config[key])
    return os.environ.get(key, default)


@dataclass(frozen=True)
class OidcSettings:
    """Where the provider is and who this client is (see the module's doc for each setting)."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    scopes: str = DEFAULT_SCOPES
    public_issuer: str | None = None
    algorithms: tuple = ("RS256", "ES256")
    leeway_s: float = 30.0
    pending_ttl_s: float = 600.0
    timeout_s: float = 10.0
    jwks_cooldown_s: float = 30.0

    def __post_init__(self):
        missing = [name for name in ("client_id", "client_secret", "redirect_uri") if not getattr(self, name)]
        if missing:
            raise ValueError(f"OIDC_ISSUER is set but OIDC_{'/OIDC_'.join(m.upper() for m in missing)} is not")
        if "openid" not in self.scopes.split():
            raise ValueError(f"OIDC_SCOPES must include openid (got {self.scopes!r})")
        refused = REFUSED_ALGORITHMS.intersection(self.algorithms)
        if refused or not self.algorithms:
            raise ValueError(f"OIDC_ALGORITHMS may not be empty nor name {sorted(refused)}: asymmetric only")

    @property
    def expected_issuer(self) -> str:
        """The ``iss`` the provider's tokens (and its discovery document) must name."""
        return self.public_issuer or self.issuer

    @classmethod
    def load(cls, config: dict | None = None) -> "OidcSettings | None":
        """From the container config first, then the environment; None when OIDC_ISSUER is unset."""
        issuer = _setting(config, "OIDC_ISSUER").rstrip("/")
        if not issuer:
            return None
        algorithms = tuple(a.strip() for a in _setting(config, "OIDC_ALGORITHMS", DEFAULT_ALGORITHMS).split(",")
                           if a.strip())
        return cls(issuer=issuer, client_id=_setting(config, "OIDC_CLIENT_ID"),
                   client_secret=_setting(config, "OIDC_CLIENT_SECRET"),
                   redirect_uri=_setting(config, "OIDC_REDIRECT_URI"),
                   scopes=_setting(config, "OIDC_SCOPES", DEFAULT_SCOPES),
                   public_issuer=_setting(config, "OIDC_PUBLIC_ISSUER").rstrip("/") or None,
                   algorithms=algorithms, leeway_s=float(_setting(config, "OIDC_LEEWAY", "30")),
                   pending_ttl_s=float(_setting(config, "OIDC_PENDING_TTL", "600")),
                   timeout_s=float(_setting(config, "OIDC_TIMEOUT", "10")),
                   jwks_cooldown_s=float(_setting(config, "OIDC_JWKS_COOLDOWN", "30")))


@dataclass(frozen=True)
class SignedIn:
    """The tokens of a finished sign-in; ``claims`` are the verified id_token's."""

    access_token: str
    id_token: str | None
    refresh_token: str | None
    expires_at: int | None
    claims: dict = field(default_factory=dict)


class PendingSignIns:
    """Sign-ins begun and not finished, kept server-side by their state; each can be taken once.

    In one process's memory: a console with several processes shares them another way (a sticky session,
    or a store of its own), or a callback may land where its attempt is unknown (``unknown_state``).
    ``limit`` bounds the memory a flood of begun sign-ins can take; the oldest go first.
    """

    def __init__(self, ttl_s: float = 600.0, limit: int = 10_000, now=time.time):
        self.ttl_s, self.limit, self._now = ttl_s, limit, now
        self._pending: dict = {}
        self._lock = threading.Lock()

    def put(self, pending: dict) -> None:
        with self._lock:
            self._drop_expired()
            while len(self._pending) >= self.limit:
                self._pending.pop(next(iter(self._pending)))
            self._pending[pending["state"]] = pending

    def pop(self, state: str | None) -> dict | None:
        """The attempt begun with `state`, removed (a replayed callback finds nothing); None if unknown."""
        with self._lock:
            self._drop_expired()
            return self._pending.pop(state, None) if isinstance(state, str) else None

    def __len__(self) -> int:
        return len(self._pending)

    def _drop_expired(self) -> None:
        horizon = self._now() - self.ttl_s  # kept in the order they began: the expired ones come first
        while self._pending and next(iter(self._pending.values()))["created_at"] < horizon:
            self._pending.pop(next(iter(self._pending)))


class OidcClient:
    """The console's relying party: discovery, the code flow with PKCE, refresh, sign-out URL."""

    def __init__(self, settings: OidcSettings, now=time.time):
        self.settings = settings
        self._now = now
        self._lock = threading.Lock()
        self._metadata: dict | None = None
        self._fetched_at = 0.0
        self._jwks: jwt.PyJWKClient | None = None

    # -- discovery ---------------------------------------------------------------------------------
    def metadata(self) -> dict:
        """The provider's discovery document, fetched once an hour at most; its issuer checked."""
        with self._lock:
            if self._metadata is None or self._now() - self._fetched_at > DISCOVERY_TTL_S:
                self._metadata = self._discover()
                self._fetched_at = self._now()
                self._jwks = jwt.PyJWKClient(
                    self._server_url(self._metadata["jwks_uri"]), cache_keys=True, lifespan=300,
                    timeout=self.settings.timeout_s, cooldown_duration=self.settings.jwks_cooldown_s)
            return self._metadata

    def _discover(self) -> dict:
        url = self.settings.issuer + DISCOVERY_PATH
        try:
            answer = requests.get(url, timeout=self.settings.timeout_s)
            answer.raise_for_status()
            document = answer.json()
        except requests.RequestException as exc:
            raise OidcError("provider_unreachable", f"{url}: {exc.__class__.__name__}") from exc
        except ValueError as exc:
            raise OidcError("bad_discovery", f"{url} is not JSON") from exc
        missing = [key for key in REQUIRED_METADATA if not isinstance(document.get(key), str)]
        if missing:
            raise OidcError("bad_discovery", f"{url} lacks {', '.join(missing)}")
        if document["issuer"].rstrip("/") != self.settings.expected_issuer:
            raise OidcError("bad_discovery", f"issuer {document['issuer']!r}, expected "
                                             f"{self.settings.expected_issuer!r} (OIDC_PUBLIC_ISSUER?)")
        return document

    def _browser_url(self, url: str) -> str:
        """A provider URL the browser follows: under the public issuer when one is configured."""
        return _rebase(url, self.settings.issuer, self.settings.public_issuer)

    def _server_url(self, url: str) -> str:
        """A provider URL this process calls (token, JWKS): under the internal issuer, so that a provider
        whose discovery names only its public address (Keycloak without a dynamic back channel) needs no
        hairpin through the reverse proxy."""
        return _rebase(url, self.settings.public_issuer, self.settings.issuer)

    def _session(self) -> OAuth2Session:
        s = self.settings
        return OAuth2Session(s.client_id, s.client_secret, scope=s.scopes, redirect_uri=s.redirect_uri,
                             code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")

    # -- the code flow -----------------------------------------------------------------------------
    def begin(self, login_hint: str | None = None) -> tuple[str, dict]:
        """(the provider's authorization URL to redirect to, the pending attempt to keep server-side)."""
        pending = {"state": secrets.token_urlsafe(32), "nonce": secrets.token_urlsafe(32),
                   "code_verifier": secrets.token_urlsafe(64), "created_at": self._now()}
        extra = {"login_hint": login_hint} if login_hint else {}
        with self._session() as session:
            url, _ = session.create_authorization_url(
                self._browser_url(self.metadata()["authorization_endpoint"]), state=pending["state"],
                nonce=pending["nonce"], code_verifier=pending["code_verifier"], **extra)
        return url, pending

    def finish(self, query_args: dict, pending: dict | None) -> SignedIn:
        """The callback's query (``state``, ``code`` or ``error``) against the pending attempt; the tokens."""
        self._check_callback(query_args, pending)
        token = self._exchange(query_args["code"], pending["code_verifier"])
        if not token.get("id_token"):
            raise OidcError("no_id_token")
        claims = self.verify_id_token(token["id_token"], nonce=pending["nonce"])
        return _signed_in(token, claims)

    def _check_callback(self, query_args: dict, pending: dict | None) -> None:
        state = query_args.get("state") or ""
        if not pending:
            raise OidcError("unknown_state")
        if not hmac.compare_digest(str(state), str(pending["state"])):
            raise OidcError("state_mismatch")
        if self._now() - float(pending["created_at"]) > self.settings.pending_ttl_s:
            raise OidcError("attempt_expired")
        if query_args.get("error"):
            raise OidcError("provider_error", str(query_args.get("error_description") or query_args["error"])[:200])
        if not query_args.get("code"):
            raise OidcError("missing_code")

    def _exchange(self, code: str, code_verifier: str) -> dict:
        endpoint = self._server_url(self.metadata()["token_endpoint"])
        with self._session() as session:
            return _token_call(lambda: session.fetch_token(
                endpoint, grant_type="authorization_code", code=code, code_verifier=code_verifier,
                timeout=self.settings.timeout_s))

    def refresh(self, refresh_token: str) -> SignedIn:
        """New tokens for a refresh token; ``claims`` from the new id_token when the provider sends one."""
        endpoint = self._server_url(self.metadata()["token_endpoint"])
        with self._session() as session:
            token = _token_call(lambda: session.refresh_token(endpoint, refresh_token=refresh_token,
                                                              timeout=self.settings.timeout_s))
        claims = self.verify_id_token(token["id_token"]) if token.get("id_token") else {}
        return _signed_in(token, claims)

    def end_session_url(self, id_token_hint: str | None, post_logout_redirect_uri: str | None = None) -> str | None:
        """Where to send the browser to sign out at the provider too (RP-initiated logout); None if it has none."""
        endpoint = self.metadata().get("end_session_endpoint")
        if not endpoint:
            return None
        params = {"client_id": self.settings.client_id}
        if id_token_hint:
            params["id_token_hint"] = id_token_hint
        if post_logout_redirect_uri:
            params["post_logout_redirect_uri"] = post_logout_redirect_uri
        return self._browser_url(endpoint) + ("&" if "?" in endpoint else "?") + urlencode(params)

    # -- the id_token ------------------------------------------------------------------------------
    def verify_id_token(self, id_token: str, nonce: str | None = None) -> dict:
        """The id_token's claims once its signature (by kid), iss, aud, azp, exp, iat and nonce are right."""
        self.metadata()
        key = self._signing_key(id_token)
        try:
            claims = jwt.decode(id_token, key, algorithms=list(self.settings.algorithms),
                                audience=self.settings.client_id, issuer=self.settings.expected_issuer,
                                leeway=self.settings.leeway_s,
                                options={"require": ["iss", "sub", "aud", "exp", "iat"]})
        except jwt.InvalidTokenError as exc:
            raise OidcError(_reason_of(exc), str(exc)[:200]) from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.settings.client_id:
            raise OidcError("wrong_audience", f"azp {claims.get('azp')!r}")
        if nonce is not None and not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise OidcError("nonce_mismatch")
        return claims

    def _signing_key(self, id_token: str):
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.InvalidTokenError as exc:
            raise OidcError("malformed_token", str(exc)[:200]) from exc
        if header.get("alg") not in self.settings.algorithms:
            raise OidcError("algorithm_refused", f"alg {header.get('alg')!r}")
        if not header.get("kid"):
            raise OidcError("unknown_key", "the header names no kid")
        try:  # an unknown kid makes PyJWKClient fetch the provider's key set again (a rotation)
            return self._jwks.get_signing_key(header["kid"]).key
        except jwt.PyJWKClientConnectionError as exc:
            raise OidcError("provider_unreachable", "jwks_uri") from exc
        except jwt.PyJWKClientError as exc:
            raise OidcError("unknown_key", f"kid {header['kid']!r}") from exc


def _rebase(url: str, base: str | None, onto: str | None) -> str:
    if base and onto and url.startswith(base + "/"):
        return onto + url[len(base):]
    return url


def _token_call(call) -> dict:
    """A token endpoint call; its refusal or an unreachable provider as an OidcError."""
    try:
        return dict(call())
    except OAuthError as exc:
        raise OidcError("code_rejected", f"{exc.error}: {exc.description or ''}"[:200]) from exc
    except requests.HTTPError as exc:
        raise OidcError("code_rejected", f"HTTP {exc.response.status_code}") from exc
    except requests.RequestException as exc:
        raise OidcError("provider_unreachable", f"token endpoint: {exc.__class__.__name__}") from exc
    except ValueError as exc:
        raise OidcError("code_rejected", str(exc)[:200]) from exc


def _signed_in(token: dict, claims: dict) -> SignedIn:
    if not token.get("access_token"):
        raise OidcError("code_rejected", "the token response has no access_token")
    expires_at = token.get("expires_at")
    return SignedIn(access_token=token["access_token"], id_token=token.get("id_token"),
                    refresh_token=token.get("refresh_token"),
                    expires_at=int(expires_at) if expires_at is not None else None, claims=claims)


def _reason_of(exc: jwt.InvalidTokenError) -> str:
    return next(reason for kind, reason in DECODE_ERRORS if isinstance(exc, kind))
