"""The leadership report against a hand-computed fixture.

Five dossiers of Vỹ Dạ in March 2026 (plus one of February and one of Phú
Xuân that must not count) are taken through their lives by routing's own
handlers at fixed times, so the report reads what the service stores. Every
expected figure below is worked out by hand from the working hours
(07:30-11:30, 13:30-17:00: 7.5 h a day) and the calendar.

D1 business 1.001612 (3 days), received Mon 2/3 09:00 -> appointment Thu 5/3, due 17:00.
   start Mon 10:00, approve Tue 3/3 09:00, result ready Tue 10:00: on time.
   processing Mon 09:00-11:30 (2.5) + 13:30-17:00 (3.5) + Tue 07:30-10:00 (2.5) = 8.5 h = 1.1333 days.
   returned Tue 14:00, rated 5.
D2 business 1.001612, received Mon 2/3 09:00, due Thu 5/3 17:00.
   start 10:00; supplement asked Mon 14:00 (25.5 h were left: 3 + 3 x 7.5);
   papers in Mon 9/3 09:00 (the wait: Mon 14-17 (3) + Tue-Fri 4 x 7.5 (30) + Mon 9 07:30-09:00 (1.5) = 34.5 h);
   25.5 h from Mon 9/3 09:00: Mon 6 + Tue 7.5 + Wed 7.5 + Thu 07:30-11:30 4 + 13:30-14:00 0.5 -> due Thu 12/3 14:00.
   start Mon 9/3 09:30, approve Fri 13/3 09:00, result ready Fri 13/3 10:00: late.
   processing: Mon 2 (6) + Tue 3-Fri 6 (30) + Mon 9-Thu 12 (30) + Fri 13 07:30-10:00 (2.5) = 68.5 h
   minus the 34.5 h wait = 34 h = 4.5333 days.
D3 land 1.013978 (20 days), received Tue 10/3 09:00: assigned, due Tue 7/4 (20 working days on) - open, not late.
D4 birth 1.001193 (0 days), received Wed 4/3 16:00, after the 15:00 cut-off -> due Thu 5/3 17:00; never
   worked: open and late on 31/3.
D5 birth, received Thu 5/3 09:00, withdrawn at 10:00.
Officers (least loaded, ties to the lowest id): D1, D2 -> vyda-o05 (the only business officer of ktht);
D3 -> vyda-o04 (o05 still has D2 open); D4 -> vyda-o01; D5 -> vyda-o02 (o01 has D4).
"""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from onestop.web import access
from onestop.web.auth import Principal
from onestop.web.http import status_of
from onestop.catalog import load_catalog
from contracts import make_event
from onestop.timestamps import iso
from services.routing import handlers, queries
from services.routing.schemas import ReportSchema
from services.routing.store import RoutingRepository

HUE = ZoneInfo("Asia/Ho_Chi_Minh")
BUSINESS, LAND, BIRTH = "1.001612", "1.013978", "1.001193"


def at(day, hh, mm=0, month=3):
    return datetime(2026, month, day, hh, mm, tzinfo=HUE)


def staff(role, user="u", department=None, center="hue-vyda"):
    return Principal(user, role, frozenset({center}), department)


@pytest.fixture
def repo(mongo_db):
    r = RoutingRepository(mongo_db("routing"))
    r.ensure_indexes()
    return r


def receive(repo, code, procedure, when, center="hue-vyda", channel="counter"):
    catalog = load_catalog()
    proc = catalog.procedures[procedure]
    event = make_event("dossier.received.v1", center=center, subject=code, actor={"id": "c", "role": "counter_staff"},
                       data={"code": code, "official_code": f"00.00.H57.{code}", "procedure_code": procedure,
                             "procedure_name": proc.name_vi, "field": proc.field, "channel": channel,
                             "received_at": iso(when), "appointment_date": when.date().isoformat(),
                             "working_days": proc.working_days, "missing_documents": [], "applicant": "N. V. A.",
                             "status": "received"})
    return handlers.route_dossier(event, catalog=catalog, repo=repo, now=when)


def act(repo, code, action, who, when, **body):
    return handlers.act(code, action, who, body, catalog=load_catalog(), repo=repo, now=when)


