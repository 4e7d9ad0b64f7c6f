"""Staff bearer tokens: ES256/RS256 with a kid, verified against a JWKS; every claim checked, every
failure a 401 with a reason (503 when the keys cannot be fetched), role checks a 403; keys rotate."""
from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from onestop.web import auth
from onestop.web.auth import (
    REASONS, ROLES, ClaimNames, Forbidden, JWKSClient, KeysUnavailable, Principal, SigningKeys, StaticKeys,
    TokenIssuer, TokenVerifier, Unauthorized, challenge, require_role,
)
from onestop.web.http import status_of

CENTERS = ["hue-vyda", "hue-phuxuan"]
KEYS = SigningKeys.generate()
ISSUER = TokenIssuer(KEYS)
VERIFIER = ISSUER.verifier()
KID = KEYS.current()["kid"]


def claims(**overrides) -> dict:
    now = int(datetime.now(timezone.utc).timestamp())
    base = {"sub": "officer-07", "role": "officer", "centers": ["hue-vyda"], "department": "vp",
            "iss": "onestop", "aud": "onestop-staff", "iat": now, "exp": now + 600, "jti": "j-1"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def signed(payload: dict, key=None, algorithm="ES256", kid=KID) -> str:
    return jwt.encode(payload, key or KEYS.private_key(), algorithm=algorithm,
                      headers={"kid": kid} if kid is not None else None)


def b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def reason_of(header, verifier=VERIFIER) -> Unauthorized:
    with pytest.raises(Unauthorized) as caught:
        verifier.authenticate(header)
    assert status_of(caught.value) == 401
    return caught.value


# --- success ----------------------------------------------------------------

def test_a_minted_token_authenticates():
    token = ISSUER.mint("officer-07", "officer", CENTERS, department="vp", name="Nguyễn Văn A", session="s-1")
    who = VERIFIER.authenticate(f"Bearer {token}")
    body = jwt.decode(token, options={"verify_signature": False})
    assert who == Principal(user="officer-07", role="officer", centers=frozenset(CENTERS), department="vp",
                            name="Nguyễn Văn A", jti=body["jti"], sid="s-1", expires_at=body["exp"],
                            issued_at=body["iat"])
    assert who.actor() == {"id": "officer-07", "role": "officer"}


def test_the_token_is_es256_with_a_kid_and_carries_the_claims():
    token = ISSUER.mint("counter-01", "counter_staff", {"hue-vyda"}, ttl_s=900)
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": KID, "typ": "JWT"}
    body = jwt.decode(token, KEYS.private_key().public_key(), algorithms=["ES256"], audience="onestop-staff")
    assert body["sub"] == "counter-01" and body["role"] == "counter_staff" and body["centers"] == ["hue-vyda"]
    assert body["iss"] == "onestop" and body["aud"] == "onestop-staff" and body["jti"] and body["sid"]
    assert body["exp"] - body["iat"] == 900 and "department" not in body
    other = jwt.decode(ISSUER.mint("counter-01", "counter_staff", ["hue-vyda"]), options={"verify_signature": False})
    assert other["sid"] != body["sid"] and other["jti"] != body["jti"]  # each mint: a session of its own


def test_the_scheme_is_case_insensitive_and_the_name_defaults_to_the_user():
    who = VERIFIER.authenticate("bearer " + ISSUER.mint("counter-01", "counter_staff", ["hue-vyda"]))
    assert who.name == "counter-01" and who.department is None


def test_centers_check():
    who = VERIFIER.verify(ISSUER.mint("leader-01", "center_leader", CENTERS))
    assert who.may_act_for("hue-vyda") and who.may_act_for("hue-phuxuan") and not who.may_act_for("hue-kimlong")
    assert not who.may_act_for("*") and not who.may_act_for(None) and not who.may_act_for("")


def test_every_role_round_trips():
    for role in ROLES:
        department = "vp" if role in ("officer", "department_head") else None
        assert VERIFIER.verify(ISSUER.mint(f"{role}-1", role, CENTERS, department)).role == role


def test_an_audience_list_containing_ours_is_accepted_as_openid_connect_allows():
    assert VERIFIER.verify(signed(claims(aud=["onestop-staff", "account"]))).user == "officer-07"
    assert reason_of(f"Bearer {signed(claims(aud=['account']))}").reason == "wrong_audience"


# --- every 401 ----------------------------------------------------------------

@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing(header):
    exc = reason_of(header)
    assert exc.reason == "missing" and challenge(exc.reason) == {"WWW-Authenticate": 'Bearer realm="onestop"'}


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "Token abc.def.ghi",
                                    "Bearer abc,def", "Bearer " + "a" * 9000])
