from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from auditlens.calendar import BusinessCalendar, read_company_holidays
from auditlens.config import Settings
from auditlens.errors import ConfigError

KST = dt.timezone(dt.timedelta(hours=9))


def test_korean_public_holidays() -> None:
    cal = BusinessCalendar()
    assert cal.is_holiday(dt.date(2026, 9, 25))  # Chuseok
    assert cal.is_holiday(dt.date(2026, 10, 9))  # Hangul day
    assert cal.is_holiday(dt.date(2026, 3, 1)) and cal.is_day_off(dt.date(2026, 3, 1))
    assert not cal.is_holiday(dt.date(2026, 9, 1))


@pytest.mark.parametrize(
    ("local", "off"),
    [
        (dt.datetime(2026, 9, 1, 9, 0, tzinfo=KST), False),  # Tuesday, first minute
        (dt.datetime(2026, 9, 1, 17, 59, tzinfo=KST), False),
        (dt.datetime(2026, 9, 1, 18, 0, tzinfo=KST), True),  # end is exclusive
        (dt.datetime(2026, 9, 1, 8, 59, tzinfo=KST), True),
        (dt.datetime(2026, 9, 5, 11, 0, tzinfo=KST), True),  # Saturday
        (dt.datetime(2026, 9, 25, 11, 0, tzinfo=KST), True),  # Chuseok
    ],
)
def test_off_hours_in_local_time(local: dt.datetime, off: bool) -> None:
    cal = BusinessCalendar()
    assert cal.is_off_hours(local) is off
    # the vectorised form agrees on the UTC instant
    utc = local.astimezone(dt.UTC)
    frame = pl.DataFrame({"ts": [utc]}, schema={"ts": pl.Datetime("us", "UTC")})
    got = frame.select(cal.off_hours_expr("ts", [2026])).item()
    assert got is off


def test_company_holidays_file(tmp_path: Path) -> None:
    path = tmp_path / "days_off.txt"
    path.write_text("# 창립기념일\n2026-09-15\n\n2026-12-31  # year end\n", encoding="utf-8")
    cal = BusinessCalendar.from_settings(Settings(company_holidays_file=path))
    assert cal.is_holiday(dt.date(2026, 9, 15)) and cal.is_holiday(dt.date(2026, 12, 31))
    path.write_text("2026-13-01\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"days_off.txt:1: '2026-13-01' is not a date"):
        read_company_holidays(path)


def test_configurable_weekend_and_hours() -> None:
    cal = BusinessCalendar.from_settings(
        Settings(weekend_days=["fri", "sat"], business_hours_start=dt.time(7), holiday_country="")
    )
    assert cal.is_off_hours(dt.datetime(2026, 9, 4, 10, tzinfo=KST))  # Friday
    assert not cal.is_off_hours(dt.datetime(2026, 9, 6, 7, 30, tzinfo=KST))  # Sunday works
    assert not cal.is_holiday(dt.date(2026, 9, 25))  # no country calendar
