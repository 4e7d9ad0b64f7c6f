"""Working-TIME deadline clock for Vietnamese public offices (framework-free).

``onestop.worktime.days.WorkingCalendar`` says which *days* are working days
(Mon–Fri, ``holidays.Vietnam`` days off and Tết, make-up Saturdays, config
overrides, the 15:00 cut-off). This module adds the *hours*: working time is
the configured office periods (default 07:30–11:30 and 13:30–17:00, per center
as a list of ``("HH:MM", "HH:MM")`` pairs) on those working days, in the
calendar's timezone. The day rules are not repeated here: every "is this a
working day" question goes to ``WorkingCalendar.is_working_day``.

Conventions
-----------
* **Periods are half-open** ``[start, end)``: 07:30 and 13:30 are working
  time, 11:30 and 17:00 are not.
* **A working day is the configured hours, not a fixed 8 hours.** DOMAIN.md
  says a working day is 8 hours, but the default periods add up to 7.5 h
  (with 13:00 afternoons they add up to 8 h). "N working days" is defined as
  N times the configured day (``WorkingHours.day_seconds``), so N working days
  counted from the opening of a day end exactly at the closing of the N-th day,
  whatever the center's hours. Offsets such as ``"1d"`` use the same unit.
* **add() returns the earliest instant**: the due time never skips ahead, so a
  count that is used up exactly at a period end stays there (17:00 today,
  never "07:30 next working day"; 11:30, never 13:30). The result of
  ``add(t, s)`` is therefore inside working time or exactly at a period end of
  a working day. The count starts at ``next_working_instant(t)``, so
  ``add(t, 0) == next_working_instant(t)``.
* **subtract() returns the latest instant**: going backwards, a count used up
  exactly at a period start stays there (13:30, never 11:30), so for ``s > 0``
  the result is always inside working time. ``subtract(t, 0) == t``.
  For ``t`` inside working time ``subtract(add(t, s), s) == t``.
* **between(a, b)** is the working time in ``[a, b)``, 0 when ``b <= a``.
* Amounts are seconds (floats) at the API and whole microseconds inside, so
  the arithmetic is exact: ``between(t, add(t, s))`` is ``s`` rounded to the
  microsecond.
* Every datetime must be timezone-aware (naive ones raise ``ValueError``);
  results are in the calendar's timezone. Wall-clock arithmetic is used, which
  is exact for Asia/Ho_Chi_Minh (no daylight saving since 1975).

Statutory due time (``WorkingHours.due_time``)
----------------------------------------------
The citizen leaves the counter with an appointment date (the 15:00 cut-off
and non-working days push the start day, which counts as day 0, and N
working days are added). The due time is the **close of that date's working
hours**, and the appointment date is the due time's date: both come from
``due_time`` (through ``onestop.worktime.deadline.statutory_deadline``), so the date an
officer is measured against is always the date the citizen was promised. The
working-time clock then measures what is left of it: the time left is kept
while the clock is stopped for a supplement and counted on from the day the
supplement arrives, and the due-soon points are working time before the due
time.

Examples (default hours, ``Asia/Ho_Chi_Minh``)::

    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> from onestop.worktime.days import WorkingCalendar
    >>> vn = ZoneInfo("Asia/Ho_Chi_Minh")
    >>> hours = WorkingHours(WorkingCalendar())
    >>> hours.day_seconds / 3600
    7.5

Tết 2026 closes offices Mon 16 – Fri 20 Feb. Received Fri 13 Feb at 10:00 with
3 working days, the appointment is Wed 25 Feb (Fri is day 0; Mon 23, Tue 24,
Wed 25), due at its closing::

    >>> hours.due_time(datetime(2026, 2, 13, 10, 0, tzinfo=vn), 3).isoformat()
    '2026-02-25T17:00:00+07:00'

Received Fri 13 Feb at 15:30, after the cut-off: day 0 is Mon 23, so a 0-day
procedure is due Mon 23 at 17:00 and a 1-day one Tue 24::

    >>> hours.due_time(datetime(2026, 2, 13, 15, 30, tzinfo=vn), 0).isoformat()
    '2026-02-23T17:00:00+07:00'
    >>> hours.due_time(datetime(2026, 2, 13, 15, 30, tzinfo=vn), 1).isoformat()
    '2026-02-24T17:00:00+07:00'

30/4 (Thu) and 1/5 (Fri) 2026 are days off: received Wed 29 Apr at 14:00 with
1 working day, due Mon 4 May; received at 16:00, after the cut-off, a same-day
procedure is due Mon 4 May too::

    >>> hours.due_time(datetime(2026, 4, 29, 14, 0, tzinfo=vn), 1).isoformat()
    '2026-05-04T17:00:00+07:00'
    >>> hours.due_time(datetime(2026, 4, 29, 16, 0, tzinfo=vn), 0).isoformat()
    '2026-05-04T17:00:00+07:00'

A count used up exactly at closing stays at closing::

    >>> hours.add(datetime(2026, 3, 2, 16, 0, tzinfo=vn), 3600).isoformat()
    '2026-03-02T17:00:00+07:00'

The supplement pause: the clock stops while the citizen completes the dossier
and restarts with the working time that was left::

    >>> clock = DeadlineClock.start(hours, datetime(2026, 3, 2, 10, 0, tzinfo=vn), 3)
    >>> clock.due_at.isoformat()
    '2026-03-05T17:00:00+07:00'
    >>> _ = clock.pause(datetime(2026, 3, 3, 10, 0, tzinfo=vn))
    >>> clock.remaining_s / 3600
    20.0
    >>> _ = clock.resume(datetime(2026, 3, 9, 14, 0, tzinfo=vn))
    >>> clock.due_at.isoformat()
    '2026-03-12T09:30:00+07:00'
    >>> [t.isoformat() for t in clock.due_soon_points()]
    ['2026-03-11T09:30:00+07:00', '2026-03-11T16:00:00+07:00']
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Iterable, Sequence

from onestop.worktime.days import WorkingCalendar, parse_hhmm

__all__ = ["DEFAULT_PERIODS", "DEFAULT_DUE_SOON", "WorkingHours", "DeadlineClock"]

DEFAULT_PERIODS: tuple[tuple[str, str], ...] = (("07:30", "11:30"), ("13:30", "17:00"))
DEFAULT_DUE_SOON: tuple[str, ...] = ("1d", "3h")

# Same guard as the calendar: a run of days off far longer than Tết means broken config.
_MAX_GAP_DAYS = 60
_US = timedelta(microseconds=1)
_OFFSET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dhm])\s*$", re.IGNORECASE)
_OFFSET_UNITS = {"h": 3600, "m": 60}


def _to_us(seconds: float) -> int:
    """Working seconds -> whole microseconds; refuses negative, NaN and infinite amounts."""
    seconds = float(seconds)
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"working seconds must be a finite number >= 0, got {seconds!r}")
    return round(seconds * 1_000_000)


def _us(delta: timedelta) -> int:
    return delta // _US


def _as_time(value) -> time:
    if isinstance(value, time):
        return value
    return parse_hhmm(value)


def _parse_periods(periods) -> tuple[tuple[time, time], ...]:
    parsed = []
    for period in periods:
        try:
            start, end = period
        except (TypeError, ValueError):
            raise ValueError(f"a working period is a (start, end) pair of 'HH:MM', got {period!r}") from None
        start, end = _as_time(start), _as_time(end)
        if not start < end:
            raise ValueError(f"working period {start:%H:%M}-{end:%H:%M} must end after it starts")
        if parsed and start < parsed[-1][1]:
            raise ValueError(f"working periods must be in order and must not overlap: {periods!r}")
        parsed.append((start, end))
    if not parsed:
        raise ValueError("at least one working period is needed")
    return tuple(parsed)


class WorkingHours:
    """Working time of one center: its calendar's working days times its office periods.

    ``periods`` is a sequence of ``(start, end)`` pairs of ``"HH:MM"`` strings
    (or ``datetime.time``), in order and not overlapping; ``None`` or empty
    means ``DEFAULT_PERIODS`` (a catalog center without ``office_hours``).
    """

    def __init__(self, calendar: WorkingCalendar | None = None,
                 periods: Iterable[Sequence] | None = DEFAULT_PERIODS):
        self.calendar = calendar if calendar is not None else WorkingCalendar()
        self.tz = self.calendar.tz
        self.periods = _parse_periods(periods or DEFAULT_PERIODS)
        self._day_us = sum(_us(datetime.combine(date.min, e) - datetime.combine(date.min, s))
                           for s, e in self.periods)
        #: Working seconds in one full working day (27000.0 = 7.5 h with the default periods).
        self.day_seconds: float = self._day_us / 1_000_000

    def __repr__(self) -> str:
        spans = ", ".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in self.periods)
        return f"WorkingHours({self.calendar!r}, [{spans}])"

    # -- building blocks ---------------------------------------------------------------

    def local(self, moment: datetime) -> datetime:
        """`moment` in the center's timezone; naive datetimes raise ValueError."""
        if not isinstance(moment, datetime):
            raise ValueError(f"expected a timezone-aware datetime, got {moment!r}")
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"datetime must be timezone-aware, got naive {moment.isoformat()}")
        return moment.astimezone(self.tz)

    def periods_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working periods of `day` as aware (start, end) datetimes; [] on a non-working day."""
        return self._periods_of_working_day(day) if self.calendar.is_working_day(day) else []

    def _periods_of_working_day(self, day: date) -> list[tuple[datetime, datetime]]:
        return [(datetime.combine(day, s, self.tz), datetime.combine(day, e, self.tz)) for s, e in self.periods]

    def _previous_working_day(self, day: date) -> date:
        for step in range(1, _MAX_GAP_DAYS + 1):
            candidate = day - timedelta(days=step)
            if self.calendar.is_working_day(candidate):
                return candidate
        raise ValueError(f"no working day within {_MAX_GAP_DAYS} days before {day}: check extra_holidays")

    # -- queries -----------------------------------------------------------------------

    def is_working_time(self, moment: datetime) -> bool:
        """True inside a period ``[start, end)`` of a working day."""
        moment = self.local(moment)
        return any(start <= moment < end for start, end in self.periods_on(moment.date()))

    def is_period_end(self, moment: datetime) -> bool:
        """True exactly at the end of a period of a working day (e.g. 11:30 or 17:00)."""
        moment = self.local(moment)
        return any(moment == end for _, end in self.periods_on(moment.date()))

    def next_working_instant(self, moment: datetime) -> datetime:
        """`moment` itself if it is working time, else the start of the next period."""
        moment = self.local(moment)
        day = moment.date()
        for start, end in self.periods_on(day):
            if moment < end:
                return max(moment, start)
        return self._periods_of_working_day(self.calendar.next_working_day(day))[0][0]

    def between(self, start: datetime, end: datetime) -> float:
        """Working seconds in ``[start, end)``; 0.0 if ``end <= start``."""
        start, end = self.local(start), self.local(end)
        total, day = 0, start.date()
        while day <= end.date():
            for p_start, p_end in self.periods_on(day):
                lo, hi = max(p_start, start), min(p_end, end)
                if hi > lo:
                    total += _us(hi - lo)
            day += timedelta(days=1)
        return total / 1_000_000

    # -- arithmetic --------------------------------------------------------------------

    def add(self, moment: datetime, seconds: float) -> datetime:
        """The earliest instant at which `seconds` of working time have passed since `moment`.

        Counting starts at ``next_working_instant(moment)``. Loops per period,
        not per minute. A count used up exactly at a period end stays there.
        """
        left = _to_us(seconds)
        current = self.next_working_instant(moment)
        day = current.date()
        while True:
            for p_start, p_end in self._periods_of_working_day(day):
                if p_end <= current:
                    continue
                begin = max(current, p_start)
                available = _us(p_end - begin)
                if left <= available:
                    return begin + timedelta(microseconds=left)
                left -= available
            day = self.calendar.next_working_day(day)

    def add_days(self, moment: datetime, n: int) -> datetime:
        """``add(moment, n * day_seconds)``: n full working days of the configured hours."""
        if n < 0:
            raise ValueError(f"working days must be >= 0, got {n}")
        return self.add(moment, n * self.day_seconds)

    def subtract(self, moment: datetime, seconds: float) -> datetime:
        """The latest instant from which `seconds` of working time lead up to `moment`.

        Goes backwards in working time (for due-soon reminders). For
        ``seconds > 0`` the result is inside working time; a count used up
        exactly at a period start stays there. ``subtract(t, 0) == t``.
        """
        left = _to_us(seconds)
        moment = self.local(moment)
        if left == 0:
            return moment
        day, limit = moment.date(), moment
        if not self.calendar.is_working_day(day):
            day, limit = self._previous_working_day(day), None
        while True:
            for p_start, p_end in reversed(self._periods_of_working_day(day)):
                finish = p_end if limit is None else min(p_end, limit)
                if finish <= p_start:
                    continue
                available = _us(finish - p_start)
                if left <= available:
                    return finish - timedelta(microseconds=left)
                left -= available
            day, limit = self._previous_working_day(day), None

    # -- statutory deadlines -----------------------------------------------------------

    def count_start(self, received_at: datetime, apply_cutoff: bool = True) -> datetime:
        """Where the statutory count starts: the receipt if it is working time on the start day,
        else the first working instant of the start day not before the receipt."""
        local = self.local(received_at)
        start_day = self.calendar.start_day(local, apply_cutoff)
        return self.next_working_instant(max(local, datetime.combine(start_day, time(0), self.tz)))

    def start_day(self, received_at: datetime, apply_cutoff: bool = True) -> date:
        """Day 0 of the count: the calendar's start day, where a receipt at or after this
        center's closing also belongs to the next working day (its calendar, built by
        ``calendar_for``, knows the same closing; this holds for any calendar)."""
        local = self.local(received_at)
        if local.time() >= self.periods[-1][1]:
            local = datetime.combine(local.date() + timedelta(days=1), time(0), self.tz)
        return self.calendar.start_day(local, apply_cutoff)

    def due_time(self, received_at: datetime, working_days: int, apply_cutoff: bool = True) -> datetime:
        """The statutory due time: the close of working hours on the appointment date
        (day 0 is ``start_day``, then `working_days` working days). See the module docstring."""
        if working_days < 0:
            raise ValueError(f"working days must be >= 0, got {working_days}")
        start = self.start_day(received_at, apply_cutoff)
        day = self.calendar.add_working_days(start, working_days)
        return self._periods_of_working_day(day)[-1][1]

    def parse_offset(self, text: str) -> float:
        """``"1d"`` / ``"3h"`` / ``"90m"`` (decimals allowed) -> working seconds; a day is ``day_seconds``."""
        match = _OFFSET.match(str(text))
        if not match:
            raise ValueError(f"offset must look like '1d', '3h' or '90m', got {text!r}")
        amount, unit = float(match.group(1)), match.group(2).lower()
        return amount * (self.day_seconds if unit == "d" else _OFFSET_UNITS[unit])


def _parse_aware(value, name: str) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value!r}")
    return moment


@dataclass
class DeadlineClock:
    """A dossier's deadline that can stop while a supplement is awaited.

    Running: ``due_at`` is the due time, ``paused_at`` and ``remaining_s`` are
    None. Paused: ``paused_at`` is when it stopped and ``remaining_s`` the
    signed working seconds that were left (negative if already overdue, so
    lateness survives a pause); ``due_at`` keeps the last due time for display.
    ``extensions`` counts ``extend`` calls (the rules allow one reset; the
    caller enforces it). The methods change the clock in place and return it.

    ``to_dict()`` / ``from_dict(data, hours)`` store it as ISO strings and
    floats; the center's ``WorkingHours`` is not stored.
    """

    hours: WorkingHours = field(repr=False, compare=False)
    due_at: datetime
    paused_at: datetime | None = None
    remaining_s: float | None = None
    extensions: int = 0

    def __post_init__(self):
        self.due_at = self.hours.local(_parse_aware(self.due_at, "due_at"))
        if self.paused_at is not None:
            self.paused_at = self.hours.local(_parse_aware(self.paused_at, "paused_at"))
        if (self.paused_at is None) != (self.remaining_s is None):
            raise ValueError("paused_at and remaining_s must be both set (paused) or both None (running)")
        if self.remaining_s is not None:
            self.remaining_s = float(self.remaining_s)

    @classmethod
    def start(cls, hours: WorkingHours, received_at: datetime, working_days: int,
              apply_cutoff: bool = True) -> "DeadlineClock":
        """A running clock due at ``hours.due_time(received_at, working_days, apply_cutoff)``."""
        return cls(hours, hours.due_time(received_at, working_days, apply_cutoff))

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    def _signed_between(self, start: datetime, end: datetime) -> float:
        if end >= start:
            return self.hours.between(start, end)
        return -self.hours.between(end, start)

    def remaining(self, at: datetime) -> float:
        """Working seconds left at `at` (negative once overdue); frozen while paused."""
        at = self.hours.local(at)
        if self.paused:
            return self.remaining_s
        return self._signed_between(at, self.due_at)

    def pause(self, at: datetime) -> "DeadlineClock":
        """Stop the clock (supplement requested)."""
        if self.paused:
            raise ValueError(f"deadline clock is already paused since {self.paused_at.isoformat()}")
        self.remaining_s = self.remaining(at)
        self.paused_at = self.hours.local(at)
        return self

    def resume(self, at: datetime) -> "DeadlineClock":
        """Restart the clock (supplement arrived): due = remaining working time after
        ``next_working_instant(at)`` (before it, if the clock was paused overdue)."""
        if not self.paused:
            raise ValueError("deadline clock is not paused, so it cannot be resumed")
        at = self.hours.local(at)
        if at < self.paused_at:
            raise ValueError(f"cannot resume at {at.isoformat()}, before the pause at {self.paused_at.isoformat()}")
        restart = self.hours.next_working_instant(at)
        left = self.remaining_s
        self.due_at = self.hours.add(restart, left) if left >= 0 else self.hours.subtract(restart, -left)
        self.paused_at = self.remaining_s = None
        return self

    def extend(self, new_due: datetime) -> "DeadlineClock":
        """Move the due time to a later `new_due` (the lateness apology's new date)."""
        new_due = self.hours.local(_parse_aware(new_due, "new_due"))
        if new_due < self.due_at:
            raise ValueError(f"an extension must not move the due time earlier: {new_due.isoformat()} < "
                             f"{self.due_at.isoformat()}")
        if self.paused:
            self.remaining_s = self._signed_between(self.paused_at, new_due)
        self.due_at = new_due
        self.extensions += 1
        return self


    def due_soon_points(self, offsets: Iterable[str] = DEFAULT_DUE_SOON) -> list[datetime]:
        """When ``dossier.due_soon`` should fire: for each offset (``"1d"``, ``"3h"``, ``"90m"``),
        that much working time before ``due_at``, in the order given. [] while paused (no due
        time then: reschedule on resume). Points already in the past are the caller's to skip."""
        if self.paused:
            return []
        return [self.hours.subtract(self.due_at, self.hours.parse_offset(o)) for o in offsets]

    def to_dict(self) -> dict:
        """ISO strings and floats, ready for MongoDB or JSON."""
        return {
            "due_at": self.due_at.isoformat(),
            "paused_at": self.paused_at.isoformat() if self.paused_at else None,
            "remaining_s": self.remaining_s,
            "extensions": self.extensions,
        }

    @classmethod
    def from_dict(cls, data: dict, hours: WorkingHours) -> "DeadlineClock":
        """Inverse of ``to_dict`` (also accepts aware datetimes, e.g. from a ``tz_aware`` Mongo client)."""
        return cls(hours, data["due_at"], data.get("paused_at"), data.get("remaining_s"),
                   int(data.get("extensions") or 0))
