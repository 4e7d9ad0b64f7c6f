"""The date the citizen is told is the date the officer works to, for every procedure.

Each dossier goes through intake's use case (the receipt and its
``dossier.received.v1``), then through routing's (the case it opens from that
event), both on real stores; the receipt SMS is rendered as notification
renders it. Receipt times cover the edges of the day and of the calendar.
"""
from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from onestop.catalog import load_catalog
from onestop.dev.samples import dossier
from onestop.web.auth import Principal
from services.intake.handlers import submit_dossier
from services.intake.store import IntakeRepository
from services.intake.views import receipt_view
from services.notification.domain import Links, message_context, render
from services.routing.handlers import route_dossier
from services.routing.store import RoutingRepository

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
CATALOG = load_catalog()
COUNTER = Principal("counter-01", "counter_staff", frozenset({"hue-vyda"}))
LINKS = Links("https://dichvucong.example.vn/ho-so/{code}")


def local(y, m, d, hh, mm):
    return datetime(y, m, d, hh, mm, tzinfo=HCM)


RECEIPT_TIMES = {  # Tue 1 Dec 2026 is a working day
    "before opening": local(2026, 12, 1, 6, 45),
    "mid-morning": local(2026, 12, 1, 9, 30),
    "14:59": local(2026, 12, 1, 14, 59),
    "15:00": local(2026, 12, 1, 15, 0),
    "15:01": local(2026, 12, 1, 15, 1),
    "16:03 (the reported bug)": local(2026, 12, 1, 16, 3),
    "16:59": local(2026, 12, 1, 16, 59),
    "after closing": local(2026, 12, 1, 19, 30),
    "a Saturday": local(2026, 12, 5, 10, 0),
    "the last afternoon before Tết 2026": local(2026, 2, 13, 15, 30),
    "the eve of Tết 2026 (a day off)": local(2026, 2, 16, 10, 0),
    "the eve of 30/4": local(2026, 4, 29, 15, 30),
}


@pytest.fixture
def stores(mongo_db):
    intake, routing = IntakeRepository(mongo_db("intake")), RoutingRepository(mongo_db("routing"))
    intake.ensure_indexes()
    routing.ensure_indexes()
    return intake, routing


def _received_event(stored: dict) -> dict:
    return next(e["event"] for e in stored["outbox"] if e["event"]["type"] == "dossier.received.v1")


def _sms_date(event: dict) -> str:
    context = message_context("receipt", event, CATALOG, "vi", LINKS, {"full_name": "Nguyễn Văn An"})
    return render("receipt", "vi", "sms", context)


@pytest.mark.parametrize("when", list(RECEIPT_TIMES))
def test_every_procedure_gets_one_date_at_intake_and_at_routing(stores, when):
    intake, routing = stores
    received_at = RECEIPT_TIMES[when].astimezone(ZoneInfo("UTC"))
    center = CATALOG.center("hue-vyda")
    disagreements = []
    for procedure in CATALOG.procedures.values():
        stored = submit_dossier(dossier(center.id, procedure.code), catalog=CATALOG, repo=intake,
                                now=received_at, caller=COUNTER).dossier
        receipt = receipt_view(stored, CATALOG)
        event = _received_event(stored)
        case = route_dossier(event, catalog=CATALOG, repo=routing, now=received_at)
        appointment = date.fromisoformat(receipt["appointment_date"])
        due_at = datetime.fromisoformat(case["due_at"])
        closing = time.fromisoformat(center.office_hours[-1][1])
        said = f"{appointment:%d/%m/%Y}"
        facts = (event["data"]["appointment_date"] == receipt["appointment_date"] == case["appointment_date"],
                 due_at.date() == appointment and due_at.timetz().replace(tzinfo=None) == closing,
                 due_at.utcoffset() is not None, said in _sms_date(event))
        if not all(facts):
            disagreements.append((procedure.code, receipt["appointment_date"], case["appointment_date"],
                                  case["due_at"], facts))
    assert not disagreements, f"received {when}: {disagreements}"


def test_the_reported_case_household_business_after_the_cutoff(stores):
    # a household-business registration (3 working days, no cut-off rule) at 16:03 on Tue 1 Dec 2026:
    # the citizen was told 07/12, the officer worked to 04/12
    intake, routing = stores
    at = RECEIPT_TIMES["16:03 (the reported bug)"]
    stored = submit_dossier(dossier("hue-vyda", "1.001612"), catalog=CATALOG, repo=intake, now=at,
                            caller=COUNTER).dossier
    case = route_dossier(_received_event(stored), catalog=CATALOG, repo=routing, now=at)
    assert stored["appointment_date"] == case["appointment_date"] == "2026-12-04"
    assert case["due_at"] == "2026-12-04T17:00:00+07:00"
    assert "04/12/2026" in _sms_date(_received_event(stored))
