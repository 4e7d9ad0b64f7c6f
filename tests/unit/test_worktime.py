"""Working-time deadline clock: office hours on working days, Tết, 30/4–1/5, make-up
Saturdays, the 15:00 cut-off, per-center hours, and the pausable clock."""
from __future__ import annotations

import doctest
import json
from datetime import date, datetime, time, timedelta, timezone

import holidays
import pytest
from hypothesis import given, settings, strategies as st

import onestop.worktime as worktime
from onestop.calendar import WorkingCalendar
from onestop.worktime import DEFAULT_PERIODS, DeadlineClock, WorkingHours
from zoneinfo import ZoneInfo

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
H = 3600
cal = WorkingCalendar()
hours = WorkingHours(cal)
# Per-center hours: afternoons from 13:00 (8 h a day, DOMAIN.md's figure).
hours13 = WorkingHours(cal, [("07:30", "11:30"), ("13:00", "17:00")])

# Independent oracle, straight from the package (not through WorkingCalendar).
_VN = holidays.Vietnam(years=range(2022, 2031))
_MAKEUP = frozenset(_VN.weekend_workdays)


def oracle_working_day(d: date) -> bool:
    return d in _MAKEUP or (d.weekday() < 5 and d not in _VN)


def at(y, m, d, hh=10, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=HCM)


# -- strategies (bounded to 2024–2027) ------------------------------------------------------

_BASE = datetime(2024, 1, 1, tzinfo=HCM)
_SPAN_US = int((datetime(2028, 1, 1, tzinfo=HCM) - _BASE).total_seconds()) * 1_000_000
_BOUNDARIES = [time(0), time(7, 30), time(11, 30), time(13, 0), time(13, 30), time(15, 0), time(17, 0)]

_random_moment = st.integers(0, _SPAN_US - 1).map(lambda us: _BASE + timedelta(microseconds=us))
_boundary_moment = st.builds(
    lambda day, t, jitter: datetime.combine(date(2024, 1, 1) + timedelta(days=day), t, HCM)
    + timedelta(microseconds=jitter),
    st.integers(0, 4 * 365 - 1), st.sampled_from(_BOUNDARIES),
    st.sampled_from([0, 0, 0, 1, -1, 60_000_000, -60_000_000]),
)
# Days the package treats specially: Tết, 30/4–1/5, substituted days, make-up Saturdays.
_special_days = sorted(d for d in set(_VN) | _MAKEUP if 2024 <= d.year <= 2027)
_special_moment = st.builds(
    lambda d, shift, minutes: datetime.combine(d + timedelta(days=shift), time(0), HCM) + timedelta(minutes=minutes),
    st.sampled_from(_special_days), st.integers(-3, 1), st.integers(0, 24 * 60 - 1),
)
moments = st.one_of(_random_moment, _boundary_moment, _special_moment).flatmap(
    lambda m: st.sampled_from([m, m.astimezone(timezone.utc)])  # any aware timezone is accepted
)
work_seconds = st.one_of(
    st.integers(0, 40 * 28_800),
    st.floats(0, 40 * 28_800, allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1e-6, 30 * 60, 3.5 * H, 4 * H, 7.5 * H, 8 * H, 15 * H, 27_000 * 30]),
)
positive_seconds = work_seconds.filter(lambda s: round(s * 1e6) > 0)
center_hours = st.sampled_from([hours, hours13])
FAST = settings(max_examples=150, deadline=None)


# -- properties -----------------------------------------------------------------------------

@FAST
@given(h=center_hours, t=moments, s=work_seconds)
def test_add_lands_in_working_time_or_exactly_at_a_period_end(h, t, s):
    r = h.add(t, s)
    assert r.tzinfo is not None and r.utcoffset() == timedelta(hours=7)
    assert r >= t
    assert oracle_working_day(r.date()), r  # never on a holiday, Tết, or a plain weekend
    assert cal.is_working_day(r.date())
    starts = [datetime.combine(r.date(), a, HCM) for a, _ in h.periods]
    ends = [datetime.combine(r.date(), b, HCM) for _, b in h.periods]
    inside = any(a <= r < b for a, b in zip(starts, ends))
    assert inside == h.is_working_time(r)
    if not inside:
        assert r in ends and h.is_period_end(r) and round(s * 1e6) > 0
    if round(s * 1e6) > 0:
        assert r not in starts  # earliest-instant convention: never "next period's start"
    else:
        assert r == h.next_working_instant(t)