def test_malformed_header(header):
    exc = reason_of(header)
    assert exc.reason == "malformed_header" and 'error="invalid_request"' in challenge(exc.reason)["WWW-Authenticate"]


@pytest.mark.parametrize("token", ["abc", "abc.def", "abc.def.ghi", b64({"alg": "ES256"}) + ".!!!.x"])
def test_malformed_token(token):
    assert reason_of(f"Bearer {token}").reason in ("malformed_token", "malformed_header")


def test_expired_and_leeway():
    past = datetime.now(timezone.utc) - timedelta(hours=2)
    exc = reason_of("Bearer " + ISSUER.mint("officer-07", "officer", CENTERS, "vp", ttl_s=3600, now=past))
    assert exc.reason == "expired" and str(exc) == REASONS["expired"]
    just_expired = signed(claims(exp=int(time.time()) - 10))
    assert reason_of(f"Bearer {just_expired}").reason == "expired"
    assert ISSUER.verifier(leeway_s=60).verify(just_expired).user == "officer-07"


@pytest.mark.parametrize("overrides,reason", [
    ({"aud": "citizen-portal"}, "wrong_audience"), ({"iss": "someone-else"}, "wrong_issuer"),
    ({"role": "superuser"}, "unknown_role"), ({"exp": "tomorrow"}, "malformed_token"),
    ({"centers": "hue-vyda"}, "malformed_claims"), ({"centers": ["hue-vyda", 7]}, "malformed_claims"),
    ({"department": None}, "malformed_claims"), ({"role": "counter_staff", "department": ""}, "malformed_claims"),
    ({"sub": 42}, "malformed_token"), ({"jti": 7}, "malformed_token"),  # PyJWT checks sub and jti are strings
])
def test_claims_checked(overrides, reason):
    assert reason_of(f"Bearer {signed(claims(**overrides))}").reason == reason


@pytest.mark.parametrize("claim", ["exp", "iss", "aud", "sub", "iat", "role", "centers", "jti"])
def test_a_missing_required_claim(claim):
    exc = reason_of(f"Bearer {signed(claims(**{claim: None}))}")
    assert exc.reason == "missing_claim" and claim in str(exc)


def test_a_token_from_the_future_is_not_valid_yet():
    later = int(time.time()) + 3600
    assert reason_of(f"Bearer {signed(claims(iat=later, exp=later + 600))}").reason == "not_yet_valid"


def test_another_key_under_our_kid_is_a_bad_signature_and_a_tampered_payload_too():
    assert reason_of(f"Bearer {signed(claims(), key=SigningKeys.generate().private_key())}").reason == "bad_signature"
    header, _, signature = ISSUER.mint("counter-01", "counter_staff", ["hue-vyda"]).split(".")
    forged = b64(claims(sub="counter-01", role="center_leader", department=None))
    assert reason_of(f"Bearer {header}.{forged}.{signature}").reason == "bad_signature"


# --- the kid and the algorithm are pinned -------------------------------------

def test_the_kid_is_required_and_must_be_published():
    assert reason_of(f"Bearer {signed(claims(), kid=None)}").reason == "unknown_key"
    exc = reason_of(f"Bearer {signed(claims(), kid='os-nobody')}")
    assert exc.reason == "unknown_key" and "os-nobody" in str(exc)


