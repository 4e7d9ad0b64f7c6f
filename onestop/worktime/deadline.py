"""A dossier's statutory deadline: the one function that gives the appointment date and the due time.

Intake prints the date on the citizen's receipt; routing starts the officer's
deadline clock from the due time. Both call ``statutory_deadline``, so the
date the citizen is told and the time the officer is measured against can
never disagree: the due time is the close of working hours on the
appointment date (``WorkingHours.due_time``).

    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> from onestop.catalog import load_catalog
    >>> catalog = load_catalog()
    >>> vyda, business = catalog.center("hue-vyda"), catalog.procedure("1.001612")
    >>> at_1603 = datetime(2026, 12, 1, 16, 3, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))  # Tue, after 15:00
    >>> d = statutory_deadline(vyda, business, at_1603)  # 3 working days, no cut-off rule
    >>> d.appointment_date.isoformat(), d.due_at.isoformat()
    ('2026-12-04', '2026-12-04T17:00:00+07:00')
    >>> statutory_deadline(vyda, catalog.procedure("1.001193"), at_1603).appointment_date.isoformat()
    '2026-12-02'
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from onestop.worktime.centers import hours_for
from onestop.worktime.hours import DeadlineClock, WorkingHours


@dataclass(frozen=True)
class StatutoryDeadline:
    """When the result is due: the date the citizen is told, and the due time on it."""

    hours: WorkingHours
    working_days: int
    appointment_date: date
    due_at: datetime

    def clock(self) -> DeadlineClock:
        """A running deadline clock due at ``due_at`` (it measures the time left)."""
        return DeadlineClock(self.hours, self.due_at)


def statutory_deadline(center, procedure, received_at: datetime) -> StatutoryDeadline:
    """The deadline of a dossier of `procedure` received at `received_at` by `center`:
    the center's calendar and office hours, the procedure's working days, and its
    15:00 cut-off rule (only where the procedure applies it)."""
    hours = hours_for(center)
    due_at = hours.due_time(received_at, procedure.working_days, procedure.cutoff_applies)
    return StatutoryDeadline(hours, procedure.working_days, due_at.date(), due_at)
