"""Staff tokens for tests, signed the way production signs them (onestop.web.auth): ES256 with a kid,
by a key set of the test session's own, verified by the services against its JWKS."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from onestop.dependencies import StaffGuard
from onestop.web.auth import SigningKeys, TokenIssuer

CENTERS = ("hue-vyda", "hue-phuxuan", "hue-thuanhoa", "hue-huongthuy")
# The session's key set and its public JWKS, in the session's DATA_DIR (tests/conftest.py) when there is one
_HOME = Path(os.environ.get("DATA_DIR") or tempfile.mkdtemp(prefix="onestop-test-keys-")) / "staff-auth"
KEYS_FILE = _HOME / "signing-keys.json"
JWKS_FILE = _HOME / "jwks.json"
ISSUER = TokenIssuer(SigningKeys.ensure(KEYS_FILE))
ISSUER.keys.write_jwks(JWKS_FILE)
# What a service's config needs to verify the tests' tokens (the integration conftest serves the JWKS
# over HTTP instead: tests/support/jwks.py); AUTH_JWKS_MIN_REFRESH short so a rotated key is fetched soon
AUTH_CONFIG = {"AUTH_JWKS_URL": JWKS_FILE.as_uri(), "AUTH_ISSUER": ISSUER.issuer, "AUTH_AUDIENCE": ISSUER.audience,
               "AUTH_JWKS_MIN_REFRESH": "0.5"}
# What a CLI started by a test needs to mint its own tokens with the same keys
CLI_ENV = {"AUTH_SIGNING_KEYS": str(KEYS_FILE), "AUTH_ISSUER": ISSUER.issuer, "AUTH_AUDIENCE": ISSUER.audience}


def bearer(role: str = "counter_staff", user: str = "counter-01", centers=CENTERS, department: str | None = None) -> dict:
    """An Authorization header for a staff member."""
    return {"Authorization": f"Bearer {ISSUER.mint(user, role, centers, department)}"}


COUNTER = bearer()  # counter staff of every center: what intake's tests take dossiers in with
PORTAL = bearer("portal", "portal-dvc")  # a public-service portal serving every center: online dossiers
AUDITOR = bearer("auditor", "auditor-01")  # reads the audit API of every center


def rotate() -> str:
    """A new current signing key (the old one stays published); the JWKS file rewritten; the new kid."""
    kid = ISSUER.keys.rotate()["kid"]
    ISSUER.keys.write_jwks(JWKS_FILE)
    return kid


def authenticator():
    """What the StaffAuth provider injects, for nameko's worker_factory (the JWKS as it is now)."""
    return StaffGuard(ISSUER.verifier())
