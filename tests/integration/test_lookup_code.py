"""The citizen's lookup code on real RabbitMQ and HTTP, with the real SMTP and SMS
sinks: intake prints it on the receipt and hands it to notification on the
private exchange, the receipt SMS and email carry it, it unlocks the dossier's
details, wrong codes are refused and the sixth finds the lookup locked.

And what notification publishes about a message, sent or failed (a recipient
the SMTP server refuses with the address in its reply, a number the SMS gateway
refuses, a gateway answering 500 until the message is dead-lettered), carries
no digit of the phone and no part of the email, read off the exchange and the
dead-letter queue as a subscriber and an operator would."""
from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
import requests
from kombu import Connection

from onestop.messaging.topology import EVENTS, dlq_queue_name
from services.intake.service import IntakeService
from services.notification.service import NotificationService
from tests.support.samples import dossier
from tests.support.staff import COUNTER
from tests.support.tap import Tap
from tests.support.wait import until

pytestmark = pytest.mark.integration

SECONDS = 20
PRINTED = re.compile(r"^[A-Z2-9]{5}-[A-Z2-9]{5}$")
IN_SMS = re.compile(r"Mã tra cứu: ([A-Z2-9]{5}-[A-Z2-9]{5})\.")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
WRONG = "ABCDE-FGHJK"


@pytest.fixture
def platform(services, config):
    """Intake and notification, and a subscriber's queue for everything notification publishes."""
    intake = services.start(IntakeService)  # declares the exchanges
    services.start(NotificationService)
    return intake, Tap(config["AMQP_URI"], EVENTS, "notification.#")


def citizen(phone: str) -> dict:
    """Digits no code, time or id of the run can hold by chance (ids are scanned without their UUIDs)."""
    return {"phone": phone, "email": f"lookup.{uuid.uuid4().hex[:8]}@example.vn"}


def submit(intake, person) -> dict:
    response = requests.post(f"{intake.http}/api/v1/dossiers", json=dossier(**person), headers=COUNTER, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def lookup(intake, code, proof=None):
    return requests.get(f"{intake.http}/api/v1/dossiers/{code}", timeout=5,
                        params={"lookup_code": proof} if proof else {})


def leaks(text: str, person: dict) -> list[str]:
    """Every 4 consecutive digits of the phone (national and E.164), the email and both its parts."""
    national = person["phone"]
    digits = {national[i:i + 4] for i in range(len(national) - 3)} | {f"84{national[1:]}"[:4], f"84{national[1:]}"[1:5]}
    local, domain = person["email"].split("@")
    scanned = UUID.sub("<id>", text)
    return [part for part in (*sorted(digits), person["email"], local, domain) if part in scanned]


def collected(tap, wanted: int) -> list[dict]:
    events = []
    until(lambda: events.extend(tap.messages()) or len(events) >= wanted, SECONDS, 0.1, f"{wanted} notification events")
    return events


def test_the_receipt_sms_brings_the_code_that_unlocks_the_details_and_the_sixth_wrong_code_finds_it_locked(
        platform, sinks):
    intake, tap = platform
    person = citizen("0987654321")
    receipt = submit(intake, person)
    code, printed = receipt["code"], receipt["lookup_code"]
    assert PRINTED.match(printed)

    sms = until(lambda: [m for m in sinks.sms(to="+84987654321") if code in m["text"]], SECONDS, 0.1, "the SMS")
    assert [IN_SMS.search(m["text"]).group(1) for m in sms] == [printed]
    [mail] = until(lambda: sinks.emails(to=person["email"]), SECONDS, 0.1, "the receipt email")
    assert printed in mail["text"] and printed not in mail["subject"]

    details = lookup(intake, code, printed)
    assert details.status_code == 200 and details.json()["appointment_date"] and details.json()["steps"]
    assert lookup(intake, code, printed.lower().replace("-", " ")).status_code == 200  # as a citizen types it
    wrong = [lookup(intake, code, WRONG) for _ in range(5)]
    assert [w.status_code for w in wrong] == [403] * 5 and "now locked" in wrong[-1].json()["message"]
    sixth = lookup(intake, code, WRONG)
    assert sixth.status_code == 429 and sixth.json()["error"] == "lookup_locked"
    assert 890 <= int(sixth.headers["Retry-After"]) <= 900
    assert lookup(intake, code, printed).status_code == 429  # the right code waits too
    assert lookup(intake, code).status_code == 200  # the public status stays open

    events = collected(tap, 2)
    assert sorted((e["type"], e["data"]["channel"]) for e in events) == [
        ("notification.sent.v1", "email"), ("notification.sent.v1", "sms")]
    for event in events:
        assert event["data"]["recipient"] == "citizen" and event["data"]["staff_id"] is None
        text = orjson.dumps(event).decode()
        assert leaks(text, person) == [] and printed not in text


def test_concurrent_wrong_codes_over_http_are_counted_no_further_than_five(platform):
    intake, _ = platform
    receipt = submit(intake, citizen("0987654321"))
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda _: lookup(intake, receipt["code"], WRONG).status_code, range(12)))
    assert sorted(answers) == [403] * 5 + [429] * 7
    assert lookup(intake, receipt["code"], receipt["lookup_code"]).status_code == 429


def test_a_refused_recipient_and_a_refused_number_are_reported_without_the_address(platform, sinks):
    intake, tap = platform
    person = citizen("0356789012")
    sinks.fault("smtp", mode="refuse", times=1)  # 550 5.1.1 <the address>: Recipient address rejected
    sinks.fault("sms", mode="refuse", times=1)  # 400 {"error": "destination <the number> not reachable"}
    try:
        code = submit(intake, person)["code"]
        events = collected(tap, 2)
    finally:
        sinks.fault("smtp", mode="ok")
        sinks.fault("sms", mode="ok")
    failed = {e["data"]["channel"]: e for e in events}
    assert {e["type"] for e in events} == {"notification.failed.v1"} and failed["email"]["subject"] == code
    assert failed["email"]["data"]["error"] == "recipient refused (SMTP 550 5.1.1)"
    assert failed["sms"]["data"]["error"] == "SMS gateway refused the message (HTTP 400)"
    for event in events:
        assert event["data"]["recipient"] == "citizen" and leaks(orjson.dumps(event).decode(), person) == []


def dead_letters(amqp_uri: str, queue: str) -> list:
    with Connection(amqp_uri) as conn:
        channel, out = conn.default_channel, []
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            out.append(message.headers)
        return out


def test_a_failing_sms_gateway_dead_letters_the_message_with_headers_that_name_no_one(platform, sinks, config):
    intake, tap = platform
    person = citizen("0356789012")
    sinks.fault("sms", mode="error")  # 500 to every try, until the retries are used up
    try:
        submit(intake, person)
        dlq = dlq_queue_name("notification", "hue-vyda")
        [headers] = until(lambda: dead_letters(config["AMQP_URI"], dlq), SECONDS, 0.2, "the dead letter")
    finally:
        sinks.fault("sms", mode="ok")
    assert headers["x-onestop-reason"] == "retries_exhausted"
    assert "SMS gateway answered 500" in headers["x-onestop-error"]
    assert leaks(orjson.dumps(headers).decode(), person) == []
    [sent] = collected(tap, 1)
    assert (sent["type"], sent["data"]["channel"]) == ("notification.sent.v1", "email")  # the SMS waits for replay
    assert leaks(orjson.dumps(sent).decode(), person) == [] and tap.messages() == []
