"""Business calendar: time zone, business hours, weekends, Korean and company holidays.

Example::

    >>> cal = BusinessCalendar.from_settings(Settings())
    >>> cal.is_holiday(dt.date(2026, 9, 25))   # 추석 (Chuseok)
    True
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import holidays as holidays_lib
import polars as pl

from auditlens.config import Settings
from auditlens.errors import ConfigError

#: Integer ticks per second of each polars Datetime time unit.
TICKS_PER_SECOND: Final = {"ns": 1_000_000_000, "us": 1_000_000, "ms": 1_000}


@dataclass(frozen=True)
class BusinessCalendar:
    """When people are expected to work, in one time zone."""

    timezone: str = "Asia/Seoul"
    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(18, 0)
    weekend: frozenset[int] = frozenset({6, 7})  # ISO weekdays, Monday = 1
    holiday_country: str | None = "KR"
    company_holidays: frozenset[dt.date] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, settings: Settings) -> BusinessCalendar:
        """Build the calendar the configuration describes."""
        company: frozenset[dt.date] = frozenset()
        if settings.company_holidays_file is not None:
            company = read_company_holidays(settings.company_holidays_file)
        return cls(
            timezone=settings.timezone,
            start=settings.business_hours_start,
            end=settings.business_hours_end,
            weekend=settings.weekend_day_numbers,
            holiday_country=settings.holiday_country or None,
            company_holidays=company,
        )

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The time zone object."""
        return zoneinfo.ZoneInfo(self.timezone)

    def holidays(self, years: Iterable[int]) -> dict[dt.date, str]:
        """Public and company holidays in ``years``, date -> name."""
        years = sorted(set(years))
        days: dict[dt.date, str] = {}
        if self.holiday_country and years:
            public = holidays_lib.country_holidays(self.holiday_country, years=years)
            days.update({day: str(name) for day, name in public.items()})
        for day in self.company_holidays:
            if day.year in years:
                days.setdefault(day, "company day off")
        return days

    def day_off_names(self, days: Iterable[dt.date], lang: str = "en") -> dict[dt.date, str]:
        """Why each of ``days`` is a day off, in ``lang`` (ko/en); workdays are left out.

        A holiday gives its name (the public calendar's, "회사 휴무일"/"company day off"
        for a company one), a weekly day off "주말"/"weekend".

        >>> BusinessCalendar().day_off_names([dt.date(2026, 9, 25), dt.date(2026, 9, 22)], "ko")
        {datetime.date(2026, 9, 25): '추석'}
        """
        days = sorted(set(days))
        names: dict[dt.date, str] = {}
        if self.holiday_country and days:
            public = holidays_lib.country_holidays(
                self.holiday_country,
                years=sorted({d.year for d in days}),
                language="ko" if lang == "ko" else "en_US",
            )
            names.update({day: str(public[day]) for day in days if day in public})
        for day in days:
            if day in self.company_holidays:
                names.setdefault(day, "회사 휴무일" if lang == "ko" else "company day off")
            elif day.isoweekday() in self.weekend:
                names.setdefault(day, "주말" if lang == "ko" else "weekend")
        return names

    def is_holiday(self, day: dt.date) -> bool:
        """True for a public or company holiday (not for an ordinary weekend)."""
        return day in self.holidays([day.year])

    def is_day_off(self, day: dt.date) -> bool:
        """True on weekends and holidays."""
        return day.isoweekday() in self.weekend or self.is_holiday(day)

    def is_off_hours(self, moment: dt.datetime) -> bool:
        """True outside business hours, on weekends or on holidays (local time)."""
        local = moment.astimezone(self.zone) if moment.tzinfo else moment.replace(tzinfo=self.zone)
        if self.is_day_off(local.date()):
            return True
        return not (self.start <= local.time() < self.end)

    def local_expr(self, column: str) -> pl.Expr:
        """Polars expression converting a UTC timestamp column to local time."""
        return pl.col(column).dt.convert_time_zone(self.timezone)

    def local_ticks(self, timestamps: pl.Series) -> pl.Series:
        """Local wall-clock time of tz-aware ``timestamps`` as integer ticks (Int64).

        The same values as ``convert_time_zone(zone).replace_time_zone(None)`` cast to
        Int64 (ticks in the column's time unit), at a fraction of the cost: the zone's
        UTC offset is looked up once per UTC hour in range instead of once per row. Rows
        in an hour whose offset differs at its start and end (a DST switch, also off the
        hour) are converted one by one; no zone changes its offset and back within an
        hour. Sparse ranges (few rows over many years) are converted row by row.
        """
        dtype = timestamps.dtype
        if not isinstance(dtype, pl.Datetime) or dtype.time_zone is None:
            raise TypeError(f"expected tz-aware timestamps, got {dtype}")
        unit = dtype.time_unit
        ticks = timestamps.cast(pl.Int64)
        hour = TICKS_PER_SECOND[unit] * 3600
        buckets = ticks // hour
        lo, hi = buckets.min(), buckets.max()
        if not isinstance(lo, int) or not isinstance(hi, int) or hi - lo > 4 * len(ticks) + 10_000:
            return self._exact_ticks(timestamps)
        starts = pl.int_range(lo, hi + 1, dtype=pl.Int64, eager=True) * hour
        start_offset = self._exact_ticks(starts.cast(dtype)) - starts
        end_offset = self._exact_ticks((starts + (hour - 1)).cast(dtype)) - (starts + (hour - 1))
        index = buckets - lo
        local = ticks + start_offset.gather(index)
        switching = start_offset != end_offset
        if switching.any():
            rows = switching.gather(index).arg_true()
            if rows.len():
                local = local.scatter(rows, self._exact_ticks(timestamps.gather(rows)))
        return local

    def _exact_ticks(self, timestamps: pl.Series) -> pl.Series:
        return (
            timestamps.dt.convert_time_zone(self.timezone).dt.replace_time_zone(None).cast(pl.Int64)
        )

    def off_hours_expr(
        self, column: str, years: Iterable[int], *, already_local: bool = False
    ) -> pl.Expr:
        """Polars expression: is each timestamp outside business time? (vectorised).

        With ``already_local`` the column already holds local time (saves a conversion).
        """
        local = pl.col(column) if already_local else self.local_expr(column)
        day_off = sorted(self.holidays(years))
        minutes = local.dt.hour().cast(pl.Int32) * 60 + local.dt.minute().cast(pl.Int32)
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        return (
            local.dt.weekday().is_in(sorted(self.weekend))
            | local.dt.date().is_in(day_off)
            | (minutes < start)
            | (minutes >= end)
        )

    def off_hours_from_parts(
        self, day: pl.Expr, minute_of_day: pl.Expr, years: Iterable[int]
    ) -> pl.Expr:
        """:meth:`off_hours_expr` from integer parts of the *local* time (vectorised).

        ``day`` counts local calendar days since 1970-01-01, ``minute_of_day`` the
        minutes since local midnight; integer arithmetic only, no date-time fields.
        """
        epoch = dt.date(1970, 1, 1)
        day_off = [(d - epoch).days for d in sorted(self.holidays(years))]
        start = self.start.hour * 60 + self.start.minute
        end = self.end.hour * 60 + self.end.minute
        weekday = (day + 3) % 7 + 1  # ISO: 1970-01-01 was a Thursday (4)
        return (
            weekday.is_in(sorted(self.weekend))
            | day.is_in(day_off)
            | (minute_of_day < start)
            | (minute_of_day >= end)
        )


def read_company_holidays(path: Path) -> frozenset[dt.date]:
    """Read one ``YYYY-MM-DD`` per line; blank lines and ``#`` comments are ignored."""
    if not path.exists():
        raise ConfigError(
            f"company_holidays_file {path} does not exist",
            ko=f"company_holidays_file에 지정한 파일이 없습니다: {path}",
        )
    days: set[dt.date] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            days.add(dt.date.fromisoformat(text))
        except ValueError:
            raise ConfigError(
                f"{path}:{number}: {text!r} is not a date (expected YYYY-MM-DD)",
                ko=f"{path}:{number}: {text!r} 값은 날짜가 아닙니다 (YYYY-MM-DD 형식이어야 함)",
            ) from None
    return frozenset(days)