@FAST
@given(h=center_hours, t=moments, s=work_seconds)
def test_between_add_is_the_amount_added(h, t, s):
    assert abs(h.between(t, h.add(t, s)) - s) <= 1e-6
    start = h.next_working_instant(t)
    assert h.is_working_time(start)
    assert abs(h.between(start, h.add(start, s)) - s) <= 1e-6


@FAST
@given(h=center_hours, x=moments, s=work_seconds)
def test_subtract_is_the_inverse_of_add(h, x, s):
    t = h.next_working_instant(x)  # inside working time
    assert h.subtract(h.add(t, s), s) == t


@FAST
@given(h=center_hours, x=moments, s0=positive_seconds, s=positive_seconds)
def test_add_is_the_inverse_of_subtract_on_due_times(h, x, s0, s):
    u = h.add(x, s0)  # a due time as add() produces it
    v = h.subtract(u, s)
    assert v <= u and h.is_working_time(v)
    assert abs(h.between(v, u) - s) <= 1e-6
    assert h.add(v, s) == u


@FAST
@given(a=moments, b=moments, c=moments)
def test_between_is_additive_and_zero_backwards(a, b, c):
    a, b, c = sorted([a, b, c])
    assert abs(hours.between(a, c) - (hours.between(a, b) + hours.between(b, c))) <= 1e-6
    assert hours.between(c, a) == 0.0 or a == c


@FAST
@given(h=center_hours, received=moments, days=st.integers(0, 30),
       pause_after=st.integers(0, 60 * 24 * 60), pause_len=st.integers(0, 40 * 24 * 60))
def test_pause_and_resume_conserve_the_remaining_time(h, received, days, pause_after, pause_len):
    clock = DeadlineClock.start(h, received, days)
    p = received + timedelta(minutes=pause_after)
    r = p + timedelta(minutes=pause_len)
    before = clock.due_at
    clock.pause(p)
    remaining = clock.remaining_s
    expected = h.between(p, before) if before >= p else -h.between(before, p)
    assert remaining == expected
    assert clock.remaining(r) == remaining  # frozen while paused
    clock.resume(r)
    restart = h.next_working_instant(r)
    if remaining >= 0:
        assert abs(h.between(restart, clock.due_at) - remaining) <= 1e-6
    else:  # paused when already overdue: the lateness is kept
        assert abs(h.between(clock.due_at, restart) + remaining) <= 1e-6
    assert h.is_working_time(clock.due_at) or h.is_period_end(clock.due_at)


@FAST
@given(received=moments, days=st.integers(0, 30), pause_after=st.integers(0, 60 * 24 * 60))
def test_resuming_at_once_changes_nothing_in_working_time(received, days, pause_after):
    clock = DeadlineClock.start(hours, received, days)
    before = clock.due_at
    p = received + timedelta(minutes=pause_after)
    clock.pause(p).resume(p)
    lo, hi = sorted([before, clock.due_at])
    assert hours.between(lo, hi) == 0.0


@FAST
@given(received=moments, days=st.integers(0, 30), paused=st.booleans(), ext=st.integers(0, 1))
def test_clock_round_trips_through_a_json_dict(received, days, paused, ext):
    clock = DeadlineClock.start(hours, received, days)
    if paused:
        clock.pause(received + timedelta(hours=5))
    if ext:
        clock.extend_days(2)
    data = json.loads(json.dumps(clock.to_dict()))
    assert DeadlineClock.from_dict(data, hours) == clock


