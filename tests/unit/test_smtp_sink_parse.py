"""The SMTP sink reads what notification sends the fast way, and gets the same
record as the full parser would (only the time of receipt may differ)."""
import email
import email.policy

from hypothesis import given, settings, strategies as st

from onestop.dev.sinks import smtp
from services.notification.channels import compose_email

text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=300)
line_text = st.lists(text, min_size=1, max_size=5).map("\n".join)
names = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='<>"\\,@;:()[]'),
                min_size=1, max_size=40).map(str.strip).filter(bool)


def full_parse(raw, mail_from, rcpt_tos):
    simple = smtp._parse_simple
    try:
        smtp._parse_simple = lambda *a: None
        return smtp.parse_message(raw, mail_from, rcpt_tos)
    finally:
        smtp._parse_simple = simple


@settings(max_examples=200, deadline=None)
@given(names, text, line_text)
def test_the_fast_reading_of_a_sent_email_equals_the_full_one(sender_name, subject, body):
    msg = compose_email(f"{sender_name} <no-reply@onestop.local>", "an.nguyen@example.vn", subject, body,
                        "6f0c2a4e-9b1d:email")
    raw = msg.as_bytes()
    fast = smtp._parse_simple(raw, "no-reply@onestop.local", ["an.nguyen@example.vn"])
    if fast is None:  # a display name that needs quoting: the full parser reads it
        assert smtp._NEEDS_QUOTING.search(sender_name)
        return
    full = full_parse(raw, "no-reply@onestop.local", ["an.nguyen@example.vn"])
    fast.pop("received_at"), full.pop("received_at")
    assert fast == full


def test_what_notification_sends_takes_the_fast_way():
    for sender in ("OneStop <no-reply@onestop.local>", "Trung tâm Phục vụ hành chính công phường Vỹ Dạ <vyda@hue.gov.vn>"):
        raw = compose_email(sender, "an.nguyen@example.vn", "Hồ sơ VYDA-261126-0001 đã được tiếp nhận",
                            "Kính gửi ông Nguyễn Văn An,\nHồ sơ của ông đã được tiếp nhận.", "e1:email").as_bytes()
        record = smtp._parse_simple(raw, "no-reply@onestop.local", ["an.nguyen@example.vn"])
        assert record is not None and record["subject"] == "Hồ sơ VYDA-261126-0001 đã được tiếp nhận"


def test_anything_but_single_part_text_goes_to_the_full_parser():
    multipart = email.message.EmailMessage()
    multipart["To"], multipart["Subject"] = "a@example.vn", "Hồ sơ"
    multipart.set_content("văn bản")
    multipart.add_alternative("<p>văn bản</p>", subtype="html")
    raw = multipart.as_bytes()
    assert smtp._parse_simple(raw, "x@example.vn", ["a@example.vn"]) is None
    record = smtp.parse_message(raw, "x@example.vn", ["a@example.vn"])
    assert record["text"].strip() == "văn bản" and "<p>" in record["html"]
