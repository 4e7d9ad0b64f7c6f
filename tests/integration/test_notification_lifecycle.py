"""What the citizen and the staff receive as a dossier lives, on real RabbitMQ with
the real SMTP server and SMS gateway sinks: each routing event, published twice,
gives one SMS and one email with the right content; a due-soon or overdue event
gives one email to the department head and one to the center leader."""
from __future__ import annotations

import random
import uuid

import pytest
from nameko.testing.services import entrypoint_waiter

from onestop.catalog import load_catalog
from contracts import make_event
from onestop.messaging.publisher import ConfirmedPublisher
from onestop.messaging.topology import EVENTS
from services.notification.service import NotificationService
from tests.support.wait import until

pytestmark = pytest.mark.integration

CATALOG = load_catalog()
VYDA = CATALOG.center("hue-vyda")
BIRTH = CATALOG.procedure("1.001193")
RATING_URL = "http://127.0.0.1:8001/api/v1/dossiers/{code}/rating"
SECONDS = 20


def new_code() -> str:
    return f"VYDA-260302-{random.randint(1000, 9999)}"  # the sinks live for the whole session


def contact_event(code, *, language="vi", rating_code=None):
    phone = f"+8491{random.randint(1000000, 9999999)}"
    data = {"code": code, "full_name": "Trần Thị Mai", "phone": phone, "email": f"{uuid.uuid4().hex[:10]}@example.vn",
            "channels": ["sms", "email"], "language": language, "rating_code": rating_code}
    return make_event("citizen.contact.v1", center="hue-vyda", subject=code, data=data,
                      actor={"id": "counter-01", "role": "counter_staff"})


def transition(type_, code, **data):
    payload = {"code": code, "seq": 4, "action": "x", "from_state": "in_progress", "to_state": "y", "reason": None,
               "at": "2026-03-04T02:30:00Z", "procedure_code": BIRTH.code, "department_id": "vp",
               "officer_id": "vyda-o01", "due_at": None, "appointment_date": None, **data}
    return make_event(type_, center="hue-vyda", subject=code, data=payload, actor={"id": "vyda-o01", "role": "officer"})


def deadline(type_, code, **data):
    payload = {"code": code, "procedure_code": BIRTH.code, "state": "in_progress", "department_id": "vp",
               "officer_id": "vyda-o01", "due_at": "2026-03-04T17:00:00+07:00",
               "escalate_to": ["department_head", "center_leader"], **data}
    return make_event(type_, center="hue-vyda", subject=code, data=payload, actor={"id": "routing", "role": "system"})


def publish(amqp_uri, event, exchange=EVENTS):
    ConfirmedPublisher(amqp_uri).publish(event, exchange=exchange, routing_key=f"{event['type']}.{event['center']}")


def handled_twice(container, event_id):
    """Wait until two copies of the event were handled without error (a failed try is retried)."""
    done = []

    def copy_handled(worker_ctx, result, exc_info):
        if exc_info is None and worker_ctx.args and worker_ctx.args[0]["id"] == event_id:
            done.append(event_id)
        return len(done) >= 2

    return entrypoint_waiter(container, "on_event", timeout=SECONDS, callback=copy_handled)


def deliver_twice(services, config, event, contact=None):
    """Start notification, send the contact (if any), publish `event` twice, wait for both copies."""
    container = services.start(NotificationService, RATING_URL=RATING_URL)
    if contact is not None:
        publish(config["AMQP_URI"], contact, exchange="onestop.private")
    with handled_twice(container, event["id"]):
        publish(config["AMQP_URI"], event)
        publish(config["AMQP_URI"], event)


def received_by_citizen(sinks, contact):
    """The one SMS and the one email the citizen got; nothing was sent twice."""
    phone, email = contact["data"]["phone"], contact["data"]["email"]
    until(lambda: sinks.sms(to=phone) and sinks.emails(to=email), SECONDS, 0.1, "the SMS and the email")
    (sms,), (mail,) = sinks.sms(to=phone), sinks.emails(to=email)
    assert sms["resends"] == 0  # the gateway absorbed no resend either: notification sent it once
    assert "\n" not in sms["text"]
    return sms["text"], mail["subject"], mail["text"]


def test_supplement_request_reaches_the_citizen_once_with_every_paper(services, config, sinks):
    code = new_code()
    contact = contact_event(code)
    event = transition("dossier.supplement_requested.v1", code, to_state="supplement_requested",
                       reason="Giấy chứng sinh bị nhòe, không đọc được", remaining_working_s=12600.0,
                       documents=["birth_certificate_hospital", "Bản sao giấy chứng nhận kết hôn của cha mẹ"])
    deliver_twice(services, config, event, contact)

    sms, subject, email = received_by_citizen(sinks, contact)
    assert subject == f"[{VYDA.name_vi}] Yêu cầu bổ sung, hoàn thiện hồ sơ {code}"
    assert "  - Giấy chứng sinh\n" in email and "  - Bản sao giấy chứng nhận kết hôn của cha mẹ\n" in email
    assert "Giấy chứng sinh bị nhòe, không đọc được" in email
    assert "tạm dừng từ ngày 04/03/2026" in email and f"Nơi nộp bổ sung: {VYDA.name_vi}" in email
    assert f"Hồ sơ {code} cần bổ sung 2 giấy tờ: (1) Giấy chứng sinh; (2) Bản sao giấy chứng nhận" in sms
    assert "tạm dừng" in sms and VYDA.name_vi in sms


