"""The KPIs of a period, exactly as docs/kpis.md defines each number.

The API, the dashboard and the reports all call :func:`kpis`; nothing else computes these
numbers, so they agree to the digit. The period's alerts are those *opened* on its local
days (both included); their status and decisions are taken as they stand when asked. An
:class:`AlertScope` narrows them to some departments, severities or scenarios (the
dashboard's filters); the data figures (quarantine, tampering) are not per alert and
stay whole.

Example::

    with Store.open(settings) as store:
        figures = kpis(store, date(2026, 9, 1), date(2026, 9, 30))
        figures.dismissal_rate, figures.time_to_first_action.median_seconds
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from pydantic import Field
from sqlalchemy import Column, Connection, Select, func, select

from auditlens.store.alerts import ALERT_STATUSES
from auditlens.store.audit import AuditEntry
from auditlens.store.db import alerts, quarantine, tamper_findings
from auditlens.store.repo import Store
from auditlens.views.alerts import DECISION_ACTIONS
from auditlens.views.common import DEFAULT_ZONE, ViewModel, percentile, period_bounds, utc
from auditlens.views.scope import UNKNOWN_DEPARTMENT, AlertScope, within
from auditlens.vocabulary import Severity

#: The reason code that makes a closed alert *confirmed* (alerts/reasons.py).
CONFIRMED_CODE: Final = "confirmed"


def period_alerts(
    lower: dt.datetime, upper: dt.datetime, scope: AlertScope | None = None
) -> Select[Any]:
    """The alerts opened in ``[lower, upper)`` within ``scope``: id, severity, status,
    department, scenario, created_at — the rows every figure of a period counts."""
    query = select(
        alerts.c.id,
        alerts.c.severity,
        alerts.c.status,
        alerts.c.department,
        alerts.c.scenario,
        alerts.c.created_at,
    ).where(alerts.c.created_at >= lower, alerts.c.created_at < upper)
    return within(query, scope)


class Durations(ViewModel):
    """Median and 90th percentile of durations (PERCENTILE.INC), in seconds."""

    count: int = Field(description="alerts measured")
    median_seconds: float | None
    p90_seconds: float | None


class Kpis(ViewModel):
    """Every KPI of one period (docs/kpis.md defines each field)."""

    start: dt.date
    end: dt.date
    zone: str
    alerts: int
    by_severity: dict[str, int]
    by_status: dict[str, int]
    by_department: dict[str, int]
    by_scenario: dict[str, int]
    time_to_first_action: Durations
    time_to_close: Durations
    ended: int = Field(description="alerts now closed or dismissed")
    closed: int
    dismissed: int
    dismissal_rate: float | None = Field(description="dismissed / ended")
    confirmed: int
    confirmed_rate: float | None = Field(description="confirmed / ended")
    four_eyes: int = Field(description="closed alerts whose closing a second principal approved")
    four_eyes_share: float | None = Field(description="four_eyes / closed")
    quarantined_rows: int
    tamper_findings: int


def kpis(
    store: Store,
    start: dt.date,
    end: dt.date,
    *,
    zone: str = DEFAULT_ZONE,
    scope: AlertScope | None = None,
) -> Kpis:
    """The KPIs of the alerts opened from ``start`` to ``end`` (local days in ``zone``,
    both included; within ``scope`` when given) and of the data quarantined and tampering
    found in those days."""
    lower, upper = period_bounds(start, end, zone)
    with store.engine.connect() as conn:
        rows = conn.execute(period_alerts(lower, upper, scope)).all()
        quarantined = _count(conn, quarantine.c.quarantined_at, lower, upper)
        tampered = _count(conn, tamper_findings.c.detected_at, lower, upper)
    ends = outcomes(store, rows, lower)
    first = [o.first_action_seconds for o in ends.values() if o.first_action_seconds is not None]
    ending = [o.end_seconds for o in ends.values() if o.end_seconds is not None]
    closed = sum(o.status == "closed" for o in ends.values())
    dismissed = sum(o.status == "dismissed" for o in ends.values())
    confirmed = sum(o.confirmed for o in ends.values())
    four_eyes = sum(o.four_eyes for o in ends.values())
    status = {alert_id: o.status for alert_id, o in ends.items()}
    ended = closed + dismissed
    return Kpis(
        start=start,
        end=end,
        zone=zone,
        alerts=len(rows),
        by_severity=_every([str(r.severity) for r in rows], [s.value for s in Severity]),
        by_status=_every(list(status.values()), list(ALERT_STATUSES)),
        by_department=dict(
            sorted(Counter(r.department or UNKNOWN_DEPARTMENT for r in rows).items())
        ),
        by_scenario=dict(sorted(Counter(str(r.scenario) for r in rows).items())),
        time_to_first_action=durations(first),
        time_to_close=durations(ending),
        ended=ended,
        closed=closed,
        dismissed=dismissed,
        dismissal_rate=_share(dismissed, ended),
        confirmed=confirmed,
        confirmed_rate=_share(confirmed, ended),
        four_eyes=four_eyes,
        four_eyes_share=_share(four_eyes, closed),
        quarantined_rows=quarantined,
        tamper_findings=tampered,
    )


@dataclass(frozen=True)
class Outcome:
    """Where one alert stands, as every figure of docs/kpis.md reads it."""

    status: str
    #: seconds from opening to its first decision (None: none yet)
    first_action_seconds: float | None
    #: closed or dismissed: seconds from opening to the decision that ended it (None:
    #: not ended, or ended without a decision in the trail)
    end_seconds: float | None
    #: closed, and its closing decision carries the reason code ``confirmed``
    confirmed: bool
    #: closed, and the decision that ended it is a second principal's ``approve``
    four_eyes: bool


def outcomes(store: Store, rows: Sequence[Any], since: dt.datetime) -> dict[int, Outcome]:
    """Each alert of ``rows`` (:func:`period_alerts`' rows: id, status, created_at) as it
    stands now: the one reading of "confirmed", "dismissed" and "time to close" that
    :func:`kpis` and ``views.quality`` share. ``since``: no decision precedes it."""
    decisions = _decisions(store, {int(r.id) for r in rows}, since)
    found: dict[int, Outcome] = {}
    for r in rows:
        alert_id, now, opened = int(r.id), str(r.status), utc(r.created_at)
        entries = decisions.get(alert_id, [])
        first = (entries[0].at - opened).total_seconds() if entries else None
        end: float | None = None
        confirmed = four_eyes = False
        if now in ("closed", "dismissed"):
            final = _last(entries, ("close", "approve") if now == "closed" else ("dismiss",))
            if final is not None:
                end = (final.at - opened).total_seconds()
            if now == "closed":
                four_eyes = final is not None and final.action == "approve"
                request = _last(entries, ("close", "request_close"))
                confirmed = request is not None and request.reason_code == CONFIRMED_CODE
        found[alert_id] = Outcome(now, first, end, confirmed, four_eyes)
    return found


def _decisions(store: Store, ids: set[int], since: dt.datetime) -> dict[int, list[AuditEntry]]:
    """Decision entries about the alerts ``ids`` (none precedes its alert), oldest first."""
    if not ids:
        return {}
    found: dict[int, list[AuditEntry]] = defaultdict(list)
    for entry in store.audit.entries(actions=DECISION_ACTIONS, since=since):
        kind, _, number = entry.target.partition(":")
        if kind == "alert" and number.isdigit() and int(number) in ids:
            found[int(number)].append(entry)
    return found


def _last(entries: list[AuditEntry], actions: tuple[str, ...]) -> AuditEntry | None:
    return next((e for e in reversed(entries) if e.action in actions), None)


def _count(conn: Connection, column: Column[Any], lower: dt.datetime, upper: dt.datetime) -> int:
    query = select(func.count()).where(column >= lower, column < upper)
    return int(conn.execute(query).scalar_one())


def _every(values: list[str], known: list[str]) -> dict[str, int]:
    """Counts of ``values``: every ``known`` key present (0 when none), then any other."""
    counts = Counter(values)
    return {k: counts.get(k, 0) for k in known} | {
        k: n for k, n in sorted(counts.items()) if k not in known
    }


def durations(seconds: list[float]) -> Durations:
    return Durations(
        count=len(seconds),
        median_seconds=percentile(seconds, 0.5),
        p90_seconds=percentile(seconds, 0.9),
    )


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole
