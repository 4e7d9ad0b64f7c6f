"""Staff bearer tokens: mint, verify, and the principal a request acts as (framework-free).

A staff token is a JWT signed with HS256 and a shared secret. The algorithm is
pinned: the verifier passes ``algorithms=["HS256"]`` and refuses, before
decoding, any token whose header names another algorithm (``none``, HS512,
RS256, ...), so the token can never choose how it is checked. These claims are
required and checked (``options={"require": [...]}``)::

    {"sub": "officer-07", "role": "officer", "centers": ["hue-vyda"],
     "department": "vp", "name": "Nguyễn Văn A",
     "iss": "onestop", "aud": "onestop-staff", "iat": 1770940800, "exp": 1770944400,
     "jti": "6f0c..."}

``sub``, ``role``, ``centers``, ``iat``, ``exp``, ``iss`` and ``aud`` must be
present; ``aud`` must be exactly the configured audience (a single string,
``strict_aud``). ``centers`` lists the center ids the holder may act for; there
is no wildcard, so a city-wide auditor's token lists every center. Officers and
department heads must carry their ``department``. A portal's client credential
is a token of the same form with ``role: portal``, its ``sub`` the client id and
``centers`` the centers the portal submits for.

Failures raise ``Unauthorized`` (an ``onestop.errors.Unauthorized``) whose
``reason`` is one of ``REASONS``; a valid principal acting outside its role
raises ``Forbidden`` (an ``onestop.errors.Forbidden``). The HTTP edge
(``onestop.web.http``) answers them 401, with the ``WWW-Authenticate`` header
``challenge(reason)`` builds, and 403.

Settings (nameko container config first, then the environment, like
``onestop.config``): ``JWT_SECRET`` (required, at least 32 bytes: HS256 with a
shorter key is guessable), ``JWT_ISSUER`` (default ``onestop``),
``JWT_AUDIENCE`` (default ``onestop-staff``), ``JWT_TTL`` (seconds, default
3600), ``JWT_LEEWAY`` (seconds of clock skew allowed, default 0).

    >>> secret = "s" * 32
    >>> token = mint(secret, "counter-01", "counter_staff", ["hue-vyda"])
    >>> who = authenticate(f"Bearer {token}", secret)
    >>> who.user, who.role, who.may_act_for("hue-vyda"), who.may_act_for("hue-phuxuan")
    ('counter-01', 'counter_staff', True, False)
"""
from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable

import jwt

from onestop import errors

__all__ = [
    "ALGORITHM", "ROLES", "REASONS", "REQUIRED_CLAIMS", "Principal", "TokenIssuer",
    "Unauthorized", "Forbidden", "challenge", "mint", "verify", "bearer_token", "authenticate", "require_role",
]

ALGORITHM = "HS256"
# Staff roles, `portal`: the client credential of a public-service portal that submits citizens'
# online dossiers, and `integrator`: another system's credential that manages its webhook
# subscriptions (who may call which endpoint: onestop.web.access).
ROLES = ("counter_staff", "officer", "department_head", "center_leader", "auditor", "operator", "portal",
         "integrator")
DEPARTMENT_ROLES = frozenset({"officer", "department_head"})
REQUIRED_CLAIMS = ["sub", "role", "centers", "iat", "exp", "iss", "aud"]
MIN_SECRET_BYTES = 32
MAX_HEADER_CHARS = 8192
DEFAULT_ISSUER = "onestop"
DEFAULT_AUDIENCE = "onestop-staff"
DEFAULT_TTL_S = 3600
REALM = "onestop"

# RFC 6750 b64token; a JWT is three base64url segments joined by dots.
_BEARER = re.compile(r"^Bearer +([A-Za-z0-9\-._~+/]+=*) *$", re.IGNORECASE)

REASONS = {
    "missing": "no bearer token was sent",
    "malformed_header": "the Authorization header must be 'Bearer <token>'",
    "malformed_token": "the token is not a well-formed JWT",
    "algorithm_refused": f"only {ALGORITHM} tokens are accepted",
    "bad_signature": "the token's signature does not match",
    "expired": "the token has expired",
    "not_yet_valid": "the token is not valid yet",
    "wrong_audience": "the token was issued for another audience",
    "wrong_issuer": "the token was issued by someone else",
    "missing_claim": "the token lacks a required claim",
    "unknown_role": "the token names an unknown role",
    "malformed_claims": "the token's claims have the wrong shape",
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


def challenge(reason: str) -> dict:
    """The RFC 6750 ``WWW-Authenticate`` header for a 401; a request with no token gets no error code."""
    if reason == "missing":
        return {"WWW-Authenticate": f'Bearer realm="{REALM}"'}
    code = "invalid_request" if reason == "malformed_header" else "invalid_token"
    return {"WWW-Authenticate": f'Bearer realm="{REALM}", error="{code}", error_description="{reason}"'}


# PyJWT's errors -> our 401 reasons; the first match wins (subclasses before InvalidTokenError).
_DECODE_ERRORS = (
    (jwt.InvalidAlgorithmError, "algorithm_refused"),
    (jwt.InvalidSignatureError, "bad_signature"),
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidAudienceError, "wrong_audience"),
    (jwt.InvalidIssuerError, "wrong_issuer"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidTokenError, "malformed_token"),  # DecodeError, bad iat/exp types, non-string sub, ...
)


