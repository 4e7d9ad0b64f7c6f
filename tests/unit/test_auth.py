"""Staff bearer tokens: HS256 pinned, every claim checked, every failure a
401 with a reason, role checks a 403."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import jwt
import pytest

from onestop.web import auth
from onestop.web.auth import (
    REASONS, ROLES, Forbidden, Principal, TokenIssuer, Unauthorized, authenticate, challenge, mint, require_role,
    verify,
)
from onestop.web.http import status_of

SECRET = "unit-test-secret-0123456789abcdef-xyz"
OTHER_SECRET = "another-secret-0123456789abcdef-xyz!"
CENTERS = ["hue-vyda", "hue-phuxuan"]


def claims(**overrides) -> dict:
    now = int(datetime.now(timezone.utc).timestamp())
    base = {"sub": "officer-07", "role": "officer", "centers": ["hue-vyda"], "department": "vp",
            "iss": "onestop", "aud": "onestop-staff", "iat": now, "exp": now + 600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def signed(payload: dict, key=SECRET, algorithm="HS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


def b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def reason_of(header, **kwargs) -> Unauthorized:
    with pytest.raises(Unauthorized) as caught:
        authenticate(header, SECRET, **kwargs)
    assert status_of(caught.value) == 401
    return caught.value


# --- success ----------------------------------------------------------------

def test_a_minted_token_authenticates():
    token = mint(SECRET, "officer-07", "officer", CENTERS, department="vp", name="Nguyễn Văn A")
    who = authenticate(f"Bearer {token}", SECRET)
    assert who == Principal(user="officer-07", role="officer", centers=frozenset(CENTERS), department="vp",
                            name="Nguyễn Văn A")
    assert who.actor() == {"id": "officer-07", "role": "officer"}


def test_the_token_carries_the_required_claims():
    token = mint(SECRET, "counter-01", "counter_staff", {"hue-vyda"}, ttl_s=900)
    body = jwt.decode(token, SECRET, algorithms=["HS256"], audience="onestop-staff")
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert body["sub"] == "counter-01" and body["role"] == "counter_staff" and body["centers"] == ["hue-vyda"]
    assert body["iss"] == "onestop" and body["aud"] == "onestop-staff"
    assert body["exp"] - body["iat"] == 900 and "department" not in body and body["jti"]


def test_the_scheme_is_case_insensitive_and_the_name_defaults_to_the_user():
    token = mint(SECRET, "counter-01", "counter_staff", ["hue-vyda"])
    who = authenticate(f"bearer {token}", SECRET)
    assert who.name == "counter-01" and who.department is None


def test_centers_check():
    who = verify(mint(SECRET, "leader-01", "center_leader", CENTERS), SECRET)
    assert who.may_act_for("hue-vyda") and who.may_act_for("hue-phuxuan")
    assert not who.may_act_for("hue-kimlong")
    assert not who.may_act_for("*") and not who.may_act_for(None) and not who.may_act_for("")
    nowhere = verify(mint(SECRET, "op-01", "operator", []), SECRET)
    assert nowhere.centers == frozenset() and not nowhere.may_act_for("hue-vyda")


def test_a_custom_issuer_and_audience():
    token = mint(SECRET, "aud-01", "auditor", CENTERS, issuer="hue-onestop", audience="hue-staff")
    assert verify(token, SECRET, issuer="hue-onestop", audience="hue-staff").role == "auditor"


def test_every_role_round_trips():
    for role in ROLES:
        department = "vp" if role in ("officer", "department_head") else None
        assert verify(mint(SECRET, f"{role}-1", role, CENTERS, department), SECRET).role == role


# --- every 401 ----------------------------------------------------------------

@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing(header):
    exc = reason_of(header)
    assert exc.reason == "missing"
    assert challenge(exc.reason) == {"WWW-Authenticate": 'Bearer realm="onestop"'}


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer a b", "Token abc.def.ghi",
                                    "Bearer abc,def", "Bearer " + "a" * 9000])
def test_malformed_header(header):
    exc = reason_of(header)
    assert exc.reason == "malformed_header"
    assert 'error="invalid_request"' in challenge(exc.reason)["WWW-Authenticate"]


@pytest.mark.parametrize("token", ["abc", "abc.def", "abc.def.ghi", b64({"alg": "HS256"}) + ".!!!.x"])
def test_malformed_token(token):
    assert reason_of(f"Bearer {token}").reason in ("malformed_token", "malformed_header")


def test_garbage_segments_are_malformed_tokens():
    assert reason_of("Bearer abc.def.ghi").reason == "malformed_token"


def test_expired():
    past = datetime.now(timezone.utc) - timedelta(hours=2)
    token = mint(SECRET, "officer-07", "officer", CENTERS, "vp", ttl_s=3600, now=past)
    exc = reason_of(f"Bearer {token}")
    assert exc.reason == "expired" and str(exc) == REASONS["expired"]
    assert 'error="invalid_token"' in challenge(exc.reason)["WWW-Authenticate"]


def test_leeway_tolerates_a_little_clock_skew():
    just_expired = signed(claims(exp=int(datetime.now(timezone.utc).timestamp()) - 10))
    assert reason_of(f"Bearer {just_expired}").reason == "expired"
    assert authenticate(f"Bearer {just_expired}", SECRET, leeway_s=60).user == "officer-07"


def test_wrong_audience():
    token = mint(SECRET, "officer-07", "officer", CENTERS, "vp", audience="citizen-portal")
    assert reason_of(f"Bearer {token}").reason == "wrong_audience"


def test_an_audience_list_is_refused_even_if_it_contains_ours():
    token = signed(claims(aud=["onestop-staff", "citizen-portal"]))
    assert reason_of(f"Bearer {token}").reason == "wrong_audience"


def test_wrong_issuer():
    token = mint(SECRET, "officer-07", "officer", CENTERS, "vp", issuer="someone-else")
    assert reason_of(f"Bearer {token}").reason == "wrong_issuer"


def test_bad_signature():
    token = mint(OTHER_SECRET, "officer-07", "officer", CENTERS, "vp")
    assert reason_of(f"Bearer {token}").reason == "bad_signature"


def test_a_tampered_payload_breaks_the_signature():
    header, _, signature = mint(SECRET, "counter-01", "counter_staff", ["hue-vyda"]).split(".")
    forged = b64(claims(sub="counter-01", role="center_leader", department=None))
    assert reason_of(f"Bearer {header}.{forged}.{signature}").reason == "bad_signature"


@pytest.mark.parametrize("alg_header", [{"alg": "none", "typ": "JWT"}, {"alg": "None"}, {"typ": "JWT"}])
def test_alg_none_is_refused(alg_header):
    token = f"{b64(alg_header)}.{b64(claims(role='center_leader', department=None))}."
    exc = reason_of(f"Bearer {token}")
    assert exc.reason == "algorithm_refused"


def test_alg_none_is_refused_even_with_a_signature_segment():
    token = f"{b64({'alg': 'none'})}.{b64(claims())}.c2lnbmF0dXJl"
    assert reason_of(f"Bearer {token}").reason == "algorithm_refused"


def test_an_hs512_token_is_refused_when_hs256_is_pinned():
    long_secret = SECRET * 2  # HS512 wants 64 bytes; the verifier still gets the same key
    token = signed(claims(), key=long_secret, algorithm="HS512")
    assert jwt.decode(token, long_secret, algorithms=["HS512"], audience="onestop-staff")["sub"] == "officer-07"
    with pytest.raises(Unauthorized) as caught:
        authenticate(f"Bearer {token}", long_secret)
    assert caught.value.reason == "algorithm_refused"
    exc = reason_of(f"Bearer {token}")
    assert exc.reason == "algorithm_refused" and "HS512" in str(exc)


def test_an_rs256_header_is_refused_before_any_key_is_tried():
    token = f"{b64({'alg': 'RS256', 'typ': 'JWT'})}.{b64(claims())}.c2lnbmF0dXJl"
    assert reason_of(f"Bearer {token}").reason == "algorithm_refused"


def test_unknown_role():
    token = signed(claims(role="superuser"))
    exc = reason_of(f"Bearer {token}")
    assert exc.reason == "unknown_role" and "superuser" in str(exc)


@pytest.mark.parametrize("claim", ["exp", "iss", "aud", "sub", "iat", "role", "centers"])
def test_a_missing_required_claim(claim):
    token = signed(claims(**{claim: None}))
    exc = reason_of(f"Bearer {token}")
    assert exc.reason == "missing_claim" and claim in str(exc)


def test_a_token_from_the_future_is_not_valid_yet():
    later = int(datetime.now(timezone.utc).timestamp()) + 3600
    token = signed(claims(iat=later, exp=later + 600))
    assert reason_of(f"Bearer {token}").reason == "not_yet_valid"


@pytest.mark.parametrize("overrides,reason", [
    ({"exp": "tomorrow"}, "malformed_token"),
    ({"sub": 42}, "malformed_token"),
    ({"centers": "hue-vyda"}, "malformed_claims"),
    ({"centers": ["hue-vyda", 7]}, "malformed_claims"),
    ({"department": None}, "malformed_claims"),  # an officer must name a department
    ({"role": "counter_staff", "department": ""}, "malformed_claims"),
])
def test_claims_of_the_wrong_shape(overrides, reason):
    assert reason_of(f"Bearer {signed(claims(**overrides))}").reason == reason


def test_every_reason_has_a_message_and_a_body():
    for reason, message in REASONS.items():
        exc = Unauthorized(reason)
        assert status_of(exc) == 401 and exc.reason == reason and str(exc) == message
        assert exc.body() == {"error": "unauthorized", "message": message, "reason": reason}


# --- 403 ----------------------------------------------------------------------

def test_require_role():
    who = verify(mint(SECRET, "head-vp", "department_head", CENTERS, "vp"), SECRET)
    assert require_role(who, "department_head", "center_leader") is who
    with pytest.raises(Forbidden) as caught:
        require_role(who, "center_leader")
    exc = caught.value
    assert status_of(exc) == 403 and "department_head" in exc.reason and "center_leader" in exc.reason
    assert exc.body()["error"] == "forbidden"
    with pytest.raises(ValueError):
        require_role(who, "superuser")
    with pytest.raises(ValueError):
        require_role(who)


# --- configuration and minting ------------------------------------------------

def test_token_issuer_from_config_and_environment(monkeypatch):
    monkeypatch.setenv("JWT_SECRET", OTHER_SECRET)
    monkeypatch.setenv("JWT_AUDIENCE", "env-audience")
    issuer = TokenIssuer.load({"JWT_SECRET": SECRET, "JWT_ISSUER": "hue"})
    assert (issuer.secret, issuer.issuer, issuer.audience, issuer.ttl_s) == (SECRET, "hue", "env-audience", 3600)
    assert SECRET not in repr(issuer)
    token = issuer.mint("counter-01", "counter_staff", ["hue-vyda"])
    assert issuer.authenticate(f"Bearer {token}").user == "counter-01"
    assert issuer.verify(token).may_act_for("hue-vyda")
    with pytest.raises(Unauthorized):
        verify(token, SECRET)  # default issuer and audience differ


def test_token_issuer_defaults(monkeypatch):
    for key in ("JWT_ISSUER", "JWT_AUDIENCE", "JWT_TTL", "JWT_LEEWAY"):
        monkeypatch.delenv(key, raising=False)
    issuer = TokenIssuer.load({"JWT_SECRET": SECRET})
    assert (issuer.issuer, issuer.audience, issuer.leeway_s) == ("onestop", "onestop-staff", 0)


def test_a_missing_or_short_secret_is_a_configuration_error(monkeypatch):
    monkeypatch.delenv("JWT_SECRET", raising=False)
    with pytest.raises(ValueError, match="not set"):
        TokenIssuer.load({})
    with pytest.raises(ValueError, match="at least 32 bytes"):
        TokenIssuer.load({"JWT_SECRET": "short"})
    with pytest.raises(ValueError):
        verify("a.b.c", "short")
    with pytest.raises(ValueError):
        mint("short", "counter-01", "counter_staff", ["hue-vyda"])


@pytest.mark.parametrize("kwargs,error", [
    ({"role": "superuser"}, LookupError),
    ({"user": ""}, ValueError),
    ({"centers": "hue-vyda"}, ValueError),
    ({"role": "officer"}, ValueError),  # no department
    ({"ttl_s": 0}, ValueError),
])
def test_mint_refuses_bad_input(kwargs, error):
    args = {"user": "counter-01", "role": "counter_staff", "centers": ["hue-vyda"], **kwargs}
    with pytest.raises(error):
        mint(SECRET, **args)


def test_the_module_pins_hs256():
    assert auth.ALGORITHM == "HS256"
    assert set(auth.REQUIRED_CLAIMS) >= {"exp", "iss", "aud"}