@FAST
@given(received=moments, days=st.integers(0, 30))
def test_due_time_is_never_after_the_appointment_date(received, days):
    due = hours.due_time(received, days)
    assert hours.is_working_time(due) or hours.is_period_end(due)
    appointment = cal.appointment_date(received, days)
    assert due.date() <= appointment
    local = received.astimezone(HCM)
    opening = datetime.combine(local.date(), hours.periods[0][0], HCM)
    if hours.is_working_time(local) and opening < local and local.time() < cal.cutoff:
        assert due.date() == appointment  # received in office hours, after opening, before 15:00
    start = hours.count_start(received)
    if days and start == datetime.combine(start.date(), hours.periods[0][0], HCM):
        # Counted from an opening: ends at a closing, one working day before the appointment date.
        assert hours.is_period_end(due) and cal.next_working_day(due.date()) == appointment


# -- the holidays data, as the package really lists it -------------------------------------

def test_holidays_2026_as_listed_by_the_package():
    vn = holidays.Vietnam(years=2026)
    assert [d for d in vn if d.month == 2] == [date(2026, 2, d) for d in range(16, 21)]  # Tết Mon–Fri
    assert date(2026, 4, 26) in vn and date(2026, 4, 27) in vn  # Hùng Kings on a Sunday, observed Monday
    assert date(2026, 4, 30) in vn and date(2026, 5, 1) in vn
    assert date(2026, 8, 31) in vn and date(2026, 8, 22) in vn.weekend_workdays  # swapped for National Day
    assert date(2026, 11, 24) in vn  # "Vietnam Cultural Day" (new in the package, not in DOMAIN.md's table)
    assert date(2025, 4, 26) in holidays.Vietnam(years=2025).weekend_workdays


# -- Tết 2026 (offices closed Mon 16 – Fri 20 Feb) -------------------------------------------

def test_tet_2026():
    assert hours.due_time(at(2026, 2, 13, 10, 0), 3) == at(2026, 2, 25, 10, 0)
    assert hours.due_time(at(2026, 2, 13, 16, 30), 1) == at(2026, 2, 23, 17, 0)  # after the cut-off
    assert hours.add(at(2026, 2, 13, 16, 0), 2 * H) == at(2026, 2, 23, 8, 30)
    assert hours.between(at(2026, 2, 13, 16, 0), at(2026, 2, 23, 8, 30)) == 2 * H
    assert not hours.is_working_time(at(2026, 2, 17, 10, 0))
    assert hours.next_working_instant(at(2026, 2, 17, 10, 0)) == at(2026, 2, 23, 7, 30)
    assert hours.subtract(at(2026, 2, 23, 8, 0), H) == at(2026, 2, 13, 16, 30)
    # 30-day land-dispute mediation received the Friday before Tết.
    due = hours.due_time(at(2026, 2, 13, 10, 0), 30)
    assert due == at(2026, 4, 3, 10, 0)  # 5 working weeks after Mon 23 Feb
    assert due.date() == cal.add_working_days(date(2026, 2, 13), 30)


# -- 30/4 and 1/5 2026 (Thu, Fri; Hùng Kings observed Mon 27 Apr) ---------------------------

def test_30_april_and_1_may_2026():
    assert hours.due_time(at(2026, 4, 29, 14, 0), 1) == at(2026, 5, 4, 14, 0)
    assert hours.due_time(at(2026, 4, 29, 16, 0), 0) == at(2026, 5, 4, 17, 0)
    assert hours.due_time(at(2026, 4, 24, 10, 0), 3) == at(2026, 5, 4, 10, 0)  # skips 27/4, 30/4, 1/5
    assert hours.add(at(2026, 4, 29, 16, 30), H) == at(2026, 5, 4, 8, 0)
    assert hours.between(at(2026, 4, 29, 17, 0), at(2026, 5, 4, 7, 30)) == 0.0
    assert hours.subtract(at(2026, 5, 4, 7, 30), H) == at(2026, 4, 29, 16, 0)


# -- make-up Saturdays ------------------------------------------------------------------------

