"""`auditlens run` (ingest what is new, build features, score, store with evidence) and
`auditlens explain` (replay one stored score from the store alone)."""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from auditlens.config import Settings
from auditlens.detect.explain import Reason, method_of, reasons_json, same_reasons
from auditlens.errors import AuditlensError, NoEvents
from auditlens.features.base import KEYS, WINDOW, FeatureContext
from auditlens.features.catalog import unknown_resources
from auditlens.features.matrix import FeatureMatrix
from auditlens.pipeline.detection import (
    ENSEMBLE_KIND,
    MODEL_KIND,
    REASON_FLOOR,
    Clock,
    Scoring,
    feature_context,
    feature_hashes,
    fit_model,
    matrix_for,
    score_matrix,
)
from auditlens.pipeline.ingestion import IngestReport, ingest, make_source, utc_now
from auditlens.schema import EVENT_COLUMNS, RESOURCE_ID, USER_ID
from auditlens.scoring import CapacityCut, RiskModel, flag_top
from auditlens.store.repo import Store
from auditlens.store.scores import (
    ModelRecord,
    RunRecord,
    commit_run,
    events_upto,
    first_event_day_after,
    last_batch_id,
    last_run,
    latest_model,
    model_by_sha,
    register_model,
    score_history,
)


@dataclass(frozen=True)
class RunReport:
    """What one `auditlens run` did."""

    ingests: list[IngestReport]
    run_id: int | None
    events: int
    windows_scored: int
    rows_stored: int
    model_sha256: str
    refitted: bool
    data_batch_id: int
    capacity: CapacityCut
    top: pl.DataFrame  # user_id, risk_score, severity, peak_window, reasons (configured lang)
    unknown_resources: int
    seconds: float


def run(
    settings: Settings,
    *,
    refit: bool = False,
    clock: Clock = utc_now,
) -> RunReport:
    """The batch job: ingest configured sources, then score and store new windows.

    A model is fitted when none is stored, on ``refit``, or when the feature columns
    changed; otherwise the stored one is reloaded (verified by sha256). Every stored
    score row records the model's sha256, a hash of its feature row, the data watermark
    (last ingest batch id) and the config hash, so `explain` can replay it. Windows
    already scored with the same model and no newer data are not stored again.
    """
    began = time.perf_counter()
    started = clock()
    store = Store.open(settings, migrate=True)
    try:
        ingests = [
            ingest(
                make_source(name, cfg, settings),
                settings,
                store=store,
                clock=clock,
                keep_going=True,  # one failing source must not stop the others
            )
            for name, cfg in settings.sources.items()
        ]
        batch_id = last_batch_id(store)
        if batch_id == 0:
            raise AuditlensError(
                "the store holds no events yet",
                hint="configure [sources.NAME] in auditlens.toml or run `auditlens ingest PATH`",
            )
        events = events_upto(store, batch_id).select(EVENT_COLUMNS).collect()
        if events.height == 0:
            raise NoEvents(
                f"no events to score in the store ({batch_id} batches ingested, every row "
                "quarantined or the inputs empty)",
                hint="see `auditlens quarantine` and check that the sources have rows",
            )
        ctx = feature_context(settings)
        model, record, matrix, refitted = _model_for(
            store, settings, events, ctx, refit, batch_id, clock
        )
        scoring = score_matrix(matrix, model, settings)
        rows = _new_windows(store, scoring.windows, record.sha256, settings, batch_id)
        cut = flag_top(scoring.users, settings.review_capacity)
        run_id = None
        if rows.height:
            rows = _with_evidence(rows, scoring, model, record.sha256, settings, batch_id)
            run_id = commit_run(
                store,
                RunRecord(
                    started_at=started,
                    finished_at=clock(),
                    model_sha256=record.sha256,
                    config_hash=settings.fingerprint(),
                    data_batch_id=batch_id,
                    events=events.height,
                    windows=rows.height,
                    reason_method=method_of(model.detector),
                    capacity=settings.review_capacity,
                    capacity_cutoff=cut.cutoff if cut.flagged.height else None,
                ),
                rows,
            )
        top = scoring.users.head(10)
        peaks = top.select(USER_ID, pl.col("peak_window").alias(WINDOW))
        texts = ["; ".join(r.text(settings.language) for r in rs)
                 for rs in scoring.reasons(model, peaks)]  # fmt: skip
        return RunReport(
            ingests=ingests,
            run_id=run_id,
            events=events.height,
            windows_scored=scoring.windows.height,
            rows_stored=rows.height,
            model_sha256=record.sha256,
            refitted=refitted,
            data_batch_id=batch_id,
            capacity=cut,
            top=top.with_columns(pl.Series("reasons", texts, dtype=pl.String)),
            unknown_resources=len(unknown_resources(ctx.catalog.lookup(events[RESOURCE_ID]))),
            seconds=time.perf_counter() - began,
        )
    finally:
        store.close()


