"""Working-time deadline clock: office hours on working days, Tết, 30/4–1/5, make-up
Saturdays, the 15:00 cut-off, per-center hours, and the pausable clock."""
from __future__ import annotations

import doctest
import json
from datetime import date, datetime, time, timedelta, timezone

import holidays
import pytest
from hypothesis import given, settings, strategies as st

import onestop.worktime.hours as worktime
from onestop.worktime.days import WorkingCalendar
from onestop.worktime.hours import DEFAULT_PERIODS, DeadlineClock, WorkingHours
from zoneinfo import ZoneInfo

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
H = 3600
cal = WorkingCalendar()
hours = WorkingHours(cal)
# Per-center hours: afternoons from 13:00 (8 h a day, DOMAIN.md's figure).
hours13 = WorkingHours(cal, [("07:30", "11:30"), ("13:00", "17:00")])
# A morning-only center (closes at 12:00, before the 15:00 cut-off).
morning = WorkingHours(WorkingCalendar(closing="12:00"), [("08:00", "12:00")])
# Config overrides: an extra day off (Tue 3 Mar 2026 and two more), and extra working days
# (Sat 7 Mar 2026, and Wed 18 Feb 2026 in the middle of Tết).
_EXTRA_OFF = frozenset({date(2026, 3, 3), date(2025, 12, 31), date(2027, 6, 15)})
_EXTRA_ON = frozenset({date(2026, 3, 7), date(2026, 2, 18)})
custom_cal = WorkingCalendar(extra_holidays=sorted(_EXTRA_OFF), extra_workdays=sorted(_EXTRA_ON))
custom = WorkingHours(custom_cal)

# Independent oracle, straight from the package (not through WorkingCalendar).
_VN = holidays.Vietnam(years=range(2022, 2031))
_MAKEUP = frozenset(_VN.weekend_workdays)


def oracle_working_day(d: date) -> bool:
    return d in _MAKEUP or (d.weekday() < 5 and d not in _VN)


def oracle_custom_working_day(d: date) -> bool:
    return d in _EXTRA_ON or (d not in _EXTRA_OFF and oracle_working_day(d))


def oracle_for(h: WorkingHours):
    return oracle_custom_working_day if h.calendar is custom_cal else oracle_working_day


def oracle_appointment(h: WorkingHours, received: datetime, days: int, apply_cutoff: bool = True) -> date:
    """The appointment date by the rules, from the package data (not through WorkingCalendar):
    day 0 is the receipt day, or the next working day after the cut-off, after the center's
    closing, or on a non-working day; then `days` working days are added."""
    working = oracle_for(h)

    def next_working(d):
        d += timedelta(days=1)
        while not working(d):
            d += timedelta(days=1)
        return d

    local = received.astimezone(HCM)
    day = local.date()
    late = (apply_cutoff and local.time() >= h.calendar.cutoff) or local.time() >= h.periods[-1][1]
    if late or not working(day):
        day = next_working(day)
    for _ in range(days):
        day = next_working(day)
    return day


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
# Days the package treats specially: Tết, 30/4–1/5, substituted days, make-up Saturdays,
# plus the config overrides of `custom`.
_special_days = sorted(d for d in set(_VN) | _MAKEUP | _EXTRA_OFF | _EXTRA_ON if 2024 <= d.year <= 2027)
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
center_hours = st.sampled_from([hours, hours13, morning, custom])
# Centers whose last period ends at 17:00, i.e. after the 15:00 cut-off.
closing_after_cutoff = st.sampled_from([hours, hours13, custom])
FAST = settings(max_examples=150, deadline=None)


# -- properties -----------------------------------------------------------------------------

