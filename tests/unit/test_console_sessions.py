"""The console's session rules (services/console/sessions.py): the cookie's attributes,
the CSRF and origin checks, a session's expiry."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from onestop.errors import Forbidden, Unauthorized
from services.console import sessions

NOW = datetime(2026, 2, 13, 2, 0, tzinfo=timezone.utc)
PRINCIPAL = {"user": "ops-01", "role": "operator", "centers": ["hue-vyda"], "department": None, "name": "ops-01"}


def made():
    return sessions.new_session("a.b.c", PRINCIPAL, expires_at=NOW + timedelta(hours=1), now=NOW)


def test_a_session_is_kept_by_the_hash_of_its_id_and_each_sign_in_gets_a_new_one():
    one, two = made(), made()
    assert one.sid != two.sid and one.record["csrf"] != two.record["csrf"]
    assert one.record["_id"] == sessions.key_of(one.sid) != one.sid
    assert one.sid not in str(one.record)  # a copy of the store opens no session


def test_the_cookie_is_httponly_strict_on_the_console_path_and_secure_unless_told():
    cookie = sessions.cookie(sessions.COOKIE, "v", max_age=3600, secure=True)
    assert cookie.split("; ") == ["onestop_session=v", "Path=/console", "Max-Age=3600", "HttpOnly", "SameSite=Strict",
                                  "Secure"]
    assert "Secure" not in sessions.cookie(sessions.COOKIE, "v", max_age=1, secure=False)
    assert "Max-Age=0" in sessions.cleared(sessions.COOKIE, secure=True)


def test_no_session_or_an_expired_one_is_a_401():
    with pytest.raises(Unauthorized) as missing:
        sessions.alive(None, NOW)
    assert missing.value.reason == "missing"
    with pytest.raises(Unauthorized) as expired:
        sessions.alive(made().record, NOW + timedelta(hours=2))
    assert expired.value.reason == "expired"
    naive = {**made().record, "expires_at": (NOW + timedelta(hours=1)).replace(tzinfo=None)}  # as the store gives it
    assert sessions.alive(naive, NOW) is naive


@pytest.mark.parametrize("sent, reason", [(None, "missing"), ("", "missing"), ("wrong", "does not match")])
def test_a_post_without_the_sessions_csrf_token_is_refused_naming_the_header(sent, reason):
    with pytest.raises(Forbidden) as refused:
        sessions.check_csrf(made().record, sent)
    assert refused.value.fields[0]["field"] == "X-CSRF-Token" and reason in refused.value.fields[0]["reason"]
    record = made().record
    sessions.check_csrf(record, record["csrf"])


@pytest.mark.parametrize("headers, expected, ok", [
    ({"Origin": "http://127.0.0.1:8000", "Host": "127.0.0.1:8000"}, "", True),
    ({"Referer": "http://127.0.0.1:8000/console/", "Host": "127.0.0.1:8000"}, "", True),
    ({"Origin": "https://evil.example", "Host": "127.0.0.1:8000"}, "", False),
    ({"Host": "127.0.0.1:8000"}, "", False),
    ({"Origin": "null", "Host": "127.0.0.1:8000"}, "", False),
    ({"Origin": "https://console.example.vn", "Host": "console:8000"}, "https://console.example.vn", True),
    ({"Origin": "http://console.example.vn", "Host": "console.example.vn"}, "https://console.example.vn", False),
])
def test_a_state_changing_request_must_come_from_the_consoles_own_origin(headers, expected, ok):
    if ok:
        sessions.check_origin(headers, expected)
        return
    with pytest.raises(Forbidden) as refused:
        sessions.check_origin(headers, expected)
    assert refused.value.fields[0]["field"] == "Origin"


def test_the_sign_in_forms_token_must_match_its_pre_session_cookie():
    sessions.check_form_token("abc", "abc")
    for cookie, sent in ((None, "abc"), ("abc", None), ("abc", "abd")):
        with pytest.raises(Forbidden):
            sessions.check_form_token(cookie, sent)


def test_the_development_sign_in_is_refused_where_real_staff_sign_in():
    from services.console.settings import ConsoleSettings

    assert ConsoleSettings.load({"CONSOLE_DEV_SIGNIN": "true", "ONESTOP_ENV": "", "OIDC_ISSUER": ""}).production is False
    assert ConsoleSettings.load({"CONSOLE_DEV_SIGNIN": "true", "ONESTOP_ENV": "production"}).production
    assert ConsoleSettings.load({"CONSOLE_DEV_SIGNIN": "true", "OIDC_ISSUER": "https://sso.example.vn/realms/hue"}).production