def _model_for(
    store: Store,
    settings: Settings,
    events: pl.DataFrame,
    ctx: FeatureContext,
    refit: bool,
    batch_id: int,
    clock: Clock,
) -> tuple[RiskModel, ModelRecord, FeatureMatrix, bool]:
    """The stored model and the matrix it scores, or a newly fitted and registered one."""
    # a model trained on findings wins; else the newest unsupervised one; else fit one
    for kind in () if refit else (ENSEMBLE_KIND, MODEL_KIND):
        record = latest_model(store, kind)
        if record is None:
            continue
        stored = RiskModel.load(Path(record.path), record.sha256)
        matrix = matrix_for(events, ctx, stored)
        if record.feature_columns == matrix.feature_columns:
            return stored, record, matrix, False
    matrix = matrix_for(events, ctx)
    model = fit_model(matrix, settings)
    now = clock()
    path = settings.data_dir / "models" / f"{MODEL_KIND}-{now:%Y%m%dT%H%M%S%f}.joblib"
    sha = model.save(path)
    record = ModelRecord(
        sha256=sha,
        kind=MODEL_KIND,
        path=str(path),
        feature_columns=model.feature_columns,
        params={"detector": type(model.detector).__name__, "seed": settings.model_seed},
        n_train=model.n_train_,
        data_batch_id=batch_id,
        config_hash=settings.fingerprint(),
        created_at=now,
    )
    register_model(store, record)
    return model, record, matrix, True


def _new_windows(
    store: Store, windows: pl.DataFrame, sha: str, settings: Settings, batch_id: int
) -> pl.DataFrame:
    """Windows to store: all on a new model; else those on days that got new events."""
    previous = last_run(store)
    if previous is None or previous["model_sha256"] != sha:
        return windows
    if previous["data_batch_id"] >= batch_id:
        return windows.clear()
    since = first_event_day_after(store, int(previous["data_batch_id"]))
    if since is None:
        return windows.clear()
    if since.tzinfo is None:  # SQLite returns stored UTC times naive
        since = since.replace(tzinfo=dt.UTC)
    local = since.astimezone(zoneinfo.ZoneInfo(settings.timezone)).date()
    return windows.filter(pl.col(WINDOW) >= local)


def _with_evidence(
    rows: pl.DataFrame,
    scoring: Scoring,
    model: RiskModel,
    sha: str,
    settings: Settings,
    batch_id: int,
) -> pl.DataFrame:
    """Add reasons (for flagged windows and every user's peak), hashes and watermarks."""
    peaks = scoring.users.select(USER_ID, pl.col("peak_window").alias(WINDOW))
    explained = pl.concat(
        [rows.filter(pl.col("decayed_risk") >= REASON_FLOOR).select(*KEYS), peaks]
    ).unique()
    reasons = scoring.reasons(model, explained)
    by_key = explained.with_columns(
        pl.Series("reasons", [reasons_json(r) for r in reasons], dtype=pl.String)
    )
    idx = scoring.rows_of(rows)
    return rows.join(by_key, on=list(KEYS), how="left").with_columns(
        pl.col("reasons").fill_null("[]"),
        pl.Series("feature_hash", feature_hashes(scoring.frame[idx])),
        pl.lit(sha).alias("model_sha256"),
        pl.lit(settings.fingerprint()).alias("config_hash"),
        pl.lit(batch_id).alias("data_batch_id"),
    )


# --- explain -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Explanation:
    """A stored score and the same score recomputed from the store."""

    user_id: str
    window: dt.date
    stored: dict[str, Any]
    replayed: dict[str, Any]
    reasons: list[Reason]
    checks: dict[str, bool]

    @property
    def reproduced(self) -> bool:
        """True when every check matched."""
        return all(self.checks.values())


def explain_user(settings: Settings, user_id: str, day: dt.date) -> Explanation:
    """Replay the newest stored score of ``user_id`` on ``day`` from the store alone.

    Loads the recorded model (refusing a file whose sha256 differs), rebuilds features
    from the events up to the recorded watermark, and recomputes the score, risk and
    reasons; ``checks`` says which of them match the stored row.
    """
    store = Store.open(settings)
    try:
        history = score_history(store, user_id, day)
        if history.height == 0:
            known = score_history(store, user_id)
            hint = (
                f"scored days of {user_id}: "
                + ", ".join(str(d) for d in known.get_column(WINDOW).unique().sort().tail(10))
                if known.height
                else "no score of this user is stored; run `auditlens run` first"
            )
            raise AuditlensError(f"no stored score for {user_id} on {day}", hint=hint)
        stored = history.row(0, named=True)
        record = model_by_sha(store, stored["model_sha256"])
        if record is None:
            raise AuditlensError(f"model {stored['model_sha256'][:12]} is not in the store")
        model = RiskModel.load(Path(record.path), record.sha256)
        events = events_upto(store, int(stored["data_batch_id"])).select(EVENT_COLUMNS).collect()
    finally:
        store.close()
    matrix = matrix_for(events, feature_context(settings), model)
    scoring = score_matrix(matrix, model, settings)
    key = pl.DataFrame({USER_ID: [user_id], WINDOW: [day]})
    idx = scoring.rows_of(key)
    window = scoring.windows[idx].row(0, named=True)
    reasons = scoring.reasons(model, key)[0]
    replayed = {
        "raw_score": window["raw_score"],
        "risk": window["risk"],
        "decayed_risk": window["decayed_risk"],
        "severity": window["severity"],
        "feature_hash": feature_hashes(scoring.frame[idx])[0],
        "reasons": reasons_json(reasons),
        "config_hash": settings.fingerprint(),
    }
    checks = {
        "config": replayed["config_hash"] == stored["config_hash"],
        "features": replayed["feature_hash"] == stored["feature_hash"],
        "score": abs(replayed["raw_score"] - stored["raw_score"]) <= 1e-9,
        "risk": abs(replayed["decayed_risk"] - stored["decayed_risk"]) <= 1e-6,
        "severity": replayed["severity"] == stored["severity"],
    }
    if stored["reasons"] != "[]":
        checks["reasons"] = same_reasons(stored["reasons"], reasons)
    return Explanation(user_id, day, stored, replayed, reasons, checks)
