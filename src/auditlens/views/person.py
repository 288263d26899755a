"""Person views: one scored day of a user (its reasons, evidence and how the reasons were
computed) and the sessions of that day as step sequences, read from the event lake.

The sequence features (features/sequences) score a user's *sessions*: runs of events with
no pause longer than ``session_gap_minutes``, each belonging to the local day its first
event falls on. :func:`day_sessions` cuts the stored events the same way, so the session
a sequence reason names ("unusual action sequence: ... (started 14:05, ...)") is one of
them — :func:`flagged_start` reads that start from the stored reason.

Example::

    with Store.open(settings) as store:
        day = scored_day(store, "U0042", date(2026, 9, 8))
        sessions = day_sessions(store, "U0042", day.day, upto_batch=day.evidence.data_batch_id,
                                flagged=flagged_start(day.reasons))
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Any, Final, Literal

import polars as pl
from pydantic import Field
from sqlalchemy import RowMapping, select

from auditlens.features.catalog import ResourceCatalog
from auditlens.features.docs import ACTION_WORDS
from auditlens.schema import ACTION_TYPE, HOST, RESOURCE_ID, SUCCESS, TIMESTAMP, USER_ID
from auditlens.store.db import ingest_batches, score_runs, scores
from auditlens.store.repo import Store
from auditlens.views.common import DEFAULT_ZONE, NotFound, ViewModel, reading, utc
from auditlens.views.reasons import ReasonView, reason_views
from auditlens.views.risk import RiskEvidence
from auditlens.vocabulary import Severity

#: The feature whose reason names the day's most unusual session (detect/explain.py).
SEQUENCE_FEATURE: Final = "seq_anomaly_score"
#: How the English sequence reason says when the session started.
_STARTED: Final = re.compile(r"\(started (\d{2}:\d{2}),")
#: The run's reason method when contributions are SHAP log-odds (detect/explain.py).
_SHAP: Final = "TreeSHAP"


class ScoredDay(ViewModel):
    """A user's stored score of one day (the newest run's), with what it rests on."""

    user_id: str
    day: dt.date
    risk: float = Field(description="decayed risk 0-100 (what severity and alerts use)")
    day_risk: float = Field(description="that day's own risk 0-100, before decay")
    severity: Severity
    reasons: tuple[ReasonView, ...]
    evidence: RiskEvidence
    contribution_unit: Literal["log_odds", "surprise"] = Field(
        description="what a reason's contribution counts: SHAP log-odds or tail surprise"
    )
    reason_method: str = Field(description="the run's reason method, as stored")


class SessionStep(ViewModel):
    """One event of a session."""

    at: dt.datetime = Field(description="when (UTC)")
    action: str
    action_ko: str
    action_en: str
    resource_id: str | None
    sensitivity: str | None = Field(
        description="the resource's level in the resource catalog (None: no catalog given)"
    )
    host: str | None
    success: bool | None
    gap_seconds: float | None = Field(description="seconds since the previous step")


class SessionView(ViewModel):
    """A run of one user's events with no pause over the session gap."""

    number: int = Field(description="1-based, in time order within the day")
    start: dt.datetime
    end: dt.datetime
    steps: tuple[SessionStep, ...]
    flagged: bool = Field(description="the session the day's sequence reason names")


def scored_day(store: Store, user_id: str, day: dt.date) -> ScoredDay:
    """The newest run's score of ``user_id`` on ``day`` with reasons and evidence.

    Raises:
        NotFound: no stored score of that user on that day.
    """
    found = scored_days(store, user_id, day, day)
    if not found:
        raise NotFound(
            f"no stored score of user {user_id!r} on {day}",
            ko=f"사용자 {user_id!r}의 {day} 저장된 위험 점수가 없습니다",
            hint="pick a day of the user's history",
            ko_hint="사용자 이력에 있는 날짜를 고르십시오",
        )
    return found[0]


def scored_days(
    store: Store,
    user_id: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    min_severity: Severity | None = None,
) -> tuple[ScoredDay, ...]:
    """The user's scored days from ``start`` to ``end`` (both included), oldest first:
    each day's newest score (as :func:`~auditlens.views.risk.user_history` picks it), at
    ``min_severity`` or above when given. A user without scores gets an empty tuple."""
    watermark = (
        select(ingest_batches.c.watermark_after)
        .where(ingest_batches.c.id == scores.c.data_batch_id)
        .scalar_subquery()
    )
    query = (
        select(scores, watermark.label("watermark"), score_runs.c.reason_method)
        .join(score_runs, score_runs.c.id == scores.c.run_id)
        .where(scores.c.user_id == user_id)
    )
    if start is not None:
        query = query.where(scores.c.window >= start)
    if end is not None:
        query = query.where(scores.c.window <= end)
    with reading(store.engine) as conn:
        rows = conn.execute(query.order_by(scores.c.window, scores.c.run_id.desc())).all()
    days: dict[dt.date, ScoredDay] = {}
    for row in rows:
        if row._mapping["window"] not in days:  # the newest run's score of the day first
            days[row._mapping["window"]] = _scored(user_id, row._mapping)
    kept = list(days.values())
    if min_severity is not None:
        kept = [d for d in kept if d.severity.rank >= min_severity.rank]
    return tuple(kept)


