"""The platform as `make run` starts it: separate processes, real HTTP, SMTP and SMS."""
import subprocess
import sys

import pytest
import requests

from onestop.launcher import Platform, Ports, ROOT
from tests.conftest import free_port
from tests.support.samples import dossier
from tests.support.wait import until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def platform(amqp_uri, tmp_path_factory):
    ports = Ports(*(free_port() for _ in range(7)))
    running = Platform(ports=ports, env={"AMQP_URI": amqp_uri, "MONGO_DB_PREFIX": f"e2e{free_port()}_"},
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
    response = requests.post(f"http://127.0.0.1:{p.intake}/api/v1/dossiers", json=body,
                             headers={"Idempotency-Key": "e2e-1"}, timeout=10)
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
    entries = until(lambda: (r := requests.get(f"http://127.0.0.1:{p.audit}/api/v1/audit/dossiers/{code}",
                                               timeout=5)).ok
                    and wanted <= {e["type"] for e in r.json()["entries"]}
                    and len(r.json()["entries"]) >= 5 and r.json()["entries"], 30, 0.2, "the audit timeline")
    assigned = next(e for e in entries if e["type"] == "dossier.assigned.v1")
    assert assigned["data"]["department_id"] == "ktht"  # household business -> economy & infrastructure

    status = requests.get(f"http://127.0.0.1:{p.intake}/api/v1/dossiers/{code}", timeout=5).json()
    assert status["status"] in {"routed", "assigned"} and "citizen" not in status

    verify = subprocess.run([sys.executable, "-m", "onestop.cli", "--audit", f"http://127.0.0.1:{p.audit}",
                             "audit", "verify"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert verify.returncode == 0 and "OK      hue-thuanhoa" in verify.stdout, verify.stdout + verify.stderr
