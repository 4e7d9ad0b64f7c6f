"""notify(): the citizen hears about their dossier once per channel, and each
member of staff about a deadline once, however often the event comes; a
provider outage neither loses nor doubles a message.

Real repository (mongomock or MONGO_URI) and templates; the SMTP server and
SMS gateway are plain fake callables that record what they were asked to send.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import yaml

from onestop.catalog import DEFAULT_PATH, load_catalog, parse_catalog
from onestop.errors import PermanentError, TransientError
from contracts import make_event
from services.notification.handlers import notify, remember_contact
from services.notification.store import NotificationRepository
from tests.support.fakes import FakeSender, ready

CATALOG = load_catalog()
NOW = datetime(2026, 3, 2, 2, 16, tzinfo=timezone.utc)
CODE = "VYDA-260302-0007"
STATUS_URL = "http://127.0.0.1:8001/api/v1/dossiers/{code}"
BIRTH = CATALOG.procedure("1.001193")


@pytest.fixture
def repo(mongo_db):
    return ready(NotificationRepository(mongo_db("notification")))


def received():
    return make_event("dossier.received.v1", center="hue-vyda", subject=CODE,
                      actor={"id": "counter-01", "role": "counter_staff"}, time=NOW, data={
                          "code": CODE, "official_code": "00.00.H57.VYDA-260302-0007",
                          "procedure_code": BIRTH.code, "procedure_name": BIRTH.name_vi, "field": "justice",
                          "channel": "counter", "received_at": "2026-03-02T02:15:00Z",
                          "appointment_date": "2026-03-02", "working_days": 0,
                          "missing_documents": [], "applicant": "N. V. A.", "status": "received"})


def contact_event(**changes):
    data = {"code": CODE, "full_name": "Nguyễn Văn An", "phone": "+84912345678",
            "email": "an.nguyen@example.vn", "channels": ["sms", "email"], "language": "vi", **changes}
    return make_event("citizen.contact.v1", center="hue-vyda", subject=CODE, data=data,
                      actor={"id": "counter-01", "role": "counter_staff"}, time=NOW)


def run(event, repo, email, sms):
    return notify(event, catalog=CATALOG, repo=repo, senders={"email": email, "sms": sms},
                  status_url=STATUS_URL, now=NOW)


def delivery(repo, event, channel):
    return repo.deliveries.find_one({"_id": f"{event['id']}:{channel}"})


def test_without_contact_details_yet_it_asks_to_be_retried_and_sends_nothing(repo):
    email, sms = FakeSender(), FakeSender()
    with pytest.raises(TransientError):
        run(received(), repo, email, sms)
    assert email.sent == [] and sms.sent == []
    assert repo.deliveries.count_documents({}) == 0


def test_contact_arriving_late_is_used_on_the_retry(repo):
    event, email, sms = received(), FakeSender(), FakeSender()
    with pytest.raises(TransientError):
        run(event, repo, email, sms)
    remember_contact(contact_event(), repo)
    assert len(run(event, repo, email, sms)) == 2


def test_one_email_and_one_sms_are_sent_and_recorded(repo):
    remember_contact(contact_event(), repo)
    event, email, sms = received(), FakeSender(), FakeSender()

    sent = run(event, repo, email, sms)

    assert sorted(sent) == sorted([f"{event['id']}:email", f"{event['id']}:sms"])
    (mail, mail_ref), = email.sent
    (text, sms_ref), = sms.sent
    assert mail.to == "an.nguyen@example.vn" and CODE in mail.subject and CODE in mail.text
    assert text.to == "+84912345678" and CODE in text.text and "02/03/2026" in text.text
    assert (mail_ref, sms_ref) == (f"{event['id']}:email", f"{event['id']}:sms")
    for channel, recipient, provider_id in (("email", "a***@example.vn", "provider-1"),
                                            ("sms", "+8491****678", "provider-1")):
        record = delivery(repo, event, channel)
        assert record["status"] == "sent" and record["attempts"] == 1
        assert record["provider_id"] == provider_id and record["code"] == CODE
        assert record["recipient"] == recipient  # the store keeps no full address
        (entry,) = record["outbox"]
        assert entry["event"]["type"] == "notification.sent.v1"
        assert entry["routing_key"] == "notification.sent.v1.hue-vyda"
        assert entry["event"]["data"]["channel"] == channel
        assert entry["event"]["data"]["recipient"] == "citizen" and entry["event"]["data"]["staff_id"] is None
        assert entry["event"]["data"]["trigger_event_id"] == event["id"]
        assert entry["event"]["correlationid"] == event["correlationid"]
        # filtered like the event it answers
        assert (entry["event"]["procedure"], entry["event"].get("field")) == (event["procedure"], event.get("field"))


def test_the_same_event_again_sends_nothing_more(repo):
    remember_contact(contact_event(), repo)
    event, email, sms = received(), FakeSender(), FakeSender()
    run(event, repo, email, sms)

    assert run(event, repo, email, sms) == []
    assert run(dict(event), repo, email, sms) == []
    assert len(email.sent) == 1 and len(sms.sent) == 1
    assert repo.deliveries.count_documents({}) == 2
    assert all(len(d["outbox"]) == 1 and d["attempts"] == 1 for d in repo.deliveries.find())


def test_sms_gateway_down_retries_only_the_sms(repo):
    remember_contact(contact_event(), repo)
    event, email, sms = received(), FakeSender(), FakeSender(TransientError("gateway 503"))

    with pytest.raises(TransientError, match="sms"):
        run(event, repo, email, sms)
    assert len(email.sent) == 1 and sms.sent == []
    assert delivery(repo, event, "email")["status"] == "sent"
    pending = delivery(repo, event, "sms")
    assert pending["status"] == "pending" and pending["attempts"] == 1 and not pending.get("outbox")

    assert run(event, repo, email, sms) == [f"{event['id']}:sms"]
    assert len(email.sent) == 1  # the email was not sent twice
    assert len(sms.sent) == 1
    record = delivery(repo, event, "sms")
    assert record["status"] == "sent" and record["attempts"] == 2
    assert [e["event"]["data"]["attempts"] for e in record["outbox"]] == [2]


class Killed(BaseException):
    """The process dying mid-send: nothing after it runs, so nothing releases the lease."""


def test_a_send_leased_by_a_worker_that_died_is_taken_back_at_once_by_its_successor_only(repo):
    """A worker SIGKILLed mid-send leaves its lease (25 s); started again at the same address it takes the
    send back at once. Another worker, or another green thread of the same process, still waits for it."""
    remember_contact(contact_event(), repo)
    event, email, sms = received(), FakeSender(), FakeSender()
    before, after, other = ("host:127.0.0.1:8003", "boot-1"), ("host:127.0.0.1:8003", "boot-2"), ("host:b", "boot-3")

    def again(holder, email_sender=email):
        return notify(event, catalog=CATALOG, repo=repo, senders={"email": email_sender, "sms": sms},
                      status_url=STATUS_URL, now=NOW, holder=holder)
    with pytest.raises(Killed):
        again(before, FakeSender(Killed()))  # the email leased, then the process died
    for waiting in (other, before):  # another worker; the same process (a redelivered copy beside the first)
        with pytest.raises(TransientError, match="email: being sent by another worker"):
            again(waiting)
        assert email.sent == []
    assert again(after) == [f"{event['id']}:email"]  # its successor, at once
    assert len(email.sent) == 1 and len(sms.sent) == 1  # the SMS, never leased, went with the first retry
    assert delivery(repo, event, "email")["lease_boot"] == "boot-2"


def test_a_permanent_failure_is_recorded_with_an_event_and_not_retried(repo):
    remember_contact(contact_event(), repo)
    event = received()
    email, sms = FakeSender(PermanentError("recipient refused (SMTP 550 5.1.1)")), FakeSender()

    sent = run(event, repo, email, sms)  # does not raise

    assert sent == [f"{event['id']}:sms"] and len(sms.sent) == 1
    failed = delivery(repo, event, "email")
    assert failed["status"] == "failed" and failed["error"] == "recipient refused (SMTP 550 5.1.1)"
    (entry,) = failed["outbox"]
    assert entry["event"]["type"] == "notification.failed.v1"
    assert entry["event"]["data"]["error"] == "recipient refused (SMTP 550 5.1.1)"
    assert entry["event"]["data"]["recipient"] == "citizen"
    assert "example.vn" not in str(entry["event"]) and "912345678" not in str(entry["event"])
    # redelivery: the failed email is not tried again, the sent SMS is not resent
    assert run(event, repo, email, sms) == []
    assert len(sms.sent) == 1 and delivery(repo, event, "email")["attempts"] == 1


def test_sms_only_citizen_gets_no_email(repo):
    remember_contact(contact_event(channels=["sms"], email=None), repo)
    event, email, sms = received(), FakeSender(), FakeSender()
    assert run(event, repo, email, sms) == [f"{event['id']}:sms"]
    assert email.sent == [] and delivery(repo, event, "email") is None


def test_english_speaker_is_written_to_in_english(repo):
    remember_contact(contact_event(language="en"), repo)
    event, email, sms = received(), FakeSender(), FakeSender()
    run(event, repo, email, sms)
    assert "Birth registration" in email.sent[0][0].text and "Đăng ký khai sinh" not in email.sent[0][0].text
    assert delivery(repo, event, "sms")["language"] == "en"


def test_events_without_a_template_are_ignored(repo):
    remember_contact(contact_event(), repo)
    email, sms = FakeSender(), FakeSender()
    routed = make_event("dossier.routed.v1", center="hue-vyda", subject=CODE, time=NOW,
                        actor={"id": "routing", "role": "system"},
                        data={"code": CODE, "procedure_code": BIRTH.code, "department_id": "vp",
                              "department_name": "Văn phòng HĐND và UBND", "routed_at": "2026-03-02T02:15:00Z"})
    assert run(routed, repo, email, sms) == []
    assert email.sent == [] and sms.sent == [] and repo.deliveries.count_documents({}) == 0


# --- the rest of the dossier's life, and staff escalations ------------------------------------------

RATING_URL = "https://dichvucong.example.vn/danh-gia/{code}"


def lifecycle(type_, **data):
    payload = {"code": CODE, "seq": 5, "action": "x", "from_state": "result_ready", "to_state": "returned",
               "reason": None, "at": "2026-03-02T08:00:00Z", "procedure_code": BIRTH.code, "department_id": "vp",
               "officer_id": "vyda-o01", "due_at": None, "appointment_date": None, **data}
    return make_event(type_, center="hue-vyda", subject=CODE, data=payload, time=NOW,
                      actor={"id": "counter-01", "role": "counter_staff"})


def returned():
    return lifecycle("dossier.returned.v1", on_time=True)


def overdue(department="vp", escalate_to=("department_head", "center_leader"), center="hue-vyda"):
    return make_event("dossier.overdue.v1", center=center, subject=CODE, time=NOW,
                      actor={"id": "routing", "role": "system"}, data={
                          "code": CODE, "procedure_code": BIRTH.code, "state": "in_progress",
                          "department_id": department, "officer_id": "vyda-o01",
                          "due_at": "2026-03-02T17:00:00+07:00", "escalate_to": list(escalate_to)})


def run_all(event, repo, email, sms, catalog=CATALOG):
    return notify(event, catalog=catalog, repo=repo, senders={"email": email, "sms": sms},
                  status_url=STATUS_URL, rating_url=RATING_URL, now=NOW)


def test_the_rating_code_is_kept_with_the_contact(repo):
    remember_contact(contact_event(rating_code="K7P2QX9M"), repo)
    assert repo.contact(CODE)["rating_code"] == "K7P2QX9M"
    remember_contact(contact_event(), repo)  # an older intake: no code
    assert repo.contact(CODE)["rating_code"] is None


def test_the_receipt_brings_the_lookup_code_by_sms_and_email_and_no_event_carries_it(repo):
    remember_contact(contact_event(lookup_code="K7P2Q-X9MAB"), repo)
    event, email, sms = received(), FakeSender(), FakeSender()
    run(event, repo, email, sms)
    (mail, _), = email.sent
    (text, _), = sms.sent
    assert "Mã tra cứu: K7P2Q-X9MAB." in text.text and "Mã tra cứu (để xem ngày hẹn" in mail.text
    outcomes = [e["event"] for d in repo.deliveries.find() for e in d["outbox"]]
    assert len(outcomes) == 2 and "K7P2Q-X9MAB" not in str(outcomes)


def test_returned_dossier_invites_a_rating_with_link_and_code_once(repo):
    remember_contact(contact_event(rating_code="K7P2QX9M"), repo)
    event, email, sms = returned(), FakeSender(), FakeSender()

    assert sorted(run_all(event, repo, email, sms)) == sorted([f"{event['id']}:email", f"{event['id']}:sms"])
    assert run_all(event, repo, email, sms) == []

    (mail, _), = email.sent
    (text, _), = sms.sent
    for body in (mail.text, text.text):
        assert f"https://dichvucong.example.vn/danh-gia/{CODE}" in body and "K7P2QX9M" in body
    assert delivery(repo, event, "email")["template"] == "rating_invite"


def test_a_rating_invitation_without_a_code_is_still_sent(repo):
    remember_contact(contact_event(), repo)
    event, email, sms = returned(), FakeSender(), FakeSender()
    assert len(run_all(event, repo, email, sms)) == 2
    assert "Mã đánh giá" not in email.sent[0][0].text
    assert f"https://dichvucong.example.vn/danh-gia/{CODE}" in sms.sent[0][0].text


def test_a_lifecycle_message_without_contact_details_yet_is_retried(repo):
    email, sms = FakeSender(), FakeSender()
    with pytest.raises(TransientError):
        run_all(lifecycle("dossier.withdrawn.v1", reason="Công dân đề nghị"), repo, email, sms)
    assert email.sent == [] and sms.sent == []


def test_overdue_emails_the_department_head_and_the_center_leader_without_any_citizen_contact(repo):
    event, email, sms = overdue(), FakeSender(), FakeSender()

    sent = run_all(event, repo, email, sms)

    assert sent == [f"{event['id']}:email:vyda-head-vp", f"{event['id']}:email:vyda-leader"]
    assert [m.to for m, _ in email.sent] == ["vyda-head-vp@example.vn", "vyda-leader@example.vn"]
    assert [ref for _, ref in email.sent] == sent
    assert all(CODE in m.subject and "quá hạn" in m.subject for m, _ in email.sent)
    assert sms.sent == []
    record = repo.deliveries.find_one({"_id": f"{event['id']}:email:vyda-leader"})
    assert record["status"] == "sent" and record["staff_id"] == "vyda-leader"
    assert record["recipient"] == "v***@example.vn" and record["template"] == "escalation_overdue"
    (entry,) = record["outbox"]
    assert entry["event"]["type"] == "notification.sent.v1"
    assert entry["event"]["data"]["notification_id"] == f"{event['id']}:email:vyda-leader"
    assert entry["event"]["data"]["recipient"] == "staff" and entry["event"]["data"]["staff_id"] == "vyda-leader"
    assert "example.vn" not in str(entry["event"])  # not even a member of staff's address


def test_a_redelivered_escalation_sends_nothing_twice(repo):
    event, email, sms = overdue(), FakeSender(), FakeSender()
    run_all(event, repo, email, sms)
    assert run_all(dict(event), repo, email, sms) == []
    assert len(email.sent) == 2 and repo.deliveries.count_documents({}) == 2


def test_one_staff_email_failing_retries_only_that_one(repo):
    event, email, sms = overdue(), FakeSender(), FakeSender()
    refused = []

    def leader_smtp_down_once(message, reference):
        if message.to == "vyda-leader@example.vn" and not refused:
            refused.append(reference)
            raise TransientError("SMTP 421")
        return email(message, reference)

    with pytest.raises(TransientError, match="vyda-leader"):
        run_all(event, repo, leader_smtp_down_once, sms)
    assert [m.to for m, _ in email.sent] == ["vyda-head-vp@example.vn"]
    assert run_all(event, repo, leader_smtp_down_once, sms) == [f"{event['id']}:email:vyda-leader"]
    assert [m.to for m, _ in email.sent] == ["vyda-head-vp@example.vn", "vyda-leader@example.vn"]


def test_escalation_follows_the_roles_the_event_names(repo):
    event, email = overdue(escalate_to=("center_leader",)), FakeSender()
    assert run_all(event, repo, email, FakeSender()) == [f"{event['id']}:email:vyda-leader"]


def test_a_dossier_not_yet_in_a_department_is_escalated_to_the_leader(repo):
    event, email = overdue(department=None), FakeSender()
    assert run_all(event, repo, email, FakeSender()) == [f"{event['id']}:email:vyda-leader"]


def test_a_center_without_staff_contacts_is_a_permanent_error(repo):
    raw = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    for center in raw["centers"]:
        center.pop("staff", None)
    email = FakeSender()
    with pytest.raises(PermanentError, match="no staff contact"):
        run_all(overdue(), repo, email, FakeSender(), catalog=parse_catalog(raw))
    assert email.sent == []


def test_events_of_an_unknown_center_are_a_permanent_error(repo):
    with pytest.raises(PermanentError, match="hue-nowhere"):
        run_all(overdue(center="hue-nowhere"), repo, FakeSender(), FakeSender())


# --- the email as a mail client decodes it ---------------------------------------------------------------

class _CapturingSmtp:
    def __init__(self):
        self.messages = []

    def send_message(self, msg):
        self.messages.append(msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")))


@pytest.mark.parametrize("subject", [
    "[Trung tâm Phục vụ hành chính công phường Vỹ Dạ] Yêu cầu bổ sung, hoàn thiện hồ sơ VYDA-260302-9583",
    "[Trung tâm Phục vụ hành chính công phường Vỹ Dạ] Phiếu xin lỗi và hẹn lại ngày trả kết quả hồ sơ VYDA-260302-0007",
    "[Trung tâm Phục vụ hành chính công phường Hương Thủy] Giấy tiếp nhận hồ sơ HTHU-260302-0001",
])
def test_long_vietnamese_subjects_keep_every_space(subject, monkeypatch):
    """Python's default email folding dropped the space between two encoded words."""
    from email import policy
    from email.parser import BytesParser

    from onestop.config import Settings
    from services.notification.channels import SmtpSender

    settings = Settings.load({"SMTP_FROM": "Trung tâm Phục vụ hành chính công phường Vỹ Dạ <no-reply@example.vn>"})
    sender, smtp = SmtpSender(settings), _CapturingSmtp()
    monkeypatch.setattr(sender, "_checkout", lambda: smtp)
    sender.send("an.nguyen@example.vn", subject, "Kính gửi Ông/Bà Nguyễn Văn An,\n\nTrân trọng.", "evt-1:email")
    (raw,) = smtp.messages
    received = BytesParser(policy=policy.default).parsebytes(raw)
    assert str(received["Subject"]) == subject
    assert received.get_body(("plain",)).get_content().replace("\r\n", "\n").startswith("Kính gửi Ông/Bà Nguyễn Văn An,")
    assert str(received["Message-ID"]) == "<evt-1.email@onestop>"  # a valid msg-id, kept whole
    assert received["From"].addresses[0].display_name == "Trung tâm Phục vụ hành chính công phường Vỹ Dạ"
    assert received["From"].addresses[0].addr_spec == "no-reply@example.vn"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