@FAST
@given(h=center_hours, t=moments, s=work_seconds)
def test_add_lands_in_working_time_or_exactly_at_a_period_end(h, t, s):
    r = h.add(t, s)
    assert r.tzinfo is not None and r.utcoffset() == timedelta(hours=7)
    assert r >= t
    assert oracle_for(h)(r.date()), r  # never on a holiday, Tết, a config day off, or a plain weekend
    assert h.calendar.is_working_day(r.date())
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
@given(h=center_hours, received=moments, days=st.integers(0, 30), apply_cutoff=st.booleans(),
       pause_after=st.integers(0, 60 * 24 * 60), pause_len=st.integers(0, 40 * 24 * 60))
def test_pause_and_resume_conserve_the_remaining_time(h, received, days, apply_cutoff, pause_after, pause_len):
    clock = DeadlineClock.start(h, received, days, apply_cutoff)
    assert clock.due_at == h.due_time(received, days, apply_cutoff)
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
    assert abs(clock.remaining(r) - remaining) <= 1e-6
    assert h.is_working_time(clock.due_at) or h.is_period_end(clock.due_at)
    assert oracle_for(h)(clock.due_at.date())


@FAST
@given(h=center_hours, received=moments, days=st.integers(0, 30), apply_cutoff=st.booleans(),
       gaps=st.lists(st.integers(0, 20 * 24 * 60), min_size=1, max_size=7))
def test_repeated_pauses_only_consume_the_running_time(h, received, days, apply_cutoff, gaps):
    """Alternating pause / resume: the time left is the time left at receipt minus the
    working time during which the clock was running; the pauses cost nothing."""
    clock = DeadlineClock.start(h, received, days, apply_cutoff)
    budget = clock.remaining(received)
    consumed, now = 0.0, received
    for gap in gaps:
        nxt = now + timedelta(minutes=gap)
        if clock.paused:
            clock.resume(nxt)
            assert not clock.paused
            assert abs(clock.remaining(nxt) - (budget - consumed)) <= 1e-5
            assert h.is_working_time(clock.due_at) or h.is_period_end(clock.due_at)
        else:
            consumed += h.between(now, nxt)
            clock.pause(nxt)
            assert abs(clock.remaining_s - (budget - consumed)) <= 1e-5
        now = nxt


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
        clock.extend(hours.add_days(clock.due_at, 2))
    data = json.loads(json.dumps(clock.to_dict()))
    assert DeadlineClock.from_dict(data, hours) == clock


@FAST
@given(h=center_hours, received=moments, days=st.integers(0, 30), apply_cutoff=st.booleans())
def test_due_time_is_the_close_of_the_appointment_date(h, received, days, apply_cutoff):
    due = h.due_time(received, days, apply_cutoff)
    appointment = due.date()
    assert due.utcoffset() == timedelta(hours=7)
    assert due == datetime.combine(appointment, h.periods[-1][1], HCM)  # close of the last period
    assert h.is_period_end(due) and not h.is_working_time(due)
    assert oracle_for(h)(appointment)
    assert appointment == oracle_appointment(h, received, days, apply_cutoff)  # rules, from package data
    assert DeadlineClock.start(h, received, days, apply_cutoff).due_at == due


@FAST
@given(h=center_hours, received=moments, days=st.integers(0, 29), apply_cutoff=st.booleans())
def test_each_working_day_moves_the_due_time_by_one_working_day(h, received, days, apply_cutoff):
    due, later = h.due_time(received, days, apply_cutoff), h.due_time(received, days + 1, apply_cutoff)
    assert h.calendar.next_working_day(due.date()) == later.date()
    assert h.between(due, later) == h.day_seconds
    # From the start of day 0 to the due time: day 0 plus `days` whole working days.
    start_day = h.start_day(received, apply_cutoff)
    assert h.between(datetime.combine(start_day, time(0), HCM), due) == (days + 1) * h.day_seconds