@pytest.mark.parametrize("alg_header", [{"alg": "none", "typ": "JWT", "kid": KID}, {"alg": "None", "kid": KID},
                                        {"kid": KID}])
def test_alg_none_is_refused(alg_header):
    assert reason_of(f"Bearer {b64(alg_header)}.{b64(claims())}.c2ln").reason == "algorithm_refused"


def test_hs256_is_refused_even_with_the_public_key_as_the_hmac_secret():
    """The classic algorithm confusion: an attacker signs HS256 with the published public key."""
    public_pem = KEYS.private_key().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    forged = f"{b64({'alg': 'HS256', 'typ': 'JWT', 'kid': KID})}.{b64(claims(role='center_leader', department=None))}"
    import hashlib
    import hmac
    mac = hmac.new(public_pem, forged.encode(), hashlib.sha256).digest()
    token = forged + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    exc = reason_of(f"Bearer {token}")
    assert exc.reason == "algorithm_refused" and "HS256" in str(exc)


def test_an_rs256_header_on_an_ec_key_is_refused():
    token = f"{b64({'alg': 'RS256', 'typ': 'JWT', 'kid': KID})}.{b64(claims())}.c2ln"
    exc = reason_of(f"Bearer {token}")
    assert exc.reason == "algorithm_refused" and "ES256" in str(exc)


def test_hmac_or_none_can_never_be_configured():
    for algorithms in ("HS256", "ES256,HS512", "none", ""):
        with pytest.raises(ValueError, match="asymmetric"):
            TokenVerifier(StaticKeys(KEYS.jwks()), algorithms=algorithms)
    with pytest.raises(ValueError, match="asymmetric"):
        TokenVerifier.load({"AUTH_JWKS_URL": "file:///x", "AUTH_ALGORITHMS": "HS256"})


def test_an_rs256_provider_verifies_when_allowed_and_is_refused_when_not():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**RSAAlgorithm.to_jwk(private.public_key(), as_dict=True), "kid": "kc-rsa", "use": "sig"}
    token = signed(claims(), key=private, algorithm="RS256", kid="kc-rsa")
    assert TokenVerifier(StaticKeys({"keys": [jwk]})).verify(token).user == "officer-07"
    only_ec = TokenVerifier(StaticKeys({"keys": [jwk]}), algorithms="ES256")
    assert reason_of(f"Bearer {token}", only_ec).reason == "algorithm_refused"


# --- claims mapping (a Keycloak-shaped token) ---------------------------------

def test_keycloak_shaped_claims_map_to_a_principal():
    names = ClaimNames.load({"AUTH_USER_CLAIM": "preferred_username", "AUTH_ROLE_CLAIM": "onestop_role"})
    verifier = TokenVerifier(StaticKeys(KEYS.jwks()), issuer="http://127.0.0.1:8080/realms/onestop", claims=names)
    token = signed({"sub": "f3c1b2a0-uuid", "preferred_username": "vyda-o01", "onestop_role": "officer",
                    "centers": ["hue-vyda"], "department": "vp", "name": "Trần Thị B", "sid": "kc-session",
                    "iss": "http://127.0.0.1:8080/realms/onestop", "aud": ["onestop-staff", "account"],
                    "iat": int(time.time()), "exp": int(time.time()) + 300, "jti": "kc-jti", "typ": "Bearer"})
    who = verifier.verify(token)
    assert (who.user, who.role, who.department, who.name, who.sid) == ("vyda-o01", "officer", "vp", "Trần Thị B",
                                                                        "kc-session")
    without = signed({**jwt.decode(token, options={"verify_signature": False}), "onestop_role": None})
    exc = reason_of(f"Bearer {without}", verifier)
    assert exc.reason == "missing_claim" and "onestop_role" in str(exc)


def test_a_nested_role_list_must_hold_exactly_one_onestop_role():
    names = ClaimNames(role="realm_access.roles")
    verifier = TokenVerifier(StaticKeys(KEYS.jwks()), claims=names)
    one = signed(claims(role=None, realm_access={"roles": ["offline_access", "auditor"]}, department=None))
    assert verifier.verify(one).role == "auditor"
    two = signed(claims(role=None, realm_access={"roles": ["auditor", "operator"]}))
    assert reason_of(f"Bearer {two}", verifier).reason == "unknown_role"


