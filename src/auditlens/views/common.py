"""What every read view shares: the model base, pages, periods, percentiles, NotFound.

Every view returns frozen, strict pydantic models (the API returns them as they are);
a list is a :class:`PageOf` asked for with a :class:`Page` (offset + limit, at most
:data:`MAX_LIMIT` items, with the total). A period is two local days, both included,
in the deployment's time zone (default Asia/Seoul).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import zoneinfo
from collections.abc import Iterator, Sequence
from typing import Final, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine

from auditlens.errors import AuditlensError

#: The most items one page may hold.
MAX_LIMIT: Final = 500
#: The time zone periods are read in unless the caller says otherwise.
DEFAULT_ZONE: Final = "Asia/Seoul"

T = TypeVar("T")


class NotFound(AuditlensError):
    """The store knows no such user, alert or model (the API answers 404)."""

    hint = "check the id"
    ko_hint = "ID를 확인하십시오"


class ViewModel(BaseModel):
    """Base of every view model: immutable, no lax coercion, no unknown fields."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")


class Page(ViewModel):
    """Which slice of a list to return: ``limit`` items from ``offset`` (0-based)."""

    limit: int = Field(default=50, ge=1, le=MAX_LIMIT, description="items per page (1-500)")
    offset: int = Field(default=0, ge=0, description="items to skip")


class PageOf(BaseModel, Generic[T]):
    """One page of a list in a stable order, with the total over every page."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    items: tuple[T, ...]
    total: int = Field(description="items over all pages")
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null on the last")


@contextlib.contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads that need no transaction of their own (each statement sees
    committed data): in autocommit mode, so no BEGIN/ROLLBACK round trips — the hot
    path of the API (``user_risk``) is then one round trip to the database. SQLite's
    driver begins no transaction for a read anyway: switching it costs two statements."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            yield conn
        else:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")


def page_of(items: Sequence[T], total: int, page: Page) -> PageOf[T]:
    """A page holding ``items`` (already sliced) of ``total``."""
    following = page.offset + len(items)
    return PageOf[T](
        items=tuple(items),
        total=total,
        limit=page.limit,
        offset=page.offset,
        next_offset=following if following < total else None,
    )


def day_bounds(
    start: dt.date | None, end: dt.date | None, zone: str = DEFAULT_ZONE
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """UTC instants ``[start 00:00, end+1 00:00)`` of local days (None: open end).

    Example: ``day_bounds(date(2026, 9, 8), date(2026, 9, 8))`` is
    ``(2026-09-07 15:00 UTC, 2026-09-08 15:00 UTC)`` in Asia/Seoul.
    """
    tz = zoneinfo.ZoneInfo(zone)
    lower = None if start is None else _utc_midnight(start, tz)
    upper = None if end is None else _utc_midnight(end + dt.timedelta(days=1), tz)
    return lower, upper


def period_bounds(
    start: dt.date, end: dt.date, zone: str = DEFAULT_ZONE
) -> tuple[dt.datetime, dt.datetime]:
    """UTC instants ``[start 00:00, end+1 00:00)`` of a closed period of local days."""
    tz = zoneinfo.ZoneInfo(zone)
    return _utc_midnight(start, tz), _utc_midnight(end + dt.timedelta(days=1), tz)


def _utc_midnight(day: dt.date, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC; naive values (SQLite returns them) are taken as UTC."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def percentile(values: Sequence[float], share: float) -> float | None:
    """The ``share`` (0-1) percentile by linear interpolation between closest ranks —
    Excel's PERCENTILE.INC and numpy's default; None for no values.

    >>> percentile([10, 20, 30, 40], 0.5), percentile([10, 20, 30, 40], 0.9)
    (25.0, 37.0)
    """
    if not values:
        return None
    ordered = sorted(values)
    h = (len(ordered) - 1) * share
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (h - low) * (ordered[high] - ordered[low]))
