"""Staff tokens for a benchmark run, for this tree and for an older one it is compared with.

This tree's services verify ES256 tokens against a JWKS (onestop.web.auth, issue 17); a tree from before
issue 17 verified HS256 tokens of a shared JWT_SECRET. A run's environment carries both (each tree reads
its own settings), and ``mint(root, ...)`` signs the way `root`'s services check.
"""
from __future__ import annotations

import secrets
import time
import uuid
from pathlib import Path

import jwt

from onestop.web.auth import SigningKeys, TokenIssuer


def legacy(root: Path | None) -> bool:
    """True if the tree at `root` is from before issue 17 (its services check a shared HS256 secret)."""
    auth = Path(root or Path(__file__).resolve().parents[1]) / "onestop" / "web" / "auth.py"
    return "TokenVerifier" not in auth.read_text()


class BenchTokens:
    """A key set of the run's own (in `home`), its JWKS beside it, and a legacy secret."""

    def __init__(self, home: Path):
        home.mkdir(parents=True, exist_ok=True)
        self.issuer = TokenIssuer(SigningKeys.generate(home / "signing-keys.json"))
        self.jwks = home / "jwks.json"
        self.issuer.keys.write_jwks(self.jwks)
        self.secret = secrets.token_urlsafe(32)

    def env(self) -> dict:
        return {"AUTH_SIGNING_KEYS": str(self.issuer.keys.path), "AUTH_JWKS_URL": self.jwks.as_uri(),
                "JWT_SECRET": self.secret}  # JWT_SECRET: read only by a tree from before issue 17

    def mint(self, root: Path | None, user: str, role: str, centers, ttl_s: int = 3600) -> str:
        if not legacy(root):
            return self.issuer.mint(user, role, centers, ttl_s=ttl_s)
        now = int(time.time())
        return jwt.encode({"sub": user, "role": role, "centers": sorted(centers), "name": user, "iss": "onestop",
                           "aud": "onestop-staff", "iat": now, "exp": now + ttl_s, "jti": uuid.uuid4().hex},
                          self.secret, algorithm="HS256")
