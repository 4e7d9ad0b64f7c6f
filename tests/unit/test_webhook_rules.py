"""Webhooks' rules without a broker: the retry schedule, what an answer means, filters, the SSRF
checks, and signatures a subscriber verifies with the `standardwebhooks` library."""
from __future__ import annotations

import ipaddress
import random
import socket
from datetime import datetime, timedelta, timezone

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from onestop.config import Settings
from services.webhooks.domain import Filter, Schedule, outcome, retry_after, rotated, signing_secrets
from services.webhooks.sender import Sender, new_secret, signed_headers
from services.webhooks.targets import Policy, Target, TargetRefused

NOW = datetime(2026, 2, 13, 2, 15, tzinfo=timezone.utc)


def test_the_default_schedule_retries_for_days_with_jitter():
    schedule = Schedule(Settings.load({}).webhook_retry_schedule, jitter=0.2)
    assert len(schedule.delays) + 1 == 11 and 3 * 86400 < schedule.total() < 4 * 86400
    assert schedule.delays[:2] == (5.0, 300.0)  # Standard Webhooks' own start: 5 s, then 5 min
    rng = random.Random(7)
    draws = [schedule.next_delay(2, rng=rng) for _ in range(200)]
    assert 240 <= min(draws) < 260 and 340 < max(draws) <= 360  # 300 s +-20 %
    assert schedule.next_delay(11) is None  # exhausted after the 11th failed attempt


def test_retry_after_is_honoured_up_to_its_cap():
    schedule = Schedule((5.0, 5.0), jitter=0.0, retry_after_max=3600)
    assert schedule.next_delay(1, retry_after=120) == 120
    assert schedule.next_delay(1, retry_after=1) == 5  # never sooner than the schedule
    assert schedule.next_delay(1, retry_after=10 * 86400) == 3600
    assert retry_after("Fri, 13 Feb 2026 02:17:00 GMT", NOW) == 120 and retry_after("later") is None


@pytest.mark.parametrize("status,kind", [(200, "delivered"), (204, "delivered"), (301, "retry"), (400, "retry"),
                                         (404, "retry"), (410, "gone"), (429, "retry"), (500, "retry")])
def test_what_a_receivers_status_means(status, kind):
    assert outcome(status).kind == kind


def test_filters_by_center_type_procedure_and_field():
    event = {"type": "dossier.routed.v1", "center": "hue-vyda", "procedure": "1.001193", "field": "justice"}
    assert Filter(("hue-vyda",)).wants(event)
    assert not Filter(("hue-phuxuan",)).wants(event)
    assert not Filter(("hue-vyda",), ("dossier.received.v1",)).wants(event)
    assert Filter(("hue-vyda",), fields=("justice", "land")).wants(event)
    assert not Filter(("hue-vyda",), procedures=("1.013978",)).wants(event)
    assert not Filter(("hue-vyda",), fields=("land",)).wants({**event, "field": None})


@pytest.mark.parametrize("address,kind", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"), ("10.2.3.4", "private"),
    ("172.16.0.1", "private"), ("192.168.1.1", "private"), ("fd00::1", "private"), ("::ffff:192.168.0.1", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("240.0.0.1", "reserved"), ("100.64.0.1", "not public"),
    ("2002:7f00:1::1", "loopback"), ("64:ff9b::a00:1", "private"),
])
def test_ssrf_refuses_every_non_public_range(address, kind):
    assert kind in Policy().refusal(ipaddress.ip_address(address))


def test_public_addresses_pass_and_operators_may_allow_networks():
    assert Policy().refusal(ipaddress.ip_address("93.184.216.34")) is None
    assert Policy().refusal(ipaddress.ip_address("2606:2800:220:1::1")) is None
    allowed = Policy(allow_networks=(ipaddress.ip_network("10.20.0.0/16"),))
    assert allowed.refusal(ipaddress.ip_address("10.20.3.4")) is None
    assert allowed.refusal(ipaddress.ip_address("10.21.3.4")) == "a private address"


def fake_dns(*addresses):
    return lambda host, port, type=None: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]


def test_a_url_is_checked_for_scheme_and_every_address_it_resolves_to():
    target = Policy().resolve("https://hooks.example.vn/x?t=1", fake_dns("93.184.216.34"))
    assert (target.address, target.host, target.port, target.path) == ("93.184.216.34", "hooks.example.vn", 443,
                                                                       "/x?t=1")
    with pytest.raises(TargetRefused, match="10.0.0.7, a private address"):  # one bad answer is enough
        Policy().resolve("https://hooks.example.vn/", fake_dns("93.184.216.34", "10.0.0.7"))
    with pytest.raises(TargetRefused, match="must be https"):
        Policy().resolve("http://hooks.example.vn/", fake_dns("93.184.216.34"))
    with pytest.raises(TargetRefused, match="user or password"):
        Policy().resolve("https://u:p@hooks.example.vn/", fake_dns("93.184.216.34"))
    assert Policy(allow_http=True, allow_loopback=True).resolve("http://localhost:8080/h").address in ("127.0.0.1",
                                                                                                       "::1")


def test_signatures_verify_with_the_standardwebhooks_library_during_a_rotation():
    old, new = new_secret(), new_secret()
    assert old.startswith("whsec_") and old != new
    secrets = rotated([{"secret": old, "created_at": NOW, "expires_at": None}], new, NOW, grace=3600)
    now = datetime.now(timezone.utc)
    payload = '{"specversion":"1.0","id":"e1","type":"dossier.received.v1"}'
    headers = signed_headers("e1", payload, signing_secrets({"secrets": secrets}, NOW), now)
    assert headers["webhook-signature"].count("v1,") == 2 and headers["webhook-id"] == "e1"
    for secret in (old, new):
        assert Webhook(secret).verify(payload, headers)["id"] == "e1"
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(payload, headers)
    assert [s["secret"] for s in secrets if s["secret"] in signing_secrets({"secrets": secrets},
                                                                             NOW + timedelta(seconds=3601))] == [new]


def test_a_closed_port_is_a_retry_never_an_exception():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result, _ = Sender(1, 1, 2).post(Target("http", "127.0.0.1", port, "/", "127.0.0.1"), "{}", {})
    assert (result.kind, result.error) == ("retry", "connection refused")


def test_webhook_settings_are_checked_at_start():
    assert Settings.load({"WEBHOOK_RETRY_SCHEDULE": "1s,2m,1h"}).webhook_retry_schedule == (1.0, 120.0, 3600.0)
    with pytest.raises(ValueError, match="WEBHOOK_RETRY_SCHEDULE"):
        Settings.load({"WEBHOOK_RETRY_SCHEDULE": "soon"})


def test_module_doctests():
    import doctest

    from services.webhooks import domain, targets
    assert doctest.testmod(domain).failed == 0 and doctest.testmod(targets).failed == 0



def test_an_untrusted_certificate_is_refused_not_ignored():
    """In a process of its own, patched as `nameko run` patches it (before anything imports ssl:
    under pytest, ssl is imported first and eventlet's green SSL context recurses)."""
    import subprocess
    import sys
    probe = subprocess.run([sys.executable, "-W", "ignore", "-m", "tests.support.tls_probe"], capture_output=True,
                           text=True, timeout=60)
    assert probe.stdout.strip() == "retry TLS certificate refused", probe.stderr[-2000:]