@dataclass(frozen=True)
class Principal:
    """Who a request acts as, read from a verified token."""

    user: str
    role: str
    centers: frozenset
    department: str | None = None
    name: str = ""

    def may_act_for(self, center: str) -> bool:
        """True if the token lists `center` (exact match; there is no wildcard)."""
        return isinstance(center, str) and center in self.centers

    def actor(self) -> dict:
        """The event envelope's ``actor``: ``{"id": user, "role": role}``."""
        return {"id": self.user, "role": self.role}


def _check_secret(secret) -> bytes:
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes for {ALGORITHM}")
    return secret


def _check_identity(user, role, centers, department) -> tuple[str, str, list, str | None]:
    """Shared by mint (ValueError: a programming or config error) and verify."""
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


def mint(secret, user: str, role: str, centers: Iterable[str], department: str | None = None,
         ttl_s: int = DEFAULT_TTL_S, issuer: str = DEFAULT_ISSUER, audience: str = DEFAULT_AUDIENCE,
         name: str | None = None, now: datetime | None = None) -> str:
    """A signed HS256 staff token; raises ValueError/LookupError on bad input."""
    key = _check_secret(secret)
    centers = list(centers) if not isinstance(centers, (str, bytes)) else centers
    user, role, centers, department = _check_identity(user, role, centers, department)
    if int(ttl_s) <= 0:
        raise ValueError("ttl_s must be positive")
    issued = int((now or datetime.now(timezone.utc)).timestamp())
    claims = {"sub": user, "role": role, "centers": centers, "name": name or user,
              "iss": issuer, "aud": audience, "iat": issued, "exp": issued + int(ttl_s),
              "jti": uuid.uuid4().hex}
    if department is not None:
        claims["department"] = department
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def verify(token: str, secret, issuer: str = DEFAULT_ISSUER, audience: str = DEFAULT_AUDIENCE,
           leeway_s: float = 0) -> Principal:
    """The principal in `token`, or Unauthorized(reason)."""
    key = _check_secret(secret)
    if not isinstance(token, str) or not token:
        raise Unauthorized("missing")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError:
        raise Unauthorized("malformed_token") from None
    if header.get("alg") != ALGORITHM:
        raise Unauthorized("algorithm_refused", f"got alg {header.get('alg')!r}")
    try:
        claims = jwt.decode(
            token, key, algorithms=[ALGORITHM], audience=audience, issuer=issuer, leeway=leeway_s,
            options={"require": REQUIRED_CLAIMS, "strict_aud": True, "verify_signature": True,
                     "enforce_minimum_key_length": True},
        )
    except jwt.InvalidTokenError as exc:
        reason = next(r for kind, r in _DECODE_ERRORS if isinstance(exc, kind))
        detail = {"missing_claim": getattr(exc, "claim", None), "malformed_token": type(exc).__name__}.get(reason)
        raise Unauthorized(reason, detail) from None
    try:
        user, role, centers, department = _check_identity(
            claims["sub"], claims["role"], claims["centers"], claims.get("department"))
    except LookupError:
        raise Unauthorized("unknown_role", f"got {claims['role']!r}") from None
    except ValueError as exc:
        raise Unauthorized("malformed_claims", str(exc)) from None
    name = claims.get("name")
    return Principal(user=user, role=role, centers=frozenset(centers), department=department,
                     name=name if isinstance(name, str) and name else user)


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


def authenticate(authorization_header: str | None, secret, issuer: str = DEFAULT_ISSUER,
                 audience: str = DEFAULT_AUDIENCE, leeway_s: float = 0) -> Principal:
    """The principal behind an Authorization header, or Unauthorized(reason)."""
    return verify(bearer_token(authorization_header), secret, issuer, audience, leeway_s)


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


@dataclass(frozen=True)
class TokenIssuer:
    """The configured secret, issuer and audience, with mint/verify bound to them.

    The secret stays out of ``repr`` so it never lands in a log line.
    """

    secret: str = field(repr=False)
    issuer: str = DEFAULT_ISSUER
    audience: str = DEFAULT_AUDIENCE
    ttl_s: int = DEFAULT_TTL_S
    leeway_s: float = 0

    def __post_init__(self):
        _check_secret(self.secret)

    @classmethod
    def load(cls, config: dict | None = None) -> "TokenIssuer":
        """From the nameko container config first, then the environment."""
        secret = _setting(config, "JWT_SECRET", "")
        if not secret:
            raise ValueError("JWT_SECRET is not set")
        return cls(secret=secret,
                   issuer=_setting(config, "JWT_ISSUER", DEFAULT_ISSUER),
                   audience=_setting(config, "JWT_AUDIENCE", DEFAULT_AUDIENCE),
                   ttl_s=int(_setting(config, "JWT_TTL", str(DEFAULT_TTL_S))),
                   leeway_s=float(_setting(config, "JWT_LEEWAY", "0")))

    def mint(self, user: str, role: str, centers: Iterable[str], department: str | None = None,
             ttl_s: int | None = None, name: str | None = None) -> str:
        return mint(self.secret, user, role, centers, department, ttl_s or self.ttl_s,
                    self.issuer, self.audience, name=name)

    def verify(self, token: str) -> Principal:
        return verify(token, self.secret, self.issuer, self.audience, self.leeway_s)

    def authenticate(self, authorization_header: str | None) -> Principal:
        return authenticate(authorization_header, self.secret, self.issuer, self.audience, self.leeway_s)
