"""The SMTP server down, the SMS gateway answering 500, the SMS gateway hanging:
every citizen still gets exactly one email and one SMS once the provider is
back, nothing is dead-lettered, and the circuit breaker keeps the retries from
hammering the provider meanwhile.

Real RabbitMQ, real HTTP, the sink processes with fault injection; the four
services as nameko containers in this process. The provider adapters are also
exercised directly for the timeouts and the SMTP connection pool.
"""
from __future__ import annotations

import smtplib
import socket
import time
import uuid
from urllib.parse import urlsplit

import pytest
import requests
from kombu import Connection

from onestop.config import Settings
from onestop.errors import TransientError
from services.audit.service import AuditService
from services.intake.service import IntakeService
from services.notification.channels import SMTP_FRESH, SmsGateway, SmtpSender
from services.notification.service import NotificationService
from services.routing.service import RoutingService
from tests.conftest import MGMT
from tests.support.samples import dossier
from tests.support.staff import COUNTER
from tests.support.wait import until

pytestmark = pytest.mark.integration

DOSSIERS = 4  # per outage
BIG = 1_000_000  # a fault's `times`: what is left of it afterwards counts the calls it took
OUTAGE = 3.0  # seconds the fault is held after the breaker opened
PIPELINE = {
    # Many short retries: a message refused by the open breaker comes back soon,
    # and the budget (~13 s) outlasts the outage plus a breaker reset. Few
    # distinct delays, as each is a quorum queue per service and center.
    "RETRY_DELAYS": "0.2,0.5" + ",1" * 13, "DELIVERY_LIMIT": 20,
    "CIRCUIT_FAILURES": 3, "CIRCUIT_RESET": 1, "SMS_TIMEOUT": 1, "SMTP_TIMEOUT": 2,
}
FAULTS = {  # name: (sink, channel, fault spec)
    "smtp_down": ("smtp", "email", {"mode": "down"}),
    "sms_500": ("sms", "sms", {"mode": "error"}),
    "sms_hang": ("sms", "sms", {"mode": "hang", "seconds": 3}),  # longer than SMS_TIMEOUT
}


def providers(notification):
    return requests.get(f"{notification.http}/healthz", timeout=5).json()["providers"]


def dead_letters(amqp_uri):
    """Messages in every dead-letter queue of the vhost (passive declare: exact, unlike the stats)."""
    vhost = urlsplit(amqp_uri).path.lstrip("/")
    names = [q["name"] for q in requests.get(f"{MGMT}/api/queues/{vhost}", auth=("guest", "guest"),
                                             params={"columns": "name"}, timeout=10).json()]
    with Connection(amqp_uri) as conn:
        channel = conn.default_channel
        return {n: channel.queue_declare(queue=n, passive=True).message_count for n in names if n.endswith(".dlq")}


def citizens():
    tag = uuid.uuid4().hex[:8]
    return [{"phone": f"09{int(tag, 16) % 10**7:07d}{i}", "email": f"pf-{tag}-{i}@example.vn"}
            for i in range(DOSSIERS)]


@pytest.fixture
def pipeline(services):
    """One pipeline (one vhost) for the three outages, one after the other: the
    breakers must also close again for the next outage to be seen."""
    return {cls.name: services.start(cls, **PIPELINE)
            for cls in (IntakeService, RoutingService, NotificationService, AuditService)}


def outage(name, pipeline, sinks, deliveries):
    sink, channel, spec = FAULTS[name]
    notification, people = pipeline["notification"], citizens()
    opens_before = providers(notification)[channel]["opens"]
    sinks.fault(sink, **{**spec, "times": BIG})
    try:
        codes = []
        for person in people:
            response = requests.post(f"{pipeline['intake'].http}/api/v1/dossiers", timeout=10, headers=COUNTER,
                                     json=dossier(phone=person["phone"], email=person["email"]))
            assert response.status_code == 201, response.text
            codes.append(response.json()["code"])
        # "open" lasts only CIRCUIT_RESET (1 s) before it reads half-open; a slow
        # poll can miss it, so wait for the count of openings to move instead
        opened = until(lambda: (p := providers(notification)[channel])["opens"] > opens_before
                       and p["state"] != "closed" and p, 30, 0.05, f"the {channel} breaker to open")
        assert opened["consecutive_failures"] >= 3 and opened["opened_at"]
        health = requests.get(f"{notification.http}/healthz", timeout=5)
        assert health.status_code == 200 and health.json()["status"] == "ok"  # an outage is not ill health
        time.sleep(OUTAGE)  # hold the fault while the retries keep coming
        during = sinks.calls_taken(sink, BIG)
    finally:
        sinks.fault(sink, mode="ok")

    mine = {"code": {"$in": codes}}
    try:
        until(lambda: deliveries.count_documents({**mine, "status": "sent"}) == 2 * DOSSIERS, 25, 0.1)
    except AssertionError:
        raise AssertionError(f"{name}: not all sent: {list(deliveries.find(mine, {'outbox': 0}))}") from None
    for person in people:
        assert len(sinks.emails(to=person["email"])) == 1, person
        assert len(sinks.sms(to="+84" + person["phone"][1:])) == 1, person

    state = providers(notification)[channel]
    attempts = sum(d["attempts"] for d in deliveries.find({**mine, "channel": channel}))
    failed_attempts = attempts - DOSSIERS  # each one's last attempt succeeded
    print(f"\n{name}: {failed_attempts} failed attempts, {during} reached the provider, "
          f"{state['calls_refused']} refused so far, breaker opened {state['opens'] - opens_before} times")
    assert state["state"] == "closed" and state["opens"] > opens_before
    assert during < failed_attempts  # the breaker kept most retries from reaching the provider


