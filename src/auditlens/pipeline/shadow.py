"""Shadow mode: a run also scores its events with the registry's challenger and stores
those scores apart (``shadow_scores``), so a promotion is decided on evidence
(`auditlens model compare`, views/shadow.py).

`auditlens run --shadow` does it once, every run does it with ``monitoring.shadow =
true``. The challenger builds its own feature matrix with its own fitted feature sets and
scores the same events; its rows are the windows the run stored for the champion
(``risk`` its decayed risk, ``severity``, ``reasons`` as JSON like the champion's, and
``flagged`` by the same review-capacity cut: views.shadow.capacity_cut).

The rule for the two transactions: the champion's run commits first, as without shadow
mode; the challenger's rows of that run commit right after, in one transaction of their
own (all or none), before the run's alerts are raised and under the same run lock. The
champion's scores and alerts never depend on the challenger: when the challenger cannot
score (its file or features no longer fit), the run says why and goes on. A run that
stops between the two commits has no challenger rows and is simply not part of the
comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from auditlens.config import Settings
from auditlens.detect.explain import reasons_json
from auditlens.errors import AuditlensError
from auditlens.features.base import KEYS, FeatureContext
from auditlens.fitted import FittedPipeline
from auditlens.i18n import say
from auditlens.pipeline.detection import REASON_FLOOR, score_matrix
from auditlens.pipeline.stages import Steps
from auditlens.registry import CHALLENGER, Registry, Version, exists
from auditlens.schema import USER_ID
from auditlens.scoring import peak_keys, user_peaks
from auditlens.store.models import ModelRecord
from auditlens.store.repo import Store


@dataclass(frozen=True)
class ShadowReport:
    """What the challenger did in a run (``version`` None: it did not score)."""

    version: int | None = None
    sha256: str | None = None
    rows: int = 0
    #: Users each model flagged within the review capacity, and both.
    challenger_flagged: int = 0
    champion_flagged: int = 0
    both_flagged: int = 0
    #: What a person must know, in the configured language.
    notes: list[str] = field(default_factory=list)


def shadow_score(
    store: Store,
    settings: Settings,
    requested: bool,
    run_id: int | None,
    rows: pl.DataFrame,
    events: Callable[[], pl.DataFrame],
    ctx: FeatureContext,
    champion: ModelRecord,
    steps: Steps,
) -> ShadowReport | None:
    """Score the run's stored ``rows`` (``user_id, window, decayed_risk``, ...) with the
    challenger too and store its rows for run ``run_id``, when ``requested`` or
    ``monitoring.shadow``; None when neither asks for it. ``champion`` is the model
    the run scored with. ``events`` gives the run's events, read only when the challenger
    scores (every event at once: shadow scoring is not partitioned)."""
    if not (requested or settings.monitoring.shadow):
        return None
    steps.start("shadow")
    lang = settings.language
    if run_id is None:
        return ShadowReport(notes=[say(lang, "shadow_nothing_stored")])
    challenger = Registry.open(settings).by_alias(CHALLENGER) if exists(settings) else None
    if challenger is None:
        return ShadowReport(notes=[say(lang, "shadow_no_challenger")])
    if challenger.sha256 == champion.sha256:
        return ShadowReport(
            notes=[say(lang, "shadow_same_model", version=challenger.number)],
        )
    try:
        frame = _challenger_rows(store, settings, challenger, rows, events(), ctx)
    except AuditlensError as error:
        why = error.text(lang)
        return ShadowReport(notes=[say(lang, "shadow_failed", version=challenger.number, why=why)])
    stored = store.shadow.add(run_id, frame)
    theirs = set(frame.filter(pl.col("flagged") == 1).get_column(USER_ID).unique().to_list())
    cut = _capacity_cut(rows, settings.review_capacity)
    mine = set(cut.filter(pl.col("flagged")).get_column(USER_ID).to_list())
    note = say(
        lang,
        "shadow_scored",
        version=challenger.number,
        sha=challenger.sha256[:12],
        rows=stored,
        run=run_id,
        challenger=len(theirs),
        champion=len(mine),
        both=len(theirs & mine),
    )
    return ShadowReport(
        version=challenger.number,
        sha256=challenger.sha256,
        rows=stored,
        challenger_flagged=len(theirs),
        champion_flagged=len(mine),
        both_flagged=len(theirs & mine),
        notes=[note],
    )


def _challenger_rows(
    store: Store,
    settings: Settings,
    challenger: Version,
    rows: pl.DataFrame,
    events: pl.DataFrame,
    ctx: FeatureContext,
) -> pl.DataFrame:
    """The challenger's rows for the windows of ``rows`` (shadow_scores' columns).

    Raises:
        AuditlensError: the store does not know the challenger's file, the file is missing
            or changed, or its feature columns differ from what its feature sets build.
    """
    record = store.models.by_sha(challenger.sha256)
    if record is None:
        raise AuditlensError(
            f"the store has no model file with sha256 {challenger.sha256[:12]}",
            ko=f"저장소에 sha256 {challenger.sha256[:12]} 모델 파일이 없습니다",
        )
    model = FittedPipeline.load(Path(record.path), record.sha256)
    matrix = model.matrix(events, ctx)
    if matrix.feature_columns != record.feature_columns:
        raise AuditlensError(
            "its feature columns differ from those it was fitted on",
            ko="학습 때와 특성 열이 다릅니다",
        )
    scoring = score_matrix(matrix, model, settings)
    windows = scoring.windows.join(rows.select(*KEYS), on=list(KEYS), how="semi")
    peaks = user_peaks(windows)
    explained = pl.concat(
        [windows.filter(pl.col("decayed_risk") >= REASON_FLOOR).select(*KEYS), peak_keys(peaks)]
    ).unique()
    reasons = explained.with_columns(
        pl.Series(
            "reasons",
            [reasons_json(r) for r in scoring.reasons(model, explained)],
            dtype=pl.String,
        )
    )
    flagged = _capacity_cut(windows, settings.review_capacity).filter(pl.col("flagged"))
    return (
        windows.join(reasons, on=list(KEYS), how="left")
        .with_columns(
            pl.col("reasons").fill_null("[]"),
            pl.col(USER_ID)
            .is_in(flagged.get_column(USER_ID).implode())
            .cast(pl.Int32)
            .alias("flagged"),
            pl.lit(challenger.number).alias("model_version"),
            pl.lit(challenger.sha256).alias("model_sha256"),
            pl.col("decayed_risk").alias("risk"),
        )
        .sort(*KEYS)
    )


def _capacity_cut(rows: pl.DataFrame, capacity: int) -> pl.DataFrame:
    """``views.shadow.capacity_cut``, imported on first use: a run without a challenger
    never loads the read model (~60 ms of a fresh ``auditlens run``)."""
    from auditlens.views.shadow import capacity_cut

    return capacity_cut(rows, capacity)
