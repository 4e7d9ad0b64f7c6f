"""The local SMTP and SMS sinks, driven over their real protocols."""
from __future__ import annotations

import json
import smtplib
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import pytest
import requests

from onestop.dev.sinks import smtp as smtp_sink
from onestop.dev.sinks import sms as sms_sink

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CITIZEN = "nguyen.van.a@example.vn"
SUBJECT = "Giấy tiếp nhận hồ sơ HS-2024-000123"
BODY = ("Kính gửi ông Nguyễn Văn A,\n"
        "Trung tâm Phục vụ hành chính công phường Vỹ Dạ đã tiếp nhận hồ sơ.\n"
        "Ngày hẹn trả kết quả: 05/12/2024.\n")


@pytest.fixture
def mail(tmp_path):
    sink = smtp_sink.start(store_file=str(tmp_path / "mail.jsonl"))
    yield sink
    sink.stop()


@pytest.fixture
def sms(tmp_path):
    sink = sms_sink.start(token=TOKEN, store_file=str(tmp_path / "sms.jsonl"))
    yield sink
    sink.stop()


def _email(to: str = CITIZEN, subject: str = SUBJECT, body: str = BODY) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "OneStop Vỹ Dạ <no-reply@onestop.local>"
    msg["To"] = f"Nguyễn Văn A <{to}>"
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="onestop.local")
    msg.set_content(body)
    return msg


def _send_mail(sink, msg: EmailMessage) -> None:
    with smtplib.SMTP(sink.host, sink.port, local_hostname="localhost", timeout=5) as client:
        client.send_message(msg)


def _send_sms(sink, headers=AUTH, **fields):
    body = {"to": "+84912345678", "text": "Hồ sơ HS-2024-000123 đã được tiếp nhận.", **fields}
    return requests.post(sink.url, json=body, headers=headers, timeout=5)


# --- SMTP -------------------------------------------------------------------

def test_an_email_in_vietnamese_arrives_intact(mail):
    _send_mail(mail, _email())
    [listed] = requests.get(f"{mail.http_url}/api/v1/messages", timeout=5).json()
    assert listed["subject"] == SUBJECT
    assert listed["text"] == BODY
    assert listed["to"] == [CITIZEN] and listed["rcpt_tos"] == [CITIZEN]
    assert listed["from"] == "OneStop Vỹ Dạ <no-reply@onestop.local>"
    assert listed["message_id"].endswith("@onestop.local>") and listed["date"]
    assert ["Subject", SUBJECT] in listed["headers"]
    full = requests.get(f"{mail.http_url}/api/v1/messages/{listed['id']}", timeout=5).json()
    assert "raw" in full and full["subject"] == SUBJECT


def test_messages_filter_by_recipient_and_text(mail):
    _send_mail(mail, _email())
    _send_mail(mail, _email(to="tran.thi.b@example.vn", subject="Yêu cầu bổ sung hồ sơ"))
    api = f"{mail.http_url}/api/v1/messages"
    by_to = requests.get(api, params={"to": "TRAN.THI.B@example.vn"}, timeout=5).json()
    assert [m["subject"] for m in by_to] == ["Yêu cầu bổ sung hồ sơ"]
    by_text = requests.get(api, params={"q": "hẹn trả kết quả"}, timeout=5).json()
    assert len(by_text) == 2
    assert requests.get(api, params={"q": "không có"}, timeout=5).json() == []
    assert [m["subject"] for m in requests.get(api, timeout=5).json()][-1] == "Yêu cầu bổ sung hồ sơ"


def test_clearing_and_unknown_ids(mail):
    _send_mail(mail, _email())
    api = f"{mail.http_url}/api/v1/messages"
    assert requests.delete(api, timeout=5).status_code == 200
    assert requests.get(api, timeout=5).json() == []
    assert requests.get(f"{api}/1", timeout=5).status_code == 404
    assert requests.get(f"{mail.http_url}/healthz", timeout=5).json() == {"status": "ok"}


def test_messages_are_appended_to_the_jsonl_file(mail, tmp_path):
    _send_mail(mail, _email())
    [line] = (tmp_path / "mail.jsonl").read_text(encoding="utf-8").splitlines()
    assert SUBJECT in line  # stored readable, not \u-escaped
    assert json.loads(line)["subject"] == SUBJECT
    assert mail.messages()[0]["subject"] == SUBJECT


def test_reject_fault_answers_451_then_recovers(mail):
    faults = f"{mail.http_url}/api/v1/faults"
    assert requests.post(faults, json={"mode": "reject"}, timeout=5).status_code == 200
    with pytest.raises(smtplib.SMTPResponseException) as err:
        _send_mail(mail, _email())
    assert err.value.smtp_code == 451
    assert isinstance(err.value, smtplib.SMTPDataError)
    requests.post(faults, json={"mode": "ok"}, timeout=5)
    _send_mail(mail, _email())
    assert len(mail.messages()) == 1


def test_down_fault_refuses_connections_with_421(mail):
    requests.post(f"{mail.http_url}/api/v1/faults", json={"mode": "down", "times": 1}, timeout=5)
    with pytest.raises(smtplib.SMTPConnectError) as err:
        _send_mail(mail, _email())
    assert err.value.smtp_code == 421
    _send_mail(mail, _email())  # `times: 1` spent: the relay is back
    assert len(mail.messages()) == 1


