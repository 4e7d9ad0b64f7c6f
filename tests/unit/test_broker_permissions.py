"""The table of broker users (onestop.messaging.users), its definitions and their passwords.

RabbitMQ matches each permission regex against a queue's or exchange's name; these tests ask
the same regexes the questions the broker would (tests/integration/test_broker_users.py asks
the broker itself)."""
import base64
import hashlib
import json
import re
import stat

import pytest

from contracts import REGISTRY
from onestop.dev.broker_users import passwords, uri_for
from onestop.messaging.topology import PRIVATE, SHARED_EXCHANGES, dlq_queue_name, work_queue_name
from onestop.messaging.users import PUBLIC_EXCHANGES, SERVICES, platform_users, subscriber_user
from onestop.ops import brokerusers
from onestop.ops.brokerusers import deploy, password_hash, password_variable, read_env

USERS = {u.role: u for u in platform_users(("portal",))}


def may(role: str, what: str, name: str) -> bool:
    return re.fullmatch(getattr(USERS[role].permissions, what), name) is not None


def test_only_notification_may_read_the_private_exchange():
    assert [role for role in USERS if may(role, "read", PRIVATE.name)] == ["notification", "admin"]


def test_only_intake_may_write_the_private_exchange_and_it_alone_produces_private_events():
    producers = {t.producer for t in REGISTRY.values() if t.visibility == "private"}
    assert [role for role in USERS if may(role, "write", PRIVATE.name)] == ["intake", "admin"]
    assert producers == {"intake"}


def test_every_service_that_produces_public_events_may_publish_them():
    producers = {t.producer for t in REGISTRY.values() if t.visibility == "public"} & set(SERVICES)
    assert producers <= {s for s in SERVICES if all(may(s, "write", e) for e in PUBLIC_EXCHANGES)}


def test_no_one_but_the_administrator_may_configure_or_delete_a_shared_exchange():
    shared = [e.name for e in SHARED_EXCHANGES] + list(PUBLIC_EXCHANGES) + ["onestop.unrouted"]
    assert {role for role in USERS for name in shared if may(role, "configure", name)} == {"admin"}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_service_has_its_own_queues_and_no_others(service):
    mine = [work_queue_name(service, "hue-vyda"), dlq_queue_name(service, "hue-vyda"),
            f"{work_queue_name(service, 'hue-vyda')}.retry.5000"]
    assert all(may(service, what, q) for q in mine for what in ("configure", "write", "read"))
    others = [work_queue_name(other, "hue-vyda") for other in SERVICES if other != service]
    assert not any(may(service, what, q) for q in others + ["sub.portal.x"] for what in ("configure", "read"))


def test_a_subscriber_declares_and_reads_its_own_queues_on_the_public_exchanges_only():
    assert all(may("sub-portal", "read", e) for e in PUBLIC_EXCHANGES)
    assert all(may("sub-portal", w, "sub.portal.vyda") for w in ("configure", "write", "read"))
    refused = [PRIVATE.name, "sub.other.vyda", "sub.portal", work_queue_name("notification", "hue-vyda"),
               "amq.default", "onestop.dlx"]
    assert not any(may("sub-portal", w, name) for name in refused for w in ("configure", "write", "read"))


def test_the_operator_reads_dead_letters_and_configures_nothing():
    assert may("operator", "read", dlq_queue_name("notification", "hue-vyda"))
    assert not may("operator", "read", work_queue_name("notification", "hue-vyda"))
    assert not may("operator", "configure", dlq_queue_name("notification", "hue-vyda"))
    assert USERS["operator"].tags == "management"  # `onestop dlq list` asks the management API


def test_a_subscriber_name_that_would_widen_its_regexes_is_refused():
    with pytest.raises(ValueError, match="lowercase letters, digits and '-'; got '.\\*'"):
        subscriber_user(".*")


def test_the_shipped_definitions_are_current_and_hold_no_password():
    assert brokerusers.main(["definitions", "--check"]) == 0
    shipped = json.loads(brokerusers.SHIPPED.read_text())
    assert {u["password_hash"] for u in shipped["users"]} == {""}
    assert "guest" not in {u["name"] for u in shipped["users"]}


def test_a_password_hash_is_rabbitmqs_salted_sha256():
    raw = base64.b64decode(password_hash("s3cret", salt=b"\x90\x8d\xb2\x12"))
    assert raw[:4] == b"\x90\x8d\xb2\x12" and raw[4:] == hashlib.sha256(raw[:4] + b"s3cret").digest()


def test_deploy_makes_the_passwords_once_and_the_definitions_hold_only_their_hashes(tmp_path):
    env, out = tmp_path / ".env", tmp_path / "var" / "definitions.json"
    env.write_text("JWT_SECRET=kept\n")
    deploy(env, out)
    first = read_env(env)
    deploy(env, out)
    assert read_env(env) == first and first["JWT_SECRET"] == "kept"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    text = out.read_text()
    assert first[password_variable("intake")] not in text
    hashes = {u["name"]: u["password_hash"] for u in json.loads(text)["users"]}
    salt = base64.b64decode(hashes["intake"])[:4]
    assert hashes["intake"] == password_hash(first["ONESTOP_AMQP_PASSWORD_INTAKE"], salt)


def test_make_runs_passwords_are_kept_in_a_private_file_and_reused(tmp_path):
    path = tmp_path / "var" / "broker-users.json"
    first = passwords(path, ["intake"])
    assert passwords(path, ["intake", "routing"])["intake"] == first["intake"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert uri_for("amqp://guest:guest@127.0.0.1:5672/onestop-dev", "onestop-dev-intake", "p/w") == \
        "amqp://onestop-dev-intake:p%2Fw@127.0.0.1:5672/onestop-dev"

