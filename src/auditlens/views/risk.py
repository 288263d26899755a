"""Risk views: a user's latest risk with its reasons and evidence, their history, and the
riskiest users of a period.

A user's risk on a day is the stored score of that (user, day) from the newest run that
scored it (incremental runs store only new days, so older days keep their run). The
risk shown is the *decayed* risk 0-100 — the number severity bands, peaks and alerts use
(scoring.py); ``day_risk`` is that day's own risk before decay.

Example::

    with Store.open(settings) as store:
        risk = user_risk(store, "U0042")        # UserRisk(risk=87.5, severity='high', ...)
        days = user_history(store, "U0042", date(2026, 9, 1), date(2026, 9, 30))
        top = top_risks(store, RiskFilters(min_severity=Severity.HIGH), Page(limit=20))
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from pydantic import Field
from sqlalchemy import (
    Connection,
    RowMapping,
    Select,
    String,
    bindparam,
    func,
    literal,
    or_,
    select,
)

from auditlens.store.alerts import ACTIVE_STATUSES, AlertStatus
from auditlens.store.db import alerts, ingest_batches, scores
from auditlens.store.repo import Store
from auditlens.views.common import NotFound, Page, PageOf, ViewModel, page_of, reading
from auditlens.views.reasons import ReasonView, reason_views, scenario_of
from auditlens.views.scope import UNKNOWN_DEPARTMENT, AlertScope
from auditlens.vocabulary import Severity


class RiskEvidence(ViewModel):
    """Where a stored score came from: enough to replay it (``auditlens explain``)."""

    score_id: int
    run_id: int
    model_sha256: str
    feature_hash: str = Field(description="sha256 of the feature row that was scored")
    config_hash: str = Field(description="fingerprint of the settings that change scores")
    data_batch_id: int = Field(description="the last ingest batch the run saw")
    data_watermark: str | None = Field(description="that batch's source watermark")

    @classmethod
    def of_score(cls, score: RowMapping) -> RiskEvidence:
        """The evidence of a stored score row read with its batch's ``watermark``."""
        return cls(
            score_id=int(score["id"]),
            run_id=int(score["run_id"]),
            model_sha256=score["model_sha256"],
            feature_hash=score["feature_hash"],
            config_hash=score["config_hash"],
            data_batch_id=int(score["data_batch_id"]),
            data_watermark=None if score["watermark"] is None else str(score["watermark"]),
        )


class UserRisk(ViewModel):
    """A user's latest risk: the newest day the store has a score for."""

    user_id: str
    day: dt.date = Field(description="the scored day (window), local")
    risk: float = Field(description="decayed risk 0-100 (what severity and alerts use)")
    day_risk: float = Field(description="that day's own risk 0-100, before decay")
    severity: Severity
    reasons: tuple[ReasonView, ...]
    evidence: RiskEvidence
    open_alert: bool = Field(description="the user has an alert still being worked on")
    open_alert_id: int | None


class HistoryDay(ViewModel):
    """A user's risk on one day, with the run and model it came from."""

    day: dt.date
    risk: float
    day_risk: float
    severity: Severity
    run_id: int
    model_sha256: str


class RiskFilters(ViewModel):
    """Which users :func:`top_risks` lists (every filter optional, all must hold)."""

    start: dt.date | None = Field(default=None, description="first day of the period")
    end: dt.date | None = Field(default=None, description="last day of the period")
    department: str | None = Field(default=None, description="as on the user's newest alert")
    min_severity: Severity | None = None
    scenario: str | None = Field(default=None, description="feature of the top reason")
    alert_status: AlertStatus | None = Field(
        default=None, description="status of the user's newest alert"
    )
    scope: AlertScope | None = Field(
        default=None,
        description="departments (of the newest alert), exact peak severities, scenarios",
    )


class RiskRow(ViewModel):
    """One user's peak in a period: the highest risk, its day, and their newest alert."""

    user_id: str
    day: dt.date = Field(description="the first day the peak was reached")
    risk: float
    severity: Severity
    scenario: str
    department: str | None
    alert_id: int | None
    alert_status: str | None
    run_id: int
    model_sha256: str