def test_make_up_saturday_26_april_2025():
    assert date(2025, 4, 26).weekday() == 5
    assert hours.is_working_time(at(2025, 4, 26, 9, 0))
    assert hours.add(at(2025, 4, 25, 10, 0), 7.5 * H) == at(2025, 4, 26, 10, 0)
    assert hours.due_time(at(2025, 4, 25, 15, 30), 0) == at(2025, 4, 26, 17, 0)  # cut-off -> the Saturday
    # Wed 30/4, Thu 1/5 and Fri 2/5 (swapped with the Saturday) are off.
    assert hours.add(at(2025, 4, 29, 16, 0), 2 * H) == at(2025, 5, 5, 8, 30)


def test_make_up_saturday_22_august_2026():
    assert hours.add(at(2026, 8, 21, 16, 0), 2 * H) == at(2026, 8, 22, 8, 30)
    assert hours.due_time(at(2026, 8, 28, 10, 0), 1) == at(2026, 9, 3, 10, 0)  # 31/8, 1/9, 2/9 off
    assert not hours.is_working_time(at(2026, 8, 29, 9, 0))  # a plain Saturday


# -- the 15:00 cut-off and where the count starts ---------------------------------------------

def test_cutoff_and_count_start():
    assert hours.due_time(at(2026, 3, 2, 14, 59), 0) == at(2026, 3, 2, 17, 0)
    assert hours.due_time(at(2026, 3, 2, 15, 0), 0) == at(2026, 3, 3, 17, 0)
    assert hours.due_time(at(2026, 3, 2, 14, 59), 1) == at(2026, 3, 3, 14, 59)
    assert hours.due_time(at(2026, 3, 2, 15, 0), 1) == at(2026, 3, 3, 17, 0)
    assert hours.due_time(at(2026, 3, 2, 15, 0), 3) == at(2026, 3, 5, 17, 0)
    assert cal.appointment_date(at(2026, 3, 2, 15, 0), 3) == date(2026, 3, 6)  # day-level: one date later
    assert hours.due_time(at(2026, 3, 2, 15, 30), 1, apply_cutoff=False) == at(2026, 3, 3, 15, 30)
    assert hours.count_start(at(2026, 3, 2, 12, 0)) == at(2026, 3, 2, 13, 30)  # lunch: from 13:30
    assert hours.due_time(at(2026, 3, 2, 12, 0), 1) == at(2026, 3, 3, 11, 30)  # stays at 11:30
    assert hours.due_time(at(2026, 3, 2, 6, 0), 1) == at(2026, 3, 2, 17, 0)  # before opening: from 07:30
    assert hours.due_time(at(2026, 3, 7, 10, 0), 0) == at(2026, 3, 9, 17, 0)  # Saturday -> Monday
    # Cut-off switched off, received after closing: the count starts next morning.
    assert hours.count_start(at(2026, 3, 2, 17, 30), apply_cutoff=False) == at(2026, 3, 3, 7, 30)
    assert hours.due_time(at(2026, 3, 2, 17, 30), 0, apply_cutoff=False) == at(2026, 3, 3, 17, 0)
    # Input in UTC, result in the center's timezone.
    utc = at(2026, 3, 2, 14, 59).astimezone(timezone.utc)
    assert hours.due_time(utc, 0) == at(2026, 3, 2, 17, 0)
    assert hours.due_time(utc, 0).tzinfo == HCM


# -- per-center configuration -----------------------------------------------------------------

def test_custom_afternoon_from_13_00():
    assert hours13.day_seconds == 8 * H and hours.day_seconds == 7.5 * H
    assert hours13.is_working_time(at(2026, 3, 2, 13, 0)) and not hours.is_working_time(at(2026, 3, 2, 13, 0))
    assert hours13.add(at(2026, 3, 2, 11, 0), H) == at(2026, 3, 2, 13, 30)
    assert hours.add(at(2026, 3, 2, 11, 0), H) == at(2026, 3, 2, 14, 0)
    assert hours13.due_time(at(2026, 3, 2, 10, 0), 1) == at(2026, 3, 3, 10, 0)
    assert hours13.parse_offset("1d") == 8 * H


def test_single_period_and_time_objects():
    morning = WorkingHours(cal, [(time(8, 0), time(12, 0))])
    assert morning.day_seconds == 4 * H
    assert morning.add(at(2026, 3, 2, 11, 0), 2 * H) == at(2026, 3, 3, 9, 0)
    assert morning.due_time(at(2026, 3, 2, 14, 0), 0) == at(2026, 3, 3, 12, 0)  # after its closing