@pytest.fixture
def march(repo):
    officer5, officer4 = staff("officer", "vyda-o05", "ktht"), staff("officer", "vyda-o04", "ktht")
    counter = staff("counter_staff", "counter-01")
    receive(repo, "VYDA-260227-0001", BUSINESS, at(27, 9, month=2))  # February: not in the period
    receive(repo, "PXUA-260302-0001", BUSINESS, at(2, 9), center="hue-phuxuan")  # another center

    d1 = receive(repo, "VYDA-260302-0001", BUSINESS, at(2, 9))
    d2 = receive(repo, "VYDA-260302-0002", BUSINESS, at(2, 9))
    assert d1["officer_id"] == d2["officer_id"] == "vyda-o05"
    act(repo, d1["_id"], "start", officer5, at(2, 10))
    act(repo, d2["_id"], "start", officer5, at(2, 10))
    asked = act(repo, d2["_id"], "request_supplement", officer5, at(2, 14), reason="Thiếu giấy tờ",
                documents=["Bản sao hợp đồng thuê địa điểm"])
    assert asked["supplement"]["remaining_working_s"] == 25.5 * 3600
    act(repo, d1["_id"], "approve", officer5, at(3, 9))
    act(repo, d1["_id"], "mark_result_ready", officer5, at(3, 10))
    act(repo, d1["_id"], "return_result", counter, at(3, 14))
    handlers.record_rating(make_event("dossier.rated.v1", center="hue-vyda", subject=d1["_id"],
                                      actor={"id": "citizen", "role": "citizen"},
                                      data={"code": d1["_id"], "procedure_code": BUSINESS, "score": 5,
                                            "has_comment": True, "rated_at": iso(at(3, 15))}), repo)
    d4 = receive(repo, "VYDA-260304-0001", BIRTH, at(4, 16))
    assert d4["due_at"] == "2026-03-05T17:00:00+07:00" and d4["officer_id"] == "vyda-o01"
    d5 = receive(repo, "VYDA-260305-0001", BIRTH, at(5, 9))
    assert d5["officer_id"] == "vyda-o02"
    act(repo, d5["_id"], "withdraw", counter, at(5, 10), reason="Công dân rút hồ sơ")
    back = act(repo, d2["_id"], "receive_supplement", counter, at(9, 9))
    assert back["due_at"] == "2026-03-12T14:00:00+07:00"
    act(repo, d2["_id"], "start", officer5, at(9, 9, 30))
    d3 = receive(repo, "VYDA-260310-0001", LAND, at(10, 9))
    assert d3["officer_id"] == "vyda-o04" and d3["due_at"] == "2026-04-07T17:00:00+07:00"
    act(repo, d2["_id"], "approve", officer5, at(13, 9))
    act(repo, d2["_id"], "mark_result_ready", officer5, at(13, 10))
    del officer4
    return repo


def report(repo, who, now=at(31, 10), today=date(2026, 3, 31), due_soon=("1d", "3h"), **args):
    catalog = load_catalog()
    scope = queries.report_scope(who, {"from": "2026-03-01", "to": "2026-03-31", **args}, catalog, today=today)
    return handlers.report(scope, catalog=catalog, repo=repo, now=now, due_soon=due_soon)


def figures(received, in_progress, result_ready, on_time, overdue, withdrawn, avg_days, supplement_rate,
            satisfaction, ratings):
    return {"received": received, "in_progress": in_progress, "result_ready": result_ready, "on_time": on_time,
            "overdue": overdue, "withdrawn": withdrawn, "avg_processing_working_days": avg_days,
            "supplement_rate": supplement_rate, "avg_satisfaction": satisfaction, "ratings": ratings}


def test_the_center_report_matches_the_hand_computed_figures(march):
    out = report(march, staff("center_leader", "leader"))
    assert out["totals"] == figures(5, 2, 2, 1, 2, 1, 2.83, 0.2, 5.0, 1)  # (1.1333 + 4.5333) / 2
    assert out["departments"] == [
        {"department_id": "ktht", **figures(3, 1, 2, 1, 1, 0, 2.83, 0.3333, 5.0, 1)},
        {"department_id": "vp", **figures(2, 1, 0, 0, 1, 1, None, 0.0, None, 0)},
    ]
    by_officer = {o["officer_id"]: o for o in out["officers"]}
    assert set(by_officer) == {"vyda-o01", "vyda-o02", "vyda-o04", "vyda-o05"}
    assert {k: by_officer["vyda-o05"][k] for k in ("received", "on_time", "overdue", "avg_processing_working_days",
                                                   "supplement_rate", "avg_satisfaction")} == \
        {"received": 2, "on_time": 1, "overdue": 1, "avg_processing_working_days": 2.83,
         "supplement_rate": 0.5, "avg_satisfaction": 5.0}
    assert (by_officer["vyda-o04"]["in_progress"], by_officer["vyda-o04"]["overdue"]) == (1, 0)
    assert (by_officer["vyda-o01"]["in_progress"], by_officer["vyda-o01"]["overdue"]) == (1, 1)
    assert (by_officer["vyda-o02"]["withdrawn"], by_officer["vyda-o02"]["in_progress"]) == (1, 0)


def test_a_department_head_sees_only_their_department(march):
    out = report(march, staff("department_head", "head", "vp"))
    assert out["department"] == "vp"
    assert out["totals"] == figures(2, 1, 0, 0, 1, 1, None, 0.0, None, 0)
    assert [d["department_id"] for d in out["departments"]] == ["vp"]


