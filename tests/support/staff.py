"""Staff tokens for tests, signed the way production signs them (onestop.web.auth)."""
from __future__ import annotations

from onestop.dependencies import staff_guard
from onestop.web.auth import TokenIssuer

SECRET = "onestop-test-secret-" + "s" * 32
CENTERS = ("hue-vyda", "hue-phuxuan", "hue-thuanhoa", "hue-huongthuy")
ISSUER = TokenIssuer(SECRET)


def bearer(role: str = "counter_staff", user: str = "counter-01", centers=CENTERS, department: str | None = None) -> dict:
    """An Authorization header for a staff member."""
    return {"Authorization": f"Bearer {ISSUER.mint(user, role, centers, department)}"}


COUNTER = bearer()  # counter staff of every center: what intake's tests take dossiers in with
PORTAL = bearer("portal", "portal-dvc")  # a public-service portal serving every center: online dossiers
AUDITOR = bearer("auditor", "auditor-01")  # reads the audit API of every center


def authenticator():
    """What the StaffAuth provider injects, for nameko's worker_factory."""
    return staff_guard(ISSUER)
