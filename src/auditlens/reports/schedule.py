"""When the e-mail digest of a period is due (``[report_schedule]``, ``report send --due``).

The weekly digest of an ISO week is sent on the configured weekday of the week after it
(``weekly = "mon"``: the Monday after), the monthly digest of a month on the configured
day of the month after it (``monthly = 1``: the 1st). A send day that is a day off in
the deployment's calendar (weekend, Korean public holiday, company day off:
:class:`~auditlens.calendar.BusinessCalendar`) moves to the next working day: the
digest of the week before Chuseok goes out when the office is back. cron or Airflow
runs ``auditlens report send --due`` every day; it sends on that day only.

Example::

    >>> from auditlens.config import ReportScheduleConfig
    >>> week = Period.parse("2026-W40", "weekly")        # 28 Sep - 4 Oct 2026
    >>> send_day(week, ReportScheduleConfig(), BusinessCalendar())  # Mon 5 Oct: 개천절 대체공휴일
    datetime.date(2026, 10, 6)
    >>> send_day(Period.parse("2026-12", "monthly"), ReportScheduleConfig(), BusinessCalendar())
    datetime.date(2027, 1, 4)
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from auditlens.calendar import BusinessCalendar
from auditlens.config import WEEKDAY_NAMES, ReportScheduleConfig
from auditlens.reports.period import Period, PeriodKind

#: The kinds of digest a schedule sends.
SCHEDULED: Final[tuple[PeriodKind, ...]] = ("weekly", "monthly")
#: How far ahead :func:`next_send_day` looks (longer than any month plus a holiday run).
_HORIZON: Final = 62


def nominal_day(period: Period, schedule: ReportScheduleConfig) -> dt.date | None:
    """The configured send day of ``period``'s digest before days off are considered;
    None when its kind has no schedule (or is not weekly or monthly)."""
    after = period.end + dt.timedelta(days=1)  # a Monday, or the 1st of the next month
    if period.kind == "weekly" and schedule.weekly is not None:
        return after + dt.timedelta(days=WEEKDAY_NAMES.index(schedule.weekly))
    if period.kind == "monthly" and schedule.monthly is not None:
        return after.replace(day=schedule.monthly)
    return None


def send_day(
    period: Period, schedule: ReportScheduleConfig, calendar: BusinessCalendar
) -> dt.date | None:
    """The day ``period``'s digest is sent: its nominal day, or the first working day
    after it when that is a day off; None without a schedule for its kind."""
    day = nominal_day(period, schedule)
    if day is None:
        return None
    while calendar.is_day_off(day):
        day += dt.timedelta(days=1)
    return day


def due_periods(
    today: dt.date,
    kind: PeriodKind,
    schedule: ReportScheduleConfig,
    calendar: BusinessCalendar,
) -> list[Period]:
    """The periods of ``kind`` whose digest is due ``today`` (at most one in practice:
    a send day moved by days off may fall in the period after next)."""
    last = Period.containing(today, kind).previous()
    candidates = (last.previous(), last)
    return [p for p in candidates if send_day(p, schedule, calendar) == today]


def next_send_day(
    today: dt.date,
    kind: PeriodKind,
    schedule: ReportScheduleConfig,
    calendar: BusinessCalendar,
) -> dt.date | None:
    """The first day after ``today`` on which a digest of ``kind`` is due; None when
    ``kind`` has no schedule."""
    for ahead in range(1, _HORIZON):
        day = today + dt.timedelta(days=ahead)
        if due_periods(day, kind, schedule, calendar):
            return day
    return None