@FAST
@given(h=closing_after_cutoff, received=moments, days=st.integers(0, 30))
def test_due_time_leaves_at_least_the_statutory_days(h, received, days):
    """With the cut-off applied and a closing at 17:00, the receipt is before 15:00 on day 0 or
    before day 0 altogether, so at least 15:00–17:00 of day 0 plus `days` full days are left;
    a receipt after the cut-off also keeps what is left of its own day (at most 15:00–17:00)."""
    due = h.due_time(received, days)
    assert due > received
    assert h.count_start(received) < due
    left = DeadlineClock.start(h, received, days).remaining(received)
    day0 = datetime.combine(h.start_day(received), time(0), HCM)
    before_day0 = h.between(received, day0)
    assert before_day0 <= 2 * H
    US = 1e-6  # the sums are of floats rounded to the microsecond: allow one of rounding
    assert days * h.day_seconds + 2 * H - US <= left <= (days + 1) * h.day_seconds + before_day0 + US


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
    # Fri 13 Feb is day 0; Mon 23 (1), Tue 24 (2), Wed 25 (3).
    assert hours.due_time(at(2026, 2, 13, 10, 0), 3) == at(2026, 2, 25, 17, 0)
    assert hours.due_time(at(2026, 2, 13, 7, 0), 3) == at(2026, 2, 25, 17, 0)  # before opening: same date
    assert hours.due_time(at(2026, 2, 13, 14, 59), 0) == at(2026, 2, 13, 17, 0)
    # After the cut-off day 0 is Mon 23 Feb, the first working day after Tết.
    assert hours.due_time(at(2026, 2, 13, 15, 0), 0) == at(2026, 2, 23, 17, 0)
    assert hours.due_time(at(2026, 2, 13, 16, 30), 1) == at(2026, 2, 24, 17, 0)
    # Received on the weekend before Tết or during Tết: day 0 is Mon 23 Feb too.
    assert hours.due_time(at(2026, 2, 14, 10, 0), 1) == at(2026, 2, 24, 17, 0)
    assert hours.due_time(at(2026, 2, 18, 9, 0), 0) == at(2026, 2, 23, 17, 0)
    assert hours.due_time(at(2026, 2, 18, 9, 0), 2, apply_cutoff=False) == at(2026, 2, 25, 17, 0)
    # Fri 13 Feb 10:00 with 1 day: 1.5 h + 3.5 h on Fri 13 and the whole of Mon 23 (7.5 h) are left.
    assert hours.between(at(2026, 2, 13, 10, 0), hours.due_time(at(2026, 2, 13, 10, 0), 1)) == 12.5 * H
    assert hours.add(at(2026, 2, 13, 16, 0), 2 * H) == at(2026, 2, 23, 8, 30)
    assert hours.between(at(2026, 2, 13, 16, 0), at(2026, 2, 23, 8, 30)) == 2 * H
    assert not hours.is_working_time(at(2026, 2, 17, 10, 0))
    assert hours.next_working_instant(at(2026, 2, 17, 10, 0)) == at(2026, 2, 23, 7, 30)
    assert hours.subtract(at(2026, 2, 23, 8, 0), H) == at(2026, 2, 13, 16, 30)
    # 30-day land-dispute mediation received the Friday before Tết: 6 working weeks of
    # Mon–Fri from Mon 23 Feb (no day off until Hùng Kings on 26–27 Apr) end on Fri 3 Apr.
    due = hours.due_time(at(2026, 2, 13, 10, 0), 30)
    assert due == at(2026, 4, 3, 17, 0)
    assert due.date() == cal.add_working_days(date(2026, 2, 13), 30)


# -- 30/4 and 1/5 2026 (Thu, Fri; Hùng Kings observed Mon 27 Apr) ---------------------------