def user_risk(store: Store, user_id: str) -> UserRisk:
    """The user's latest risk with its reasons, evidence and open-alert flag.

    One statement, one round trip: an index seek on scores (user, day, run) with the
    ingest batch and the active alerts as indexed subqueries.

    Raises:
        NotFound: the store has no score of ``user_id``.
    """
    with reading(store.engine) as conn:
        row = conn.execute(_LATEST_SCORE, {"user_id": user_id}).first()
    if row is None:
        raise _unknown_user(user_id)
    score = row._mapping
    alert_id = None if score["open_alert"] is None else int(score["open_alert"])
    return UserRisk(
        user_id=user_id,
        day=score["window"],
        risk=float(score["decayed_risk"]),
        day_risk=float(score["risk"]),
        severity=Severity(score["severity"]),
        reasons=reason_views(score["reasons"]),
        evidence=RiskEvidence.of_score(score),
        open_alert=alert_id is not None,
        open_alert_id=alert_id,
    )


def user_history(
    store: Store, user_id: str, start: dt.date | None = None, end: dt.date | None = None
) -> tuple[HistoryDay, ...]:
    """The user's risk per day from ``start`` to ``end`` (both included), oldest first.

    Raises:
        NotFound: the store has no score of ``user_id`` at all (a known user with no
            score in the period gets an empty tuple).
    """
    query = select(
        scores.c.window,
        scores.c.decayed_risk,
        scores.c.risk,
        scores.c.severity,
        scores.c.run_id,
        scores.c.model_sha256,
    ).where(scores.c.user_id == user_id)
    if start is not None:
        query = query.where(scores.c.window >= start)
    if end is not None:
        query = query.where(scores.c.window <= end)
    with reading(store.engine) as conn:
        rows = conn.execute(query.order_by(scores.c.window, scores.c.run_id.desc())).all()
        if not rows and _score_count(conn, user_id) == 0:
            raise _unknown_user(user_id)
    days: dict[dt.date, HistoryDay] = {}
    for day, decayed, risk, severity, run_id, sha in rows:
        if day not in days:  # the newest run's score of the day comes first
            days[day] = HistoryDay(
                day=day,
                risk=float(decayed),
                day_risk=float(risk),
                severity=Severity(severity),
                run_id=int(run_id),
                model_sha256=sha,
            )
    return tuple(days.values())


def top_risks(store: Store, filters: RiskFilters, page: Page) -> PageOf[RiskRow]:
    """Users by their peak risk in the period, riskiest first (ties by user id).

    A user's peak is their highest decayed risk over the period's days (each day's
    newest score), on the first day it was reached — scoring.user_peaks' definition.
    Department and alert status are those of the user's newest alert (the store knows
    a department only for users it alerted on).
    """
    with store.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(_peaks_query(filters))]
    scenarios = {filters.scenario} if filters.scenario is not None else None
    if filters.scope is not None and filters.scope.scenarios:
        given = set(filters.scope.scenarios)
        scenarios = given if scenarios is None else scenarios & given
    if scenarios is not None:  # the top reason's feature: parsed only to filter
        rows = [r for r in rows if scenario_of(r["reasons"]) in scenarios]
    rows.sort(key=lambda r: (-float(r["decayed_risk"]), r["user_id"]))
    shown = [_risk_row(r) for r in rows[page.offset : page.offset + page.limit]]
    return page_of(shown, len(rows), page)


def _risk_row(r: dict[str, Any]) -> RiskRow:
    return RiskRow(
        user_id=r["user_id"],
        day=r["window"],
        risk=float(r["decayed_risk"]),
        severity=Severity(r["severity"]),
        scenario=scenario_of(r["reasons"]),
        department=r["department"],
        alert_id=None if r["alert_id"] is None else int(r["alert_id"]),
        alert_status=r["status"],
        run_id=int(r["run_id"]),
        model_sha256=r["model_sha256"],
    )