def test_calendar_overrides_are_honoured():
    custom = WorkingHours(WorkingCalendar(extra_holidays=["2026-03-03"], extra_workdays=["2026-03-07"]))
    assert custom.due_time(at(2026, 3, 2, 10, 0), 1) == at(2026, 3, 4, 10, 0)
    assert custom.add(at(2026, 3, 6, 16, 0), 2 * H) == at(2026, 3, 7, 8, 30)
    late = WorkingHours(WorkingCalendar(cutoff="11:30"))
    assert late.due_time(at(2026, 3, 2, 11, 30), 0) == at(2026, 3, 3, 17, 0)


def test_empty_periods_mean_the_default_and_bad_periods_are_refused():
    assert WorkingHours(cal, ()).periods == WorkingHours(cal, DEFAULT_PERIODS).periods
    assert WorkingHours(cal, None).day_seconds == 7.5 * H
    for bad in ([("11:30", "07:30")], [("07:30", "12:00"), ("11:30", "17:00")],
                [("13:30", "17:00"), ("07:30", "11:30")], [("0730", "1130")], ["07:30"]):
        with pytest.raises(ValueError):
            WorkingHours(cal, bad)


# -- refusals ---------------------------------------------------------------------------------

def test_naive_datetimes_and_bad_amounts_are_refused():
    naive = datetime(2026, 3, 2, 10, 0)
    calls = [lambda: hours.is_working_time(naive), lambda: hours.next_working_instant(naive),
             lambda: hours.add(naive, 60), lambda: hours.subtract(naive, 60),
             lambda: hours.between(naive, at(2026, 3, 3)), lambda: hours.between(at(2026, 3, 1), naive),
             lambda: hours.due_time(naive, 1), lambda: DeadlineClock(hours, naive),
             lambda: DeadlineClock.start(hours, at(2026, 3, 2), 1).pause(naive),
             lambda: DeadlineClock.from_dict({"due_at": "2026-03-02T10:00:00"}, hours),
             lambda: hours.add(at(2026, 3, 2), -1), lambda: hours.add(at(2026, 3, 2), float("nan")),
             lambda: hours.subtract(at(2026, 3, 2), float("inf")), lambda: hours.add_days(at(2026, 3, 2), -1),
             lambda: hours.due_time(at(2026, 3, 2), -1)]
    for call in calls:
        with pytest.raises(ValueError):
            call()


def test_parse_offset():
    assert hours.parse_offset("1d") == 7.5 * H
    assert hours.parse_offset("3h") == 3 * H
    assert hours.parse_offset("90m") == 90 * 60
    assert hours.parse_offset(" 1.5H ") == 1.5 * H
    for bad in ("", "3", "-1h", "1w", "h", "1d3h"):
        with pytest.raises(ValueError):
            hours.parse_offset(bad)


# -- the pausable clock -----------------------------------------------------------------------

def test_clock_pause_resume_and_misuse():
    clock = DeadlineClock.start(hours, at(2026, 2, 11, 10, 0), 3)  # Wed before Tết
    assert clock.due_at == at(2026, 2, 23, 10, 0)  # 5 h Wed, Thu 12, Fri 13, then 2.5 h on Mon 23
    with pytest.raises(ValueError, match="not paused"):
        clock.resume(at(2026, 2, 12))
    clock.pause(at(2026, 2, 12, 10, 0))  # supplement requested: 15 h left
    assert clock.paused and clock.remaining_s == 15 * H
    with pytest.raises(ValueError, match="already paused"):
        clock.pause(at(2026, 2, 12, 11, 0))
    with pytest.raises(ValueError, match="before the pause"):
        clock.resume(at(2026, 2, 12, 9, 0))
    assert clock.due_soon_points() == []
    clock.resume(at(2026, 2, 18, 9, 0))  # arrives online during Tết: the count restarts Mon 23 07:30
    assert not clock.paused and clock.paused_at is None and clock.remaining_s is None
    assert clock.due_at == at(2026, 2, 24, 17, 0)
    assert clock.remaining(at(2026, 2, 24, 16, 0)) == H
    assert clock.remaining(at(2026, 2, 25, 8, 0)) == -0.5 * H  # overdue


