"""What a provider's failure is called, once it leaves the adapter: a fixed
description with the status codes, never the reply text, which names the
citizen's address ("550 5.1.1 <an@example.vn>: Recipient address rejected").
That text would travel on in the public notification.failed.v1 and in
dead-letter headers. The real SMTP and SMS sinks (in this process) refuse and
fail as real providers do."""
from __future__ import annotations

import pytest

from onestop.config import Settings
from onestop.errors import PermanentError, TransientError
from onestop.dev.sinks import sms as sms_sink
from onestop.dev.sinks import smtp as smtp_sink
from onestop.dev.sinks.smtp import REFUSE_REPLY
from services.notification.channels import SmsGateway, SmtpSender, _smtp_failure

EMAIL = "tran.thi.mai@example.vn"
PHONE = "+84987654321"


@pytest.fixture(scope="module")
def sinks():
    mail, sms = smtp_sink.start(), sms_sink.start()
    yield mail, sms
    mail.stop()
    sms.stop()


@pytest.fixture
def smtp(sinks):
    mail, _ = sinks
    sender = SmtpSender(Settings.load({"SMTP_HOST": "127.0.0.1", "SMTP_PORT": mail.port, "SMTP_TIMEOUT": 5}))
    yield mail, sender
    mail.set_fault("ok")
    sender.close()


@pytest.fixture
def gateway(sinks):
    _, sms = sinks
    yield sms, SmsGateway(Settings.load({"SMS_URL": sms.url, "SMS_TIMEOUT": 5}))
    sms.set_fault("ok")


def no_address_in(exc: Exception) -> bool:
    text = f"{exc} {exc!r}"
    return "tran.thi.mai" not in text and "example.vn" not in text and "987654321" not in text


def test_a_refused_recipient_is_a_permanent_failure_without_the_address(smtp):
    mail, sender = smtp
    mail.set_fault("refuse", times=1)
    with pytest.raises(PermanentError) as refused:
        sender.send(EMAIL, "s", "t", "refuse-1")
    assert str(refused.value) == "recipient refused (SMTP 550 5.1.1)" and no_address_in(refused.value)
    assert EMAIL in REFUSE_REPLY.format(address=EMAIL)  # what the server did say: the address is in it
    sender.send(EMAIL, "s", "t", "refuse-2")  # the next recipient is taken again
    assert [m["to"] for m in mail.messages()][-1:] == [[EMAIL]]


def test_a_server_deferring_the_message_is_a_transient_failure_with_its_codes(smtp):
    mail, sender = smtp
    mail.set_fault("reject", times=1)  # 451 4.3.0 to DATA
    with pytest.raises(TransientError) as deferred:
        sender.send(EMAIL, "s", "t", "reject-1")
    assert str(deferred.value) == "message deferred (SMTP 451 4.3.0)" and no_address_in(deferred.value)


def test_a_server_that_is_down_says_so_without_the_address(smtp):
    mail, sender = smtp
    mail.set_fault("down", times=1)  # 421 at the greeting
    with pytest.raises(TransientError) as down:
        sender.send(EMAIL, "s", "t", "down-1")
    assert "SMTP 421" in str(down.value) and no_address_in(down.value)


def test_greylisting_at_rcpt_is_tried_again_later_and_a_reply_without_enhanced_code_keeps_its_number():
    greylisted = _smtp_failure("recipient refused", "recipient deferred", 450,
                               b"4.2.0 <tran.thi.mai@example.vn>: Recipient address rejected: Greylisted")
    assert isinstance(greylisted, TransientError) and str(greylisted) == "recipient deferred (SMTP 450 4.2.0)"
    plain = _smtp_failure("message refused", "message deferred", 554, "Transaction failed for tran.thi.mai")
    assert isinstance(plain, PermanentError) and str(plain) == "message refused (SMTP 554)"


def test_a_gateway_refusing_the_number_is_permanent_and_its_answer_stays_out(gateway):
    sms, sender = gateway
    sms.set_fault("refuse", times=1)
    with pytest.raises(PermanentError) as refused:
        sender.send(PHONE, "text", "sms-refuse-1")
    assert str(refused.value) == "SMS gateway refused the message (HTTP 400)" and no_address_in(refused.value)


def test_a_failing_or_unreachable_gateway_is_transient_and_names_no_url(gateway):
    sms, sender = gateway
    sms.set_fault("error", times=1)
    with pytest.raises(TransientError) as failing:
        sender.send(PHONE, "text", "sms-error-1")
    assert str(failing.value) == "SMS gateway answered 500"
    unreachable = SmsGateway(Settings.load({"SMS_URL": "http://127.0.0.1:9/api/v1/sms?key=s3cret", "SMS_TIMEOUT": 2}))
    with pytest.raises(TransientError) as down:
        unreachable.send(PHONE, "text", "sms-down-1")
    assert str(down.value) == "SMS gateway unavailable (ConnectionError)" and "s3cret" not in repr(down.value)
