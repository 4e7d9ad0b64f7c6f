"""Staff bearer tokens: verified against a JWKS, minted by a rotating key set (framework-free).

A staff token is a JWT signed with an asymmetric key (ES256 or RS256 by
default) whose header names its key (``kid``). The services never hold a
signing key: a ``TokenVerifier`` fetches the issuer's public keys, its JWKS,
from ``AUTH_JWKS_URL`` (an OpenID Connect provider's ``jwks_uri`` in
production, Keycloak under docker-compose; ``file://`` of make run's key set
in development), keeps them for ``AUTH_JWKS_LIFESPAN`` seconds and, on the
first sight of a kid it does not know, fetches the set again: at most once per
``AUTH_JWKS_MIN_REFRESH`` seconds, so a flood of made-up kids cannot hammer the
provider. A key that left the JWKS stops verifying when the cached set is
next refreshed (no per-key cache outlives the set). The algorithm is pinned:
the header's ``alg`` must be one of ``AUTH_ALGORITHMS`` and the algorithm of
the key its kid names, so a token can never choose how it is checked (HS256
with the public key as the HMAC secret, ``none``: refused). HS* and ``none``
can never be configured. The shared HS256 secret (``JWT_SECRET``) of earlier
releases is gone (docs/identity.md, "The legacy secret").

These claims are required and checked; the names of the first four are
settings (``AUTH_USER_CLAIM`` ``sub``, ``AUTH_ROLE_CLAIM`` ``role``,
``AUTH_CENTERS_CLAIM`` ``centers``, ``AUTH_DEPARTMENT_CLAIM`` ``department``,
``AUTH_NAME_CLAIM`` ``name``; Keycloak's realm maps ``preferred_username`` and
``onestop_role``; a dotted name reads a nested claim)::

    {"sub": "officer-07", "role": "officer", "centers": ["hue-vyda"],
     "department": "vp", "name": "Nguyễn Văn A",
     "iss": "onestop", "aud": "onestop-staff", "iat": 1770940800, "exp": 1770944400,
     "jti": "6f0c...", "sid": "2b1e..."}

user, role, centers, ``iat``, ``exp``, ``iss``, ``aud`` and ``jti`` must be
present; ``iss`` must be ``AUTH_ISSUER``, ``aud`` must be or contain
``AUTH_AUDIENCE`` (OpenID Connect allows a list). ``centers`` lists the center
ids the holder may act for; there is no wildcard. Officers and department
heads must carry their ``department``. A portal's client credential is a token
of the same form with ``role: portal``. ``sid`` (the sign-in session) is
optional. A revoked ``jti``, ``sid`` or user (onestop.web.revocation) is
refused on every service within about a second.

Failures raise ``Unauthorized`` whose ``reason`` is one of ``REASONS`` (401);
a JWKS that cannot be fetched for a kid not yet known raises
``KeysUnavailable`` (503: the caller's token may be fine); a valid principal
acting outside its role raises ``Forbidden`` (403).

The signing side (make run's development sign-in, `onestop token`, tests, the
benchmark) is ``SigningKeys``, a 0600 JSON file of EC P-256 keys, each with a
kid and a state (current, previous, retired), and ``TokenIssuer``, which mints
with the current key.

    >>> keys = SigningKeys.generate()
    >>> issuer = TokenIssuer(keys)
    >>> who = issuer.verifier().authenticate("Bearer " + issuer.mint("counter-01", "counter_staff", ["hue-vyda"]))
    >>> who.user, who.role, who.may_act_for("hue-vyda"), who.may_act_for("hue-phuxuan")
    ('counter-01', 'counter_staff', True, False)
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable
from urllib.parse import urlparse

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from onestop import errors

__all__ = [
    "SIGNING_ALGORITHM", "DEFAULT_ALGORITHMS", "MAX_TTL_S", "ROLES", "REASONS", "Principal", "ClaimNames", "TokenVerifier",
    "JWKSClient", "StaticKeys", "SigningKeys", "TokenIssuer", "Unauthorized", "Forbidden", "KeysUnavailable",
    "DECODE_ERRORS",
    "challenge", "bearer_token", "require_role",
]

SIGNING_ALGORITHM = "ES256"  # what SigningKeys signs with (EC P-256)
DEFAULT_ALGORITHMS = ("ES256", "RS256")
# Asymmetric algorithms only: a verifier holds public keys, and an HMAC "key" would be public too.
ASYMMETRIC = frozenset({"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"})
# Staff roles, `portal`: the client credential of a public-service portal that submits citizens'
# online dossiers, and `integrator`: another system's credential that manages its webhook
# subscriptions (who may call which endpoint: onestop.web.access).
ROLES = ("counter_staff", "officer", "department_head", "center_leader", "auditor", "operator", "portal",
         "integrator")
DEPARTMENT_ROLES = frozenset({"officer", "department_head"})
MAX_HEADER_CHARS = 8192
DEFAULT_ISSUER = "onestop"
DEFAULT_AUDIENCE = "onestop-staff"
DEFAULT_TTL_S = 3600
MAX_TTL_S = 30 * 24 * 3600  # the longest token a TokenIssuer mints: revocations outlive it (32 days)
REALM = "onestop"
KID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

# RFC 6750 b64token; a JWT is three base64url segments joined by dots.
_BEARER = re.compile(r"^Bearer +([A-Za-z0-9\-._~+/]+=*) *$", re.IGNORECASE)

REASONS = {
    "missing": "no bearer token was sent",
    "malformed_header": "the Authorization header must be 'Bearer <token>'",
    "malformed_token": "the token is not a well-formed JWT",
    "algorithm_refused": "the token's algorithm is not accepted",
    "unknown_key": "the token is not signed by a key the issuer publishes",
    "bad_signature": "the token's signature does not match",
    "expired": "the token has expired",
    "not_yet_valid": "the token is not valid yet",
    "wrong_audience": "the token was issued for another audience",
    "wrong_issuer": "the token was issued by someone else",
    "missing_claim": "the token lacks a required claim",
    "unknown_role": "the token names an unknown role",
    "malformed_claims": "the token's claims have the wrong shape",
    "revoked": "the token was revoked (signed out)",
}


class Unauthorized(errors.Unauthorized):
    """No valid identity; ``reason`` is a key of ``REASONS``, ``detail`` what was seen."""

    def __init__(self, reason: str, detail: str | None = None):
        super().__init__(REASONS.get(reason, reason) + (f" ({detail})" if detail else ""), reason=reason)


class Forbidden(errors.Forbidden):
    """A known principal that may not do this; ``reason`` says why (and is the message)."""

    def __init__(self, reason: str):
        super().__init__(reason, reason=reason)
        self.reason = reason


class KeysUnavailable(errors.Unavailable):
    """The issuer's JWKS cannot be fetched and the token's kid is not known yet (503, not 401)."""

    error = "jwks_unavailable"

    def __init__(self, detail: str):
        super().__init__(f"The staff sign-in provider's keys cannot be fetched now ({detail}); try again shortly.",
                         reason="jwks_unavailable")


def challenge(reason: str) -> dict:
    """The RFC 6750 ``WWW-Authenticate`` header for a 401; a request with no token gets no error code."""
    if reason == "missing":
        return {"WWW-Authenticate": f'Bearer realm="{REALM}"'}
    code = "invalid_request" if reason == "malformed_header" else "invalid_token"
    return {"WWW-Authenticate": f'Bearer realm="{REALM}", error="{code}", error_description="{reason}"'}


# PyJWT's errors -> our 401 reasons; the first match wins (subclasses before InvalidTokenError).
DECODE_ERRORS = (
    (jwt.InvalidAlgorithmError, "algorithm_refused"),
    (jwt.InvalidSignatureError, "bad_signature"),
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidAudienceError, "wrong_audience"),
    (jwt.InvalidIssuerError, "wrong_issuer"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidTokenError, "malformed_token"),  # DecodeError, bad iat/exp types, ...
)


@dataclass(frozen=True)
class Principal:
    """Who a request acts as, read from a verified token."""

    user: str
    role: str
    centers: frozenset
    department: str | None = None
    name: str = ""
    jti: str | None = None  # the token's id: what `onestop auth revoke --jti` names
    sid: str | None = None  # the sign-in session the token belongs to (signing out revokes it)
    expires_at: int | None = None  # the token's exp (epoch seconds)
    issued_at: int | None = None  # the token's iat: a user's revocation refuses tokens issued before it

    def may_act_for(self, center: str) -> bool:
        """True if the token lists `center` (exact match; there is no wildcard)."""
        return isinstance(center, str) and center in self.centers

    def actor(self) -> dict:
        """The event envelope's ``actor``: ``{"id": user, "role": role}``."""
        return {"id": self.user, "role": self.role}


