"""The console's OpenID Connect sign-in (onestop.web.oidc) against a real provider over HTTP.

The provider (tests/support/oidc_provider.py) issues what Keycloak would; each way a sign-in can be wrong is
refused with the reason a person would be shown, and a key rotation at the provider needs no restart.
"""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from onestop.web.oidc import OidcClient, OidcError, OidcSettings, PendingSignIns
from tests.support.oidc_provider import Client, OidcProvider

CALLBACK = "http://127.0.0.1:9/console/login/callback"  # never called: the test reads the redirect itself
SECRET = "console-secret-for-tests"


@pytest.fixture(scope="module")
def provider():
    clients = {"onestop-console": Client(SECRET, [CALLBACK]),
               "portal-dvc": Client("portal-secret", service_account="vyda-o01")}
    with OidcProvider(clients, default_user="vyda-leader") as idp:
        yield idp


@pytest.fixture(autouse=True)
def clean(provider):
    provider.id_token_overrides = {}
    yield
    provider.id_token_overrides = {}


def settings(provider, **changes) -> OidcSettings:
    values = {"OIDC_ISSUER": provider.base, "OIDC_CLIENT_ID": "onestop-console", "OIDC_CLIENT_SECRET": SECRET,
              "OIDC_REDIRECT_URI": CALLBACK, "OIDC_ALGORITHMS": "ES256", "OIDC_JWKS_COOLDOWN": "0", **changes}
    return OidcSettings.load(values)


@pytest.fixture
def client(provider):
    return OidcClient(settings(provider))


def callback(url: str) -> dict:
    """What the browser brings back: the provider's redirect to the console, as the callback's query."""
    answer = requests.get(url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def sign_in(client, user: str | None = None):
    url, pending = client.begin(login_hint=user)
    return client.finish(callback(url), pending)


def refused(call) -> str:
    with pytest.raises(OidcError) as caught:
        call()
    return caught.value.reason


def test_a_staff_member_signs_in_with_the_code_flow_and_pkce(client, provider):
    url, pending = client.begin(login_hint="vyda-head-vp")
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(provider.issuer + "/protocol/openid-connect/auth?")
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0] != pending["code_verifier"]
    assert pending["code_verifier"] not in url and query["state"] == [pending["state"]]
    assert query["nonce"] == [pending["nonce"]] and query["scope"] == ["openid profile"]

    signed_in = client.finish(callback(url), pending)
    assert signed_in.claims["preferred_username"] == "vyda-head-vp"
    assert signed_in.claims["aud"] == "onestop-console"
    assert signed_in.expires_at > time.time() and signed_in.refresh_token
    # the access token, which the console forwards to the services, carries the claims they map
    key = jwt.PyJWKClient(provider.jwks_uri).get_signing_key_from_jwt(signed_in.access_token).key
    access = jwt.decode(signed_in.access_token, key, algorithms=["ES256"], audience="onestop-staff",
                        issuer=provider.issuer)
    assert (access["onestop_role"], access["onestop_centers"], access["onestop_department"]) == \
        ("department_head", ["hue-vyda"], "vp")


def test_the_default_user_refreshes_and_signs_out(client, provider):
    signed_in = sign_in(client)
    assert signed_in.claims["preferred_username"] == "vyda-leader"
    again = client.refresh(signed_in.refresh_token)
    assert again.access_token != signed_in.access_token and again.claims["preferred_username"] == "vyda-leader"
    assert refused(lambda: client.refresh(signed_in.refresh_token)) == "code_rejected"  # used once

    out = client.end_session_url(again.id_token, "http://127.0.0.1:9/console/")
    answer = requests.get(out, allow_redirects=False, timeout=5)
    assert answer.status_code == 302 and answer.headers["Location"] == "http://127.0.0.1:9/console/"
    assert provider.ended_sessions[-1]["id_token_hint"] == again.id_token


def test_a_callback_with_another_state_or_none_pending_is_refused(client):
    url, pending = client.begin()
    args = callback(url)
    assert refused(lambda: client.finish({**args, "state": "forged"}, pending)) == "state_mismatch"
    assert refused(lambda: client.finish(args, None)) == "unknown_state"
    assert client.finish(args, pending).claims["preferred_username"] == "vyda-leader"


def test_a_replayed_code_is_refused(client):
    url, pending = client.begin()
    args = callback(url)
    client.finish(args, pending)
    assert refused(lambda: client.finish(args, pending)) == "code_rejected"


def test_a_code_without_its_verifier_or_with_a_wrong_client_secret_is_refused(client, provider):
    url, pending = client.begin()
    assert refused(lambda: client.finish(callback(url), {**pending, "code_verifier": "x" * 64})) == "code_rejected"
    impostor = OidcClient(settings(provider, OIDC_CLIENT_SECRET="not-the-secret"))
    url, pending = impostor.begin()
    assert refused(lambda: impostor.finish(callback(url), pending)) == "code_rejected"


def test_the_providers_refusal_and_a_stale_attempt_are_refused(client, provider):
    url, pending = client.begin(login_hint="nobody-at-all")
    args = callback(url)
    assert args["error"] == "access_denied"
    assert refused(lambda: client.finish(args, pending)) == "provider_error"
    url, pending = client.begin()
    assert refused(lambda: client.finish(callback(url), {**pending, "created_at": time.time() - 3600})) \
        == "attempt_expired"


