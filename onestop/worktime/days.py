"""Working-day calendar for Vietnamese public offices (framework-free).

Working days are Monday to Friday, minus the public holidays and substituted
days off that ``holidays.Vietnam`` knows (Tết included), plus the Saturdays
the government turns into make-up working days (``weekend_workdays``).
Config can add holidays or working days on top, for decisions the package
does not know yet.

The 15:00 cut-off (Decree 61/2018): a request received at or after the
cut-off, or on a non-working day, is counted from the next working day.

The appointment date itself is ``onestop.worktime.deadline.statutory_deadline``'s
(on ``WorkingHours.due_time``): this module only knows the days.

Example: Tết 2026 closes offices Mon 16 – Fri 20 Feb, so a dossier received
on Fri 13 Feb at 10:00 counts from that Friday, and 3 working days later is
Wed 25 Feb; received at 15:00, it counts from Mon 23 Feb::

    >>> from datetime import date, datetime
    >>> from zoneinfo import ZoneInfo
    >>> cal = WorkingCalendar()
    >>> start = cal.start_day(datetime(2026, 2, 13, 10, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")))
    >>> start, cal.add_working_days(start, 3)
    (datetime.date(2026, 2, 13), datetime.date(2026, 2, 25))
    >>> cal.start_day(datetime(2026, 2, 13, 15, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")))
    datetime.date(2026, 2, 23)
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Iterable
from zoneinfo import ZoneInfo

import holidays

__all__ = ["WorkingCalendar", "parse_hhmm", "year_tables"]

# Longest run of days off in practice is Tết plus weekends (about 9-10 days);
# anything far longer means the config is broken, so stop instead of looping.
_MAX_GAP_DAYS = 60


def parse_hhmm(text: str) -> time:
    """'15:00' -> time(15, 0); raises ValueError on anything else."""
    hours, sep, minutes = str(text).strip().partition(":")
    if not sep:
        raise ValueError(f"time must look like HH:MM, got {text!r}")
    return time(int(hours), int(minutes))


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip())


@lru_cache(maxsize=64)
def year_tables(year: int) -> tuple[frozenset, frozenset]:
    """(days off, make-up working days) that fall in `year`.

    Neighbouring years are generated too, because the package files some
    swaps under the other year (e.g. the make-up Saturday 27/12/2014 belongs
    to the 2015 New Year swap). Cached: this sits on the request path.
    """
    vn = holidays.Vietnam(years=(year - 1, year, year + 1))
    days_off = frozenset(d for d in vn if d.year == year)
    workdays = frozenset(d for d in getattr(vn, "weekend_workdays", ()) if d.year == year)
    return days_off, workdays


class WorkingCalendar:
    def __init__(self, timezone: str = "Asia/Ho_Chi_Minh", cutoff: str = "15:00",
                 extra_holidays: Iterable = (), extra_workdays: Iterable = (), closing: str = "17:00"):
        self.timezone = timezone
        self.tz = ZoneInfo(timezone)
        self.cutoff = parse_hhmm(cutoff)
        # After closing the day is over, cut-off or not (an online dossier sent at 20:00 with a
        # procedure the cut-off does not apply to still starts on the next working day).
        self.closing = parse_hhmm(closing)
        self.extra_holidays = frozenset(_as_date(d) for d in extra_holidays or ())
        self.extra_workdays = frozenset(_as_date(d) for d in extra_workdays or ())

    def __repr__(self) -> str:
        return f"WorkingCalendar({self.timezone!r}, cutoff={self.cutoff:%H:%M})"

    def is_working_day(self, d: date) -> bool:
        # Local overrides beat the package; an explicit working day beats an explicit holiday.
        if d in self.extra_workdays:
            return True
        if d in self.extra_holidays:
            return False
        days_off, workdays = year_tables(d.year)
        if d in workdays:
            return True
        return d.weekday() < 5 and d not in days_off

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after `d`."""
        for step in range(1, _MAX_GAP_DAYS + 1):
            candidate = d + timedelta(days=step)
            if self.is_working_day(candidate):
                return candidate
        raise ValueError(f"no working day within {_MAX_GAP_DAYS} days after {d}: check extra_holidays")

    def add_working_days(self, start: date, n: int) -> date:
        """n=0: `start` if it is a working day, else the next one; n>0: the n-th working day after `start`."""
        if n < 0:
            raise ValueError(f"working days must be >= 0, got {n}")
        if n == 0:
            return start if self.is_working_day(start) else self.next_working_day(start)
        day = start
        for _ in range(n):
            day = self.next_working_day(day)
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days lie in (start, end]; 0 if end <= start. Useful for lateness and pauses."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count

    def local(self, moment: datetime) -> datetime:
        """`moment` in the center's timezone; naive datetimes are refused to avoid silent UTC/local mix-ups."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("received_at must be timezone-aware")
        return moment.astimezone(self.tz)

    def start_day(self, received_at: datetime, apply_cutoff: bool = True) -> date:
        """The working day the count starts on (the cut-off can be switched off per procedure)."""
        local = self.local(received_at)
        day = local.date()
        late = (apply_cutoff and local.time() >= self.cutoff) or local.time() >= self.closing
        if late or not self.is_working_day(day):
            return self.next_working_day(day)
        return day
