"""Detection quality from triage and review: precision per week and scenario, time to
close, and the miss rate the review samples estimate (docs/monitoring.md, *Precision and
recall*).

Precision comes from what analysts decided: of a week's alerts (opened in that ISO week,
local days in the deployment's zone) those now **confirmed** and those now **dismissed**
are counted exactly as :func:`auditlens.views.kpis.kpis` counts them (one function,
:func:`~auditlens.views.kpis.outcomes`), and precision = confirmed / (confirmed +
dismissed), None while nothing is decided. Time to close is kpis' too, in hours.

Recall needs what nobody flagged: the review samples (``monitor/review.py``). Of the
samples drawn in the period and reviewed, the share said ``missed`` is the miss rate,
with a Wilson 95% interval; times the unflagged population it was drawn from (the
largest population of the period's draws: runs score largely the same users) it
estimates the users missed, and recall = confirmed / (confirmed + estimated missed),
its interval from the rate's.

Example::

    with Store.open(settings) as store:
        q = quality(store, date(2026, 9, 7), date(2026, 9, 20))
        q.weeks[0].week, q.weeks[0].precision, q.misses.recall
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Final

from pydantic import Field
from sqlalchemy import func, select

from auditlens.store.db import review_samples
from auditlens.store.repo import Store
from auditlens.store.reviews import REVIEW_STATUSES
from auditlens.views.common import DEFAULT_ZONE, ViewModel, percentile, period_bounds, reading, utc
from auditlens.views.kpis import Outcome, outcomes, period_alerts

#: z of a two-sided 95% interval.
Z95: Final = 1.959963984540054
#: Days the metrics' precision and miss rate look back.
RECENT_DAYS: Final = 28


class QualityRow(ViewModel):
    """The alerts of one ISO week and/or scenario (None: all of them)."""

    week: str | None = Field(description="ISO week, e.g. 2026-W37 (None: the whole period)")
    week_start: dt.date | None = Field(description="the week's Monday")
    scenario: str | None = Field(description="None: every scenario")
    alerts: int
    confirmed: int = Field(description="closed with the reason confirmed (docs/kpis.md)")
    closed: int = Field(description="now closed (confirmed or not)")
    dismissed: int
    open: int = Field(description="neither closed nor dismissed yet")
    precision: float | None = Field(description="confirmed / (confirmed + dismissed)")
    closed_measured: int = Field(description="ended alerts whose end the trail dates")
    median_hours_to_close: float | None
    p90_hours_to_close: float | None


class MissEstimate(ViewModel):
    """What the review samples of a period say the capacity cut misses."""

    drawn: int = Field(description="samples drawn in the period")
    pending: int
    reviewed: int = Field(description="samples decided missed or clean")
    missed: int
    miss_rate: float | None = Field(description="missed / reviewed")
    miss_rate_low: float | None = Field(description="Wilson 95% interval")
    miss_rate_high: float | None
    population: int = Field(description="unflagged users drawn from (the largest draw's)")
    estimated_missed: float | None = Field(description="miss_rate x population")
    estimated_missed_low: float | None
    estimated_missed_high: float | None
    confirmed: int = Field(description="the period's confirmed alerts")
    recall: float | None = Field(description="confirmed / (confirmed + estimated_missed)")
    recall_low: float | None
    recall_high: float | None


class Quality(ViewModel):
    """Precision per week and scenario and the miss-rate estimate of one period."""

    start: dt.date
    end: dt.date
    zone: str
    total: QualityRow
    weeks: tuple[QualityRow, ...] = Field(description="every ISO week of the period")
    scenarios: tuple[QualityRow, ...] = Field(description="each scenario over the period")
    cells: tuple[QualityRow, ...] = Field(description="week x scenario, where alerts were")
    misses: MissEstimate


class RecentQuality(ViewModel):
    """The figures monitoring exports: the last :data:`RECENT_DAYS` days before ``at``."""

    at: dt.datetime
    precision_by_scenario: dict[str, float | None]
    reviews_by_status: dict[str, int] = Field(description="every sample ever drawn")
    miss_rate: float | None


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval of a proportion (None for no trials).

    >>> low, high = wilson(1, 10)
    >>> round(low, 4), round(high, 4)
    (0.0179, 0.4042)
    """
    if trials <= 0:
        return None
    p, n, z2 = successes / trials, trials, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def iso_week(day: dt.date) -> str:
    """``day``'s ISO week as ``YYYY-Www``.

    >>> iso_week(dt.date(2026, 9, 13)), iso_week(dt.date(2026, 9, 14))
    ('2026-W37', '2026-W38')
    """
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def last_weeks(today: dt.date, weeks: int) -> tuple[dt.date, dt.date]:
    """The Monday ``weeks - 1`` weeks before ``today``'s week, and ``today``'s Sunday.

    >>> last_weeks(dt.date(2026, 9, 16), 2)
    (datetime.date(2026, 9, 7), datetime.date(2026, 9, 20))
    """
    monday = today - dt.timedelta(days=today.weekday())
    return monday - dt.timedelta(weeks=max(weeks, 1) - 1), monday + dt.timedelta(days=6)


