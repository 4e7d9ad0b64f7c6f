"""Staff sign-in on the running services: a revoked session is refused by all five within a second,
and a rotated signing key is taken by all five without a restart (the JWKS over HTTP, the revocations
stream on the test's broker)."""
from __future__ import annotations

import subprocess
import sys
import time
import uuid

import jwt
import pytest
import requests

from onestop.web.revocation import revoke
from tests.conftest import drop_databases, drop_vhost, make_vhost
from tests.integration.conftest import HTTP, Services, jwks_server, platform_config
from tests.support import staff
from tests.support.wait import until

pytestmark = pytest.mark.integration

# One staff request per service that needs a verified token: an operator's answer is the endpoint's own
# (routing's work queue is not an operator's: 403, which a token only gets once it was verified)
REQUESTS = {
    "intake": ("POST", "/api/v1/privacy/export", {"json": {}}),
    "routing": ("GET", "/api/v1/work/queue", {}),
    "notification": ("GET", "/api/v1/held", {}),
    "audit": ("GET", "/api/v1/audit/verify", {}),
    "webhooks": ("GET", "/api/v1/subscriptions", {}),
}


@pytest.fixture(scope="module")
def running(sinks):
    """The five services, once for the module: ({name: base URL}, the broker URI)."""
    vhost, prefix = make_vhost("onestop-it"), f"t{uuid.uuid4().hex[:10]}_"
    amqp_uri = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    started = Services(platform_config(amqp_uri, sinks, prefix))
    try:
        yield {name: started.start(cls).http for name, cls in HTTP.items()}, amqp_uri
    finally:
        started.stop_all()
        drop_vhost(vhost)
        drop_databases(prefix)


def answers(urls: dict, token: str) -> dict:
    """{service: (status, reason)} of each service's staff request with this token."""
    out = {}
    for name, (method, path, kwargs) in REQUESTS.items():
        r = requests.request(method, urls[name] + path, headers={"Authorization": f"Bearer {token}"}, timeout=10,
                             **kwargs)
        out[name] = (r.status_code, r.json().get("reason") if r.status_code == 401 else None)
    return out


def works(urls: dict, token: str) -> bool:
    return all(status not in (401, 503) for status, _ in answers(urls, token).values())


def test_a_revoked_session_is_refused_by_every_service_within_a_second(running):
    urls, amqp_uri = running
    token = staff.ISSUER.mint("ops-rev", "operator", staff.CENTERS, session="sess-" + uuid.uuid4().hex)
    other = staff.ISSUER.mint("ops-rev", "operator", staff.CENTERS)  # the same person's other session
    before = answers(urls, token)
    assert before["routing"][0] == 403 and before["notification"][0] == 200 and works(urls, token), before
    claims = jwt.decode(token, options={"verify_signature": False})
    revoke(amqp_uri, sid=claims["sid"], until=claims["exp"], by={"id": "ops-01", "role": "operator"})
    revoked_at = time.monotonic()
    while (seen := answers(urls, token)) != {name: (401, "revoked") for name in REQUESTS}:
        assert time.monotonic() - revoked_at < 1.0, f"not refused everywhere within 1 s: {seen}"
        time.sleep(0.05)
    assert works(urls, other)  # only that session was signed out


def test_a_rotated_key_is_taken_by_every_service_without_a_restart(running):
    urls, _ = running
    old = staff.ISSUER.mint("ops-rot", "operator", staff.CENTERS)
    assert works(urls, old)
    fetched = jwks_server().fetches
    time.sleep(float(staff.AUTH_CONFIG["AUTH_JWKS_MIN_REFRESH"]) + 0.1)  # the services may refetch again
    kid = staff.rotate()
    new = staff.ISSUER.mint("ops-rot", "operator", staff.CENTERS)
    assert jwt.get_unverified_header(new)["kid"] == kid != jwt.get_unverified_header(old)["kid"]
    assert works(urls, new), answers(urls, new)  # first sight of the new kid: each service refetched once
    assert jwks_server().fetches - fetched == len(REQUESTS)
    assert works(urls, old)  # the previous key is still published


def test_onestop_auth_revoke_user_refuses_the_persons_older_tokens_not_the_next_sign_in(running):
    """What an operator types when a person leaves: every token they had stops; a new one works."""
    urls, amqp_uri = running
    before = staff.ISSUER.mint("officer-gone", "operator", staff.CENTERS)
    assert works(urls, before)
    done = subprocess.run([sys.executable, "-m", "onestop.ops.cli", "auth", "revoke", "--user", "officer-gone",
                           "--amqp", amqp_uri, "--actor", "ops-01"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "revoked user officer-gone" in done.stdout, done.stderr
    until(lambda: answers(urls, before) == {name: (401, "revoked") for name in REQUESTS}, 2, 0.05,
          "the user's token refused everywhere")
    time.sleep(1.05 - time.time() % 1)  # a token's iat is in whole seconds: the next second is after the revocation
    after = staff.ISSUER.mint("officer-gone", "operator", staff.CENTERS)
    assert works(urls, after), answers(urls, after)