def test_30_april_and_1_may_2026():
    # Wed 29 Apr is day 0; Thu 30/4 and Fri 1/5 are off, so day 1 is Mon 4 May.
    assert hours.due_time(at(2026, 4, 29, 14, 0), 1) == at(2026, 5, 4, 17, 0)
    assert hours.due_time(at(2026, 4, 29, 14, 0), 0) == at(2026, 4, 29, 17, 0)
    # After the cut-off day 0 is Mon 4 May.
    assert hours.due_time(at(2026, 4, 29, 16, 0), 0) == at(2026, 5, 4, 17, 0)
    assert hours.due_time(at(2026, 4, 29, 16, 0), 1) == at(2026, 5, 5, 17, 0)
    # Fri 24 Apr is day 0: skips Mon 27/4 (Hùng Kings observed); Tue 28 (1), Wed 29 (2),
    # skips 30/4 and 1/5, Mon 4 May (3).
    assert hours.due_time(at(2026, 4, 24, 10, 0), 3) == at(2026, 5, 4, 17, 0)
    # Received on the holiday itself: day 0 is Mon 4 May, day 2 Wed 6 May.
    assert hours.due_time(at(2026, 4, 30, 10, 0), 2) == at(2026, 5, 6, 17, 0)
    assert hours.add(at(2026, 4, 29, 16, 30), H) == at(2026, 5, 4, 8, 0)
    assert hours.between(at(2026, 4, 29, 17, 0), at(2026, 5, 4, 7, 30)) == 0.0
    assert hours.subtract(at(2026, 5, 4, 7, 30), H) == at(2026, 4, 29, 16, 0)


# -- make-up Saturdays ------------------------------------------------------------------------

def test_make_up_saturday_26_april_2025():
    assert date(2025, 4, 26).weekday() == 5
    assert hours.is_working_time(at(2025, 4, 26, 9, 0))
    assert hours.add(at(2025, 4, 25, 10, 0), 7.5 * H) == at(2025, 4, 26, 10, 0)
    assert hours.due_time(at(2025, 4, 25, 15, 30), 0) == at(2025, 4, 26, 17, 0)  # cut-off -> the Saturday
    assert hours.due_time(at(2025, 4, 25, 10, 0), 1) == at(2025, 4, 26, 17, 0)
    assert hours.due_time(at(2025, 4, 26, 10, 0), 0) == at(2025, 4, 26, 17, 0)  # received on it
    # Tue 29 Apr 2025 is day 0; Wed 30/4, Thu 1/5, Fri 2/5 off -> day 1 is Mon 5 May.
    assert hours.due_time(at(2025, 4, 29, 10, 0), 1) == at(2025, 5, 5, 17, 0)
    # Wed 30/4, Thu 1/5 and Fri 2/5 (swapped with the Saturday) are off.
    assert hours.add(at(2025, 4, 29, 16, 0), 2 * H) == at(2025, 5, 5, 8, 30)


def test_make_up_saturday_22_august_2026():
    assert hours.add(at(2026, 8, 21, 16, 0), 2 * H) == at(2026, 8, 22, 8, 30)
    assert hours.due_time(at(2026, 8, 21, 10, 0), 1) == at(2026, 8, 22, 17, 0)  # the make-up Saturday
    assert hours.due_time(at(2026, 8, 21, 16, 0), 0) == at(2026, 8, 22, 17, 0)  # cut-off -> the Saturday
    # Fri 28 Aug is day 0; Sat 29 is a plain Saturday, Mon 31/8, Tue 1/9, Wed 2/9 are off.
    assert hours.due_time(at(2026, 8, 28, 10, 0), 1) == at(2026, 9, 3, 17, 0)
    assert hours.due_time(at(2026, 8, 29, 10, 0), 0) == at(2026, 9, 3, 17, 0)  # received on that Saturday
    assert not hours.is_working_time(at(2026, 8, 29, 9, 0))  # a plain Saturday


# -- the 15:00 cut-off and where the count starts ---------------------------------------------