def test_down_fault_also_fails_connections_opened_before(mail):
    with smtplib.SMTP(mail.host, mail.port, local_hostname="localhost", timeout=5) as client:
        mail.set_fault("down")
        with pytest.raises(smtplib.SMTPDataError) as err:
            client.send_message(_email())
    assert err.value.smtp_code == 421 and mail.messages() == []


def test_refuse_fault_answers_550_to_the_recipient_as_postfix_does_then_recovers(mail):
    mail.set_fault("refuse", times=1)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as err:
        _send_mail(mail, _email())
    [(code, text)] = err.value.recipients.values()
    assert code == 550 and CITIZEN.encode() in text  # real servers name the address: a provider text is personal
    _send_mail(mail, _email())
    assert [m["rcpt_tos"] for m in mail.messages()] == [[CITIZEN]]


def test_unknown_fault_mode_is_a_400(mail):
    reply = requests.post(f"{mail.http_url}/api/v1/faults", json={"mode": "explode"}, timeout=5)
    assert reply.status_code == 400 and reply.json()["field"] == "mode"


# --- SMS --------------------------------------------------------------------

def test_an_sms_is_accepted_and_listed(sms):
    reply = _send_sms(sms, reference="evt-1:sms")
    assert reply.status_code == 202
    assert reply.json() == {"id": reply.json()["id"], "status": "accepted"}
    _send_sms(sms, to="+84987654321", reference="evt-2:sms")
    listed = requests.get(sms.url, params={"to": "+84912345678"}, timeout=5).json()
    assert [m["id"] for m in listed] == [reply.json()["id"]]
    assert listed[0]["text"] == "Hồ sơ HS-2024-000123 đã được tiếp nhận."
    assert listed[0]["sender"] == "ONESTOP"
    assert len(sms.messages()) == 2


def test_a_repeated_reference_is_not_sent_twice(sms, tmp_path):
    first = _send_sms(sms, reference="evt-1:sms").json()
    again = _send_sms(sms, reference="evt-1:sms")
    assert again.status_code == 200
    assert again.json() == {"id": first["id"], "status": "accepted", "duplicate": True}
    assert len(requests.get(sms.url, timeout=5).json()) == 1
    again = sms_sink.start(store_file=str(tmp_path / "sms.jsonl"))  # what its file says, read by another sink
    try:
        assert [(m["id"], m["resends"]) for m in again.messages()] == [(first["id"], 1)]
    finally:
        again.stop()


@pytest.mark.parametrize("body,field", [
    ({"text": "xin chào"}, "to"),
    ({"to": "not-a-number", "text": "xin chào"}, "to"),
    ({"to": "+84912345678"}, "text"),
    ({"to": "+84912345678", "text": "   "}, "text"),
    ({"to": "+84912345678", "text": "x", "sender": "MORE-THAN-ELEVEN"}, "sender"),
])
def test_bad_requests_name_the_field(sms, body, field):
    reply = requests.post(sms.url, json=body, headers=AUTH, timeout=5)
    assert reply.status_code == 400 and reply.json()["field"] == field
    assert sms.messages() == []


def test_a_body_that_is_not_json_is_a_400(sms):
    reply = requests.post(sms.url, data="to=+84912345678", headers=AUTH, timeout=5)
    assert reply.status_code == 400 and "error" in reply.json()


def test_the_token_is_required_when_configured(sms):
    assert _send_sms(sms, headers={}).status_code == 401
    assert _send_sms(sms, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert sms.messages() == []


def test_error_fault_answers_500_and_stores_nothing(sms):
    faults = f"{sms.base_url}/api/v1/faults"
    requests.post(faults, json={"mode": "error", "times": 2}, timeout=5)
    assert [_send_sms(sms).status_code for _ in range(3)] == [500, 500, 202]
    assert len(sms.messages()) == 1
    assert requests.get(faults, timeout=5).json()["mode"] == "ok"


def test_refuse_fault_answers_400_naming_the_number_and_stores_nothing(sms):
    sms.set_fault("refuse", times=1)
    reply = _send_sms(sms)
    assert reply.status_code == 400 and "+84912345678" in reply.json()["error"]
    assert sms.messages() == [] and _send_sms(sms).status_code == 202


def test_hang_fault_times_out_the_client_but_the_sms_still_goes_out(sms):
    sms.set_fault("hang", seconds=0.5, times=1)
    with pytest.raises(requests.Timeout):
        requests.post(sms.url, json={"to": "+84912345678", "text": "x", "reference": "r-1"},
                      headers=AUTH, timeout=0.1)
    deadline = time.monotonic() + 5
    while not sms.messages() and time.monotonic() < deadline:
        time.sleep(0.05)
    # The client's retry with the same reference must not send a second SMS.
    retry = _send_sms(sms, reference="r-1")
    assert retry.status_code == 200 and retry.json()["duplicate"] is True
    assert len(sms.messages()) == 1


def test_clear_forgets_messages_and_references(sms):
    _send_sms(sms, reference="r-1")
    assert requests.delete(sms.url, timeout=5).status_code == 200
    assert requests.get(sms.url, timeout=5).json() == []
    assert _send_sms(sms, reference="r-1").status_code == 202
    assert requests.get(f"{sms.base_url}/healthz", timeout=5).json() == {"status": "ok"}