def test_the_period_bounds_are_the_centers_local_days(march):
    first_two_days = report(march, staff("center_leader"), **{"to": "2026-03-02"})
    assert first_two_days["totals"]["received"] == 2  # D1, D2 (the 27/2 one is out)
    assert report(march, staff("center_leader"), **{"from": "2026-02-27", "to": "2026-02-27"})["totals"]["received"] == 1


@pytest.mark.parametrize("role", ["officer", "counter_staff", "operator", "portal"])
def test_reports_are_for_leaders_heads_and_auditors(march, role):
    with pytest.raises(Exception) as refused:  # the edge checks the role (onestop.web.access), then the center
        access.require(staff(role, department="vp" if role == "officer" else None), "routing.reports")
    assert status_of(refused.value) == 403


@pytest.mark.parametrize("args, field", [({"from": "2026-3-1"}, "from"), ({"to": "2026-02-01"}, "to"),
                                         ({"from": "2025-01-01"}, "to"), ({"center": "nowhere"}, "center")])
def test_bad_periods_are_422_with_the_field(march, args, field):
    with pytest.raises(Exception) as refused:
        report(march, staff("center_leader"), **args)
    assert status_of(refused.value) == 422 and refused.value.fields[0]["field"] == field


def test_a_due_soon_point_already_past_at_receipt_is_not_armed(repo):
    """A same-day dossier received at 10:00 is '1 working day before its due time' from the
    start: only the 3-hour warning (14:00) and the overdue point (17:00) are armed."""
    case = receive(repo, "VYDA-260302-0009", BIRTH, at(2, 10))
    assert {t["label"]: t["at"].astimezone(HUE).strftime("%H:%M") for t in case["timers"]} == \
        {"due_soon:3h": "14:00", "overdue": "17:00"}


# --- issue 17: the leaders' console (today, the five levels, the 766 indicators, the days, the lists) ---------

def rate(repo, code, score, when):
    handlers.record_rating(make_event("dossier.rated.v1", center="hue-vyda", subject=code,
                                      actor={"id": "citizen", "role": "citizen"},
                                      data={"code": code, "procedure_code": BUSINESS, "score": score,
                                            "has_comment": False, "rated_at": iso(when)}), repo)


def indicator(out, key):
    found = {i["id"]: i for i in out["indicators"]}[key]
    return found["value"], found["numerator"], found["denominator"], found["left_out"]


def test_the_766_indicators_the_levels_and_the_days_of_march(march):
    """On time: D1 on time, D2 late (ready 13/3 past 12/3 14:00), D3 open not late, D4 open late since 5/3;
    D5 withdrawn is not to handle: 1 - 2/4. Ratings: D1 5 and D2 3 (neutral): 1 of 2 satisfied.
    Every March dossier came over the counter: 0 of 5 online."""
    rate(march, "VYDA-260302-0002", 3, at(13, 11))
    out = report(march, staff("center_leader", "leader"))
    assert ReportSchema().validate(out) == {}  # the answer is what the OpenAPI document says
    assert indicator(out, "on_time_rate") == (0.5, 2, 4, 1)
    totals = out["totals"]
    assert indicator(out, "on_time_rate")[1] == totals["received"] - totals["withdrawn"] - totals["overdue"]
    assert indicator(out, "satisfaction_rate") == (0.5, 1, 2, 3)
    assert indicator(out, "online_rate") == (0.0, 0, 5, 0)
    assert all(i["formula_vi"] and i["formula_en"] and "766" in i["source"] for i in out["indicators"])
    assert out["satisfaction_levels"] == {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1}
    assert out["satisfaction_labels"]["5"] == {"vi": "Rất hài lòng", "en": "very satisfied"}
    assert [d["date"] for d in out["daily"]] == [f"2026-03-{n:02}" for n in range(1, 32)]
    busy = {d["date"][-2:]: (d["received"], d["result_ready"]) for d in out["daily"]
            if d["received"] or d["result_ready"]}
    assert busy == {"02": (2, 0), "03": (0, 1), "04": (1, 0), "05": (1, 0), "10": (1, 0), "13": (0, 1)}
    assert out["today"]["date"] == "2026-03-31" and out["today"]["received"] == 0
    tenth = report(march, staff("center_leader", "leader"), now=at(10, 12), today=date(2026, 3, 10))
    assert tenth["today"] == {"date": "2026-03-10", **figures(1, 1, 0, 0, 0, 0, None, 0.0, None, 0)}  # D3
    head = report(march, staff("department_head", "head", "vp"))  # D4 (late), D5 (withdrawn): no rating
    assert indicator(head, "on_time_rate") == (0.0, 0, 1, 1)
    assert indicator(head, "satisfaction_rate") == (None, 0, 0, 2)


