"""Drift as a person (``auditlens monitor drift``, its HTML report) and Prometheus read it:
one run's measures, worst first, and the recent runs' summary (store/drift.py holds the
rows; monitor/drift.py says how each is measured).

Example::

    found = run_drift(store)  # the newest run; run_drift(store, 7) for run 7
    found.measured, found.features_drifted, found.measures[0].name
    [(s.run_id, s.features_drifted) for s in drift_history(store, limit=10)]
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from pydantic import Field

from auditlens.store.drift import (
    ALERT_RATE,
    FEATURE,
    SCORE,
    UNMEASURED,
    DriftRow,
    StoredDrift,
    alert_rate_ratio,
)
from auditlens.store.repo import Store
from auditlens.store.scores import ScoreRun
from auditlens.views.common import NotFound, ViewModel, utc

#: Why a run has no measures when it ran before drift was measured (no row at all).
NOT_RECORDED: Final = "not_recorded"


class DriftMeasure(ViewModel):
    """One measure of a run (store/drift.py ``DriftRow``)."""

    kind: str = Field(description="feature, score or alert_rate")
    name: str = Field(description="the feature column; risk; alert_rate")
    psi: float | None
    ks: float | None
    ks_pvalue: float | None = Field(description="alert_rate: the binomial test's p-value")
    reference_value: float | None = Field(description="reference mean (alert_rate: share)")
    current_value: float | None = Field(description="the run's mean (alert_rate: share)")
    reference_n: int
    current_n: int
    drifted: bool
    ratio: float | None = Field(description="alert_rate: current / reference share")


class RunDrift(ViewModel):
    """A run's drift: measured (its measures, worst first) or why not."""

    run_id: int
    finished_at: dt.datetime
    model_sha256: str
    model_version: int | None
    measured: bool
    unmeasured_reason: str | None = Field(
        description="no_reference, too_few_rows or not_recorded (the run predates drift)"
    )
    windows: int | None = Field(description="new windows compared (None: not recorded)")
    measured_at: dt.datetime | None
    measures: tuple[DriftMeasure, ...] = Field(description="drifted first, then by PSI")
    features_measured: int
    features_drifted: int
    score: DriftMeasure | None
    alert_rate: DriftMeasure | None
    bins: dict[str, str] = Field(
        default_factory=dict,
        description="measure name -> the bins behind its PSI (JSON: labels, reference, current)",
    )


class DriftSummary(ViewModel):
    """One run in the recent history."""

    run_id: int
    finished_at: dt.datetime
    measured: bool
    features_measured: int
    features_drifted: int
    score_psi: float | None
    alert_rate_ratio: float | None
    drifted: bool = Field(description="any measure drifted")


def run_drift(store: Store, run_id: int | None = None) -> RunDrift:
    """The drift of ``run_id`` (default: the newest stored run).

    Raises:
        NotFound: no such run (or no run stored yet).
    """
    run = store.scores.last_run() if run_id is None else store.scores.run(run_id)
    if run is None:
        raise (
            NotFound("no score run is stored yet", ko="저장된 점수 실행이 아직 없습니다")
            if run_id is None
            else NotFound(f"no score run {run_id}", ko=f"점수 실행 {run_id}이(가) 없습니다")
        )
    return _of(run, store.drift.of_run(run.id))


def latest_drift(store: Store) -> RunDrift | None:
    """The drift of the newest run that has drift rows (None: none has)."""
    found = store.drift.latest_run_id()
    return None if found is None else run_drift(store, found)


def drift_history(store: Store, limit: int = 10) -> tuple[DriftSummary, ...]:
    """The newest ``limit`` runs with drift rows, newest first."""
    out = []
    for run_id in store.drift.recent_run_ids(limit):
        drift = run_drift(store, run_id)
        out.append(
            DriftSummary(
                run_id=drift.run_id,
                finished_at=drift.finished_at,
                measured=drift.measured,
                features_measured=drift.features_measured,
                features_drifted=drift.features_drifted,
                score_psi=None if drift.score is None else drift.score.psi,
                alert_rate_ratio=None if drift.alert_rate is None else drift.alert_rate.ratio,
                drifted=any(m.drifted for m in drift.measures),
            )
        )
    return tuple(out)


def _of(run: ScoreRun, stored: StoredDrift | None) -> RunDrift:
    rows = () if stored is None else stored.rows
    marker = next((r for r in rows if r.kind == UNMEASURED), None)
    measures = sorted(
        (_measure(r) for r in rows if r.kind != UNMEASURED),
        key=lambda m: (not m.drifted, -(m.psi if m.psi is not None else -1.0), m.name),
    )
    features = [m for m in measures if m.kind == FEATURE]
    if stored is None:
        reason: str | None = NOT_RECORDED
    else:
        reason = None if marker is None else marker.name
    windows = next((r.current_n for r in rows if r.kind in (ALERT_RATE, UNMEASURED)), None)
    return RunDrift(
        run_id=run.id,
        finished_at=utc(run.finished_at),
        model_sha256=run.model_sha256,
        model_version=run.model_version,
        measured=reason is None,
        unmeasured_reason=reason,
        windows=windows,
        measured_at=None if stored is None else stored.created_at,
        measures=tuple(measures),
        features_measured=len(features),
        features_drifted=sum(m.drifted for m in features),
        score=next((m for m in measures if m.kind == SCORE), None),
        alert_rate=next((m for m in measures if m.kind == ALERT_RATE), None),
        bins={r.name: r.bins for r in rows if r.kind != UNMEASURED and r.bins is not None},
    )


def _measure(row: DriftRow) -> DriftMeasure:
    return DriftMeasure(
        kind=row.kind,
        name=row.name,
        psi=row.psi,
        ks=row.ks,
        ks_pvalue=row.ks_pvalue,
        reference_value=row.reference_value,
        current_value=row.current_value,
        reference_n=row.reference_n,
        current_n=row.current_n,
        drifted=row.drifted,
        ratio=alert_rate_ratio(row),
    )
