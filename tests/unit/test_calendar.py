"""Working-day calendar: Vietnamese holidays, make-up Saturdays and the 15:00 cut-off."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from onestop.worktime.days import WorkingCalendar, parse_hhmm, year_tables
from onestop.worktime.centers import calendar_for
from onestop.worktime.hours import WorkingHours
from onestop.catalog import load_catalog

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
cal = WorkingCalendar()


def at(y, m, d, hh=10, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=HCM)


def appointment(cal, received, days, apply_cutoff=True):
    """The appointment date the platform gives on this calendar: the day of the due time."""
    return WorkingHours(cal).due_time(received, days, apply_cutoff).date()


def test_tet_2026_days_off():
    for day in range(16, 21):
        assert not cal.is_working_day(date(2026, 2, day)), day
    assert cal.is_working_day(date(2026, 2, 13)) and cal.is_working_day(date(2026, 2, 23))


def test_tet_2026_appointment():
    # Fri 13 Feb 10:00, 3 working days: Mon 23, Tue 24, Wed 25.
    assert appointment(cal, at(2026, 2, 13), 3) == date(2026, 2, 25)


def test_around_30_april_and_1_may_2026():
    assert not cal.is_working_day(date(2026, 4, 30)) and not cal.is_working_day(date(2026, 5, 1))
    assert not cal.is_working_day(date(2026, 4, 27))  # Hùng Kings (Sun 26 Apr) observed
    assert cal.next_working_day(date(2026, 4, 29)) == date(2026, 5, 4)
    assert appointment(cal, at(2026, 4, 29), 1) == date(2026, 5, 4)
    assert appointment(cal, at(2026, 4, 29), 3) == date(2026, 5, 6)
    assert appointment(cal, at(2026, 4, 29, 16, 0), 0) == date(2026, 5, 4)


def test_cutoff_at_15_00():
    assert cal.start_day(at(2026, 3, 2, 14, 59)) == date(2026, 3, 2)
    assert cal.start_day(at(2026, 3, 2, 15, 0)) == date(2026, 3, 3)
    assert appointment(cal, at(2026, 3, 2, 14, 59), 0) == date(2026, 3, 2)
    assert appointment(cal, at(2026, 3, 2, 15, 0), 0) == date(2026, 3, 3)
    assert appointment(cal, at(2026, 3, 2, 15, 0), 3) == date(2026, 3, 6)


def test_cutoff_can_be_switched_off_per_procedure():
    assert cal.start_day(at(2026, 3, 2, 16, 0), apply_cutoff=False) == date(2026, 3, 2)
    assert appointment(cal, at(2026, 3, 2, 16, 0), 3, apply_cutoff=False) == date(2026, 3, 5)


def test_configurable_cutoff():
    early = WorkingCalendar(cutoff="11:30")
    assert early.start_day(at(2026, 3, 2, 11, 30)) == date(2026, 3, 3)
    assert parse_hhmm("09:05").minute == 5
    with pytest.raises(ValueError):
        parse_hhmm("1500")


def test_aware_datetimes_in_other_zones_are_converted():
    # 07:59 UTC is 14:59 in Huế; 08:00 UTC is 15:00, after Tết's Friday -> Mon 23 Feb.
    assert cal.start_day(datetime(2026, 2, 13, 7, 59, tzinfo=timezone.utc)) == date(2026, 2, 13)
    assert cal.start_day(datetime(2026, 2, 13, 8, 0, tzinfo=timezone.utc)) == date(2026, 2, 23)
    # 20:00 UTC on Thu is 03:00 Fri local: the local date counts.
    assert cal.start_day(datetime(2026, 3, 5, 20, 0, tzinfo=timezone.utc)) == date(2026, 3, 6)


def test_saturday_received_dossier():
    assert cal.start_day(at(2026, 3, 14, 9, 0)) == date(2026, 3, 16)
    assert appointment(cal, at(2026, 3, 14, 9, 0), 0) == date(2026, 3, 16)
    assert appointment(cal, at(2026, 3, 14, 9, 0), 3) == date(2026, 3, 19)


def test_make_up_saturdays_from_the_package():
    assert date(2025, 4, 26) in year_tables(2025)[1]
    assert cal.is_working_day(date(2025, 4, 26))  # Saturday worked for Fri 2 May off
    assert not cal.is_working_day(date(2025, 5, 2))
    assert appointment(cal, at(2025, 4, 25), 1) == date(2025, 4, 26)
    assert appointment(cal, at(2025, 4, 26, 9, 0), 0) == date(2025, 4, 26)
    assert cal.is_working_day(date(2026, 8, 22)) and not cal.is_working_day(date(2026, 8, 31))


def test_zero_day_procedures():
    assert appointment(cal, at(2026, 3, 3, 8, 0), 0) == date(2026, 3, 3)
    assert cal.add_working_days(date(2026, 3, 3), 0) == date(2026, 3, 3)
    assert cal.add_working_days(date(2026, 3, 7), 0) == date(2026, 3, 9)  # Saturday -> Monday
    assert cal.add_working_days(date(2026, 3, 7), 1) == date(2026, 3, 9)  # 1st working day after


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError):
        cal.start_day(datetime(2026, 2, 13, 10, 0))
    with pytest.raises(ValueError):
        appointment(cal, datetime(2026, 2, 13, 10, 0), 3)


def test_negative_working_days_are_refused():
    with pytest.raises(ValueError):
        cal.add_working_days(date(2026, 3, 3), -1)


def test_extra_holidays_and_workdays_from_config():
    local = WorkingCalendar(extra_holidays=["2026-03-03"], extra_workdays=[date(2026, 3, 7)])
    assert not local.is_working_day(date(2026, 3, 3))
    assert local.is_working_day(date(2026, 3, 7))
    assert appointment(local, at(2026, 3, 2), 2) == date(2026, 3, 5)
    assert appointment(cal, at(2026, 3, 2), 2) == date(2026, 3, 4)


def test_working_days_between():
    assert cal.working_days_between(date(2026, 2, 13), date(2026, 2, 25)) == 3
    assert cal.working_days_between(date(2026, 2, 25), date(2026, 2, 13)) == 0


def test_center_calendar_uses_center_settings():
    center = load_catalog().center("hue-vyda")
    center_cal = calendar_for(center)
    assert center_cal.cutoff == parse_hhmm(center.cutoff) and center_cal.timezone == center.timezone


def test_year_tables_are_cached():
    year_tables(2026)
    before = year_tables.cache_info().hits
    for _ in range(50):
        cal.is_working_day(date(2026, 6, 1))
    assert year_tables.cache_info().hits >= before + 50


days = st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))


@settings(max_examples=300, deadline=None)
@given(start=days, n=st.integers(min_value=0, max_value=40))
def test_add_working_days_lands_on_working_day_and_is_monotonic(start, n):
    result = cal.add_working_days(start, n)
    assert cal.is_working_day(result)
    assert result >= start
    later = cal.add_working_days(start, n + 1)
    assert later >= result
    # Strict except 0 -> 1 from a day off, where both mean "the next working day".
    if n > 0 or cal.is_working_day(start):
        assert later > result and cal.working_days_between(result, later) == 1
    assert cal.working_days_between(start, later) == n + 1


@settings(max_examples=200, deadline=None)
@given(start=days, hour=st.integers(0, 23), n=st.integers(0, 30))
def test_appointment_never_before_receipt_day(start, hour, n):
    received = datetime(start.year, start.month, start.day, hour, tzinfo=HCM)
    due = appointment(cal, received, n)
    assert due >= start and cal.is_working_day(due)
    assert due - start < timedelta(days=n * 3 + 30)
