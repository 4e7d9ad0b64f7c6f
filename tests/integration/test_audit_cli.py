"""`onestop audit verify` against a running audit service: OK, then the first break;
the CLI sends a token, and says so when the service refuses it."""
import os
import subprocess
import sys

import pytest

from onestop.config import Settings
from onestop.storage.mongo import database
from services.audit.service import AuditService
from tests.integration.test_delivery import publish, queue_depth, received_event
from onestop.web.auth import SigningKeys
from tests.support.staff import CLI_ENV, bearer
from tests.support.wait import until

pytestmark = pytest.mark.integration


def cli(audit, *args, env=None):
    """`onestop --audit <url> audit ...`, minting its token with the test key set unless told otherwise."""
    env = {**os.environ, **CLI_ENV, **(env or {})}
    return subprocess.run([sys.executable, "-m", "onestop.ops.cli", "--audit", audit.http, "audit", *args],
                          capture_output=True, text=True, timeout=60, env=env)


def verify(audit):
    return cli(audit, "verify")


def test_verify_reports_ok_then_the_first_tampered_entry(services, config):
    audit = services.start(AuditService)
    for n in (1, 2, 3):
        publish(config["AMQP_URI"], received_event(code=f"VYDA-260213-{n:04d}"))
    entries = database(Settings.load(config), "audit").entries
    until(lambda: entries.count_documents({}) == 3, 15, 0.1, "three audit entries")
    ok = verify(audit)
    assert ok.returncode == 0 and "OK      hue-vyda: 3 entries" in ok.stdout and "no checkpoint signed yet" in ok.stdout
    signed = cli(audit, "checkpoint", "--center", "hue-vyda")
    assert signed.returncode == 0 and "signed checkpoint 3 of onestop.local/audit/hue-vyda" in signed.stdout
    assert "the tree has the root of checkpoint 3" in verify(audit).stdout

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


def test_the_cli_sends_a_token_and_says_why_when_it_is_refused(services, config, tmp_path):
    audit = services.start(AuditService)
    publish(config["AMQP_URI"], received_event(code="VYDA-260213-0201"))
    entries = database(Settings.load(config), "audit").entries
    until(lambda: entries.count_documents({}) == 1, 15, 0.1, "one audit entry")
    shown = cli(audit, "timeline", "VYDA-260213-0201")  # an operator token minted with AUTH_SIGNING_KEYS
    assert shown.returncode == 0 and "dossier.received.v1" in shown.stdout
    officer = bearer("officer", "vyda-o01", department="vp")["Authorization"].split()[1]
    refused = cli(audit, "timeline", "VYDA-260213-0201", "--token", officer)
    assert refused.returncode == 2 and "403" in refused.stderr and "allowed roles: center_leader" in refused.stderr
    elsewhere = bearer("auditor", "aud-px", centers=("hue-phuxuan",))["Authorization"].split()[1]
    hidden = cli(audit, "timeline", "VYDA-260213-0201", env={"ONESTOP_TOKEN": elsewhere})
    assert hidden.returncode == 1 and "No audit entries" in hidden.stderr
    other = SigningKeys.generate(tmp_path / "other-keys.json")  # a key set the services do not know
    wrong = cli(audit, "verify", env={"AUTH_SIGNING_KEYS": str(other.path)})
    assert wrong.returncode == 2 and "401" in wrong.stderr and "not signed by a key the issuer publishes" in wrong.stderr
