"""`onestop audit verify` against a running audit service: OK, then the first break."""
import subprocess
import sys

import pytest

from onestop.config import Settings
from onestop.store import database
from services.audit.service import AuditService
from tests.integration.test_delivery import publish, received_event
from tests.support.wait import until

pytestmark = pytest.mark.integration


def verify(audit):
    return subprocess.run([sys.executable, "-m", "onestop.cli", "--audit", audit.http, "audit", "verify"],
                          capture_output=True, text=True, timeout=60)


def test_verify_reports_ok_then_the_first_tampered_entry(services, config):
    audit = services.start(AuditService)
    for n in (1, 2, 3):
        publish(config["AMQP_URI"], received_event(code=f"VYDA-260213-{n:04d}"))
    entries = database(Settings.load(config), "audit").entries
    until(lambda: entries.count_documents({}) == 3, 15, 0.1, "three audit entries")
    ok = verify(audit)
    assert ok.returncode == 0 and "OK      hue-vyda: 3 entries" in ok.stdout

    entries.update_one({"seq": 2}, {"$set": {"event.data.applicant": "X. X. X."}})
    broken = verify(audit)
    assert broken.returncode == 1
    assert "BROKEN  hue-vyda: entry #2" in broken.stdout and "hash does not match" in broken.stdout