def quality(store: Store, start: dt.date, end: dt.date, *, zone: str = DEFAULT_ZONE) -> Quality:
    """Precision and time to close per ISO week and scenario of the alerts opened from
    ``start`` to ``end`` (local days in ``zone``, both included), and the miss-rate
    estimate of the review samples drawn in those days."""
    lower, upper = period_bounds(start, end, zone)
    tz = zoneinfo.ZoneInfo(zone)
    with reading(store.engine) as conn:
        rows = conn.execute(period_alerts(lower, upper)).all()
        drawn = conn.execute(
            select(review_samples.c.status, review_samples.c.population).where(
                review_samples.c.drawn_at >= lower, review_samples.c.drawn_at < upper
            )
        ).all()
    ends = outcomes(store, rows, lower)
    groups: dict[tuple[str | None, str | None], list[Outcome]] = defaultdict(list)
    for r in rows:
        week, scenario = iso_week(utc(r.created_at).astimezone(tz).date()), str(r.scenario)
        for key in ((None, None), (week, None), (None, scenario), (week, scenario)):
            groups[key].append(ends[int(r.id)])
    mondays = _mondays(start, end)
    total = _row(None, None, groups[(None, None)])
    return Quality(
        start=start,
        end=end,
        zone=zone,
        total=total,
        weeks=tuple(_row(m, None, groups[(iso_week(m), None)]) for m in mondays),
        scenarios=tuple(
            _row(None, s, groups[(None, s)])
            for s in sorted({s for w, s in groups if w is None and s is not None})
        ),
        cells=tuple(
            _row(m, s, groups[(iso_week(m), s)])
            for m in mondays
            for s in sorted({s for w, s in groups if w == iso_week(m) and s is not None})
        ),
        misses=estimate([(str(s), int(p)) for s, p in drawn], total.confirmed),
    )


def estimate(samples: Sequence[tuple[str, int]], confirmed: int) -> MissEstimate:
    """The miss-rate estimate of ``samples`` (status, population) against ``confirmed``."""
    missed = sum(s == "missed" for s, _ in samples)
    reviewed = missed + sum(s == "clean" for s, _ in samples)
    population = max((p for _, p in samples), default=0)
    interval = wilson(missed, reviewed)
    rate = None if reviewed == 0 else missed / reviewed
    low, high = (None, None) if interval is None else interval
    scaled = [None if x is None else x * population for x in (rate, low, high)]
    return MissEstimate(
        drawn=len(samples),
        pending=sum(s == "pending" for s, _ in samples),
        reviewed=reviewed,
        missed=missed,
        miss_rate=rate,
        miss_rate_low=low,
        miss_rate_high=high,
        population=population,
        estimated_missed=scaled[0],
        estimated_missed_low=scaled[1],
        estimated_missed_high=scaled[2],
        confirmed=confirmed,
        recall=_recall(confirmed, scaled[0]),
        # more missed users, less recall: the interval's ends swap
        recall_low=_recall(confirmed, scaled[2]),
        recall_high=_recall(confirmed, scaled[1]),
    )


def recent_quality(
    store: Store, *, now: dt.datetime | None = None, days: int = RECENT_DAYS
) -> RecentQuality:
    """Precision per scenario of the alerts opened in the ``days`` days before ``now``,
    review samples per status, and the miss rate of the samples drawn in those days."""
    at = utc(now or dt.datetime.now(dt.UTC))
    since = at - dt.timedelta(days=days)
    with reading(store.engine) as conn:
        rows = conn.execute(period_alerts(since, at)).all()
        counted = conn.execute(
            select(review_samples.c.status, func.count()).group_by(review_samples.c.status)
        ).all()
        recent = conn.execute(
            select(review_samples.c.status, review_samples.c.population).where(
                review_samples.c.drawn_at >= since
            )
        ).all()
    ends = outcomes(store, rows, since)
    by_scenario: dict[str, list[Outcome]] = defaultdict(list)
    for r in rows:
        by_scenario[str(r.scenario)].append(ends[int(r.id)])
    found = {str(s): int(n) for s, n in counted}
    return RecentQuality(
        at=at,
        precision_by_scenario={
            s: _row(None, s, group).precision for s, group in sorted(by_scenario.items())
        },
        reviews_by_status={s: found.get(s, 0) for s in REVIEW_STATUSES}
        | {s: n for s, n in sorted(found.items()) if s not in REVIEW_STATUSES},
        miss_rate=estimate([(str(s), int(p)) for s, p in recent], 0).miss_rate,
    )


def _row(monday: dt.date | None, scenario: str | None, found: Iterable[Outcome]) -> QualityRow:
    ended = list(found)
    confirmed = sum(o.confirmed for o in ended)
    dismissed = sum(o.status == "dismissed" for o in ended)
    closed = sum(o.status == "closed" for o in ended)
    hours = [o.end_seconds / 3600 for o in ended if o.end_seconds is not None]
    return QualityRow(
        week=None if monday is None else iso_week(monday),
        week_start=monday,
        scenario=scenario,
        alerts=len(ended),
        confirmed=confirmed,
        closed=closed,
        dismissed=dismissed,
        open=len(ended) - closed - dismissed,
        precision=None if confirmed + dismissed == 0 else confirmed / (confirmed + dismissed),
        closed_measured=len(hours),
        median_hours_to_close=percentile(hours, 0.5),
        p90_hours_to_close=percentile(hours, 0.9),
    )


def _mondays(start: dt.date, end: dt.date) -> list[dt.date]:
    """The Monday of every ISO week that has a day from ``start`` to ``end``."""
    monday = start - dt.timedelta(days=start.weekday())
    found = []
    while monday <= end:
        found.append(monday)
        monday += dt.timedelta(weeks=1)
    return found


def _recall(confirmed: int, missed: float | None) -> float | None:
    if missed is None or confirmed + missed <= 0:
        return None
    return confirmed / (confirmed + missed)
