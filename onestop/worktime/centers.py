"""Each center's working calendar and working hours, built from its catalog entry (cached: on the request path)."""
from __future__ import annotations

from functools import lru_cache

from onestop.worktime.days import WorkingCalendar
from onestop.worktime.hours import WorkingHours


@lru_cache(maxsize=256)
def _calendar(timezone: str, cutoff: str, closing: str, days_off: tuple = (), working: tuple = ()) -> WorkingCalendar:
    return WorkingCalendar(timezone=timezone, cutoff=cutoff, closing=closing,
                           extra_holidays=days_off, extra_workdays=working)


def calendar_for(center) -> WorkingCalendar:
    """The center's calendar: its cut-off, its closing time (the end of its last office
    period) and its local overrides (``calendar: {days_off, working_days}`` in the catalog)."""
    closing = center.office_hours[-1][1] if center.office_hours else "17:00"
    return _calendar(center.timezone, center.cutoff, closing,
                     getattr(center, "days_off", ()), getattr(center, "extra_working_days", ()))


@lru_cache(maxsize=256)
def hours_for(center) -> WorkingHours:
    """The center's working hours on its working-day calendar."""
    return WorkingHours(calendar_for(center), center.office_hours or None)
