"""The period a report covers: an ISO week, a month or a quarter of local days.

A period is written the way people in a compliance team name it: ``2026-W37`` (ISO week,
Monday to Sunday), ``2026-09`` (a month), ``2026-Q3`` (a quarter). Its days are local days
in the deployment's time zone, both ends included, as every view reads a period.

Example::

    >>> p = Period.parse("2026-09", "monthly")
    >>> p.start, p.end, p.label
    (datetime.date(2026, 9, 1), datetime.date(2026, 9, 30), '2026-09')
    >>> p.previous().label, Period.parse("2027-W01", "weekly").previous().label
    ('2026-08', '2026-W53')
    >>> Period.parse("2026-Q1", "quarterly").previous().title("ko")
    '2025년 4분기'
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final, Literal, get_args

from auditlens.errors import AuditlensError
from auditlens.views import ViewModel

PeriodKind = Literal["weekly", "monthly", "quarterly"]
#: Every kind of period, shortest first.
PERIOD_KINDS: Final[tuple[PeriodKind, ...]] = get_args(PeriodKind)

_FORMS: Final[dict[PeriodKind, re.Pattern[str]]] = {
    "weekly": re.compile(r"(\d{4})-W(\d{1,2})"),
    "monthly": re.compile(r"(\d{4})-(\d{1,2})"),
    "quarterly": re.compile(r"(\d{4})-Q([1-4])"),
}
_EXAMPLES: Final[dict[PeriodKind, str]] = {
    "weekly": "2026-W37",
    "monthly": "2026-09",
    "quarterly": "2026-Q3",
}
_MONTHS_EN: Final = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


class PeriodError(AuditlensError):
    """A report period that cannot be read (exit 2, as a bad option is)."""

    exit_code = 2


class Period(ViewModel):
    """A report's period: its kind, first and last local day, and its label."""

    kind: PeriodKind
    start: dt.date
    end: dt.date
    label: str

    @classmethod
    def parse(cls, text: str, kind: PeriodKind) -> Period:
        """The period ``text`` names: ``2026-W37`` (weekly), ``2026-09`` (monthly) or
        ``2026-Q3`` (quarterly).

        Raises:
            PeriodError: ``text`` is not a period of that kind, or no such week or month.
        """
        found = _FORMS[kind].fullmatch(text.strip().upper())
        if found is None:
            raise _unreadable(text, kind)
        year, number = int(found.group(1)), int(found.group(2))
        try:
            if kind == "weekly":
                return cls.containing(dt.date.fromisocalendar(year, number, 1), kind)
            if kind == "monthly":
                return cls.containing(dt.date(year, number, 1), kind)
            return cls.containing(dt.date(year, 3 * number - 2, 1), kind)
        except ValueError:
            raise _unreadable(text, kind) from None

    @classmethod
    def containing(cls, day: dt.date, kind: PeriodKind) -> Period:
        """The period of ``kind`` that ``day`` falls in."""
        if kind == "weekly":
            year, week, weekday = day.isocalendar()
            start = day - dt.timedelta(days=weekday - 1)
            return cls(
                kind=kind,
                start=start,
                end=start + dt.timedelta(days=6),
                label=f"{year}-W{week:02d}",
            )
        if kind == "monthly":
            start = day.replace(day=1)
            end = _next_month(start) - dt.timedelta(days=1)
            return cls(kind=kind, start=start, end=end, label=f"{day.year}-{day.month:02d}")
        quarter = (day.month - 1) // 3 + 1
        start = dt.date(day.year, 3 * quarter - 2, 1)
        end = _next_month(_next_month(_next_month(start))) - dt.timedelta(days=1)
        return cls(kind=kind, start=start, end=end, label=f"{day.year}-Q{quarter}")

    def previous(self) -> Period:
        """The period of the same kind just before this one."""
        return Period.containing(self.start - dt.timedelta(days=1), self.kind)

    @property
    def days(self) -> int:
        """How many days the period has."""
        return (self.end - self.start).days + 1

    def title(self, lang: str) -> str:
        """The period as a person names it: '2026년 9월' / 'September 2026'."""
        if self.kind == "monthly":
            month = self.start.month
            if lang == "ko":
                return f"{self.start.year}년 {month}월"
            return f"{_MONTHS_EN[month - 1]} {self.start.year}"
        if self.kind == "quarterly":
            quarter = self.label[-1]
            year = self.start.year
            return f"{year}년 {quarter}분기" if lang == "ko" else f"Q{quarter} {year}"
        iso_year, week = self.label.split("-W")
        if lang == "ko":
            return f"{iso_year}년 {int(week)}주차 ({_day_ko(self.start)}~{_day_ko(self.end)})"
        return f"week {int(week)} of {iso_year} ({self.start:%d %b} - {self.end:%d %b})"

    def span(self) -> str:
        """The first and last day: '2026-09-01 ~ 2026-09-30'."""
        return f"{self.start.isoformat()} ~ {self.end.isoformat()}"


def _next_month(first: dt.date) -> dt.date:
    return dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _day_ko(day: dt.date) -> str:
    return f"{day.month}월 {day.day}일"


def _unreadable(text: str, kind: PeriodKind) -> PeriodError:
    example = _EXAMPLES[kind]
    return PeriodError(
        f"--period {text!r} is not a {kind} period (write it like {example})",
        ko=f"--period {text!r}은(는) {_KIND_KO[kind]} 기간이 아닙니다 ({example}처럼 쓰십시오)",
        hint=f"e.g. --period {example}",
        ko_hint=f"예: --period {example}",
    )


_KIND_KO: Final[dict[PeriodKind, str]] = {"weekly": "주간", "monthly": "월간", "quarterly": "분기"}


def kind_word(kind: PeriodKind, lang: str) -> str:
    """The kind of report in ``lang``: '월간' / 'monthly'."""
    return _KIND_KO[kind] if lang == "ko" else kind