def _peaks_query(filters: RiskFilters) -> Any:
    """One row per user: the peak over the period's newest score per day, with the
    user's newest alert.

    Each (user, day)'s newest run is a grouping and the peak a ranking over the narrow
    key and risk columns only (carrying the reasons' text through the sort made it
    slower on a 1M-row store); the peak rows' other columns are read back by their key,
    one index seek per user."""
    newest = select(  # each (user, day)'s newest run: a grouping, cheaper than a ranking
        scores.c.user_id, scores.c.window, func.max(scores.c.run_id).label("run_id")
    )
    if filters.start is not None:
        newest = newest.where(scores.c.window >= filters.start)
    if filters.end is not None:
        newest = newest.where(scores.c.window <= filters.end)
    latest = newest.group_by(scores.c.user_id, scores.c.window).subquery("latest")
    days = (
        select(latest.c.user_id, latest.c.window, latest.c.run_id, scores.c.decayed_risk)
        .select_from(
            latest.join(
                scores,
                (scores.c.user_id == latest.c.user_id)
                & (scores.c.window == latest.c.window)
                & (scores.c.run_id == latest.c.run_id),
            )
        )
        .subquery("days")
    )
    ranked = select(
        *days.c,
        func.row_number()
        .over(
            partition_by=days.c.user_id,
            order_by=[days.c.decayed_risk.desc(), days.c.window],
        )
        .label("nth_day"),
    ).subquery("ranked")
    newest_alert = (  # an index seek per user (ix_alerts_user), not a join of aggregates
        select(func.max(alerts.c.id)).where(alerts.c.user_id == ranked.c.user_id).scalar_subquery()
    )
    peaks = (
        select(
            scores.c.user_id,
            scores.c.window,
            scores.c.decayed_risk,
            scores.c.severity,
            scores.c.reasons,
            scores.c.run_id,
            scores.c.model_sha256,
            newest_alert.label("alert_id"),
        )
        .select_from(
            ranked.join(
                scores,
                (scores.c.user_id == ranked.c.user_id)
                & (scores.c.window == ranked.c.window)
                & (scores.c.run_id == ranked.c.run_id),
            )
        )
        .where(ranked.c.nth_day == 1)
        .subquery("peaks")
    )
    query = select(peaks, alerts.c.department, alerts.c.status).select_from(
        peaks.outerjoin(alerts, alerts.c.id == peaks.c.alert_id)
    )
    if filters.min_severity is not None:
        rank = filters.min_severity.rank
        query = query.where(peaks.c.severity.in_([s.value for s in Severity if s.rank >= rank]))
    if filters.department is not None:
        query = query.where(alerts.c.department == filters.department)
    if filters.alert_status is not None:
        query = query.where(alerts.c.status == filters.alert_status)
    scope = filters.scope
    if scope is not None and scope.severities:
        query = query.where(peaks.c.severity.in_([s.value for s in scope.severities]))
    if scope is not None and scope.departments:
        named = [d for d in scope.departments if d != UNKNOWN_DEPARTMENT]
        either = [alerts.c.department.in_(named)]
        if UNKNOWN_DEPARTMENT in scope.departments:
            either.append(alerts.c.department.is_(None))
        query = query.where(or_(*either))
    return query


def latest_score_query(user_id: str) -> Select[Any]:
    """The one statement of :func:`user_risk` for ``user_id`` (its value bound in)."""
    return _LATEST_SCORE.params(user_id=user_id)


def _latest_score_statement() -> Select[Any]:
    """The user's newest score (newest day, then newest run) with its batch's watermark
    and the user's newest active alert id; the user is the bound parameter ``user_id``."""
    user = bindparam("user_id", type_=String)
    watermark = (
        select(ingest_batches.c.watermark_after)
        .where(ingest_batches.c.id == scores.c.data_batch_id)
        .scalar_subquery()
    )
    open_alert = (
        select(func.max(alerts.c.id))
        # one bound value per status, not an "expanding" IN re-rendered on every call
        .where(alerts.c.user_id == user, alerts.c.status.in_([literal(s) for s in ACTIVE_STATUSES]))
        .scalar_subquery()
    )
    return (
        select(scores, watermark.label("watermark"), open_alert.label("open_alert"))
        .where(scores.c.user_id == user)
        .order_by(scores.c.window.desc(), scores.c.run_id.desc())
        .limit(1)
    )


#: Built once: SQLAlchemy keeps a statement's cache key with the object, so the hot path
#: of the API skips rebuilding and re-keying it on every request.
_LATEST_SCORE: Final = _latest_score_statement()


def _score_count(conn: Connection, user_id: str) -> int:
    found = conn.execute(select(scores.c.id).where(scores.c.user_id == user_id).limit(1)).first()
    return 0 if found is None else 1


def _unknown_user(user_id: str) -> NotFound:
    return NotFound(
        f"no stored score of user {user_id!r}",
        ko=f"사용자 {user_id!r}의 저장된 위험 점수가 없습니다",
        hint="check the user id, or run `auditlens run` first",
        ko_hint="사용자 ID를 확인하거나 먼저 `auditlens run`을 실행하십시오",
    )
