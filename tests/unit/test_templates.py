"""The receipt the citizen reads, rendered from the real template files and
the real catalog, in Vietnamese and English, by the channels they chose.
Then the later messages of a dossier's life (supplement request, result,
apology, withdrawal, rating invitation) and the staff escalations."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from jinja2 import UndefinedError

from onestop.catalog import load_catalog
from contracts import make_event
from services.intake.domain import DossierCode
from services.notification.domain import TEMPLATE_FOR, TEMPLATES, Links, compose, message_context, render

CATALOG = load_catalog()
STATUS_URL = "https://dichvucong.example.vn/api/v1/dossiers/{code}"
LINKS = Links(STATUS_URL)
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
    context = message_context("receipt", event or received(), CATALOG, person["language"], LINKS, person)
    return {m.channel: m for m in compose("receipt", context, person)}


def test_every_language_has_every_part_of_the_receipt():
    for language in ("vi", "en"):
        for part in ("subject", "email", "sms"):
            assert (TEMPLATES / language / f"receipt.{part}.j2").is_file(), (language, part)


@pytest.mark.parametrize("event_type", sorted(TEMPLATE_FOR))
def test_every_message_the_lifecycle_table_names_has_every_part_in_both_languages(event_type):
    # contracts/lifecycle.py names an action's citizen message; a name without its files would fail at send time
    for language in ("vi", "en"):
        for part in ("subject", "email", "sms"):
            assert (TEMPLATES / language / f"{TEMPLATE_FOR[event_type]}.{part}.j2").is_file(), (language, part)


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


@pytest.mark.parametrize("language,sms_line,email_line", [
    ("vi", " Mã tra cứu: K7P2Q-X9MAB. Tra cứu: https://", "Mã tra cứu (để xem ngày hẹn và các bước xử lý): K7P2Q-X9MAB\n"),
    ("en", " Lookup code: K7P2Q-X9MAB. Track: https://", "Lookup code (shows the appointment date and the steps): "
                                                        "K7P2Q-X9MAB\n"),
])
def test_the_receipt_gives_the_lookup_code_beside_the_status_link(language, sms_line, email_line):
    sent = messages(language=language, lookup_code="K7P2Q-X9MAB")
    assert sms_line in sent["sms"].text and email_line in sent["email"].text
    assert "lookup_code=" not in sent["sms"].text + sent["email"].text  # never in a link: URLs end up in logs
    older = messages(language=language)  # a contact from before lookup codes: no empty line, no "None"
    assert "None" not in older["sms"].text + older["email"].text and "\n\n\n" not in older["email"].text


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
    context = message_context("receipt", received(), CATALOG, "vi", LINKS, contact())
    assert "VYDA-260302-0007" in render("receipt", "vi", "sms", context)
    del context["appointment_date"]
    for language in ("vi", "en"):
        for part in ("email", "sms"):
            with pytest.raises(UndefinedError):
                render("receipt", language, part, context)


# --- the rest of a dossier's life: events from routing ---------------------------------------------

RATING_URL = "https://dichvucong.example.vn/danh-gia/{code}"
LIFE_LINKS = Links(STATUS_URL, RATING_URL)
CODE = "VYDA-260302-0007"
VYDA = CATALOG.center("hue-vyda")
STAFF_ACTOR = {"id": "vyda-o04", "role": "officer"}
LATE_EVENING_UTC = "2026-03-04T18:30:00Z"  # already 5 March in Huế


def transition(type_, *, at="2026-03-04T02:30:00Z", appointment="2026-03-31", reason=None, **data):
    """A routing lifecycle event as services/routing publishes it."""
    payload = {"code": CODE, "seq": 4, "action": "x", "from_state": "in_progress", "to_state": "y",
               "reason": reason, "at": at, "procedure_code": LAND.code, "department_id": "ktht",
               "officer_id": "vyda-o04", "due_at": f"{appointment}T17:00:00+07:00" if appointment else None,
               "appointment_date": appointment, **data}
    return make_event(type_, center="hue-vyda", subject=CODE, data=payload, actor=STAFF_ACTOR,
                      time=datetime(2026, 3, 4, 2, 30, tzinfo=timezone.utc))


def supplement(documents=("land_registration_form", "Bản sao trích lục bản đồ địa chính thửa đất"),
               reason="Đơn kê khai thiếu chữ ký của đồng sở hữu", **kw):
    return transition("dossier.supplement_requested.v1", reason=reason, documents=list(documents),
                      remaining_working_s=36000.0, appointment=None, **kw)


def supplement_received(appointment="2026-04-02", **kw):
    return transition("dossier.supplement_received.v1", appointment=appointment, **kw)


def result_ready(decision="approved", collect_at=VYDA.name_vi, **kw):
    return transition("dossier.result_ready.v1", decision=decision, collect_at=collect_at, **kw)


def extended(appointment="2026-04-07", reason="Cần xác minh thực địa ranh giới thửa đất", **kw):
    return transition("dossier.deadline_extended.v1", reason=reason, appointment=appointment,
                      previous_due_at="2026-03-31T17:00:00+07:00", previous_appointment_date="2026-03-31", **kw)


def withdrawn(**kw):
    return transition("dossier.withdrawn.v1", reason="Công dân đề nghị rút hồ sơ để bổ sung giấy tờ sau",
                      appointment=None, **kw)


def returned(**kw):
    return transition("dossier.returned.v1", on_time=True, appointment=None, **kw)


def sent(template, event, **contact_changes):
    person = contact(**{"rating_code": "K7P2QX9M", **contact_changes})
    context = message_context(template, event, CATALOG, person["language"], LIFE_LINKS, person)
    return {m.channel: m for m in compose(template, context, person)}


def both(template, event, **contact_changes):
    """(email subject + text, sms text) of one message."""
    out = sent(template, event, **contact_changes)
    assert "\n" not in out["sms"].text and out["sms"].text.startswith("VYDA: ")
    return out["email"].subject + "\n" + out["email"].text, out["sms"].text


LIFE_TEMPLATES = ("supplement_requested", "supplement_received", "result_ready", "apology", "withdrawn",
                  "rating_invite")


@pytest.mark.parametrize("template", LIFE_TEMPLATES)
@pytest.mark.parametrize("language", ["vi", "en"])
def test_every_lifecycle_message_exists_in_both_languages(template, language):
    for part in ("subject", "email", "sms"):
        assert (TEMPLATES / language / f"{template}.{part}.j2").is_file(), (template, language, part)


@pytest.mark.parametrize("template", ["escalation_due_soon", "escalation_overdue"])
def test_escalations_exist_in_vietnamese(template):
    for part in ("subject", "email"):
        assert (TEMPLATES / "vi" / f"{template}.{part}.j2").is_file(), (template, part)


@pytest.mark.parametrize("make, template", [(supplement, "supplement_requested"),
                                            (supplement_received, "supplement_received"),
                                            (result_ready, "result_ready"),
                                            (extended, "apology"), (withdrawn, "withdrawn"),
                                            (returned, "rating_invite")])
@pytest.mark.parametrize("language", ["vi", "en"])
def test_every_message_names_the_dossier_and_links_its_status(make, template, language):
    email, sms = both(template, make(), language=language)
    assert CODE in email and CODE in sms
    assert ("Kính gửi Ông/Bà Nguyễn Văn An," if language == "vi" else "Dear Nguyễn Văn An,") in email
    assert (VYDA.name_vi if language == "vi" else VYDA.name_en) in email
    for text in (email, sms):
        assert "None" not in text and "{{" not in text
        assert not any(iso in text for iso in ("2026-03-31", "2026-04-07", "2026-03-04T"))


def test_supplement_request_in_vietnamese_lists_every_paper_the_reason_the_pause_and_where():
    email, sms = both("supplement_requested", supplement())
    assert email.startswith(f"[{VYDA.name_vi}] Yêu cầu bổ sung, hoàn thiện hồ sơ {CODE}")
    assert "  - Đơn đăng ký đất đai, tài sản gắn liền với đất\n" in email  # a catalog code, by its name
    assert "  - Bản sao trích lục bản đồ địa chính thửa đất\n" in email  # free text, as the officer wrote it
    assert "Lý do:     Đơn kê khai thiếu chữ ký của đồng sở hữu" in email
    assert "Thời hạn giải quyết hồ sơ tạm dừng từ ngày 04/03/2026" in email
    assert f"Nơi nộp bổ sung: {VYDA.name_vi}" in email
    assert "07:30–11:30, 13:30–17:00" in email
    assert "bổ sung 2 giấy tờ: (1) Đơn đăng ký đất đai, tài sản gắn liền với đất; " \
           "(2) Bản sao trích lục bản đồ địa chính thửa đất." in sms
    assert "Lý do: Đơn kê khai thiếu chữ ký của đồng sở hữu." in sms
    assert "tạm dừng" in sms and f"Nộp bổ sung tại {VYDA.name_vi}." in sms
    assert sms.endswith(f"Tra cứu: https://dichvucong.example.vn/api/v1/dossiers/{CODE}")


def test_supplement_request_lists_all_of_many_papers():
    papers = [f"Giấy tờ số {n}" for n in range(1, 8)]
    email, sms = both("supplement_requested", supplement(documents=papers))
    assert all(f"  - {p}\n" in email for p in papers)
    assert all(f"({n}) Giấy tờ số {n}" in sms for n in range(1, 8))


def test_supplement_request_in_english_translates_catalog_papers_and_keeps_free_text():
    email, sms = both("supplement_requested", supplement(), language="en")
    assert "  - Land and attached-asset registration form\n" in email
    assert "  - Bản sao trích lục bản đồ địa chính thửa đất\n" in email
    assert "deadline is paused from 04/03/2026" in email
    assert f"Where to bring them: {VYDA.name_en}" in email
    assert "(1) Land and attached-asset registration form; (2) Bản sao" in sms
    assert "paused" in sms and VYDA.name_en in sms
    assert "Đơn đăng ký đất đai" not in email + sms


def test_supplement_request_date_is_the_centers_local_date():
    email, _ = both("supplement_requested", supplement(at=LATE_EVENING_UTC))
    assert "tạm dừng từ ngày 05/03/2026" in email


def test_supplement_received_gives_the_new_result_date_in_both_languages():
    email, sms = both("supplement_received", supplement_received(at=LATE_EVENING_UTC))
    assert "Đã nhận đủ giấy tờ bổ sung hồ sơ VYDA-260302-0007. Hẹn trả kết quả ngày 02/04/2026." in sms
    assert "Ngày 05/03/2026, " in email  # the center's local date of the arrival
    assert "Ngày hẹn trả kết quả mới: 02/04/2026" in email
    email, sms = both("supplement_received", supplement_received(), language="en")
    assert "New result date: 02/04/2026." in sms and "Your new result date is 02/04/2026." in email


def test_supplement_received_without_a_date_says_no_date():
    """An event from before the clock ran again has no appointment date: no empty date is sent."""
    email, sms = both("supplement_received", supplement_received(appointment=None))
    assert "Hẹn trả kết quả" not in sms and "Ngày hẹn trả kết quả mới" not in email
    assert "None" not in email + sms


def test_supplement_request_without_a_reason_still_reads_well():
    email, sms = both("supplement_requested", supplement(reason=None))
    assert "Lý do" not in email and "Lý do" not in sms


def test_result_ready_says_where_to_collect_it():
    email, sms = both("result_ready", result_ready(at=LATE_EVENING_UTC))
    assert email.startswith(f"[{VYDA.name_vi}] Hồ sơ {CODE} đã có kết quả, mời Ông/Bà đến nhận")
    assert "đã được giải quyết xong" in email
    assert f"Nơi nhận kết quả:  {VYDA.name_vi}" in email
    assert "Ngày có kết quả:   05/03/2026" in email
    assert "giấy tờ tùy thân" in email
    assert f"Hồ sơ {CODE} ({LAND.name_vi}) đã có kết quả. Mời Ông/Bà đến nhận tại {VYDA.name_vi}" in sms


def test_a_refusal_is_announced_as_a_written_answer_with_reasons():
    email, _ = both("result_ready", result_ready(decision="rejected"))
    assert "không đủ điều kiện giải quyết" in email and "nêu rõ lý do" in email
    assert "đã được giải quyết xong" not in email
    english, _ = both("result_ready", result_ready(decision="rejected"), language="en")
    assert "cannot be granted" in english and "states the reasons" in english


def test_result_ready_in_english_names_the_center_in_english():
    email, sms = both("result_ready", result_ready(), language="en")
    assert f"Collect it at:   {VYDA.name_en}" in email
    assert f"Collect it at {VYDA.name_en}" in sms
    assert VYDA.name_vi not in email + sms


def test_result_ready_at_another_place_shows_that_place():
    desk = "Quầy số 3, Bộ phận Một cửa, 01 Nguyễn Sinh Cung"
    email, sms = both("result_ready", result_ready(collect_at=desk))
    assert f"Nơi nhận kết quả:  {desk}" in email and desk in sms


def test_apology_is_the_vietnamese_letter_with_reason_old_and_new_date():
    email, sms = both("apology", extended())
    subject, text = email.split("\n", 1)
    assert subject == f"[{VYDA.name_vi}] Phiếu xin lỗi và hẹn lại ngày trả kết quả hồ sơ {CODE}"
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in text
    assert f"Ngày 02/03/2026, {VYDA.name_vi} đã tiếp nhận hồ sơ" in text  # the receipt day, from the code
    assert "Ngày hẹn trả kết quả:  31/03/2026" in text
    assert "Lý do: Cần xác minh thực địa ranh giới thửa đất." in text
    assert f"{VYDA.name_vi} thành thật xin lỗi Ông/Bà" in text
    assert "hẹn lại ngày trả kết quả giải quyết hồ sơ cho Ông/Bà là ngày 07/04/2026" in text
    assert text.index("31/03/2026") < text.index("xin lỗi Ông/Bà") < text.index("07/04/2026")
    assert "xin lỗi" in sms.lower() and "31/03/2026" in sms and "07/04/2026" in sms
    assert "Lý do: Cần xác minh thực địa ranh giới thửa đất." in sms


def test_apology_in_english():
    email, sms = both("apology", extended(), language="en")
    assert email.startswith(f"[{VYDA.name_en}] Apology and new result date for dossier {CODE}")
    assert "Result appointment was:   31/03/2026" in email and "Your new result date is 07/04/2026." in email
    assert "sincerely apologises" in email and "Reason: Cần xác minh thực địa ranh giới thửa đất." in email
    assert "apologise" in sms and "31/03/2026" in sms and "New result date: 07/04/2026." in sms


def test_apology_while_the_clock_waits_for_papers_promises_no_made_up_date():
    email, sms = both("apology", extended(appointment=None))
    assert "31/03/2026" in email and "xin lỗi" in email
    assert "tính lại kể từ khi" in email and "hẹn lại ngày trả kết quả giải quyết hồ sơ cho Ông/Bà là" not in email
    assert "Hẹn lại ngày trả kết quả" not in sms and "khi nhận đủ giấy tờ bổ sung" in sms


def test_withdrawal_is_confirmed_with_its_local_date():
    email, sms = both("withdrawn", withdrawn(at=LATE_EVENING_UTC))
    assert email.startswith(f"[{VYDA.name_vi}] Xác nhận rút hồ sơ {CODE}")
    assert "đã được rút và dừng giải quyết kể từ ngày 05/03/2026" in email
    assert "Lý do:     Công dân đề nghị rút hồ sơ để bổ sung giấy tờ sau" in email
    assert f"Hồ sơ {CODE} ({LAND.name_vi}) đã được rút theo đề nghị của Ông/Bà" in sms and "05/03/2026" in sms
    english, sms_en = both("withdrawn", withdrawn(), language="en")
    assert "Withdrawal of dossier" in english and "has been withdrawn" in english and "04/03/2026" in english
    assert "has been withdrawn as you requested" in sms_en


def test_rating_invitation_thanks_and_gives_the_link_and_the_code():
    email, sms = both("rating_invite", returned())
    link = f"https://dichvucong.example.vn/danh-gia/{CODE}"
    assert "Cảm ơn Ông/Bà" in email.split("\n")[0]
    assert "trả kết quả hồ sơ" in email and "ngày 04/03/2026" in email
    assert "từ 1 đến 5" in email and "5 - Rất hài lòng" in email and "1 - Rất không hài lòng" in email
    assert "góp ý thêm (nếu có)" in email
    assert f"Đánh giá tại: {link}" in email and "Mã đánh giá: K7P2QX9M" in email
    assert "Cảm ơn Ông/Bà" in sms and "từ 1 đến 5" in sms and "Mã đánh giá: K7P2QX9M." in sms
    assert sms.endswith(f"Đánh giá tại: {link}")


def test_rating_invitation_in_english():
    email, sms = both("rating_invite", returned(), language="en")
    assert "Thank you" in email and "5 - Very satisfied" in email and "1 - Very dissatisfied" in email
    assert f"Rate us at: https://dichvucong.example.vn/danh-gia/{CODE}" in email
    assert "Rating code: K7P2QX9M" in email and "Rating code: K7P2QX9M." in sms


@pytest.mark.parametrize("rating_code", [None, ""])
def test_rating_invitation_without_a_code_still_goes_out_with_the_link(rating_code):
    out = sent("rating_invite", returned(), rating_code=rating_code)
    email, sms = out["email"].text, out["sms"].text
    assert f"Đánh giá tại: https://dichvucong.example.vn/danh-gia/{CODE}" in email
    assert "Mã đánh giá" not in email and "Mã đánh giá" not in sms and "None" not in email + sms
    assert sms.endswith(f"https://dichvucong.example.vn/danh-gia/{CODE}")


def test_a_contact_stored_before_rating_codes_existed_gets_the_invitation_without_a_code():
    person = contact()  # no rating_code key at all
    context = message_context("rating_invite", returned(), CATALOG, "vi", LIFE_LINKS, person)
    assert "Mã đánh giá" not in render("rating_invite", "vi", "email", context)


# --- staff escalations ----------------------------------------------------------------------------------

def deadline(type_, department="ktht", officer="vyda-o04", **extra):
    data = {"code": CODE, "procedure_code": LAND.code, "state": "in_progress", "department_id": department,
            "officer_id": officer, "due_at": "2026-03-31T17:00:00+07:00",
            "escalate_to": ["department_head", "center_leader"], **extra}
    return make_event(type_, center="hue-vyda", subject=CODE, data=data, actor={"id": "routing", "role": "system"})


def escalation(template, event, staff_id):
    person = next(s for s in VYDA.staff if s.id == staff_id)
    context = message_context(template, event, CATALOG, "vi", LIFE_LINKS, {"full_name": person.name, "role": person.role})
    (email,) = compose(template, context, {"language": "vi", "channels": ["email"], "email": person.email})
    return email


def test_due_soon_tells_the_department_head_what_is_due_when_and_who_holds_it():
    email = escalation("escalation_due_soon", deadline("dossier.due_soon.v1", point="1d"), "vyda-head-ktht")
    assert email.to == "vyda-head-ktht@example.vn"
    assert email.subject == f"[VYDA] Hồ sơ {CODE} sắp đến hạn giải quyết (17:00 31/03/2026)"
    head = next(s for s in VYDA.staff if s.id == "vyda-head-ktht")
    assert email.text.startswith(f"Kính gửi Ông/Bà {head.name} (Lãnh đạo Phòng Kinh tế, Hạ tầng và Đô thị),")
    for line in (f"Mã hồ sơ:          {CODE}", f"Thủ tục:           {LAND.name_vi}",
                 "Phòng chuyên môn:  Phòng Kinh tế, Hạ tầng và Đô thị", "Cán bộ xử lý:      Lê Quang Huy",
                 "Tình trạng:        Đang xử lý", "Hạn giải quyết:    17:00 31/03/2026"):
        assert line in email.text
    assert "(còn 1 ngày làm việc)" in email.text
    assert "Phiếu xin lỗi và hẹn lại ngày trả kết quả" in email.text


def test_due_soon_hours_before_reads_in_working_hours():
    email = escalation("escalation_due_soon", deadline("dossier.due_soon.v1", point="3h"), "vyda-leader")
    assert "(còn 3 giờ làm việc)" in email.text


def test_overdue_tells_the_center_leader_as_leader():
    email = escalation("escalation_overdue", deadline("dossier.overdue.v1"), "vyda-leader")
    assert email.to == "vyda-leader@example.vn"
    assert email.subject == f"[VYDA] Hồ sơ {CODE} đã quá hạn giải quyết (hạn 17:00 31/03/2026)"
    assert f"(Lãnh đạo {VYDA.name_vi})" in email.text.split("\n")[0]
    assert "đã quá hạn giải quyết" in email.text and "chỉ đạo giải quyết ngay" in email.text


def test_escalation_of_an_unassigned_dossier_says_so():
    email = escalation("escalation_overdue", deadline("dossier.overdue.v1", department=None, officer=None),
                       "vyda-leader")
    assert "Phòng chuyên môn:  Chưa chuyển phòng chuyên môn" in email.text
    assert "Cán bộ xử lý:      Chưa phân công" in email.text and "None" not in email.text