def test_cutoff_and_count_start():
    # Mon 2 Mar 2026. Before 15:00 day 0 is Monday, from 15:00 on it is Tuesday.
    assert hours.due_time(at(2026, 3, 2, 14, 59), 0) == at(2026, 3, 2, 17, 0)
    assert hours.due_time(at(2026, 3, 2, 15, 0), 0) == at(2026, 3, 3, 17, 0)
    assert hours.due_time(at(2026, 3, 2, 14, 59), 1) == at(2026, 3, 3, 17, 0)
    assert hours.due_time(at(2026, 3, 2, 15, 0), 1) == at(2026, 3, 4, 17, 0)
    assert hours.due_time(at(2026, 3, 2, 15, 0), 3) == at(2026, 3, 6, 17, 0)
    assert hours.due_time(at(2026, 3, 2, 15, 30), 1, apply_cutoff=False) == at(2026, 3, 3, 17, 0)
    assert hours.due_time(at(2026, 3, 2, 15, 30), 0, apply_cutoff=False) == at(2026, 3, 2, 17, 0)
    # Received at lunch or before opening: still day 0, the due time does not depend on the hour.
    assert hours.count_start(at(2026, 3, 2, 12, 0)) == at(2026, 3, 2, 13, 30)  # lunch: from 13:30
    assert hours.due_time(at(2026, 3, 2, 12, 0), 1) == at(2026, 3, 3, 17, 0)
    assert hours.count_start(at(2026, 3, 2, 6, 0)) == at(2026, 3, 2, 7, 30)
    assert hours.due_time(at(2026, 3, 2, 6, 0), 1) == at(2026, 3, 3, 17, 0)
    assert hours.due_time(at(2026, 3, 2, 0, 0), 0) == at(2026, 3, 2, 17, 0)
    assert hours.due_time(at(2026, 3, 2, 7, 30), 2) == hours.due_time(at(2026, 3, 2, 14, 59), 2)
    # Non-working day: Saturday -> day 0 is Monday.
    assert hours.due_time(at(2026, 3, 7, 10, 0), 0) == at(2026, 3, 9, 17, 0)
    assert hours.due_time(at(2026, 3, 7, 10, 0), 1) == at(2026, 3, 10, 17, 0)
    assert hours.due_time(at(2026, 3, 7, 10, 0), 1, apply_cutoff=False) == at(2026, 3, 10, 17, 0)
    # Fri 6 Mar after the cut-off: day 0 is Mon 9.
    assert hours.due_time(at(2026, 3, 6, 16, 0), 1) == at(2026, 3, 10, 17, 0)
    # Cut-off switched off, received after closing: count_start is next morning.
    # (due_time for this receipt: see test_due_time_is_not_before_a_receipt_after_closing.)
    assert hours.count_start(at(2026, 3, 2, 17, 30), apply_cutoff=False) == at(2026, 3, 3, 7, 30)
    # Input in UTC, result in the center's timezone.
    utc = at(2026, 3, 2, 14, 59).astimezone(timezone.utc)
    assert hours.due_time(utc, 0) == at(2026, 3, 2, 17, 0)
    assert hours.due_time(utc, 0).tzinfo == HCM
    # 08:30 UTC is 15:30 in Hanoi: after the cut-off, although the UTC clock says morning.
    assert hours.due_time(datetime(2026, 3, 2, 8, 30, tzinfo=timezone.utc), 0) == at(2026, 3, 3, 17, 0)
    # 20:00 UTC on Sun 1 Mar is 03:00 on Mon 2 Mar in Hanoi: day 0 is Monday.
    assert hours.due_time(datetime(2026, 3, 1, 20, 0, tzinfo=timezone.utc), 0) == at(2026, 3, 2, 17, 0)


# -- per-center configuration -----------------------------------------------------------------

