"""`onestop audit verify` against a running audit service: OK, then the first break."""
import subprocess
import sys

import pytest

from onestop.config import Settings
from onestop.storage.mongo import database
from services.audit.service import AuditService
from tests.integration.test_delivery import publish, queue_depth, received_event
from tests.support.wait import until

pytestmark = pytest.mark.integration


def verify(audit):
    return subprocess.run([sys.executable, "-m", "onestop.ops.cli", "--audit", audit.http, "audit", "verify"],
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


def test_an_event_of_a_type_audit_never_saw_is_recorded_and_verifies(services, config):
    # a producer ships dossier.stamped.v1 before audit is redeployed: audit keeps it, it is not dead-lettered
    audit = services.start(AuditService)
    known = received_event(code="VYDA-260213-0101")
    stamped = {**received_event(code="VYDA-260213-0101"), "type": "dossier.stamped.v1",
               "source": "onestop/archive/hue-vyda", "data": {"code": "VYDA-260213-0101", "stamp": "A-17"}}
    publish(config["AMQP_URI"], known)
    publish(config["AMQP_URI"], stamped)
    entries = database(Settings.load(config), "audit").entries
    until(lambda: entries.count_documents({}) == 2, 15, 0.1, "two audit entries")
    recorded = entries.find_one({"type": "dossier.stamped.v1"})
    assert recorded["event"]["data"] == {"code": "VYDA-260213-0101", "stamp": "A-17"}
    ok = verify(audit)
    assert ok.returncode == 0 and "OK      hue-vyda: 2 entries" in ok.stdout
    assert queue_depth(config["AMQP_URI"], "onestop.audit.hue-vyda.dlq") == 0
