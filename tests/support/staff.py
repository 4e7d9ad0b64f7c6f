"""Staff tokens for tests, signed the way production signs them (onestop.web.auth)."""
from __future__ import annotations

from onestop.web.auth import TokenIssuer

SECRET = "onestop-test-secret-" + "s" * 32
CENTERS = ("hue-vyda", "hue-phuxuan", "hue-thuanhoa", "hue-huongthuy")
ISSUER = TokenIssuer(SECRET)


def bearer(role: str = "counter_staff", user: str = "counter-01", centers=CENTERS, department: str | None = None) -> dict:
    """An Authorization header for a staff member."""
    return {"Authorization": f"Bearer {ISSUER.mint(user, role, centers, department)}"}


COUNTER = bearer()  # counter staff of every center: what intake's tests take dossiers in with


def authenticator():
    """What the StaffAuth provider injects, for nameko's worker_factory."""
    return lambda request: ISSUER.authenticate(request.headers.get("Authorization"))
