"""When a digest is due (reports/schedule.py): the configured day, moved past weekends,
Korean public holidays and company days off to the next working day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from auditlens.calendar import BusinessCalendar
from auditlens.config import ReportScheduleConfig, Settings
from auditlens.reports.period import Period
from auditlens.reports.schedule import due_periods, next_send_day, nominal_day, send_day

KOREA = BusinessCalendar()
MONDAYS = ReportScheduleConfig()  # weekly = "mon", monthly = 1


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def test_an_ordinary_week_and_month() -> None:
    week = Period.parse("2026-W37", "weekly")  # 7-13 September 2026
    assert nominal_day(week, MONDAYS) == send_day(week, MONDAYS, KOREA) == dt.date(2026, 9, 14)
    month = Period.parse("2026-10", "monthly")
    assert send_day(month, MONDAYS, KOREA) == dt.date(2026, 11, 2)  # the 1st is a Sunday
    friday = ReportScheduleConfig(weekly="Friday", monthly=15)
    assert send_day(week, friday, KOREA) == dt.date(2026, 9, 18)
    assert send_day(month, friday, KOREA) == dt.date(2026, 11, 16)  # the 15th: a Sunday


@pytest.mark.parametrize(
    ("period", "schedule", "nominal", "sent", "why"),
    [
        ("2026-W40", MONDAYS, "2026-10-05", "2026-10-06", "개천절 대체공휴일"),
        ("2026-W38", ReportScheduleConfig(weekly="thu"), "2026-09-24", "2026-09-28", "추석 연휴"),
        ("2026-12", MONDAYS, "2027-01-01", "2027-01-04", "신정, then a weekend"),
        ("2026-W41", ReportScheduleConfig(weekly="fri"), "2026-10-16", "2026-10-16", "workday"),
        ("2026-W40", ReportScheduleConfig(weekly="fri"), "2026-10-09", "2026-10-12", "한글날"),
    ],
)
def test_a_day_off_moves_the_digest_to_the_next_working_day(
    period: str, schedule: ReportScheduleConfig, nominal: str, sent: str, why: str
) -> None:
    chosen = Period.parse(period, "weekly" if "W" in period else "monthly")
    assert nominal_day(chosen, schedule) == dt.date.fromisoformat(nominal), why
    assert send_day(chosen, schedule, KOREA) == dt.date.fromisoformat(sent), why


def test_company_days_off_count_too(tmp_path: Path) -> None:
    days_off = tmp_path / "days-off.txt"
    days_off.write_text("# founders' day\n2026-09-14\n", encoding="utf-8")
    company = BusinessCalendar.from_settings(Settings(company_holidays_file=days_off))
    week = Period.parse("2026-W37", "weekly")
    assert send_day(week, MONDAYS, company) == dt.date(2026, 9, 15)
    assert send_day(week, MONDAYS, KOREA) == dt.date(2026, 9, 14)
    none = BusinessCalendar(holiday_country=None)
    assert send_day(Period.parse("2026-W40", "weekly"), MONDAYS, none) == dt.date(2026, 10, 5)


@pytest.mark.parametrize(
    "schedule",
    [MONDAYS, ReportScheduleConfig(weekly="sun", monthly=28), ReportScheduleConfig(weekly="sat")],
)
def test_every_period_is_due_on_exactly_one_day_of_a_year(schedule: ReportScheduleConfig) -> None:
    """Run daily for a year (Chuseok, Seollal, substitute holidays and all), each week and
    each month goes out once — a day-off schedule (sat, sun) on the next working day."""
    due: dict[str, list[dt.date]] = {}
    for day in _days(dt.date(2026, 1, 1), dt.date(2027, 2, 28)):
        for kind in ("weekly", "monthly"):
            for period in due_periods(day, kind, schedule, KOREA):  # type: ignore[arg-type]
                due.setdefault(period.label, []).append(day)
                assert not KOREA.is_day_off(day), (period.label, day)
                assert day > period.end
    weeks = {
        Period.containing(d, "weekly").label
        for d in _days(dt.date(2026, 1, 5), dt.date(2027, 1, 31))
    }
    months = {f"2026-{m:02d}" for m in range(1, 13)}
    assert weeks | months <= set(due)
    assert all(len(days) == 1 for days in due.values()), {
        k: v for k, v in due.items() if len(v) > 1
    }


def test_next_send_day_and_a_schedule_turned_off() -> None:
    assert next_send_day(dt.date(2026, 10, 5), "weekly", MONDAYS, KOREA) == dt.date(2026, 10, 6)
    assert next_send_day(dt.date(2026, 10, 6), "weekly", MONDAYS, KOREA) == dt.date(2026, 10, 12)
    assert next_send_day(dt.date(2026, 12, 31), "monthly", MONDAYS, KOREA) == dt.date(2027, 1, 4)
    off = ReportScheduleConfig(weekly=None, monthly=None)
    assert nominal_day(Period.parse("2026-W40", "weekly"), off) is None
    assert due_periods(dt.date(2026, 10, 6), "weekly", off, KOREA) == []
    assert next_send_day(dt.date(2026, 10, 6), "monthly", off, KOREA) is None
    assert nominal_day(Period.parse("2026-Q3", "quarterly"), MONDAYS) is None