@pytest.mark.parametrize("overrides,reason", [
    ({"nonce": "another-attempt"}, "nonce_mismatch"),
    ({"aud": "another-client", "azp": "another-client"}, "wrong_audience"),
    ({"aud": ["onestop-console", "another-client"], "azp": "another-client"}, "wrong_audience"),
    ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
    ({"iss": "http://127.0.0.1:1/realms/elsewhere"}, "wrong_issuer"),
])
def test_an_id_token_that_is_not_for_this_sign_in_is_refused(client, provider, overrides, reason):
    provider.id_token_overrides = overrides
    url, pending = client.begin()
    assert refused(lambda: client.finish(callback(url), pending)) == reason


def test_a_tampered_unknown_key_or_unsigned_id_token_is_refused(client, provider):
    good = sign_in(client).id_token
    header, payload, signature = good.split(".")
    forged = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b"vyda-leader", b"vyda-o01xxx")).decode()
    assert refused(lambda: client.verify_id_token(f"{header}.{forged}.{signature}")) == "bad_signature"
    claims = jwt.decode(good, options={"verify_signature": False})
    assert refused(lambda: client.verify_id_token(provider.sign(claims, kid="not-published"))) == "unknown_key"
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": provider.keys[-1].kid})
    assert refused(lambda: client.verify_id_token(unsigned)) == "algorithm_refused"
    hmac = jwt.encode(claims, SECRET * 2, algorithm="HS256", headers={"kid": provider.keys[-1].kid})
    assert refused(lambda: client.verify_id_token(hmac)) == "algorithm_refused"
    assert refused(lambda: client.verify_id_token("not.a.jwt")) == "malformed_token"


def test_a_key_rotation_at_the_provider_is_picked_up_without_a_restart(client, provider):
    old = provider.keys[-1].kid
    assert sign_in(client).claims["preferred_username"] == "vyda-leader"
    fetched = provider.requests.count(("GET", "/realms/onestop/protocol/openid-connect/certs"))
    new = provider.rotate(retire_old=True)
    signed_in = sign_in(client)
    assert jwt.get_unverified_header(signed_in.id_token)["kid"] == new != old
    assert provider.requests.count(("GET", "/realms/onestop/protocol/openid-connect/certs")) == fetched + 1


def test_settings_come_from_the_config_or_not_at_all(provider, monkeypatch):
    monkeypatch.delenv("OIDC_ISSUER", raising=False)
    assert OidcSettings.load({}) is None  # no provider configured: no OIDC sign-in
    monkeypatch.setenv("OIDC_ISSUER", provider.issuer + "/")
    assert OidcSettings.load({"OIDC_CLIENT_ID": "c", "OIDC_CLIENT_SECRET": "s",
                              "OIDC_REDIRECT_URI": CALLBACK}).issuer == provider.issuer
    assert settings(provider).scopes == "openid profile"
    with pytest.raises(ValueError, match="OIDC_CLIENT_SECRET"):
        settings(provider, OIDC_CLIENT_SECRET="")
    with pytest.raises(ValueError, match="HS256"):
        settings(provider, OIDC_ALGORITHMS="ES256,HS256")
    with pytest.raises(ValueError, match="openid"):
        settings(provider, OIDC_SCOPES="profile")


def test_a_discovery_document_naming_another_issuer_is_refused(provider):
    elsewhere = OidcClient(settings(provider, OIDC_PUBLIC_ISSUER="https://sso.example.vn/realms/onestop"))
    assert refused(elsewhere.begin) == "bad_discovery"
    unreachable = OidcClient(settings(provider, OIDC_ISSUER="http://127.0.0.1:9/realms/onestop", OIDC_TIMEOUT="2"))
    assert refused(unreachable.begin) == "provider_unreachable"


def test_behind_a_reverse_proxy_the_browser_goes_to_the_public_address_the_console_to_the_internal_one():
    """Keycloak with KC_HOSTNAME: its discovery and tokens name the public address only. The console calls
    the token endpoint and the JWKS at the internal one; the browser is sent to the public one."""
    public = "http://sso.onestop.invalid/realms/onestop"  # resolves nowhere: reaching it would fail
    clients = {"onestop-console": Client(SECRET, [CALLBACK])}
    with OidcProvider(clients, default_user="huongthuy-o03", public_issuer=public) as idp:
        client = OidcClient(settings(idp, OIDC_PUBLIC_ISSUER=public))
        url, pending = client.begin()
        assert url.startswith(public + "/protocol/openid-connect/auth?")
        proxied = url.replace(public, idp.base)  # what the reverse proxy in front of the provider does
        signed_in = client.finish(callback(proxied), pending)
        assert (signed_in.claims["iss"], signed_in.claims["preferred_username"]) == (public, "huongthuy-o03")
        assert client.end_session_url(signed_in.id_token).startswith(public + "/protocol/openid-connect/logout?")


def test_a_begun_sign_in_is_kept_until_taken_once_or_expired():
    clock = [1000.0]
    store = PendingSignIns(ttl_s=600, limit=3, now=lambda: clock[0])
    for n in range(4):
        store.put({"state": f"s{n}", "created_at": clock[0]})
    assert len(store) == 3 and store.pop("s0") is None  # the oldest made room
    assert store.pop("s1")["state"] == "s1" and store.pop("s1") is None
    assert store.pop(None) is None and store.pop(["s2"]) is None
    clock[0] += 601
    assert store.pop("s2") is None and len(store) == 0