def test_custom_afternoon_from_13_00():
    assert hours13.day_seconds == 8 * H and hours.day_seconds == 7.5 * H
    assert hours13.is_working_time(at(2026, 3, 2, 13, 0)) and not hours.is_working_time(at(2026, 3, 2, 13, 0))
    assert hours13.add(at(2026, 3, 2, 11, 0), H) == at(2026, 3, 2, 13, 30)
    assert hours.add(at(2026, 3, 2, 11, 0), H) == at(2026, 3, 2, 14, 0)
    assert hours13.due_time(at(2026, 3, 2, 10, 0), 1) == at(2026, 3, 3, 17, 0)
    assert hours13.due_time(at(2026, 3, 2, 15, 0), 1) == at(2026, 3, 4, 17, 0)
    # 1.5 h + 4 h left on Mon 2 Mar, plus the 8 h of Tue 3 Mar.
    assert hours13.between(at(2026, 3, 2, 10, 0), hours13.due_time(at(2026, 3, 2, 10, 0), 1)) == 13.5 * H
    assert hours13.parse_offset("1d") == 8 * H


def test_single_period_and_time_objects():
    single = WorkingHours(cal, [(time(8, 0), time(12, 0))])
    assert single.periods == morning.periods and single.day_seconds == 4 * H
    assert single.add(at(2026, 3, 2, 11, 0), 2 * H) == at(2026, 3, 3, 9, 0)
    # The due time is the close of its only period, 12:00.
    assert single.due_time(at(2026, 3, 2, 10, 0), 0) == at(2026, 3, 2, 12, 0)
    assert single.due_time(at(2026, 3, 2, 7, 0), 1) == at(2026, 3, 3, 12, 0)
    assert single.due_time(at(2026, 3, 2, 15, 0), 1) == at(2026, 3, 4, 12, 0)  # cut-off: day 0 is Tue
    assert single.due_time(at(2026, 2, 13, 10, 0), 3) == at(2026, 2, 25, 12, 0)  # Tết
    # Received between its closing and the cut-off: see test_due_time_is_not_before_a_receipt_after_closing.


def test_calendar_overrides_are_honoured():
    over = WorkingHours(WorkingCalendar(extra_holidays=["2026-03-03"], extra_workdays=["2026-03-07"]))
    # Mon 2 Mar is day 0; Tue 3 is a config day off, so day 1 is Wed 4.
    assert over.due_time(at(2026, 3, 2, 10, 0), 1) == at(2026, 3, 4, 17, 0)
    assert over.due_time(at(2026, 3, 2, 15, 0), 0) == at(2026, 3, 4, 17, 0)  # cut-off skips Tue 3 too
    # Sat 7 Mar is a config working day.
    assert over.due_time(at(2026, 3, 6, 10, 0), 1) == at(2026, 3, 7, 17, 0)
    assert over.due_time(at(2026, 3, 7, 10, 0), 0) == at(2026, 3, 7, 17, 0)
    assert over.add(at(2026, 3, 6, 16, 0), 2 * H) == at(2026, 3, 7, 8, 30)
    # The module-level `custom` also opens Wed 18 Feb 2026, in the middle of Tết.
    assert custom.due_time(at(2026, 2, 13, 10, 0), 1) == at(2026, 2, 18, 17, 0)
    assert custom.due_time(at(2026, 2, 13, 10, 0), 2) == at(2026, 2, 23, 17, 0)
    # An earlier cut-off.
    late = WorkingHours(WorkingCalendar(cutoff="11:30"))
    assert late.due_time(at(2026, 3, 2, 11, 29), 0) == at(2026, 3, 2, 17, 0)
    assert late.due_time(at(2026, 3, 2, 11, 30), 0) == at(2026, 3, 3, 17, 0)
    assert late.due_time(at(2026, 3, 2, 11, 30), 1) == at(2026, 3, 4, 17, 0)


# After the center's closing the day is over, whatever the cut-off says: the count starts on
# the next working day, in the calendar (for the appointment date) and in the clock alike.

def test_due_time_is_not_before_a_receipt_after_closing():
    received = at(2026, 3, 2, 17, 30)  # Mon, after 17:00, cut-off switched off
    assert hours.due_time(received, 0, apply_cutoff=False) == at(2026, 3, 3, 17, 0)
    assert cal.start_day(received, apply_cutoff=False) == date(2026, 3, 3)  # the calendar agrees on day 0