# --- the JWKS: fetched, cached, refetched for a new kid at most so often -------

def test_an_unknown_kid_refetches_at_most_once_per_min_refresh(tmp_path):
    keys = SigningKeys.generate(tmp_path / "keys.json")
    keys.write_jwks(tmp_path / "jwks.json")
    client = JWKSClient((tmp_path / "jwks.json").as_uri(), lifespan=300, min_refresh=0.5)
    verifier = TokenVerifier(client)
    verifier.verify(TokenIssuer(keys).mint("counter-01", "counter_staff", ["hue-vyda"]))
    assert client.fetches == 1
    for n in range(20):  # a flood of made-up kids
        assert reason_of(f"Bearer {signed(claims(), kid=f'bogus-{n}')}", verifier).reason == "unknown_key"
    assert client.fetches == 1  # the cooldown since the last fetch holds them all back
    time.sleep(0.6)
    for n in range(5):
        reason_of(f"Bearer {signed(claims(), kid=f'again-{n}')}", verifier)
    assert client.fetches == 2


def test_rotation_without_downtime(tmp_path):
    """The previous key still verifies; new tokens carry the new kid; a verifier with the old set
    cached picks the new key up at the first sight of its kid."""
    keys = SigningKeys.generate(tmp_path / "keys.json")
    jwks = tmp_path / "jwks.json"
    keys.write_jwks(jwks)
    issuer = TokenIssuer(SigningKeys.load(keys.path))  # another process's view of the same file
    client = JWKSClient(jwks.as_uri(), lifespan=300, min_refresh=0.2)
    verifier = TokenVerifier(client)
    old = issuer.mint("counter-01", "counter_staff", ["hue-vyda"])
    assert verifier.verify(old).user == "counter-01" and client.fetches == 1
    time.sleep(0.25)
    fresh = keys.rotate()["kid"]
    keys.write_jwks(jwks)
    new = issuer.mint("counter-01", "counter_staff", ["hue-vyda"])  # the issuer reads the rotated file
    assert jwt.get_unverified_header(new)["kid"] == fresh != jwt.get_unverified_header(old)["kid"]
    assert verifier.verify(new).user == "counter-01" and client.fetches == 2
    assert verifier.verify(old).user == "counter-01"  # previous: still published
    assert {k["kid"] for k in keys.jwks()["keys"]} == {fresh, jwt.get_unverified_header(old)["kid"]}


def test_a_retired_key_stops_verifying_once_the_set_is_refreshed(tmp_path):
    keys = SigningKeys.generate(tmp_path / "keys.json")
    old_token = TokenIssuer(keys).mint("counter-01", "counter_staff", ["hue-vyda"])
    old = keys.current()["kid"]
    keys.rotate()
    keys.retire(old)
    keys.write_jwks(tmp_path / "jwks.json")
    verifier = TokenVerifier(JWKSClient((tmp_path / "jwks.json").as_uri(), min_refresh=0))
    assert reason_of(f"Bearer {old_token}", verifier).reason == "unknown_key"
    assert keys.prune() == [old] and len(keys.keys) == 1


def test_prune_drops_previous_keys_once_their_tokens_expired(tmp_path):
    keys = SigningKeys.generate(tmp_path / "keys.json", now=1000)
    first = keys.current()["kid"]
    keys.rotate(now=2000)
    assert keys.prune(now=2000 + 3599, keep_s=3600) == []
    assert keys.prune(now=2000 + 3600, keep_s=3600) == [first]
    assert [k["state"] for k in SigningKeys.load(keys.path).keys] == ["current"]


