"""The production sign-in, end to end over real HTTP: a browser (a requests session keeping cookies, following
redirects) opens the console, is sent to an OpenID Connect provider (tests/support/oidc_provider.py, shaped like
Keycloak's realm), comes back with a code, and gets a console session; the provider's access token, which the
console keeps server-side, is what routing is called with, and routing verifies it against the provider's JWKS
with the realm's claim names (docker-compose's AUTH_* settings). The development sign-in is off there."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from nameko.containers import ServiceContainer

from services.console.service import ConsoleService
from services.routing.service import RoutingService
from tests.conftest import free_port
from tests.support.oidc_provider import Client, OidcProvider

SECRET = "console-client-secret"
# what docker-compose gives every service (tests/unit/test_compose.py checks it there)
KEYCLOAK_CLAIMS = {"AUTH_USER_CLAIM": "preferred_username", "AUTH_ROLE_CLAIM": "onestop_role",
                   "AUTH_CENTERS_CLAIM": "onestop_centers", "AUTH_DEPARTMENT_CLAIM": "onestop_department",
                   "AUTH_AUDIENCE": "onestop-staff", "AUTH_ALGORITHMS": "ES256,RS256"}


@pytest.fixture
def signed_in_world(amqp_uri, mongo_prefix):
    port = free_port()
    console_base = f"http://127.0.0.1:{port}"
    idp = OidcProvider({"onestop-console": Client(SECRET, [f"{console_base}/console/login/callback"])},
                       default_user="vyda-leader").start()
    auth = {**KEYCLOAK_CLAIMS, "AUTH_JWKS_URL": idp.jwks_uri, "AUTH_ISSUER": idp.issuer}
    common = {"AMQP_URI": amqp_uri, "MONGO_DB_PREFIX": mongo_prefix, **auth}
    routing_port = free_port()
    routing = ServiceContainer(RoutingService, {**common, "WEB_SERVER_ADDRESS": f"127.0.0.1:{routing_port}"})
    routing.start()
    console = ServiceContainer(ConsoleService, {
        **common, "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}", "CONSOLE_INSECURE_COOKIE": "true",
        "CONSOLE_DEV_SIGNIN": "true",  # asked for, and refused: an OIDC provider is configured
        "ROUTING_URL": f"http://127.0.0.1:{routing_port}",
        "OIDC_ISSUER": idp.base, "OIDC_CLIENT_ID": "onestop-console", "OIDC_CLIENT_SECRET": SECRET,
        "OIDC_REDIRECT_URI": f"{console_base}/console/login/callback"})
    console.start()
    yield console_base, idp
    console.kill()
    routing.kill()
    idp.stop()


def test_a_leader_signs_in_at_the_provider_and_the_platform_takes_its_token(signed_in_world):
    base, idp = signed_in_world
    browser = requests.Session()
    page = browser.get(f"{base}/console/login", timeout=10)
    assert page.status_code == 200 and "/console/login/dev" not in page.text  # no development sign-in here
    arrived = browser.get(f"{base}/console/login/oidc", timeout=10)  # to the provider, and back with a code
    assert arrived.status_code == 200 and arrived.url == f"{base}/console/", [r.url for r in arrived.history]
    went = urlsplit(arrived.history[1].url)
    assert went.path.endswith("/protocol/openid-connect/auth")
    asked = parse_qs(went.query)
    assert asked["code_challenge_method"] == ["S256"] and asked["state"] and asked["nonce"]
    cookie = next(c for c in browser.cookies if c.name == "onestop_session")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/console"

    me = browser.get(f"{base}/console/api/me", timeout=10).json()
    assert (me["user"], me["role"], me["centers"]) == ("vyda-leader", "center_leader", ["hue-vyda"])
    leader = browser.get(f"{base}/console/api/leader", params={"center": "hue-vyda"}, timeout=10)
    assert leader.status_code == 200 and leader.json()["month"]["center"] == "hue-vyda", leader.text  # routing said yes
    assert leader.json()["month_error"] is None

    out = browser.post(f"{base}/console/logout", headers={"Origin": base, "X-CSRF-Token": me["csrf"]}, timeout=10)
    assert out.status_code == 200 and out.json()["revoked"] is True
    assert urlsplit(out.json()["next"]).path.endswith("/protocol/openid-connect/logout")  # the provider's too
    assert browser.get(f"{base}/console/api/me", timeout=10).status_code == 401


def test_a_callback_the_browser_did_not_begin_is_refused(signed_in_world):
    base, idp = signed_in_world
    mine, attacker = requests.Session(), requests.Session()
    attacker.get(f"{base}/console/login", timeout=10)
    began = attacker.get(f"{base}/console/login/oidc", allow_redirects=False, timeout=10)
    at_provider = requests.get(began.headers["Location"], allow_redirects=False, timeout=10)
    callback = at_provider.headers["Location"]  # the attacker's code, handed to the victim's browser
    mine.get(f"{base}/console/login", timeout=10)
    landed = mine.get(callback, timeout=10)
    assert landed.url.endswith("/console/login?error=signin_failed")
    assert "onestop_session" not in {c.name for c in mine.cookies}
