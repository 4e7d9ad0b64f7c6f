"""The citizen's personal data after the dossier closes, on real RabbitMQ and real HTTP:
intake's sweep erases it once the retention period has passed, notification erases its
copy on the event, audit records the erasure and its chain still verifies; the
operator's `onestop privacy erase` refuses a dossier still being processed."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests

from onestop.config import Settings
from onestop.storage.mongo import database
from onestop.timestamps import parse_time
from services.audit.service import AuditService
from services.intake.service import IntakeService
from services.notification.service import NotificationService
from services.routing.service import RoutingService
from tests.support.personal_data import Citizen
from tests.support.samples import dossier
from tests.support.staff import CLI_ENV, COUNTER, bearer
from tests.support.wait import until

pytestmark = pytest.mark.integration

MAI = Citizen("Trần Thị Mai", "046187539264", "0987654321", "mai.tran@thu-mien.vn")
RETENTION_DAYS = 0.00005  # 4.32 s: long enough for the withdrawal's messages to go out first
SECONDS = 30


def submit(intake):
    body = dossier(procedure_code="1.013978", full_name=MAI.full_name, id_number=MAI.id_number, phone=MAI.phone,
                   email=MAI.email)
    response = requests.post(f"{intake.http}/api/v1/dossiers", json=body, headers=COUNTER, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["code"]


def store(container, collection):
    return database(Settings.load(container.config), container.service_name)[collection]


def test_a_withdrawn_dossiers_personal_data_is_erased_once_its_retention_has_passed(services, sinks):
    intake = services.start(IntakeService, PERSONAL_DATA_RETENTION_DAYS=str(RETENTION_DAYS),
                            RETENTION_SWEEP_INTERVAL="0.2")
    routing, notification, audit = (services.start(cls) for cls in (RoutingService, NotificationService, AuditService))
    code = submit(intake)
    until(lambda: store(routing, "assignments").find_one({"_id": code}), SECONDS, 0.1, "the case")
    withdraw = requests.post(f"{routing.http}/api/v1/work/dossiers/{code}/actions/withdraw", headers=COUNTER,
                             json={"reason": "Công dân đề nghị rút hồ sơ"}, timeout=10)
    assert withdraw.status_code == 200, withdraw.text
    until(lambda: [m for m in sinks.sms(to="+84987654321") if "rút" in m["text"] and code in m["text"]],
          SECONDS, 0.1, "the withdrawal's SMS")

    dossiers, contacts = store(intake, "dossiers"), store(notification, "contacts")
    until(lambda: "erased_at" in (contacts.find_one({"_id": code}) or {}), SECONDS, 0.1, "notification's erasure")
    erased = dossiers.find_one({"_id": code})
    assert "citizen" not in erased and erased["applicant"] == "T. T. M." and erased["status"] == "withdrawn"
    assert MAI.hits({k: v for k, v in erased.items() if k != "outbox"}) == []
    assert MAI.hits(contacts.find_one({"_id": code})) == []

    entries = until(lambda: [e for e in store(audit, "entries").find({"subject": code})
                             if e["type"] == "citizen.data_erased.v1"], SECONDS, 0.1, "the erasure's audit entry")
    [entry] = entries
    data = entry["event"]["data"]
    assert data["basis"] == "retention" and (entry["event"]["actorid"], entry["event"]["actorrole"]) == ("intake", "system")
    waited = parse_time(data["erased_at"]) - parse_time(data["closed_at"])
    assert waited.total_seconds() >= RETENTION_DAYS * 86400
    verdict = requests.get(f"{audit.http}/api/v1/audit/verify", headers=bearer("auditor", "auditor-01"),
                           timeout=10).json()
    assert verdict["ok"] is True, verdict


def privacy(intake, notification, *args):
    command = [sys.executable, "-m", "onestop.ops.cli", "--intake", intake.http, "privacy", *args,
               "--id-number", MAI.id_number, "--notification", notification.http, "--actor", "ops-lan"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                          env={**os.environ, **CLI_ENV})


def test_the_operator_cannot_erase_a_dossier_still_being_processed_and_is_told_which(services):
    intake, notification = services.start(IntakeService), services.start(NotificationService)
    code = submit(intake)
    refused = privacy(intake, notification, "erase", "--reason", "Đơn yêu cầu số 12/2026", "--yes")
    assert refused.returncode == 1
    assert "409" in refused.stderr and f"open: {code} (received)" in refused.stderr
    unconfirmed = privacy(intake, notification, "erase", "--reason", "Đơn yêu cầu số 12/2026")
    assert unconfirmed.returncode == 1 and "pass --yes" in unconfirmed.stderr
    assert store(intake, "dossiers").find_one({"_id": code})["citizen"]["email"] == MAI.email
    stranger = bearer("center_leader", "vyda-leader")["Authorization"].split()[1]
    forbidden = privacy(intake, notification, "export", "--token", stranger)
    assert forbidden.returncode == 1 and "403" in forbidden.stderr and "operator" in forbidden.stderr