def test_due_time_is_not_before_a_receipt_between_closing_and_cutoff():
    received = at(2026, 3, 2, 14, 0)  # Mon, after the 12:00 closing, before the 15:00 cut-off
    assert morning.due_time(received, 0) == at(2026, 3, 3, 12, 0)


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
    assert clock.due_at == at(2026, 2, 23, 17, 0)  # Wed 11 is day 0; Thu 12, Fri 13, Mon 23
    with pytest.raises(ValueError, match="not paused"):
        clock.resume(at(2026, 2, 12))
    clock.pause(at(2026, 2, 12, 10, 0))  # supplement requested: 5 h Thu + 7.5 h Fri + 7.5 h Mon = 20 h
    assert clock.paused and clock.remaining_s == 20 * H
    with pytest.raises(ValueError, match="already paused"):
        clock.pause(at(2026, 2, 12, 11, 0))
    with pytest.raises(ValueError, match="before the pause"):
        clock.resume(at(2026, 2, 12, 9, 0))
    assert clock.due_soon_points() == []
    clock.resume(at(2026, 2, 18, 9, 0))  # arrives online during Tết: the count restarts Mon 23 07:30
    assert not clock.paused and clock.paused_at is None and clock.remaining_s is None
    # 20 h from Mon 23 07:30: Mon 7.5 h, Tue 7.5 h, Wed 4 h morning + 1 h from 13:30.
    assert clock.due_at == at(2026, 2, 25, 14, 30)
    assert clock.remaining(at(2026, 2, 25, 13, 30)) == H
    assert clock.remaining(at(2026, 2, 25, 15, 0)) == -0.5 * H  # overdue
    assert clock.remaining(at(2026, 2, 26, 8, 0)) == -3 * H  # 2.5 h Wed + 0.5 h Thu


def test_clock_paused_while_overdue_keeps_its_lateness():
    clock = DeadlineClock(hours, at(2026, 3, 2, 17, 0))
    clock.pause(at(2026, 3, 3, 9, 0))
    assert clock.remaining_s == -1.5 * H
    clock.resume(at(2026, 3, 10, 10, 0))
    assert clock.due_at == at(2026, 3, 10, 8, 30)
    assert clock.remaining(at(2026, 3, 10, 10, 0)) == -1.5 * H


def test_clock_extensions():
    clock = DeadlineClock.start(hours, at(2026, 3, 2, 10, 0), 3)
    assert clock.due_at == at(2026, 3, 5, 17, 0)  # Mon 2 is day 0; Tue, Wed, Thu 5
    with pytest.raises(ValueError, match="earlier"):
        clock.extend(at(2026, 3, 5, 16, 59))
    clock.extend(at(2026, 3, 6, 17, 0))
    assert clock.due_at == at(2026, 3, 6, 17, 0) and clock.extensions == 1
    paused = DeadlineClock.start(hours, at(2026, 3, 2, 10, 0), 1).pause(at(2026, 3, 2, 16, 0))
    assert paused.due_at == at(2026, 3, 3, 17, 0) and paused.remaining_s == 8.5 * H  # 1 h Mon + 7.5 h Tue
    paused.extend(at(2026, 3, 9, 17, 0))
    assert paused.remaining_s == hours.between(at(2026, 3, 2, 16, 0), at(2026, 3, 9, 17, 0))
    assert paused.remaining_s == H + 5 * 7.5 * H  # 1 h Mon 2, Tue 3 – Fri 6, Mon 9


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
    # Left at 11:00 Mon: 0.5 h + 3.5 h Mon, 7.5 h Tue.
    assert clock.to_dict() == {"due_at": "2026-03-03T17:00:00+07:00", "paused_at": "2026-03-02T11:00:00+07:00",
                               "remaining_s": 11.5 * H, "extensions": 0}
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