def _scored(user_id: str, score: RowMapping) -> ScoredDay:
    method = str(score["reason_method"])
    return ScoredDay(
        user_id=user_id,
        day=score["window"],
        risk=float(score["decayed_risk"]),
        day_risk=float(score["risk"]),
        severity=Severity(score["severity"]),
        reasons=reason_views(score["reasons"]),
        evidence=RiskEvidence.of_score(score),
        contribution_unit="log_odds" if method.startswith(_SHAP) else "surprise",
        reason_method=method,
    )


def flagged_start(reasons: tuple[ReasonView, ...]) -> str | None:
    """The local start ``HH:MM`` of the session the sequence reason names (None: no
    sequence reason among ``reasons``)."""
    for reason in reasons:
        if reason.feature == SEQUENCE_FEATURE:
            found = _STARTED.search(reason.text_en)
            return found.group(1) if found else None
    return None


def day_sessions(
    store: Store,
    user_id: str,
    day: dt.date,
    *,
    gap_minutes: float = 30.0,
    zone: str = DEFAULT_ZONE,
    upto_batch: int | None = None,
    flagged: str | None = None,
    catalog: ResourceCatalog | None = None,
) -> tuple[SessionView, ...]:
    """The sessions of ``user_id`` on local ``day``, oldest first: the events of the day
    cut after a pause over ``gap_minutes`` (a session never crosses midnight, as the
    sequence features cut them).

    Args:
        gap_minutes: a longer pause starts a new session (``session_gap_minutes``).
        upto_batch: read only the events of ingest batches up to this one (the data a
            score saw: its ``evidence.data_batch_id``); None reads every stored event.
        flagged: the local start ``HH:MM`` of the session to mark (:func:`flagged_start`).
        catalog: the resource catalog, to give each step its resource's sensitivity (as the
            sequence features read ``edit:high``).
    """
    tz = zoneinfo.ZoneInfo(zone)
    first = dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)
    lower, upper = first - dt.timedelta(days=1), first + dt.timedelta(days=2)
    lake = store.events.scan() if upto_batch is None else store.events.upto(upto_batch)
    events = (
        lake.filter(
            (pl.col(USER_ID) == user_id)
            & (pl.col(TIMESTAMP) >= lower)
            & (pl.col(TIMESTAMP) < upper)
        )
        .select(TIMESTAMP, ACTION_TYPE, RESOURCE_ID, HOST, SUCCESS)
        .sort(TIMESTAMP, maintain_order=True)
        .collect()
    )
    levels: dict[str, str] = {}
    if catalog is not None and events.height:
        found = catalog.lookup(events.get_column(RESOURCE_ID))
        levels = dict(
            zip(found.get_column("resource_id"), found.get_column("sensitivity"), strict=True)
        )
    gap = dt.timedelta(minutes=gap_minutes)
    runs: list[list[SessionStep]] = []
    previous: dt.datetime | None = None
    for event in events.iter_rows(named=True):
        at = utc(event[TIMESTAMP])
        # as the sequence features cut them: after a long pause, and at local midnight
        if (
            previous is None
            or at - previous > gap
            or _local_day(at, tz) != _local_day(previous, tz)
        ):
            runs.append([])
        pause = None if not runs[-1] or previous is None else (at - previous).total_seconds()
        runs[-1].append(_step(event, at, pause, levels))
        previous = at
    kept = [run for run in runs if run[0].at.astimezone(tz).date() == day]
    return tuple(
        SessionView(
            number=number,
            start=run[0].at,
            end=run[-1].at,
            steps=tuple(run),
            flagged=flagged is not None and f"{run[0].at.astimezone(tz):%H:%M}" == flagged,
        )
        for number, run in enumerate(kept, start=1)
    )


def _local_day(at: dt.datetime, tz: zoneinfo.ZoneInfo) -> dt.date:
    return at.astimezone(tz).date()


def _step(
    event: dict[str, Any], at: dt.datetime, pause: float | None, levels: dict[str, str]
) -> SessionStep:
    action = str(event[ACTION_TYPE])
    resource = _text(event[RESOURCE_ID])
    ko, en = ACTION_WORDS.get(action, (action, action))
    return SessionStep(
        at=at,
        action=action,
        action_ko=ko,
        action_en=en,
        resource_id=resource,
        sensitivity=None if resource is None else levels.get(resource),
        host=_text(event[HOST]),
        success=None if event[SUCCESS] is None else bool(event[SUCCESS]),
        gap_seconds=pause,
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)