def test_the_key_file_is_the_owners_alone_and_a_broken_one_is_a_clear_error(tmp_path):
    keys = SigningKeys.generate(tmp_path / "keys.json")
    assert (keys.path.stat().st_mode & 0o777) == 0o600
    assert "private_pem" not in json.dumps(keys.jwks()) and '"d"' not in json.dumps(keys.jwks())
    assert "BEGIN" not in repr(TokenIssuer(keys))
    with pytest.raises(ValueError, match="no signing key set"):
        SigningKeys.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"keys": []}')
    with pytest.raises(ValueError, match="exactly one current key"):
        SigningKeys.load(tmp_path / "bad.json")


def test_an_unreachable_jwks_is_503_for_a_new_kid_and_the_known_keys_keep_working(tmp_path):
    keys = SigningKeys.generate(tmp_path / "keys.json")
    jwks = tmp_path / "jwks.json"
    keys.write_jwks(jwks)
    client = JWKSClient(jwks.as_uri(), lifespan=0.1, min_refresh=0)
    verifier = TokenVerifier(client)
    token = TokenIssuer(keys).mint("counter-01", "counter_staff", ["hue-vyda"])
    verifier.verify(token)
    jwks.unlink()  # the provider is down
    time.sleep(0.15)  # and the cached set has expired
    assert verifier.verify(token).user == "counter-01"
    with pytest.raises(KeysUnavailable) as caught:
        verifier.verify(signed(claims(), kid="os-new"))
    assert status_of(caught.value) == 503 and caught.value.body()["error"] == "jwks_unavailable"


def test_settings(monkeypatch, tmp_path):
    for key in ("AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_TTL", "AUTH_LEEWAY", "AUTH_ALGORITHMS", "AUTH_USER_CLAIM"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AUTH_AUDIENCE", "env-audience")
    with pytest.raises(ValueError, match="AUTH_JWKS_URL is not set"):
        TokenVerifier.load({"AUTH_JWKS_URL": ""})
    with pytest.raises(ValueError, match="https://, http:// or file://"):
        TokenVerifier.load({"AUTH_JWKS_URL": "ftp://x/jwks"})
    verifier = TokenVerifier.load({"AUTH_JWKS_URL": "https://sso.example.vn/certs", "AUTH_ISSUER": "hue"})
    assert (verifier.issuer, verifier.audience, verifier.algorithms, verifier.claims.user) == (
        "hue", "env-audience", ("ES256", "RS256"), "sub")
    with pytest.raises(ValueError, match="AUTH_SIGNING_KEYS is not set"):
        TokenIssuer.load({"AUTH_SIGNING_KEYS": ""})
    SigningKeys.generate(tmp_path / "k.json")
    issuer = TokenIssuer.load({"AUTH_SIGNING_KEYS": str(tmp_path / "k.json"), "AUTH_TTL": "60"})
    assert (issuer.audience, issuer.ttl_s) == ("env-audience", 60)


@pytest.mark.parametrize("kwargs,error", [
    ({"role": "superuser"}, LookupError), ({"user": ""}, ValueError), ({"centers": "hue-vyda"}, ValueError),
    ({"role": "officer"}, ValueError), ({"ttl_s": -1}, ValueError), ({"ttl_s": auth.MAX_TTL_S + 1}, ValueError),
])
def test_mint_refuses_bad_input(kwargs, error):
    args = {"user": "counter-01", "role": "counter_staff", "centers": ["hue-vyda"], **kwargs}
    with pytest.raises(error):
        ISSUER.mint(**args)


def test_every_reason_has_a_message_and_a_body():
    for reason, message in REASONS.items():
        exc = Unauthorized(reason)
        assert status_of(exc) == 401 and exc.reason == reason and str(exc) == message
        assert exc.body() == {"error": "unauthorized", "message": message, "reason": reason}


# --- 403 ----------------------------------------------------------------------

def test_require_role():
    who = VERIFIER.verify(ISSUER.mint("head-vp", "department_head", CENTERS, "vp"))
    assert require_role(who, "department_head", "center_leader") is who
    with pytest.raises(Forbidden) as caught:
        require_role(who, "center_leader")
    assert status_of(caught.value) == 403 and "center_leader" in caught.value.reason
    with pytest.raises(ValueError):
        require_role(who, "superuser")