def _check_identity(user, role, centers, department) -> tuple[str, str, list, str | None]:
    """Shared by mint (ValueError/LookupError: a programming or config error) and verify."""
    if not isinstance(user, str) or not user.strip():
        raise ValueError("user must be a non-empty string")
    if role not in ROLES:
        raise LookupError(f"unknown role {role!r}; known: {', '.join(ROLES)}")
    if isinstance(centers, (str, bytes)) or not isinstance(centers, (list, tuple, set, frozenset)):
        raise ValueError("centers must be a list of center ids")
    if not all(isinstance(c, str) and c.strip() for c in centers):
        raise ValueError("every center id must be a non-empty string")
    centers = sorted(centers)
    if department is not None and (not isinstance(department, str) or not department.strip()):
        raise ValueError("department must be a non-empty string or absent")
    if role in DEPARTMENT_ROLES and department is None:
        raise ValueError(f"a {role} token must name its department")
    return user, role, centers, department


def bearer_token(authorization_header: str | None) -> str:
    """The token in an ``Authorization: Bearer <token>`` header, or Unauthorized."""
    if authorization_header is None or not str(authorization_header).strip():
        raise Unauthorized("missing")
    if len(authorization_header) > MAX_HEADER_CHARS:
        raise Unauthorized("malformed_header", "too long")
    match = _BEARER.match(authorization_header.strip())
    if not match:
        raise Unauthorized("malformed_header")
    return match.group(1)


