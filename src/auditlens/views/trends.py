"""Trends of a period: alerts per day and per department and severity, and the activity
behind them — users monitored, events, each day's risk.

The alerts are exactly those :func:`auditlens.views.kpis.kpis` counts for the same period
and scope (:func:`auditlens.views.kpis.period_alerts`), so a day's bars, a heat-map cell
and a KPI card add up to the same numbers. A day's risk is each user's newest score of
that day (the newest run that scored it), as :func:`auditlens.views.risk.user_history`
reads it. docs/kpis.md defines every number.

Example::

    with Store.open(settings) as store:
        trend = alert_trend(store, date(2026, 9, 1), date(2026, 9, 30))
        seen = activity(store, date(2026, 9, 1), date(2026, 9, 30)).users_monitored
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import Counter, defaultdict

import polars as pl
from pydantic import Field
from sqlalchemy import func, select

from auditlens.schema import TIMESTAMP
from auditlens.store.db import scores
from auditlens.store.repo import Store
from auditlens.views.common import DEFAULT_ZONE, ViewModel, period_bounds, reading, utc
from auditlens.views.kpis import period_alerts
from auditlens.views.scope import UNKNOWN_DEPARTMENT, AlertScope
from auditlens.vocabulary import Severity

_SEVERITIES = tuple(s.value for s in Severity)


class AlertDay(ViewModel):
    """The alerts opened on one local day, per severity (every severity present)."""

    day: dt.date
    by_severity: dict[str, int]


class AlertTrend(ViewModel):
    """The period's alerts by the day they were opened and by department and severity."""

    start: dt.date
    end: dt.date
    zone: str
    days: tuple[AlertDay, ...] = Field(description="every local day of the period, oldest first")
    by_department_severity: dict[str, dict[str, int]] = Field(
        description="department -> severity -> alerts (every severity present)"
    )


class RiskDay(ViewModel):
    """The users scored on one day: how many, per severity, their mean and highest risk."""

    day: dt.date
    users: int
    by_severity: dict[str, int]
    mean_risk: float | None = Field(description="mean decayed risk 0-100; null without users")
    max_risk: float | None


class Activity(ViewModel):
    """What the period's monitoring covered."""

    start: dt.date
    end: dt.date
    zone: str
    users_monitored: int = Field(description="users with a score on a day of the period")
    events: int = Field(description="stored events whose time falls in the period")
    days: tuple[RiskDay, ...] = Field(description="every day of the period, oldest first")


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def alert_trend(
    store: Store,
    start: dt.date,
    end: dt.date,
    *,
    zone: str = DEFAULT_ZONE,
    scope: AlertScope | None = None,
) -> AlertTrend:
    """The alerts opened from ``start`` to ``end`` (local days, both included, within
    ``scope``) per local day and per department and severity."""
    lower, upper = period_bounds(start, end, zone)
    with store.engine.connect() as conn:
        rows = conn.execute(period_alerts(lower, upper, scope)).all()
    tz = zoneinfo.ZoneInfo(zone)
    per_day: dict[dt.date, Counter[str]] = defaultdict(Counter)
    per_department: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        per_day[utc(row.created_at).astimezone(tz).date()][str(row.severity)] += 1
        per_department[row.department or UNKNOWN_DEPARTMENT][str(row.severity)] += 1
    return AlertTrend(
        start=start,
        end=end,
        zone=zone,
        days=tuple(AlertDay(day=d, by_severity=_every(per_day[d])) for d in _days(start, end)),
        by_department_severity={d: _every(counts) for d, counts in sorted(per_department.items())},
    )


def activity(store: Store, start: dt.date, end: dt.date, *, zone: str = DEFAULT_ZONE) -> Activity:
    """Users monitored, events and each day's risk from ``start`` to ``end`` (local days,
    both included; a score's day is its window, already a local day)."""
    newest = (
        select(
            scores.c.window,
            scores.c.severity,
            scores.c.decayed_risk,
            func.row_number()
            .over(partition_by=[scores.c.user_id, scores.c.window], order_by=scores.c.run_id.desc())
            .label("nth_run"),
        )
        .where(scores.c.window >= start, scores.c.window <= end)
        .subquery("newest")
    )
    per_day = (
        select(
            newest.c.window,
            newest.c.severity,
            func.count(),
            func.sum(newest.c.decayed_risk),
            func.max(newest.c.decayed_risk),
        )
        .where(newest.c.nth_run == 1)
        .group_by(newest.c.window, newest.c.severity)
    )
    users = select(func.count(func.distinct(scores.c.user_id))).where(
        scores.c.window >= start, scores.c.window <= end
    )
    with reading(store.engine) as conn:
        grouped = conn.execute(per_day).all()
        monitored = int(conn.execute(users).scalar_one())
    counts: dict[dt.date, Counter[str]] = defaultdict(Counter)
    sums: dict[dt.date, float] = defaultdict(float)
    highest: dict[dt.date, float] = {}
    for day, severity, n, total, top in grouped:
        counts[day][str(severity)] += int(n)
        sums[day] += float(total)
        highest[day] = max(highest.get(day, float(top)), float(top))
    days = []
    for day in _days(start, end):
        n = sum(counts[day].values())
        days.append(
            RiskDay(
                day=day,
                users=n,
                by_severity=_every(counts[day]),
                mean_risk=sums[day] / n if n else None,
                max_risk=highest.get(day),
            )
        )
    return Activity(
        start=start,
        end=end,
        zone=zone,
        users_monitored=monitored,
        events=events_between(store, start, end, zone=zone),
        days=tuple(days),
    )


def events_between(store: Store, start: dt.date, end: dt.date, *, zone: str = DEFAULT_ZONE) -> int:
    """Stored events (the lake) whose time falls on the local days ``start`` .. ``end``."""
    lower, upper = period_bounds(start, end, zone)
    stamp = pl.col(TIMESTAMP)
    found = (
        store.events.scan()
        .filter((stamp >= lower) & (stamp < upper))
        .select(pl.len())
        .collect()
        .item()
    )
    return int(found)


def _every(counts: Counter[str]) -> dict[str, int]:
    """Counts per severity, every severity present (0 when none), least severe first."""
    return {s: counts.get(s, 0) for s in _SEVERITIES} | {
        k: n for k, n in sorted(counts.items()) if k not in _SEVERITIES
    }
