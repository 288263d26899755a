"""What to generate (:class:`GeneratorSpec`), what comes out (:class:`SyntheticData`), and
the calendar days of the period (:class:`Period`)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from auditlens.calendar import BusinessCalendar
from auditlens.errors import AuditlensError

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
#: Equal-length arrays by column name (sessions, tasks).
Columns = dict[str, npt.NDArray[Any]]

HOUR: Final = 3_600_000_000  # microseconds
DAY: Final = 24 * HOUR
EPOCH: Final = dt.date(1970, 1, 1)
NEVER: Final = np.iinfo(np.int64).max
#: Generator profiles: ``default`` (loud planted insiders) and ``realistic`` (quiet
#: insiders among benign look-alikes, joiners, leavers and transfers).
PROFILES: Final = ("default", "realistic")


@dataclass(frozen=True)
class GeneratorSpec:
    """What to generate: ``users`` people over ``days`` calendar days from ``start``.

    ``insider_rate`` is the share of users who act out a scenario (at least one per
    scenario when there are enough users outside IT; 0 plants none). ``actions_per_day``
    is the mean number of resource actions of an ordinary user on a working day.
    ``profile`` is one of :data:`PROFILES`: ``realistic`` plants quiet insiders (a
    handful of first-ever events) among on-call IT staff, month-end closing, travellers,
    joiners, leavers and transfers (see docs/scenarios.md).
    Raises AuditlensError for impossible values.
    """

    users: int = 200
    days: int = 30
    seed: int = 7
    start: dt.date = dt.date(2026, 9, 1)
    insider_rate: float = 0.02
    timezone: str = "Asia/Seoul"
    actions_per_day: float = 40.0
    profile: str = "default"

    def __post_init__(self) -> None:
        problems: list[tuple[str, str]] = []  # (English, Korean)
        if self.users < 1:
            problems.append(
                (
                    f"users must be at least 1, got {self.users}",
                    f"users는 1 이상이어야 합니다 (현재 {self.users})",
                )
            )
        if self.days < 1:
            problems.append(
                (
                    f"days must be at least 1, got {self.days}",
                    f"days는 1 이상이어야 합니다 (현재 {self.days})",
                )
            )
        if not 0.0 <= self.insider_rate <= 0.5:
            problems.append(
                (
                    f"insider_rate must be within 0..0.5, got {self.insider_rate}",
                    f"insider_rate는 0~0.5 사이여야 합니다 (현재 {self.insider_rate})",
                )
            )
        if not self.actions_per_day > 0:
            problems.append(
                (
                    f"actions_per_day must be positive, got {self.actions_per_day}",
                    f"actions_per_day는 0보다 커야 합니다 (현재 {self.actions_per_day})",
                )
            )
        if self.profile not in PROFILES:
            problems.append(
                (
                    f"profile must be one of {', '.join(PROFILES)}, got {self.profile!r}",
                    f"profile은 {', '.join(PROFILES)} 중 하나여야 합니다 (현재 {self.profile!r})",
                )
            )
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(
                (
                    f"timezone {self.timezone!r} is not a known IANA zone",
                    f"timezone 값 {self.timezone!r}은 알려진 IANA 시간대가 아닙니다",
                )
            )
        if problems:
            raise AuditlensError(
                "invalid synthetic spec: " + "; ".join(en for en, _ in problems),
                hint="e.g. GeneratorSpec(users=200, days=30, insider_rate=0.02)",
                ko="합성 데이터 설정이 올바르지 않습니다: " + "; ".join(ko for _, ko in problems),
                ko_hint="예: GeneratorSpec(users=200, days=30, insider_rate=0.02)",
            )

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON-ready plain data (``start`` as ISO date); ``profile`` only
        when not the default (watermarks of default specs stay as they were)."""
        out: dict[str, Any] = {
            "users": self.users,
            "days": self.days,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "insider_rate": self.insider_rate,
            "timezone": self.timezone,
            "actions_per_day": self.actions_per_day,
        }
        if self.profile != "default":
            out["profile"] = self.profile
        return out


@dataclass(frozen=True)
class SyntheticData:
    """A generated organisation: events, the answer key, the catalog and the directory.

    ``events`` has the canonical columns and dtypes, sorted by timestamp. ``labels`` has
    one row per insider: ``start`` is local midnight of the first scenario day and ``end``
    the exclusive end of the scenario (UTC). ``directory`` has ``user_id, department,
    role, host, src_ip, hired, left``; ``left`` (nullable) is the first day without events.
    ``cast`` (realistic profile only, else None) names the benign look-alikes and the
    quiet insiders: ``user_id, kind, start, end`` (local dates, ``end`` inclusive).
    """

    events: pl.DataFrame
    labels: pl.DataFrame
    catalog: pl.DataFrame
    directory: pl.DataFrame
    cast: pl.DataFrame | None = None


@dataclass(frozen=True, eq=False)
class Period:
    """The spec's calendar days: which are off, and where each starts.

    ``midnight`` is each day's local midnight in microseconds of local wall time since
    1970-01-01 (the generator works in local time); ``utc_offset`` is the zone's offset
    at each day's noon, in microseconds.
    """

    dates: list[dt.date]
    day_off: Bool
    midnight: I64
    utc_offset: I64

    @classmethod
    def of(cls, spec: GeneratorSpec, cal: BusinessCalendar) -> Period:
        """The days of ``spec``, weekends and holidays as ``cal`` says."""
        zone = zoneinfo.ZoneInfo(spec.timezone)
        dates = [spec.start + dt.timedelta(days=i) for i in range(spec.days)]
        holidays = cal.holidays({d.year for d in dates})
        day_off = np.array([d.isoweekday() in cal.weekend or d in holidays for d in dates])
        midnight = np.array([(d - EPOCH).days * DAY for d in dates], dtype=np.int64)
        offsets = [dt.datetime(d.year, d.month, d.day, 12, tzinfo=zone).utcoffset() for d in dates]
        utc_offset = np.array(
            [int((o or dt.timedelta()).total_seconds()) * 1_000_000 for o in offsets], np.int64
        )
        return cls(dates, day_off, midnight, utc_offset)

    def utc(self, local_us: int) -> dt.datetime:
        """A local time (microseconds of wall time) as an aware UTC datetime."""
        day = min(max((local_us - int(self.midnight[0])) // DAY, 0), len(self.dates) - 1)
        us = local_us - int(self.utc_offset[day])
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)