def test_supplement_received_brings_the_new_result_date_once(services, config, sinks):
    code = new_code()
    contact = contact_event(code)
    event = transition("dossier.supplement_received.v1", code, action="receive_supplement",
                       from_state="supplement_requested", to_state="supplemented",
                       appointment_date="2026-03-13", due_at="2026-03-13T17:00:00+07:00")
    deliver_twice(services, config, event, contact)

    sms, subject, email = received_by_citizen(sinks, contact)
    assert subject == f"[{VYDA.name_vi}] Đã nhận đủ giấy tờ bổ sung, hẹn trả kết quả hồ sơ {code}"
    assert "Ngày hẹn trả kết quả mới: 13/03/2026" in email
    assert f"Đã nhận đủ giấy tờ bổ sung hồ sơ {code}. Hẹn trả kết quả ngày 13/03/2026." in sms


def test_result_ready_reaches_an_english_speaker_once_with_where_to_collect(services, config, sinks):
    code = new_code()
    contact = contact_event(code, language="en")
    event = transition("dossier.result_ready.v1", code, to_state="result_ready", decision="approved",
                       collect_at=VYDA.name_vi)
    deliver_twice(services, config, event, contact)

    sms, subject, email = received_by_citizen(sinks, contact)
    assert subject == f"[{VYDA.name_en}] Dossier {code}: your result is ready for collection"
    assert f"Collect it at:   {VYDA.name_en}" in email and "Birth registration" in email
    assert f"the result of dossier {code} (Birth registration) is ready. Collect it at {VYDA.name_en}" in sms


def test_deadline_extension_brings_the_apology_with_old_and_new_date_once(services, config, sinks):
    code = new_code()
    contact = contact_event(code)
    event = transition("dossier.deadline_extended.v1", code, to_state="in_progress",
                       reason="Cần xác minh thông tin với cơ sở y tế nơi sinh", appointment_date="2026-03-11",
                       due_at="2026-03-11T17:00:00+07:00", previous_due_at="2026-03-04T17:00:00+07:00",
                       previous_appointment_date="2026-03-04")
    deliver_twice(services, config, event, contact)

    sms, subject, email = received_by_citizen(sinks, contact)
    assert subject == f"[{VYDA.name_vi}] Phiếu xin lỗi và hẹn lại ngày trả kết quả hồ sơ {code}"
    assert "Ngày hẹn trả kết quả:  04/03/2026" in email
    assert "Lý do: Cần xác minh thông tin với cơ sở y tế nơi sinh." in email
    assert "thành thật xin lỗi Ông/Bà" in email
    assert "hẹn lại ngày trả kết quả giải quyết hồ sơ cho Ông/Bà là ngày 11/03/2026" in email
    assert "xin lỗi" in sms and "04/03/2026" in sms and "Hẹn lại ngày trả kết quả: 11/03/2026." in sms


def test_withdrawal_is_confirmed_once(services, config, sinks):
    code = new_code()
    contact = contact_event(code)
    event = transition("dossier.withdrawn.v1", code, to_state="withdrawn", reason="Công dân đề nghị rút hồ sơ")
    deliver_twice(services, config, event, contact)

    sms, subject, email = received_by_citizen(sinks, contact)
    assert subject == f"[{VYDA.name_vi}] Xác nhận rút hồ sơ {code}"
    assert "đã được rút và dừng giải quyết kể từ ngày 04/03/2026" in email
    assert f"Hồ sơ {code} (Đăng ký khai sinh) đã được rút theo đề nghị của Ông/Bà" in sms


def test_returned_result_brings_the_rating_invitation_with_link_and_code_once(services, config, sinks):
    code = new_code()
    contact = contact_event(code, rating_code="K7P2QX9M")
    event = transition("dossier.returned.v1", code, to_state="returned", on_time=True)
    deliver_twice(services, config, event, contact)

    sms, subject, email = received_by_citizen(sinks, contact)
    link = RATING_URL.format(code=code)
    assert "Cảm ơn Ông/Bà" in subject and code in subject
    assert f"Đánh giá tại: {link}" in email and "Mã đánh giá: K7P2QX9M" in email and "5 - Rất hài lòng" in email
    assert "Mã đánh giá: K7P2QX9M." in sms and sms.endswith(f"Đánh giá tại: {link}")


@pytest.mark.parametrize("type_, extra, says", [
    ("dossier.due_soon.v1", {"point": "1d"}, "sắp đến hạn giải quyết"),
    ("dossier.overdue.v1", {}, "đã quá hạn giải quyết"),
], ids=["due_soon", "overdue"])
def test_deadline_escalation_reaches_the_department_head_and_the_center_leader_once(
        services, config, sinks, type_, extra, says):
    code = new_code()
    event = deadline(type_, code, **extra)
    deliver_twice(services, config, event)  # no citizen contact: staff need none

    told = {"vyda-head-vp": "Lãnh đạo Văn phòng HĐND và UBND", "vyda-leader": f"Lãnh đạo {VYDA.name_vi}"}
    for person in (s for s in VYDA.staff if s.id in told):
        mine = lambda p=person: [m for m in sinks.emails(to=p.email) if code in m["subject"]]  # noqa: E731
        until(mine, SECONDS, 0.1, f"the email to {person.id}")
        (mail,) = mine()
        assert says in mail["subject"] and "17:00 04/03/2026" in mail["subject"]
        assert mail["text"].startswith(f"Kính gửi Ông/Bà {person.name} ({told[person.id]}),")
        assert "Phòng chuyên môn:  Văn phòng HĐND và UBND" in mail["text"]
        assert "Cán bộ xử lý:      Nguyễn Thị Thu Hà" in mail["text"]
    others = [s for s in VYDA.staff if s.id not in told]  # the other departments' heads
    assert not any(code in m["subject"] for s in others for m in sinks.emails(to=s.email))