def require_role(principal: Principal, *roles: str) -> Principal:
    """`principal` if its role is one of `roles`, else Forbidden."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise ValueError(f"require_role needs known roles, got {roles!r}")
    if principal.role not in roles:
        raise Forbidden(f"role {principal.role} may not do this; needs one of: {', '.join(roles)}")
    return principal


def _setting(config: dict | None, key: str, default: str) -> str:
    if config and key in config and config[key] is not None:
        return str(config[key])
    return os.environ.get(key, default)


def algorithms_of(value: str | Iterable[str]) -> tuple[str, ...]:
    """The accepted algorithms (AUTH_ALGORITHMS, comma-separated); ValueError for HS*, none or unknown ones."""
    names = [a.strip() for a in (value.split(",") if isinstance(value, str) else value) if a.strip()]
    refused = [a for a in names if a not in ASYMMETRIC]
    if refused or not names:
        raise ValueError(f"AUTH_ALGORITHMS may name only asymmetric algorithms ({', '.join(sorted(ASYMMETRIC))}); "
                         f"got {', '.join(refused) or 'none'}")
    return tuple(names)


# --- the services' side: keys from a JWKS, claims mapped, revocations checked --------------------

class _Client(jwt.PyJWKClient):
    """PyJWKClient that also reads ``file://`` (make run's and the fault suite's JWKS file); PyJWT
    refuses every scheme but http(s) because a ``jku`` header could name one, and this URL is a setting."""

    def __init__(self, url: str, **kwargs):
        parsed = urlparse(url)
        self.path = parsed.path if parsed.scheme == "file" else None
        super().__init__("http://file.invalid/" if self.path else url, **kwargs)
        self.uri = url

    def fetch_data(self):
        if self.path is None:
            return super().fetch_data()
        try:
            data = self._as_jwk_set_payload(json.loads(Path(self.path).read_text()))
        except (OSError, ValueError) as exc:
            raise jwt.PyJWKClientConnectionError(f"cannot read {self.path}: {exc}") from exc
        if self.jwk_set_cache is not None:
            self.jwk_set_cache.put(data)
        self._last_successful_fetch = time.monotonic()
        return data


class JWKSClient:
    """The issuer's public keys by kid, from ``url`` (https://, http:// or file://).

    The set is cached for ``lifespan`` s; an unknown kid refetches it at most once per ``min_refresh``
    s (PyJWKClient's cooldown). When the provider cannot be reached, the last set fetched still
    answers for the kids it has (so an outage of the provider does not sign everyone out); a kid it
    lacks is then KeysUnavailable (503). ``fetches`` counts the fetches (tests, metrics)."""

    def __init__(self, url: str, lifespan: float = 300, min_refresh: float = 10, timeout: float = 5):
        if urlparse(url).scheme not in ("https", "http", "file"):
            raise ValueError(f"AUTH_JWKS_URL must be an https://, http:// or file:// URL; got {url!r}")
        self.url = url
        self.client = _Client(url, cache_keys=False, cache_jwk_set=True, lifespan=lifespan,
                              cooldown_duration=min_refresh, timeout=timeout)
        self.fetches = 0
        self._last: dict = {}  # kid -> PyJWK of the last set fetched
        fetch = self.client.fetch_data

        def counted():
            self.fetches += 1
            return fetch()
        self.client.fetch_data = counted

    def key(self, kid: str) -> jwt.PyJWK:
        try:
            found = self.client.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as exc:
            return self._stale(kid, str(exc))
        except jwt.PyJWKSetError as exc:
            return self._stale(kid, f"the JWKS is not usable: {exc}")
        except jwt.PyJWKClientError:
            raise Unauthorized("unknown_key", f"kid {kid!r}") from None
        self._last[kid] = found
        return found

    def _stale(self, kid: str, problem: str) -> jwt.PyJWK:
        if kid in self._last:
            return self._last[kid]
        raise KeysUnavailable(problem)


class StaticKeys:
    """A fixed JWKS (a dict): for a process that holds the key set itself (tests' worker_factory)."""

    def __init__(self, jwks: dict):
        self.keys = {k["kid"]: jwt.PyJWK.from_dict(k) for k in jwks["keys"] if k.get("kid")}

    def key(self, kid: str) -> jwt.PyJWK:
        if kid not in self.keys:
            raise Unauthorized("unknown_key", f"kid {kid!r}")
        return self.keys[kid]


@dataclass(frozen=True)
class ClaimNames:
    """Which claims carry OneStop's user, role, centers, department and name (a dotted name reads a
    nested claim, e.g. ``realm_access.onestop_role``)."""

    user: str = "sub"
    role: str = "role"
    centers: str = "centers"
    department: str = "department"
    name: str = "name"

    @classmethod
    def load(cls, config: dict | None = None) -> "ClaimNames":
        return cls(**{f: _setting(config, f"AUTH_{f.upper()}_CLAIM", getattr(cls, f)) for f in
                      ("user", "role", "centers", "department", "name")})

    def read(self, claims: dict) -> dict:
        """{user, role, centers, department, name} from verified claims; Unauthorized if one is missing."""
        out = {f: _claim(claims, getattr(self, f)) for f in ("user", "role", "centers", "department", "name")}
        for f in ("user", "role", "centers"):
            if out[f] is None:
                raise Unauthorized("missing_claim", getattr(self, f))
        out["role"] = _one_role(out["role"])
        return out


def _claim(claims: dict, name: str):
    value = claims
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _one_role(value):
    """A role claim as a string; a list (a provider's group or role list) must hold exactly one OneStop role."""
    if isinstance(value, list):
        known = [v for v in value if v in ROLES]
        if len(known) != 1:
            raise Unauthorized("unknown_role", f"the role claim holds {len(known)} OneStop roles")
        return known[0]
    return value


REQUIRED = ["iat", "exp", "iss", "aud", "jti"]


@dataclass
class TokenVerifier:
    """Checks a bearer token: signature by a published key, claims, revocation. ``revocations``
    (onestop.web.revocation.Revocations, or None) answers ``refuses(principal) -> bool``."""

    keys: object  # JWKSClient or StaticKeys: .key(kid) -> PyJWK
    issuer: str = DEFAULT_ISSUER
    audience: str = DEFAULT_AUDIENCE
    algorithms: tuple = DEFAULT_ALGORITHMS
    leeway_s: float = 0
    claims: ClaimNames = field(default_factory=ClaimNames)
    revocations: object = None

    def __post_init__(self):
        self.algorithms = algorithms_of(self.algorithms)

    @classmethod
    def load(cls, config: dict | None = None, revocations=None) -> "TokenVerifier":
        """From the nameko container config first, then the environment; ValueError if AUTH_JWKS_URL is
        missing or a setting is wrong."""
        url = _setting(config, "AUTH_JWKS_URL", "")
        if not url:
            raise ValueError("AUTH_JWKS_URL is not set")
        keys = JWKSClient(url, lifespan=float(_setting(config, "AUTH_JWKS_LIFESPAN", "300")),
                          min_refresh=float(_setting(config, "AUTH_JWKS_MIN_REFRESH", "10")),
                          timeout=float(_setting(config, "AUTH_JWKS_TIMEOUT", "5")))
        return cls(keys, issuer=_setting(config, "AUTH_ISSUER", DEFAULT_ISSUER),
                   audience=_setting(config, "AUTH_AUDIENCE", DEFAULT_AUDIENCE),
                   algorithms=algorithms_of(_setting(config, "AUTH_ALGORITHMS", ",".join(DEFAULT_ALGORITHMS))),
                   leeway_s=float(_setting(config, "AUTH_LEEWAY", "0")), claims=ClaimNames.load(config),
                   revocations=revocations)

    def authenticate(self, authorization_header: str | None) -> Principal:
        """The principal behind an Authorization header, or Unauthorized(reason) / KeysUnavailable."""
        return self.verify(bearer_token(authorization_header))

    def verify(self, token: str) -> Principal:
        if not isinstance(token, str) or not token:
            raise Unauthorized("missing")
        key, algorithm = self._key_of(token)
        try:
            claims = jwt.decode(token, key.key, algorithms=[algorithm], audience=self.audience, issuer=self.issuer,
                                leeway=self.leeway_s, options={"require": REQUIRED, "verify_signature": True})
        except jwt.InvalidTokenError as exc:
            reason = next(r for kind, r in DECODE_ERRORS if isinstance(exc, kind))
            detail = {"missing_claim": getattr(exc, "claim", None), "malformed_token": type(exc).__name__}.get(reason)
            raise Unauthorized(reason, detail) from None
        principal = self._principal(claims)
        if self.revocations is not None and self.revocations.refuses(principal):
            raise Unauthorized("revoked")
        return principal

    def _key_of(self, token: str) -> tuple[jwt.PyJWK, str]:
        """The published key the header's kid names, and the algorithm both header and key agree on."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise Unauthorized("malformed_token") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in self.algorithms:
            raise Unauthorized("algorithm_refused", f"got alg {algorithm!r}; accepted: {', '.join(self.algorithms)}")
        if not isinstance(kid, str) or not KID.match(kid):
            raise Unauthorized("unknown_key", "the header names no kid")
        key = self.keys.key(kid)
        if key.algorithm_name != algorithm:  # an RS256 header on an EC key, ...
            raise Unauthorized("algorithm_refused", f"kid {kid!r} is a {key.algorithm_name} key, the header says "
                                                    f"{algorithm}")
        return key, algorithm

    def _principal(self, claims: dict) -> Principal:
        mapped = self.claims.read(claims)
        try:
            user, role, centers, department = _check_identity(mapped["user"], mapped["role"], mapped["centers"],
                                                              mapped["department"])
        except LookupError:
            raise Unauthorized("unknown_role", f"got {mapped['role']!r}") from None
        except ValueError as exc:
            raise Unauthorized("malformed_claims", str(exc)) from None
        name, sid, jti = mapped["name"], claims.get("sid"), claims["jti"]
        if not isinstance(jti, str) or not jti or (sid is not None and not isinstance(sid, str)):
            raise Unauthorized("malformed_claims", "jti and sid must be strings")
        return Principal(user=user, role=role, centers=frozenset(centers), department=department,
                         name=name if isinstance(name, str) and name else user, jti=jti, sid=sid,
                         expires_at=int(claims["exp"]), issued_at=int(claims["iat"]))


# --- the signing side: a rotating set of EC P-256 keys in a 0600 file -----------------------------

KEY_STATES = ("current", "previous", "retired")


def _now() -> int:
    return int(time.time())


def _new_key(now: int) -> dict:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return {"kid": f"os-{datetime.fromtimestamp(now, timezone.utc):%Y%m%d}-{uuid.uuid4().hex[:8]}",
            "created": now, "state": "current", "private_pem": pem}


@dataclass
class SigningKeys:
    """EC P-256 signing keys, each ``{kid, created, state, private_pem}`` (``demoted`` once previous).

    One key is ``current`` (it signs); ``previous`` ones still verify (they stay in the JWKS until the
    tokens they signed expired); ``retired`` ones are out of the JWKS at once (a key thought stolen)
    and dropped by ``prune``. Kept in a JSON file readable by its owner only (0600)."""

    keys: list
    path: Path | None = None

    @classmethod
    def generate(cls, path: str | Path | None = None, now: int | None = None) -> "SigningKeys":
        made = cls([_new_key(now or _now())], Path(path) if path else None)
        if made.path:
            made.save()
        return made

    @classmethod
    def load(cls, path: str | Path) -> "SigningKeys":
        path = Path(path)
        try:
            keys = json.loads(path.read_text())["keys"]
        except FileNotFoundError:
            raise ValueError(f"no signing key set at {path} (make one: onestop auth rotate-key --keys {path})") \
                from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} is not a signing key set: {exc}") from None
        loaded = cls(keys, path)
        loaded.current()  # exactly one current key, or ValueError
        return loaded

    @classmethod
    def ensure(cls, path: str | Path) -> "SigningKeys":
        """The key set at `path`, made there first if it is missing (make run, the tests)."""
        return cls.load(path) if Path(path).exists() else cls.generate(path)

    def save(self) -> None:
        """Written whole to a 0600 file beside it, then renamed over it (never half a key set)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        with os.fdopen(fd, "w") as out:  # mkstemp makes it 0600
            json.dump({"keys": self.keys}, out, indent=1)
        os.replace(tmp, self.path)

    def current(self) -> dict:
        found = [k for k in self.keys if k.get("state") == "current"]
        if len(found) != 1:
            raise ValueError(f"a signing key set needs exactly one current key, has {len(found)}")
        return found[0]

    def private_key(self):
        return serialization.load_pem_private_key(self.current()["private_pem"].encode(), password=None)

    def jwks(self) -> dict:
        """The public JWKS: the current and previous keys (what AUTH_JWKS_URL serves)."""
        return {"keys": [self._public(k) for k in self.keys if k["state"] in ("current", "previous")]}

    @staticmethod
    def _public(key: dict) -> dict:
        private = serialization.load_pem_private_key(key["private_pem"].encode(), password=None)
        jwk = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
        return {**jwk, "kid": key["kid"], "alg": SIGNING_ALGORITHM, "use": "sig"}

    def rotate(self, now: int | None = None) -> dict:
        """A new current key; the old one becomes previous (still verifying). Saved if from a file."""
        now = now or _now()
        for key in self.keys:
            if key["state"] == "current":
                key.update(state="previous", demoted=now)
        fresh = _new_key(now)
        self.keys.append(fresh)
        if self.path:
            self.save()
        return fresh

    def retire(self, kid: str) -> None:
        """Take a previous key out of the JWKS now (its tokens stop verifying once services refetch)."""
        key = next((k for k in self.keys if k["kid"] == kid), None)
        if key is None or key["state"] == "current":
            raise ValueError(f"no previous key {kid!r} (rotate first to retire the current one)")
        key["state"] = "retired"
        if self.path:
            self.save()

    def prune(self, now: int | None = None, keep_s: int = DEFAULT_TTL_S) -> list[str]:
        """Drop retired keys and previous keys demoted more than `keep_s` ago (every token they signed
        has expired by then, if `keep_s` is the longest token lifetime); the kids dropped."""
        now = now or _now()
        gone = [k["kid"] for k in self.keys if k["state"] == "retired"
                or (k["state"] == "previous" and k.get("demoted", 0) + keep_s <= now)]
        self.keys = [k for k in self.keys if k["kid"] not in gone]
        if gone and self.path:
            self.save()
        return gone

    def write_jwks(self, path: str | Path) -> None:
        """The public JWKS to a file (make run's AUTH_JWKS_URL=file://...), replaced whole."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w") as out:
            json.dump(self.jwks(), out, indent=1)
        os.chmod(tmp, 0o644)  # public keys
        os.replace(tmp, path)


@dataclass
class TokenIssuer:
    """Mints staff tokens with the current key of a SigningKeys (ES256, ``kid`` in the header).

    The keys stay out of ``repr`` so they never land in a log line. The file is read again before each
    mint when it changed, so a long-running minter (make run's sign-in) signs with a rotated key at once."""

    keys: SigningKeys = field(repr=False)
    issuer: str = DEFAULT_ISSUER
    audience: str = DEFAULT_AUDIENCE
    ttl_s: int = DEFAULT_TTL_S
    _seen: float = field(default=0.0, repr=False)
    _lock: object = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def load(cls, config: dict | None = None) -> "TokenIssuer":
        """From AUTH_SIGNING_KEYS (the key file), AUTH_ISSUER, AUTH_AUDIENCE, AUTH_TTL; ValueError if unset."""
        path = _setting(config, "AUTH_SIGNING_KEYS", "")
        if not path:
            raise ValueError("AUTH_SIGNING_KEYS is not set")
        return cls(SigningKeys.load(path), issuer=_setting(config, "AUTH_ISSUER", DEFAULT_ISSUER),
                   audience=_setting(config, "AUTH_AUDIENCE", DEFAULT_AUDIENCE),
                   ttl_s=int(_setting(config, "AUTH_TTL", str(DEFAULT_TTL_S))))

    def mint(self, user: str, role: str, centers: Iterable[str], department: str | None = None,
             ttl_s: int | None = None, name: str | None = None, session: str | None = None,
             now: datetime | None = None) -> str:
        """A signed token; raises ValueError/LookupError on bad input. ``session`` is its sid (new if absent)."""
        centers = list(centers) if not isinstance(centers, (str, bytes)) else centers
        user, role, centers, department = _check_identity(user, role, centers, department)
        ttl = int(ttl_s or self.ttl_s)
        if not 0 < ttl <= MAX_TTL_S:
            raise ValueError(f"ttl_s must be between 1 and {MAX_TTL_S} seconds (30 days)")
        issued = int((now or datetime.now(timezone.utc)).timestamp())
        claims = {"sub": user, "role": role, "centers": centers, "name": name or user,
                  "iss": self.issuer, "aud": self.audience, "iat": issued, "exp": issued + ttl,
                  "jti": uuid.uuid4().hex, "sid": session or uuid.uuid4().hex}
        if department is not None:
            claims["department"] = department
        key, kid = self._signing_key()
        return jwt.encode(claims, key, algorithm=SIGNING_ALGORITHM, headers={"kid": kid})

    def _signing_key(self):
        with self._lock:
            path = self.keys.path
            if path is not None and path.exists() and path.stat().st_mtime != self._seen:
                self._seen = path.stat().st_mtime
                self.keys = SigningKeys.load(path)
            return self.keys.private_key(), self.keys.current()["kid"]

    def verifier(self, revocations=None, **kwargs) -> TokenVerifier:
        """A verifier of this issuer's tokens over its JWKS as it is now (no fetch)."""
        return TokenVerifier(StaticKeys(self.keys.jwks()), issuer=self.issuer, audience=self.audience,
                             revocations=revocations, **kwargs)
