"""Drift of each run against its model's training reference: measured and stored when
`auditlens run` stores a run (:func:`record_drift`), read back, printed and written as a
self-contained HTML report by ``auditlens monitor drift`` (:func:`drift_report`).

What a run is compared with (docs/monitoring.md, *Drift*): its **new windows** (the
windows on days with new events, every window on a new model or a changed configuration:
what the run scored for the first time, not the older peak days it stores beside them)
against the reference kept in the fitted pipeline (fitted.py ``TrainingReference``). The
bins behind each PSI are stored with its measure (``run_drift.bins``) for the report's
charts, so any host reading the store can draw them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import polars as pl

from auditlens.config import Settings
from auditlens.fitted import FittedPipeline
from auditlens.i18n import pick
from auditlens.monitor.drift import Bins, Rows, measure
from auditlens.pipeline.detection import Scoring, write_atomically
from auditlens.scoring import SEVERITY_CUTOFFS
from auditlens.store.drift import NO_REFERENCE, TOO_FEW_ROWS, UNMEASURED, DriftRow
from auditlens.store.repo import Store
from auditlens.vocabulary import Severity

if TYPE_CHECKING:  # the report's only: a run records drift without the read model (~60 ms)
    from auditlens.views.drift import DriftSummary, RunDrift

#: Runs the report's history lists.
HISTORY: Final = 10


def record_drift(
    store: Store,
    settings: Settings,
    run_id: int,
    model: FittedPipeline,
    sha256: str,
    scoring: Scoring,
    new: pl.DataFrame,
    now: dt.datetime,
) -> list[str]:
    """Measure and store the drift of run ``run_id``: its ``new`` windows (keys and
    ``risk`` from ``scoring.windows``) against ``model``'s training reference. Returns
    what a person must know (in the configured language): that drift was not measured
    and why, or how many measures drifted."""
    lang = settings.language
    reference = model.reference()
    limit = settings.monitoring.drift_min_rows
    if reference is None or new.height < limit:
        why = NO_REFERENCE if reference is None else TOO_FEW_ROWS
        store.drift.record(
            run_id,
            [_unmeasured(sha256, why, 0 if reference is None else reference.n, new.height)],
            now=now,
        )
        return [unmeasured_text(lang, why, new.height, limit, sha256)]
    frame = scoring.features(new)
    current = Rows(
        columns=tuple(reference.columns),
        values=frame.select(list(reference.columns))
        .cast(pl.Float64)
        .fill_null(float("nan"))
        .to_numpy(),
        risk=new.get_column("risk").cast(pl.Float64).to_numpy(),
    )
    line = alert_line(settings.alert_min_severity)
    found = measure(
        Rows(reference.columns, reference.values, reference.risk),
        current,
        reference_rate=reference.risk_at_or_above.get(settings.alert_min_severity.value, 1.0)
        if line > 0
        else 1.0,
        alert_line=line,
        model_sha256=sha256,
        settings=settings.monitoring,
    )
    store.drift.record(
        run_id, [_with_bins(row, found.bins.get(row.name)) for row in found.rows], now=now
    )
    drifted = [r.name for r in found.rows if r.drifted]
    if not drifted:
        return []
    names = ", ".join(drifted[:5]) + (f" (+{len(drifted) - 5})" if len(drifted) > 5 else "")
    return [
        pick(
            lang,
            f"drift: {len(drifted)} measure(s) drifted from the model's training reference "
            f"({names}); see `auditlens monitor drift --run {run_id}`",
            f"드리프트: {len(drifted)}개 지표가 모델의 학습 기준에서 벗어났습니다 ({names}); "
            f"`auditlens monitor drift --run {run_id}`로 확인하십시오",
        )
    ]


def alert_line(band: Severity) -> float:
    """The lowest risk that raises an alert at ``alert_min_severity`` ``band`` (0: low)."""
    return SEVERITY_CUTOFFS.get(band, 0.0)


def unmeasured_text(lang: str, why: str, windows: int | None, limit: int, sha256: str) -> str:
    """Why a run's drift was not measured, in ``lang``."""
    if why == NO_REFERENCE:
        return pick(
            lang,
            f"drift not measured: model {sha256[:12]} was saved before auditlens kept a "
            "training reference (fit a new one: `auditlens run --refit` or `auditlens train`)",
            f"드리프트를 측정하지 않았습니다: 모델 {sha256[:12]}은(는) auditlens가 학습 기준을 "
            "보관하기 전에 저장되었습니다 (`auditlens run --refit` 또는 `auditlens train`으로 "
            "새로 학습하십시오)",
        )
    if why == TOO_FEW_ROWS:
        return pick(
            lang,
            f"drift not measured: {windows} new window(s), fewer than drift_min_rows "
            f"({limit}) — too few to say",
            f"드리프트를 측정하지 않았습니다: 새 구간이 {windows}개로 drift_min_rows({limit})보다 "
            "적어 판단하기 어렵습니다",
        )
    return pick(
        lang,
        "drift not measured: the run was stored before auditlens measured drift",
        "드리프트를 측정하지 않았습니다: auditlens가 드리프트를 측정하기 전에 저장된 실행입니다",
    )


@dataclass(frozen=True)
class DriftReport:
    """What ``auditlens monitor drift`` shows: a run's drift, the recent runs, the
    thresholds in force and, with ``--html``, where the report was written."""

    drift: RunDrift
    history: tuple[DriftSummary, ...]
    settings: Settings
    bins: dict[str, Bins]
    html: Path | None

    @property
    def drifted(self) -> bool:
        """Any measure of the run drifted."""
        return any(m.drifted for m in self.drift.measures)


def drift_report(
    settings: Settings, *, run_id: int | None = None, html: Path | None = None
) -> DriftReport:
    """The drift of ``run_id`` (default: the newest run) and the recent history; with
    ``html`` also the self-contained HTML report written there atomically.

    Raises:
        StoreError: the store cannot be opened.
        NotFound: no such run, or no run yet.
    """
    from auditlens.monitor.drift_report import render_html
    from auditlens.views.drift import drift_history, run_drift

    with Store.open(settings) as store:
        drift = run_drift(store, run_id)
        history = drift_history(store, HISTORY)
    found = _read_bins(drift)
    written = None
    if html is not None:
        text = render_html(drift, history, found, settings.monitoring, settings.timezone)
        written = write_atomically(html, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return DriftReport(drift, history, settings, found, written)


def _unmeasured(sha256: str, why: str, reference_n: int, windows: int) -> DriftRow:
    return DriftRow(
        model_sha256=sha256,
        kind=UNMEASURED,
        name=why,
        psi=None,
        ks=None,
        ks_pvalue=None,
        reference_value=None,
        current_value=None,
        reference_n=reference_n,
        current_n=windows,
        drifted=False,
    )


def _with_bins(row: DriftRow, bins: Bins | None) -> DriftRow:
    if bins is None:
        return row
    text = json.dumps(
        {"labels": bins.labels, "reference": bins.reference, "current": bins.current},
        ensure_ascii=False,
    )
    return dataclasses.replace(row, bins=text)


def _read_bins(drift: RunDrift) -> dict[str, Bins]:
    """The bins stored with the run's measures (a measure without readable bins: none)."""
    found: dict[str, Bins] = {}
    for name, text in drift.bins.items():
        try:
            b = json.loads(text)
            found[name] = Bins(
                tuple(str(v) for v in b["labels"]),
                tuple(float(v) for v in b["reference"]),
                tuple(float(v) for v in b["current"]),
            )
        except (ValueError, KeyError, TypeError):
            continue
    return found
