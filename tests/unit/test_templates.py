"""The receipt the citizen reads, rendered from the real template files and
the real catalog, in Vietnamese and English, by the channels they chose."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from jinja2 import UndefinedError

import onestop.contracts  # noqa: F401  (registers every event type)
from onestop.catalog import load_catalog
from onestop.events import make_event
from services.intake.domain import DossierCode
from services.notification.domain import TEMPLATES, compose, receipt_context, render

CATALOG = load_catalog()
STATUS_URL = "https://dichvucong.example.vn/api/v1/dossiers/{code}"
LAND = CATALOG.procedure("1.013978")  # first land-use certificate, 20 working days
ID_CARD_VI = "Thẻ căn cước/căn cước công dân hoặc hộ chiếu của người yêu cầu (xuất trình)"


def received(missing=("land_registration_form", "id_card"), received_at="2026-03-02T02:15:00Z",
             appointment="2026-03-31", procedure=LAND, center="hue-vyda", code="VYDA-260302-0007"):
    return make_event("dossier.received.v1", center=center, subject=code,
                      actor={"id": "counter-01", "role": "counter_staff"},
                      time=datetime(2026, 3, 2, 2, 15, tzinfo=timezone.utc), data={
                          "code": code, "official_code": DossierCode.parse(code).official(CATALOG.center(center).unit_code),
                          "procedure_code": procedure.code, "procedure_name": procedure.name_vi,
                          "field": procedure.field, "channel": "counter", "received_at": received_at,
                          "appointment_date": appointment, "working_days": procedure.working_days,
                          "missing_documents": list(missing), "applicant": "N. V. A.", "status": "received"})


def contact(**changes):
    base = {"full_name": "Nguyễn Văn An", "phone": "+84912345678", "email": "an.nguyen@example.vn",
            "channels": ["sms", "email"], "language": "vi"}
    return {**base, **changes}


def messages(event=None, **contact_changes):
    person = contact(**contact_changes)
    context = receipt_context(event or received(), person, CATALOG, STATUS_URL)
    return {m.channel: m for m in compose("receipt", context, person)}


def test_every_language_has_every_part_of_the_receipt():
    for language in ("vi", "en"):
        for part in ("subject", "email", "sms"):
            assert (TEMPLATES / language / f"receipt.{part}.j2").is_file(), (language, part)


def test_vietnamese_email_is_a_complete_receipt():
    email = messages()["email"]
    assert email.to == "an.nguyen@example.vn"
    assert email.subject == "[Trung tâm Phục vụ hành chính công phường Vỹ Dạ] Giấy tiếp nhận hồ sơ VYDA-260302-0007"
    text = email.text
    assert text.startswith("Kính gửi Ông/Bà Nguyễn Văn An,")
    assert "VYDA-260302-0007" in text and "00.00.H57.VYDA-260302-0007" in text
    assert LAND.name_vi in text
    assert "Ngày hẹn trả kết quả: 31/03/2026" in text
    assert "2026-03-31" not in text
    assert "Thời gian tiếp nhận: 09:15 02/03/2026" in text  # Huế time, not UTC
    assert "https://dichvucong.example.vn/api/v1/dossiers/VYDA-260302-0007" in text


def test_vietnamese_email_lists_the_missing_documents_by_name_in_catalog_order():
    text = messages()["email"].text
    assert "còn thiếu" in text
    form = text.index("  - Đơn đăng ký đất đai, tài sản gắn liền với đất")
    card = text.index(f"  - {ID_CARD_VI}")
    assert form < card
    assert "Giấy tờ về quyền sử dụng đất" not in text  # handed in / optional: not asked for


def test_vietnamese_sms_has_code_procedure_date_and_missing_count():
    sms = messages()["sms"]
    assert sms.to == "+84912345678" and sms.subject is None
    assert sms.text.startswith("VYDA: Đã tiếp nhận hồ sơ VYDA-260302-0007")
    assert f"({LAND.name_vi})" in sms.text
    assert "Hẹn trả kết quả ngày 31/03/2026." in sms.text
    assert "Còn thiếu 2 giấy tờ." in sms.text
    assert sms.text.endswith("Tra cứu: https://dichvucong.example.vn/api/v1/dossiers/VYDA-260302-0007")
    assert "\n" not in sms.text


def test_complete_dossier_mentions_nothing_missing():
    sent = messages(received(missing=()))
    assert "thiếu" not in sent["email"].text.lower()
    assert "thiếu" not in sent["sms"].text.lower()


def test_english_on_request():
    sent = messages(language="en")
    email, sms = sent["email"], sent["sms"]
    assert email.subject == "[Public Administrative Service Center of Vỹ Dạ Ward] Dossier VYDA-260302-0007 received"
    assert email.text.startswith("Dear Nguyễn Văn An,")
    assert "First land-use certificate for households and individuals" in email.text
    assert "Result appointment on:  31/03/2026" in email.text
    assert "  - Land and attached-asset registration form" in email.text
    assert "  - Requester's ID card or passport (shown)" in email.text
    for vietnamese in (LAND.name_vi, ID_CARD_VI, "Kính gửi", "Trung tâm Phục vụ"):
        assert vietnamese not in email.text
    assert "dossier VYDA-260302-0007 (First land-use certificate for households and individuals) received" in sms.text
    assert "Result on 31/03/2026." in sms.text and "2 document(s) missing." in sms.text
    assert LAND.name_vi not in sms.text


def test_received_time_is_the_centers_local_date_even_when_utc_is_still_yesterday():
    event = received(received_at="2026-03-01T20:30:00Z")
    assert "Thời gian tiếp nhận: 03:30 02/03/2026" in messages(event)["email"].text


def test_each_center_signs_with_its_own_name():
    event = received(center="hue-phuxuan", code="PXUA-260302-0001")
    email = messages(event)["email"]
    assert email.text.rstrip().endswith("Trung tâm Phục vụ hành chính công phường Phú Xuân")
    assert "00.00.H57.PXUA-260302-0001" in email.text
    assert messages(event)["sms"].text.startswith("PXUA: ")


def test_sms_only_citizen_gets_only_an_sms():
    sent = messages(channels=["sms"])
    assert list(sent) == ["sms"]


def test_email_only_citizen_gets_only_an_email():
    assert list(messages(channels=["email"])) == ["email"]


@pytest.mark.parametrize("email", [None, ""])
def test_email_channel_without_an_address_yields_no_email(email):
    sent = messages(email=email, channels=["sms", "email"])
    assert list(sent) == ["sms"]


def test_a_missing_variable_raises_instead_of_printing_blank():
    context = receipt_context(received(), contact(), CATALOG, STATUS_URL)
    assert "VYDA-260302-0007" in render("receipt", "vi", "sms", context)
    del context["appointment_date"]
    for language in ("vi", "en"):
        for part in ("email", "sms"):
            with pytest.raises(UndefinedError):
                render("receipt", language, part, context)