def test_the_overdue_and_due_soon_lists_name_the_officer_whenever_the_dossier_came(march):
    """On 31/3 the February business dossier (due 4/3, never worked) and D4 (due 5/3) are overdue;
    D2 is ready, D3 is due Tue 7/4 17:00. Due soon = within 1 working day (7.5 h): from Mon 6/4 16:59
    that reaches Tue 16:59, from 17:00 it reaches Tue 17:00."""
    out = report(march, staff("center_leader", "leader"))
    assert [(r["code"], r["officer_id"], r["due_at"]) for r in out["overdue_list"]] == [
        ("VYDA-260227-0001", "vyda-o05", "2026-03-04T17:00:00+07:00"),
        ("VYDA-260304-0001", "vyda-o01", "2026-03-05T17:00:00+07:00")]
    assert out["overdue_list"][1]["officer_name"] == "Nguyễn Thị Thu Hà"
    assert set(out["overdue_list"][0]) == {"code", "procedure_code", "department_id", "officer_id",
                                           "officer_name", "due_at"}  # no citizen data
    assert (out["due_soon_list"], out["overdue_list_truncated"], out["due_soon_within"]) == ([], False, "1d")
    assert report(march, staff("center_leader"), now=at(6, 16, 59, month=4))["due_soon_list"] == []
    soon = report(march, staff("center_leader"), now=at(6, 17, month=4))["due_soon_list"]
    assert [(r["code"], r["officer_id"]) for r in soon] == [("VYDA-260310-0001", "vyda-o04")]
    three_hours = ("2h", "3h")  # DUE_SOON=2h,3h: soon is within 3 working hours (Tue 14:00 -> 17:00)
    assert report(march, staff("center_leader"), now=at(7, 13, 59, month=4), due_soon=three_hours)["due_soon_list"] == []
    late_tuesday = report(march, staff("center_leader"), now=at(7, 14, month=4), due_soon=three_hours)
    assert (late_tuesday["due_soon_within"], len(late_tuesday["due_soon_list"])) == ("3h", 1)
    head = report(march, staff("department_head", "head", "vp"))
    assert [r["code"] for r in head["overdue_list"]] == ["VYDA-260304-0001"]  # not ktht's February one


def test_with_no_dossiers_every_rate_is_null_not_an_error(repo):
    out = report(repo, staff("center_leader"), **{"from": "2026-01-01", "to": "2026-01-31"})
    assert ReportSchema().validate(out) == {}
    assert [indicator(out, k) for k in ("on_time_rate", "satisfaction_rate", "online_rate")] == [(None, 0, 0, 0)] * 3
    assert out["satisfaction_levels"] == {str(n): 0 for n in range(1, 6)}
    assert len(out["daily"]) == 31 and not any(d["received"] or d["result_ready"] for d in out["daily"])
    assert (out["overdue_list"], out["due_soon_list"], out["today"]["received"]) == ([], [], 0)


def test_the_online_rate_counts_the_channel_and_leaves_out_cases_that_predate_it(repo):
    receive(repo, "VYDA-260302-0001", BIRTH, at(2, 9), channel="online")
    receive(repo, "VYDA-260302-0002", BIRTH, at(2, 9, 5), channel="postal")
    receive(repo, "VYDA-260302-0003", BIRTH, at(2, 9, 10), channel="counter")
    receive(repo, "VYDA-260302-0004", BIRTH, at(2, 9, 15), channel="online")
    repo.assignments.update_one({"_id": "VYDA-260302-0004"}, {"$unset": {"channel": ""}})  # routed before issue 17
    assert indicator(report(repo, staff("center_leader")), "online_rate") == (0.3333, 1, 3, 1)


def test_the_lists_keep_the_soonest_fifty_and_say_so():
    catalog = load_catalog()
    scope = queries.report_scope(staff("center_leader"), {}, catalog, today=date(2026, 3, 31))
    open_docs = [{"_id": f"VYDA-260302-{n:04}", "procedure_code": BIRTH, "department_id": "vp",
                  "officer_id": "vyda-o01", "status": "in_progress",
                  "due_at": f"2026-03-{2 + n % 20:02}T17:00:00+07:00"} for n in range(60)]
    open_docs.append({**open_docs[0], "_id": "VYDA-260302-0999", "status": "supplement_requested", "due_at": None})
    out = queries.report([], scope, catalog, at(31, 10), today_docs=[], open_docs=open_docs)
    assert len(out["overdue_list"]) == queries.LIST_LIMIT and out["overdue_list_truncated"] is True
    dues = [r["due_at"] for r in out["overdue_list"]]
    assert dues == sorted(dues) and dues[0] == "2026-03-02T17:00:00+07:00"
    assert "VYDA-260302-0999" not in {r["code"] for r in out["overdue_list"]}  # a stopped clock is not late