def test_provider_outages_lose_and_double_nothing(pipeline, sinks, amqp_uri, mongo_db):
    deliveries = mongo_db("notification")["deliveries"]
    for name in FAULTS:
        outage(name, pipeline, sinks, deliveries)
    assert deliveries.count_documents({"status": {"$ne": "sent"}}) == 0
    dlq = dead_letters(amqp_uri)
    assert any(".notification." in name for name in dlq) and not any(dlq.values()), dlq


# --- the adapters on their own -------------------------------------------------------------

def settings(sinks, **overrides):
    return Settings.load({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": sinks.smtp_port, "SMS_URL": sinks.sms_url,
                          "SMTP_TIMEOUT": 2, "SMS_TIMEOUT": 2, **overrides})


@pytest.fixture
def connections(monkeypatch):
    """Counts the SMTP connections opened."""
    opened, connect = [], smtplib.SMTP.connect

    def counting(self, *args, **kwargs):
        opened.append(1)
        return connect(self, *args, **kwargs)
    monkeypatch.setattr(smtplib.SMTP, "connect", counting)
    return opened


def test_smtp_connections_are_reused_and_a_dead_one_is_replaced_before_sending(sinks, connections):
    sender, tag = SmtpSender(settings(sinks)), uuid.uuid4().hex[:8]
    try:
        for i in range(3):
            sender.send(f"pool-{tag}-{i}@example.vn", "s", "t", f"pool-{tag}-{i}")
        assert len(connections) == 1
        since, smtp = sender._idle[0]
        sender._idle[0] = (since - SMTP_FRESH, smtp)  # idle long enough to be checked before use
        smtp.sock.shutdown(socket.SHUT_RDWR)  # as if the server had hung up
        sender.send(f"pool-{tag}-3@example.vn", "s", "t", f"pool-{tag}-3")
        assert len(connections) == 2
        for i in range(4):
            assert len(sinks.emails(to=f"pool-{tag}-{i}@example.vn")) == 1
    finally:
        sender.close()


def test_a_connection_dropped_the_moment_it_was_pooled_costs_one_retry_not_a_message(sinks, connections):
    """Used within a second of its last message, a pooled connection is taken without a
    NOOP; if the server dropped it in that second, the send fails before anything
    went out, and the consumer's retry sends the message once."""
    sender, to = SmtpSender(settings(sinks)), f"fresh-{uuid.uuid4().hex[:8]}@example.vn"
    try:
        sender.send("warm-up@example.vn", "s", "t", f"warm-{to}")
        sender._idle[0][1].sock.shutdown(socket.SHUT_RDWR)
        with pytest.raises(TransientError):
            sender.send(to, "s", "t", to)
        sender.send(to, "s", "t", to)  # what the consumer's retry does
        assert len(sinks.emails(to=to)) == 1
    finally:
        sender.close()


def test_a_pooled_connection_that_fails_mid_send_is_dropped_and_the_retry_sends_once(sinks, connections):
    sender, to = SmtpSender(settings(sinks)), f"pool-{uuid.uuid4().hex[:8]}@example.vn"
    try:
        sender.send("warm-up@example.vn", "s", "t", f"warm-{to}")
        sinks.fault("smtp", mode="down", times=1)  # 421 to the next DATA, and the server hangs up
        with pytest.raises(TransientError, match="421"):
            sender.send(to, "s", "t", to)
        assert sender._idle == []
        sender.send(to, "s", "t", to)  # what the consumer's retry does
        assert len(connections) == 2 and len(sinks.emails(to=to)) == 1
    finally:
        sinks.fault("smtp", mode="ok")
        sender.close()


def test_an_smtp_server_that_never_greets_holds_a_sender_no_longer_than_its_timeout(sinks):
    with socket.socket() as silent:  # accepts connections (backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        sender = SmtpSender(settings(sinks, SMTP_PORT=silent.getsockname()[1], SMTP_TIMEOUT=0.5))
        started = time.monotonic()
        with pytest.raises(TransientError):
            sender.send("silent@example.vn", "s", "t", "silent-1")
        assert time.monotonic() - started < 1.0


def test_a_hanging_sms_gateway_times_out_and_the_retry_is_deduplicated(sinks):
    gateway, phone = SmsGateway(settings(sinks, SMS_TIMEOUT=0.5)), f"+8490{uuid.uuid4().int % 10**7:07d}"
    sinks.fault("sms", mode="hang", seconds=1.5, times=1)
    try:
        started = time.monotonic()
        with pytest.raises(TransientError):
            gateway.send(phone, "hello", f"ref-{phone}")
        assert time.monotonic() - started < 1.0
        first = until(lambda: sinks.sms(to=phone), 5, 0.05, "the SMS the gateway sent after all")
        assert gateway.send(phone, "hello", f"ref-{phone}") == first[0]["id"]  # the retry
        assert len(sinks.sms(to=phone)) == 1
    finally:
        sinks.fault("sms", mode="ok")
