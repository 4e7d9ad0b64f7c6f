"""The console's sign-in and session over real HTTP, without a browser: the development sign-in
page and its form token, the session cookie, CSRF, sign-out; and the development sign-in refused where real
staff sign in. (The browser test, tests/integration/test_console_browser.py, covers the pages themselves.)"""
from __future__ import annotations

import re
import threading

import pytest
import requests
from nameko.containers import ServiceContainer

from onestop.web.revocation import Revocations
from services.console.service import ConsoleService
from tests.conftest import free_port
from tests.integration.conftest import jwks_server
from tests.support.staff import AUTH_CONFIG, ISSUER, KEYS_FILE
from tests.support.wait import until


@pytest.fixture
def console(amqp_uri, mongo_prefix):
    """Start a console with overrides; its base URL."""
    started = []

    def start(**overrides):
        port = free_port()
        container = ServiceContainer(ConsoleService, {
            "AMQP_URI": amqp_uri, "MONGO_DB_PREFIX": mongo_prefix,
            **AUTH_CONFIG, "AUTH_JWKS_URL": jwks_server().url, "AUTH_SIGNING_KEYS": str(KEYS_FILE),
            "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}", "CONSOLE_DEV_SIGNIN": "true", "CONSOLE_INSECURE_COOKIE": "true",
            "ONESTOP_ENV": "", "OIDC_ISSUER": "", **overrides})
        container.start()
        started.append(container)
        return f"http://127.0.0.1:{port}"
    yield start
    for container in started:
        container.kill()


def signed_in(base: str, user: str = "ops-01") -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{base}/console/login", timeout=10)
    token = re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)
    answer = browser.post(f"{base}/console/login/dev", data={"user": user, "form_token": token},
                          headers={"Origin": base}, allow_redirects=False, timeout=10)
    assert answer.status_code == 303 and answer.headers["Location"] == "/console/", answer.text
    assert "HttpOnly" in answer.headers["Set-Cookie"] and "SameSite=Strict" in answer.headers["Set-Cookie"]
    return browser


def test_a_session_needs_its_csrf_token_to_act_and_dies_when_signed_out(console):
    base = console()
    browser = signed_in(base)
    me = browser.get(f"{base}/console/api/me", timeout=10).json()
    assert (me["user"], me["role"], me["views"]) == ("ops-01", "operator", ["ops"]) and me["csrf"]
    refused = browser.post(f"{base}/console/logout", headers={"Origin": base}, timeout=10)
    assert refused.status_code == 403 and refused.json()["fields"][0]["field"] == "X-CSRF-Token"
    out = browser.post(f"{base}/console/logout", headers={"Origin": base, "X-CSRF-Token": me["csrf"]}, timeout=10)
    assert out.status_code == 200 and out.json()["signed_out"] is True
    assert out.json()["next"] == "/console/login?error=signed_out"  # a development session: no provider to leave
    stolen = {"onestop_session": out.request.headers["Cookie"].split("onestop_session=")[1].split(";")[0]}
    assert requests.get(f"{base}/console/api/me", cookies=stolen, timeout=10).status_code == 401


def test_the_sign_in_form_must_carry_its_own_token(console):
    base = console()
    browser = requests.Session()
    browser.get(f"{base}/console/login", timeout=10)
    forged = browser.post(f"{base}/console/login/dev", data={"user": "ops-01", "form_token": "guessed"},
                          headers={"Origin": base}, allow_redirects=False, timeout=10)
    assert forged.status_code == 403 and forged.json()["fields"][0]["field"] == "form_token"
    assert "onestop_session" not in forged.headers.get("Set-Cookie", "")


def test_the_development_sign_in_is_off_where_real_staff_sign_in(console):
    base = console(ONESTOP_ENV="production")
    page = requests.get(f"{base}/console/login", timeout=10)
    assert "FOR DEVELOPMENT ONLY" not in page.text and "/console/login/dev" not in page.text
    browser = requests.Session()
    token = browser.get(f"{base}/console/login", timeout=10).cookies["onestop_login"]
    answer = browser.post(f"{base}/console/login/dev", data={"user": "ops-01", "form_token": token},
                          headers={"Origin": base}, allow_redirects=False, timeout=10)
    assert answer.status_code == 422 and "CONSOLE_DEV_SIGNIN" in answer.json()["fields"][0]["reason"]


def test_without_a_provider_the_oidc_routes_go_back_to_the_sign_in_page_saying_so(console):
    base = console()
    for path in ("/console/login/oidc", "/console/login/callback?code=x&state=y"):
        answer = requests.get(f"{base}{path}", allow_redirects=False, timeout=10)
        assert answer.status_code == 303 and answer.headers["Location"] == "/console/login?error=oidc_not_configured"
    page = requests.get(f"{base}/console/login?error=oidc_not_configured", timeout=10)
    assert "OIDC sign-in is not configured" in page.text


def test_signing_out_revokes_the_sessions_token_on_the_platform(console, amqp_uri):
    """The session's token goes on the revocations stream every service reads (onestop.web.revocation), by its
    session id: refused everywhere from then on, not only by the console."""
    base = console()
    browser = signed_in(base, "vyda-leader")
    csrf = browser.get(f"{base}/console/api/me", timeout=10).json()["csrf"]
    reader = Revocations(amqp_uri)
    threading.Thread(target=reader.run, daemon=True).start()
    try:
        assert reader.ready.wait(10)
        before = dict(reader.entries["sid"])
        out = browser.post(f"{base}/console/logout", headers={"Origin": base, "X-CSRF-Token": csrf}, timeout=10)
        assert out.status_code == 200 and out.json()["revoked"] is True
        until(lambda: set(reader.entries["sid"]) - set(before), 10, 0.05, "the session's revocation on the stream")
    finally:
        reader.stop()
    (sid,) = set(reader.entries["sid"]) - set(before)
    token = ISSUER.mint("vyda-leader", "center_leader", ["hue-vyda"], session=sid)  # a token of that session
    refused = requests.get(f"{base}/console/api/leader", params={"center": "hue-vyda"},
                           headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert refused.status_code == 401 and refused.json()["reason"] == "revoked"
