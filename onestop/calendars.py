"""One working calendar per center (cached: it is on the request path)."""
from __future__ import annotations

from functools import lru_cache

from onestop.calendar import WorkingCalendar


@lru_cache(maxsize=256)
def _calendar(timezone: str, cutoff: str) -> WorkingCalendar:
    return WorkingCalendar(timezone=timezone, cutoff=cutoff)


def calendar_for(center, cutoff_override: str = "") -> WorkingCalendar:
    """The center's calendar; ``CUTOFF_TIME`` (when set) overrides every center's cut-off."""
    return _calendar(center.timezone, cutoff_override or center.cutoff)
