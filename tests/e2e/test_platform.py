"""The platform as `make run` starts it: separate processes, real HTTP, SMTP and SMS."""
import datetime
import json
import re
import subprocess
import sys
import unicodedata

import pytest
import requests

from contracts import make_event
from onestop.messaging.publisher import ConfirmedPublisher
from onestop.web.auth import TokenIssuer
from onestop.dev.launcher import Platform, Ports, ROOT
from tests.conftest import free_port
from tests.support.samples import dossier
from tests.support.wait import until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def platform(amqp_uri, tmp_path_factory):
    ports = Ports(*(free_port() for _ in range(len(Ports().__dict__))))
    running = Platform(ports=ports, env={"AMQP_URI": amqp_uri, "MONGO_DB_PREFIX": f"e2e{free_port()}_",
                                         "AUDIT_RATE_LIMIT": "100000/60"},  # the tests poll the audit log
                       log_dir=tmp_path_factory.mktemp("logs"))
    try:
        running.start(timeout=90)
        yield running
    finally:
        running.stop()


def test_a_dossier_goes_all_the_way(platform):
    p = platform.ports
    body = dossier(center="hue-thuanhoa", procedure_code="1.001612", phone="0335000777",
                   email="e2e@example.vn", language="vi")
    counter = TokenIssuer.load(platform.base_env()).mint("counter-01", "counter_staff", ["hue-thuanhoa"])
    response = requests.post(f"http://127.0.0.1:{p.intake}/api/v1/dossiers", json=body,
                             headers={"Idempotency-Key": "e2e-1", "Authorization": f"Bearer {counter}"}, timeout=10)
    assert response.status_code == 201, response.text
    receipt = response.json()
    code = receipt["code"]
    assert code.startswith("THHO-")

    email = until(lambda: requests.get(f"http://127.0.0.1:{p.smtp_http}/api/v1/messages",
                                       params={"to": "e2e@example.vn"}, timeout=5).json(), 30, 0.2, "the email")
    assert code in email[0]["subject"] and "Đăng ký thành lập hộ kinh doanh" in email[0]["text"]
    sms = until(lambda: requests.get(f"http://127.0.0.1:{p.sms_http}/api/v1/sms",
                                     params={"to": "+84335000777"}, timeout=5).json(), 30, 0.2, "the SMS")
    assert code in sms[0]["text"]

    wanted = {"dossier.received.v1", "dossier.routed.v1", "dossier.assigned.v1", "notification.sent.v1"}
    auditor = {"Authorization": "Bearer " + TokenIssuer.load(platform.base_env()).mint("auditor-01", "auditor",
                                                 ["hue-thuanhoa"])}
    entries = until(lambda: (r := requests.get(f"http://127.0.0.1:{p.audit}/api/v1/audit/dossiers/{code}",
                                               headers=auditor, timeout=5)).ok
                    and wanted <= {e["type"] for e in r.json()["entries"]}
                    and len(r.json()["entries"]) >= 5 and r.json()["entries"], 30, 0.2, "the audit timeline")
    assigned = next(e for e in entries if e["type"] == "dossier.assigned.v1")
    assert assigned["data"]["department_id"] == "ktht"  # household business -> economy & infrastructure

    status = requests.get(f"http://127.0.0.1:{p.intake}/api/v1/dossiers/{code}", timeout=5).json()
    assert status["status"] in {"routed", "assigned"} and "citizen" not in status

    verify = subprocess.run([sys.executable, "-m", "onestop.ops.cli", "--audit", f"http://127.0.0.1:{p.audit}",
                             "audit", "verify"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert verify.returncode == 0 and "OK      hue-thuanhoa" in verify.stdout, verify.stdout + verify.stderr


def test_one_dossier_lives_its_whole_life_and_the_citizen_hears_of_every_step(platform):
    """Counter, officer, leader and citizen take one dossier through every step on the
    running platform; each citizen-facing step reaches the SMS gateway and the mailbox."""
    import re

    p = platform.ports
    issuer = TokenIssuer.load(platform.base_env())
    counter = issuer.mint("counter-01", "counter_staff", ["hue-vyda"])
    leader = issuer.mint("vyda-leader", "center_leader", ["hue-vyda"])
    intake, routing = f"http://127.0.0.1:{p.intake}", f"http://127.0.0.1:{p.routing}"
    phone, mail = "0335000888", "life@example.vn"

    def sms_texts():
        return [m["text"] for m in requests.get(f"http://127.0.0.1:{p.sms_http}/api/v1/sms",
                                                params={"to": "+84335000888"}, timeout=5).json()]

    def emails():
        return requests.get(f"http://127.0.0.1:{p.smtp_http}/api/v1/messages", params={"to": mail}, timeout=5).json()

    def next_message(count, what):
        until(lambda: len(sms_texts()) >= count and len(emails()) >= count, 30, 0.2, what)
        return sms_texts()[count - 1], emails()[count - 1]

    def act(code, action, token, **body):
        response = requests.post(f"{routing}/api/v1/work/dossiers/{code}/actions/{action}", json=body,
                                 headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert response.status_code == 200, (action, response.text)
        return response.json()

    body = dossier(center="hue-vyda", procedure_code="1.001612", phone=phone, email=mail, language="vi")
    response = requests.post(f"{intake}/api/v1/dossiers", json=body, timeout=10,
                             headers={"Idempotency-Key": "e2e-life", "Authorization": f"Bearer {counter}"})
    assert response.status_code == 201, response.text
    code, printed = response.json()["code"], response.json()["lookup_code"]
    sms, _ = next_message(1, "the receipt")
    assert code in sms and f"Mã tra cứu: {printed}." in sms

    case = until(lambda: (r := requests.get(f"{routing}/api/v1/work/dossiers/{code}",
                                            headers={"Authorization": f"Bearer {leader}"}, timeout=5)).ok
                 and r.json(), 30, 0.2, "the case assigned")
    officer = issuer.mint(case["officer_id"], "officer", ["hue-vyda"], case["department_id"])

    act(code, "start", officer)
    act(code, "request_supplement", officer, reason="Thiếu hợp đồng thuê", documents=["Hợp đồng thuê địa điểm kinh doanh"])
    sms, email = next_message(2, "the supplement request")
    assert "Hợp đồng thuê địa điểm kinh doanh" in sms + email["text"]
    back = act(code, "receive_supplement", counter)
    sms, email = next_message(3, "the new date once the papers are in")
    new_slip = datetime.date.fromisoformat(back["appointment_date"]).strftime("%d/%m/%Y")
    assert "Đã nhận đủ giấy tờ bổ sung" in sms and new_slip in sms and new_slip in email["text"]
    act(code, "start", officer)
    cal_case = act(code, "approve", officer)
    new_date = (datetime.date.fromisoformat(cal_case["appointment_date"]) + datetime.timedelta(days=7))
    while new_date.weekday() >= 5:
        new_date += datetime.timedelta(days=1)
    act(code, "extend_deadline", leader, due=new_date.isoformat(), reason="Cần xác minh thêm")
    sms, email = next_message(4, "the apology with the new date")
    assert new_date.strftime("%d/%m/%Y") in sms + email["text"]
    act(code, "mark_result_ready", officer)
    sms, _ = next_message(5, "result ready")
    assert code in sms
    done = act(code, "return_result", counter)
    assert done["status"] == "returned"
    sms, email = next_message(6, "the invitation to rate")
    rating_code = re.search(r"\b([A-Z2-9]{8})\b", sms.replace(code, "")).group(1)

    status = requests.get(f"{intake}/api/v1/dossiers/{code}", params={"lookup_code": printed}, timeout=5).json()
    assert status["status"] == "returned"
    rated = requests.post(f"{intake}/api/v1/dossiers/{code}/rating", timeout=5,
                          json={"rating_code": rating_code, "score": 5, "comment": "Cán bộ tận tình"})
    assert rated.status_code == 201, rated.text
    again = requests.post(f"{intake}/api/v1/dossiers/{code}/rating", timeout=5,
                          json={"rating_code": rating_code, "score": 1})
    assert again.status_code == 409

    wanted = {"dossier.work_started.v1", "dossier.supplement_requested.v1", "dossier.supplement_received.v1",
              "dossier.approved.v1", "dossier.deadline_extended.v1", "dossier.result_ready.v1",
              "dossier.returned.v1", "dossier.rated.v1"}
    until(lambda: wanted <= {e["type"] for e in requests.get(f"http://127.0.0.1:{p.audit}/api/v1/audit/dossiers/{code}",
                                                             headers={"Authorization": f"Bearer {leader}"},
                                                             timeout=5).json().get("entries", [])},
          30, 0.3, "the audit log")

    # a second dossier, withdrawn at the counter: the citizen gets the confirmation
    body = dossier(center="hue-vyda", procedure_code="1.001612", phone="0335000999", email="gone@example.vn")
    other = requests.post(f"{intake}/api/v1/dossiers", json=body, timeout=10,
                          headers={"Idempotency-Key": "e2e-withdraw", "Authorization": f"Bearer {counter}"}).json()
    until(lambda: requests.get(f"{routing}/api/v1/work/dossiers/{other['code']}",
                               headers={"Authorization": f"Bearer {leader}"}, timeout=5).ok, 30, 0.2, "routed")
    act(other["code"], "withdraw", counter, reason="Công dân rút hồ sơ")
    until(lambda: len(requests.get(f"http://127.0.0.1:{p.sms_http}/api/v1/sms", params={"to": "+84335000999"},
                                   timeout=5).json()) >= 2, 30, 0.2, "the withdrawal confirmation")
    verify = subprocess.run([sys.executable, "-m", "onestop.ops.cli", "--audit", f"http://127.0.0.1:{p.audit}",
                             "audit", "verify"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert verify.returncode == 0, verify.stdout + verify.stderr


# ---- the logs of the whole run: keep this test last, it reads what every test above made the services log

SERVICES = ("intake", "routing", "notification", "audit")
KEYS = {"time", "level", "service", "center", "code", "event_id", "correlation_id", "logger", "message"}
CITIZEN = {"full_name": "Lê Thị Nhật Ký", "id_number": "079188654321", "phone": "0397 864 153",
           "email": "nhat.ky.le@example.vn"}
# the other citizens of this module's tests: the samples' default name and ID, their phones and emails
OTHERS = {"full_name": "Nguyễn Văn An", "id_number": "046095001234", "phones": ("0335000777", "0335000888",
          "0335000999"), "emails": ("e2e@example.vn", "life@example.vn", "gone@example.vn")}


def log_lines(platform) -> dict:
    return {path.stem: path.read_text(encoding="utf-8").splitlines() for path in platform.log_dir.glob("*.log")}


def records(platform, service: str) -> list[dict]:
    return [json.loads(line) for line in log_lines(platform).get(service, [])]


def digits_of(phone: str) -> tuple[str, ...]:
    """A phone's digits as the citizen and as E.164 write them: 0397864153, 84397864153."""
    subscriber = re.sub(r"\D", "", phone)[-9:]
    return "0" + subscriber, "84" + subscriber


def phone_hits(text: str, phone: str) -> list[str]:
    """The whole number in any form (any separators), and any run of 4+ of its digits standing
    alone (not inside a word or a hex id, where such a run is chance, not a leak)."""
    subscriber = digits_of(phone)[0][1:]
    whole = re.findall(r"[\s.\-()]*".join(subscriber), text)
    runs = re.findall(r"(?<![0-9A-Za-z])[0-9]{4,}(?![0-9A-Za-z])", text)
    return whole + [run for run in runs if any(run in form for form in digits_of(phone))]


def personal_data_in(text: str) -> list[str]:
    lowered, hits = text.lower(), []
    for name in (CITIZEN["full_name"], OTHERS["full_name"]):
        hits += [name] * (unicodedata.normalize("NFC", text).count(name) + unicodedata.normalize("NFD", text).count(
            unicodedata.normalize("NFD", name)))
    for id_number in (CITIZEN["id_number"], OTHERS["id_number"]):
        hits += re.findall(r"[\s.\-]?".join(id_number), text)
    for email in (CITIZEN["email"], *OTHERS["emails"]):
        hits += [email] * (lowered.count(email) + lowered.count(email.replace("@", "%40")))
    hits += phone_hits(text, CITIZEN["phone"])
    for phone in OTHERS["phones"]:
        hits += re.findall(r"[\s.\-()]*".join(phone[1:]), text)
    return hits


def test_the_logs_of_the_whole_run_are_json_and_hold_no_personal_data(platform):
    """A citizen's dossier received, routed, notified and audited, their details looked up with
    the code on their receipt, and a poison event that makes routing log an error with the
    citizen's data in it: every service's log is JSON lines, the records about a dossier carry
    its code, and no log of the run (the sinks' too) holds a citizen's name, ID, phone or email."""
    p = platform.ports
    counter = TokenIssuer.load(platform.base_env()).mint("counter-01", "counter_staff", ["hue-vyda"])
    body = dossier(center="hue-vyda", procedure_code="1.001612", language="vi", **CITIZEN)
    response = requests.post(f"http://127.0.0.1:{p.intake}/api/v1/dossiers", json=body, timeout=10,
                             headers={"Idempotency-Key": "e2e-logs", "Authorization": f"Bearer {counter}"})
    assert response.status_code == 201, response.text
    code, printed = response.json()["code"], response.json()["lookup_code"]
    wanted = {"dossier.received.v1", "dossier.routed.v1", "dossier.assigned.v1", "notification.sent.v1"}
    auditor = {"Authorization": "Bearer " + TokenIssuer.load(platform.base_env()).mint("auditor-01", "auditor",
                                                 ["hue-vyda"])}
    until(lambda: wanted <= {e["type"] for e in requests.get(f"http://127.0.0.1:{p.audit}/api/v1/audit/dossiers/{code}",
                                                             headers=auditor, timeout=5).json().get("entries", [])}
          and len(requests.get(f"http://127.0.0.1:{p.sms_http}/api/v1/sms", params={"to": "+84397864153"},
                               timeout=5).json()) == 1, 30, 0.2, "routed, notified and audited")
    looked_up = requests.get(f"http://127.0.0.1:{p.intake}/api/v1/dossiers/{code}", timeout=5,
                             params={"lookup_code": printed}, headers={"X-Correlation-Id": "e2e-logs-lookup"})
    assert looked_up.status_code == 200

    contact = {key: CITIZEN[key] for key in ("full_name", "id_number", "phone", "email")}
    poison = make_event("dossier.received.v1", center="hue-vyda", subject="VYDA-990101-0001",
                        actor={"id": "counter-01", "role": "counter_staff"}, data={
                            "code": "VYDA-990101-0001", "official_code": "00.00.H57.VYDA-990101-0001",
                            "procedure_code": f"{contact} (+84 397 864 153, {CITIZEN['email'].upper()})",
                            "procedure_name": "?", "field": "?", "channel": "counter", "received_at": "2099-01-01T02:00:00Z",
                            "appointment_date": "2099-01-02", "working_days": 1, "missing_documents": [],
                            "applicant": "L. T. N. K.", "status": "received"})
    ConfirmedPublisher(platform.amqp_uri).publish(poison, exchange="", routing_key="onestop.routing.hue-vyda")
    dead = until(lambda: [r for r in records(platform, "routing")
                          if r["event_id"] == poison["id"] and r["logger"] == "onestop.messaging.consumer"],
                 30, 0.2, "routing to dead-letter the poison event")[0]
    assert dead["level"] == "ERROR" and "unknown center hue-vyda or procedure {'full_name': '[masked]'" in dead["message"]
    assert (dead["service"], dead["center"], dead["code"], dead["correlation_id"]) == (
        "routing", "hue-vyda", "VYDA-990101-0001", poison["correlationid"])

    lines = log_lines(platform)
    assert set(SERVICES) <= set(lines)
    about_the_dossier = []
    for service in SERVICES:
        for line in lines[service]:
            record = json.loads(line)
            assert KEYS <= set(record) and record["service"] in (service, None), (service, line)
            if code in record["message"] + record.get("exception", ""):
                about_the_dossier.append(record)
                assert record["code"] == code, (service, line)
    assert {r["service"] for r in about_the_dossier} >= {"intake", "audit"}
    lookup = next(r for r in about_the_dossier if "lookup_code" in r["message"])
    assert "lookup_code=[masked]" in lookup["message"] and printed not in lookup["message"]
    assert lookup["service"] == "intake"
    for name, text in lines.items():
        hits = personal_data_in("\n".join(text))
        assert hits == [], (name, hits)


def test_the_witness_of_make_run_cosigns_the_audit_logs_checkpoints(platform):
    """make run starts a witness (examples/audit_witness.py) beside the services: a checkpoint audit
    signs is checked and cosigned by it, and it says so at /cosigned, verifiable with its key."""
    p = platform.ports
    counter = TokenIssuer.load(platform.base_env()).mint("counter-01", "counter_staff", ["hue-phuxuan"])
    answer = requests.post(f"http://127.0.0.1:{p.intake}/api/v1/dossiers", timeout=10,
                           json=dossier(center="hue-phuxuan", procedure_code="1.001612"),
                           headers={"Authorization": f"Bearer {counter}"})
    assert answer.status_code == 201, answer.text
    auditor = {"Authorization": "Bearer " + TokenIssuer.load(platform.base_env()).mint("auditor-01", "auditor",
                                                 ["hue-phuxuan"])}
    receipt = answer.json()["audit"]["proof"]  # the receipt's link, to this platform's audit
    until(lambda: requests.get(receipt, timeout=5).ok, 30, 0.2, "audit recording the receipt's event")
    signed = requests.post(f"http://127.0.0.1:{p.audit}/api/v1/audit/checkpoints", json={"center": "hue-phuxuan"},
                           headers=auditor, timeout=10)
    assert signed.status_code in (200, 201), signed.text
    size = signed.json()["tree_size"]
    cosigned = until(lambda: [c for c in requests.get(f"http://127.0.0.1:{p.witness}/cosigned", timeout=5)
                              .json()["cosigned"] if c["origin"] == signed.json()["origin"] and c["tree_size"] >= size],
                     30, 0.2, "the witness cosigning the checkpoint")[0]
    assert cosigned["cosigned_note"].startswith(signed.json()["note"]) or cosigned["tree_size"] > size
    assert "\u2014 witness.onestop.local " in cosigned["cosigned_note"]
