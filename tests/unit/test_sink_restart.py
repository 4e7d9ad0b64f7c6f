"""The sinks keep what they accepted across a SIGKILL: "exactly one SMS" stays checkable after a provider crash."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest
import requests

from onestop.dev.sinks import MessageLog
from tests.conftest import free_port
from tests.support.sinks import Sinks

PHONE = "+84912345678"


@pytest.fixture
def sinks():
    running = Sinks(free_port(), free_port(), free_port()).start()
    yield running
    running.stop()


def _mail(sinks: Sinks, message_id: str) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "no-reply@onestop.local", "an@example.vn", "Hồ sơ VYDA-261201-0001"
    msg["Message-ID"] = message_id
    msg.set_content("Đã tiếp nhận hồ sơ VYDA-261201-0001.")
    with smtplib.SMTP("127.0.0.1", sinks.smtp_port, local_hostname="localhost", timeout=5) as client:
        client.send_message(msg)


def _sms(sinks: Sinks, reference: str) -> requests.Response:
    return requests.post(sinks.sms_url, json={"to": PHONE, "text": "VYDA-261201-0001", "reference": reference},
                         timeout=5)


def test_what_the_sinks_accepted_is_there_after_a_sigkill_and_a_resend_is_still_absorbed(sinks):
    _mail(sinks, "<evt-1.email@onestop>")
    first = _sms(sinks, "evt-1:sms").json()
    sinks.crash()
    assert all(proc.returncode == -9 for proc in sinks.procs.values())
    sinks.restart()
    assert [m["message_id"] for m in sinks.emails()] == ["<evt-1.email@onestop>"]
    again = _sms(sinks, "evt-1:sms")  # the sender never saw the first answer, say
    assert again.status_code == 200 and again.json() == {"id": first["id"], "status": "accepted", "duplicate": True}
    assert [(m["id"], m["resends"]) for m in sinks.sms()] == [(first["id"], 1)]
    _mail(sinks, "<evt-2.email@onestop>")  # a new message after the restart gets an id of its own
    assert [m["id"] for m in sinks.emails()] == [1, 2]


def test_a_cleared_sink_starts_again_empty(sinks):
    _sms(sinks, "evt-1:sms")
    sinks.clear()
    sinks.crash()
    sinks.restart()
    assert sinks.sms() == []
    assert _sms(sinks, "evt-1:sms").status_code == 202  # its references were forgotten with it


def test_a_last_line_cut_short_by_a_crash_is_dropped_and_the_next_record_starts_a_line(tmp_path):
    path = tmp_path / "sms.jsonl"
    path.write_text('{"id": "sms-1", "to": "+84912345678"}\n{"id": "sms-2", "to": "+849', encoding="utf-8")
    log = MessageLog(str(path))
    assert [r["id"] for r in log.snapshot()] == ["sms-1"]  # never answered, so its sender sends it again
    log.add({"id": "sms-2", "to": "+84912345678"})
    log.close()
    assert [r["id"] for r in MessageLog(str(path)).snapshot()] == ["sms-1", "sms-2"]


def test_a_file_that_is_not_json_lines_is_refused_with_its_line(tmp_path):
    path = tmp_path / "smtp.jsonl"
    path.write_text('{"id": 1}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: not a JSON record"):
        MessageLog(str(path))