def test_clock_paused_while_overdue_keeps_its_lateness():
    clock = DeadlineClock(hours, at(2026, 3, 2, 17, 0))
    clock.pause(at(2026, 3, 3, 9, 0))
    assert clock.remaining_s == -1.5 * H
    clock.resume(at(2026, 3, 10, 10, 0))
    assert clock.due_at == at(2026, 3, 10, 8, 30)
    assert clock.remaining(at(2026, 3, 10, 10, 0)) == -1.5 * H


def test_clock_extensions():
    clock = DeadlineClock.start(hours, at(2026, 3, 2, 10, 0), 3)
    assert clock.due_at == at(2026, 3, 5, 10, 0)
    with pytest.raises(ValueError, match="earlier"):
        clock.extend(at(2026, 3, 4, 10, 0))
    clock.extend(at(2026, 3, 6, 17, 0))
    assert clock.due_at == at(2026, 3, 6, 17, 0) and clock.extensions == 1
    clock.extend_days(2)
    assert clock.due_at == at(2026, 3, 10, 17, 0) and clock.extensions == 2
    with pytest.raises(ValueError):
        clock.extend_days(0)
    paused = DeadlineClock.start(hours, at(2026, 3, 2, 10, 0), 1).pause(at(2026, 3, 2, 16, 0))
    paused.extend_days(1)
    assert paused.remaining_s == 3.5 * H + 7.5 * H  # 1 h Mon + 2.5 h Tue, + a day
    paused.extend(at(2026, 3, 9, 17, 0))
    assert paused.remaining_s == hours.between(at(2026, 3, 2, 16, 0), at(2026, 3, 9, 17, 0))


def test_due_soon_points():
    clock = DeadlineClock(hours, at(2026, 2, 24, 10, 0))
    one_day, three_hours = clock.due_soon_points()
    assert one_day == at(2026, 2, 23, 10, 0)
    assert three_hours == at(2026, 2, 23, 16, 30)  # 2.5 h Tue morning + 0.5 h Mon
    # A due time at 17:00: one working day before is the same day's opening.
    assert DeadlineClock(hours, at(2026, 2, 23, 17, 0)).due_soon_points(["1d", "90m"]) == [
        at(2026, 2, 23, 7, 30), at(2026, 2, 23, 15, 30)]
    # Backwards across Tết: 3 h before Mon 23 Feb 09:00 is Fri 13 Feb 15:30.
    assert DeadlineClock(hours, at(2026, 2, 23, 9, 0)).due_soon_points(["3h"]) == [at(2026, 2, 13, 15, 30)]


def test_clock_dict_shape():
    clock = DeadlineClock.start(hours, at(2026, 3, 2, 10, 0), 1).pause(at(2026, 3, 2, 11, 0))
    assert clock.to_dict() == {"due_at": "2026-03-03T10:00:00+07:00", "paused_at": "2026-03-02T11:00:00+07:00",
                               "remaining_s": 7.5 * H - H, "extensions": 0}
    with pytest.raises(ValueError):
        DeadlineClock(hours, at(2026, 3, 2), paused_at=at(2026, 3, 2))  # paused without remaining_s


# -- performance and docs ---------------------------------------------------------------------

class CountingCalendar(WorkingCalendar):
    calls = 0

    def is_working_day(self, d):
        CountingCalendar.calls += 1
        return super().is_working_day(d)


def test_add_loops_per_day_not_per_minute():
    counted = WorkingHours(CountingCalendar())
    CountingCalendar.calls = 0
    due = counted.add_days(at(2026, 2, 2, 10, 0), 30)  # across Tết: about 44 calendar days
    assert due == at(2026, 3, 23, 10, 0)
    assert CountingCalendar.calls < 100


def test_module_doctests():
    result = doctest.testmod(worktime)
    assert result.attempted > 10 and result.failed == 0
