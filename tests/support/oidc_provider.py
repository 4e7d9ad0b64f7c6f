"""A small OpenID Connect provider for tests, over real HTTP (stdlib http.server, ES256 keys with a kid).

It speaks the parts of the protocol OneStop uses, shaped like Keycloak's realm ``onestop``: discovery, the JWKS
(the "small JWKS server of their own" the services' verifier can be pointed at), the authorization endpoint
(consent is automatic: it signs in the user named by ``login_hint``, or ``default_user``, and redirects to the
client's redirect URI with ``code`` and ``state``), the token endpoint (``authorization_code`` with PKCE S256
verified, a code used once only; ``refresh_token``; ``client_credentials`` for machine clients; the client's
secret checked, Basic or in the body) and end_session. Access tokens carry Keycloak's claims:
``preferred_username``, ``name``, ``onestop_role``, ``onestop_centers`` (a JSON array), ``onestop_department``,
``aud`` ``onestop-staff``, ``azp`` the client. id_tokens carry the nonce and ``aud`` the client.

    with OidcProvider(clients={"onestop-console": Client("secret", ["http://127.0.0.1:1/cb"])}) as idp:
        idp.issuer, idp.jwks_uri
        idp.rotate()                           # a new signing key (new kid); the old one stays published
        idp.id_token_overrides = {"aud": "x"}  # the next id_tokens are built with these claims changed

Users are a dict ``{username: {"role", "centers", "department", "name"}}``; the default is the catalog's
sample staff (onestop.dev.keycloak_realm.sample_staff, the users of deploy/keycloak/onestop-realm.json).
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

REALM_PATH = "/realms/onestop"
AUDIENCE = "onestop-staff"


@dataclass
class Client:
    """A registered client: its secret, redirect URIs, and for a machine client the user it acts as."""

    secret: str
    redirect_uris: list = field(default_factory=list)
    service_account: str | None = None  # username whose attributes a client_credentials token carries


def default_users() -> dict:
    from onestop.dev.keycloak_realm import sample_staff
    return {s.username: {"role": s.role, "centers": list(s.centers), "department": s.department, "name": s.name}
            for s in sample_staff()}


class _Key:
    def __init__(self):
        self.kid = uuid.uuid4().hex[:16]
        self.private = ec.generate_private_key(ec.SECP256R1())

    def jwk(self) -> dict:
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "use": "sig", "alg": "ES256"}

    def sign(self, claims: dict, kid: str | None = None) -> str:
        return jwt.encode(claims, self.private, algorithm="ES256", headers={"kid": kid or self.kid})


class OidcProvider:
    """Start with ``start()`` (or ``with``); it listens at ``base``, a free port of 127.0.0.1."""

    def __init__(self, clients: dict, users: dict | None = None, default_user: str | None = None,
                 access_ttl_s: int = 300, audience: str = AUDIENCE, public_issuer: str | None = None):
        self.clients = clients
        self.public_issuer = public_issuer
        self.users = users if users is not None else default_users()
        self.default_user = default_user
        self.access_ttl_s = access_ttl_s
        self.audience = audience
        self.keys = [_Key()]
        self.id_token_overrides: dict = {}
        self.codes: dict = {}
        self.refresh_tokens: dict = {}
        self.ended_sessions: list = []
        self.requests: list = []  # (method, path) of every request, to see what a client fetched
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True

    # -- life ----------------------------------------------------------------------------------------
    def start(self) -> "OidcProvider":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def base(self) -> str:
        """Where it is reached: ``http://127.0.0.1:<port>/realms/onestop``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}{REALM_PATH}"

    @property
    def issuer(self) -> str:
        """The issuer its tokens and discovery name: ``base``, or the public address it was given (as Keycloak
        with KC_HOSTNAME behind a reverse proxy, whose discovery then names only that address)."""
        return self.public_issuer or self.base

    @property
    def jwks_uri(self) -> str:
        return self.base + "/protocol/openid-connect/certs"

    def rotate(self, retire_old: bool = False) -> str:
        """A new signing key, used from now on; the old ones stay in the JWKS unless `retire_old`. Its kid."""
        with self._lock:
            self.keys = ([] if retire_old else self.keys) + [_Key()]
            return self.keys[-1].kid

    def sign(self, claims: dict, kid: str | None = None) -> str:
        """`claims` signed with the current key (or under another `kid`, to forge an unknown key)."""
        return self.keys[-1].sign(claims, kid)

    # -- documents -----------------------------------------------------------------------------------
    def discovery(self) -> dict:
        base = self.issuer + "/protocol/openid-connect"
        return {"issuer": self.issuer, "authorization_endpoint": base + "/auth", "token_endpoint": base + "/token",
                "jwks_uri": base + "/certs", "end_session_endpoint": base + "/logout",
                "response_types_supported": ["code"], "grant_types_supported":
                    ["authorization_code", "refresh_token", "client_credentials"],
                "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["ES256"],
                "code_challenge_methods_supported": ["S256"], "scopes_supported": ["openid", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]}

    def jwks(self) -> dict:
        return {"keys": [key.jwk() for key in self.keys]}

    def access_claims(self, username: str, client_id: str, now: int) -> dict:
        user = self.users[username]
        claims = {"iss": self.issuer, "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, username)), "aud": self.audience,
                  "azp": client_id, "typ": "Bearer", "iat": now, "exp": now + self.access_ttl_s,
                  "jti": str(uuid.uuid4()), "scope": "openid profile", "preferred_username": username,
                  "name": user.get("name", username), "onestop_role": user["role"],
                  "onestop_centers": list(user.get("centers") or [])}
        if user.get("department"):
            claims["onestop_department"] = user["department"]
        return claims

    def id_claims(self, username: str, client_id: str, nonce: str | None, now: int) -> dict:
        claims = {"iss": self.issuer, "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, username)), "aud": client_id,
                  "azp": client_id, "typ": "ID", "iat": now, "exp": now + self.access_ttl_s, "auth_time": now,
                  "preferred_username": username, "name": self.users[username].get("name", username),
                  "sid": secrets.token_hex(8)}
        if nonce:
            claims["nonce"] = nonce
        return {**claims, **self.id_token_overrides}

    # -- grants --------------------------------------------------------------------------------------
    def authorize(self, q: dict) -> tuple[int, dict, bytes]:
        client = self.clients.get(q.get("client_id"))
        if not client or q.get("redirect_uri") not in client.redirect_uris:
            return 400, {}, b"unknown client or redirect_uri not registered"
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return _redirect(q["redirect_uri"], error="invalid_request", state=q.get("state"))
        username = q.get("login_hint") or self.default_user
        if username not in self.users:
            return _redirect(q["redirect_uri"], error="access_denied", state=q.get("state"))
        code = secrets.token_urlsafe(24)
        with self._lock:
            self.codes[code] = {"client_id": q["client_id"], "redirect_uri": q["redirect_uri"], "user": username,
                                "nonce": q.get("nonce"), "challenge": q["code_challenge"]}
        return _redirect(q["redirect_uri"], code=code, state=q.get("state"))

    def token(self, form: dict, client_id: str) -> dict:
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return self._code_grant(form, client_id)
        if grant == "refresh_token":
            with self._lock:
                held = self.refresh_tokens.pop(form.get("refresh_token"), None)
            if not held or held[0] != client_id:
                raise _Refused("invalid_grant", "unknown refresh token")
            return self._tokens(held[1], client_id, nonce=None)
        if grant == "client_credentials" and self.clients[client_id].service_account:
            claims = self.access_claims(self.clients[client_id].service_account, client_id, int(time.time()))
            return {"access_token": self.sign(claims), "token_type": "Bearer", "expires_in": self.access_ttl_s}
        raise _Refused("unsupported_grant_type", str(grant))

    def _code_grant(self, form: dict, client_id: str) -> dict:
        with self._lock:
            held = self.codes.pop(form.get("code"), None)  # a code is good once
        if not held or held["client_id"] != client_id or held["redirect_uri"] != form.get("redirect_uri"):
            raise _Refused("invalid_grant", "code not valid")
        verifier = form.get("code_verifier") or ""
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if challenge != held["challenge"]:
            raise _Refused("invalid_grant", "PKCE verification failed")
        return self._tokens(held["user"], client_id, held["nonce"])

    def _tokens(self, username: str, client_id: str, nonce: str | None) -> dict:
        now = int(time.time())
        refresh = secrets.token_urlsafe(24)
        with self._lock:
            self.refresh_tokens[refresh] = (client_id, username)
        return {"access_token": self.sign(self.access_claims(username, client_id, now)),
                "id_token": self.sign(self.id_claims(username, client_id, nonce, now)),
                "refresh_token": refresh, "token_type": "Bearer", "expires_in": self.access_ttl_s}

    def client_of(self, headers, form: dict) -> str:
        """The authenticated client's id (HTTP Basic, RFC 6749 2.3.1, or the form); _Refused otherwise."""
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = headers.get("Authorization", "")
        if basic.startswith("Basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        client = self.clients.get(client_id)
        if not client or not secret or not secrets.compare_digest(client.secret, secret):
            raise _Refused("invalid_client", "client authentication failed", status=401)
        return client_id

    def end_session(self, q: dict) -> tuple[int, dict, bytes]:
        self.ended_sessions.append(q)
        target = q.get("post_logout_redirect_uri")
        return (302, {"Location": target}, b"") if target else (200, {}, b"signed out")


class _Refused(Exception):
    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.body = {"error": error, "error_description": description}
        self.status = status


def _redirect(uri: str, **params) -> tuple[int, dict, bytes]:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return 302, {"Location": uri + ("&" if "?" in uri else "?") + query}, b""


def _handler(provider: OidcProvider):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self, status: int, headers: dict, body) -> None:
            if isinstance(body, dict):
                body, headers = json.dumps(body).encode(), {**headers, "Content-Type": "application/json"}
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body)), "Cache-Control": "no-store"}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            provider.requests.append(("GET", url.path))
            routes = {"/.well-known/openid-configuration": lambda: (200, {}, provider.discovery()),
                      "/protocol/openid-connect/certs": lambda: (200, {}, provider.jwks()),
                      "/protocol/openid-connect/auth": lambda: provider.authorize(query),
                      "/protocol/openid-connect/logout": lambda: provider.end_session(query)}
            route = routes.get(url.path.removeprefix(REALM_PATH)) if url.path.startswith(REALM_PATH) else None
            self._answer(*(route() if route else (404, {}, b"not found")))

        def do_POST(self):
            provider.requests.append(("POST", self.path))
            if self.path != REALM_PATH + "/protocol/openid-connect/token":
                return self._answer(404, {}, b"not found")
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            form = {k: v[0] for k, v in parse_qs(raw).items()}
            try:
                self._answer(200, {}, provider.token(form, provider.client_of(self.headers, form)))
            except _Refused as refused:
                self._answer(refused.status, {}, refused.body)

    return Handler
