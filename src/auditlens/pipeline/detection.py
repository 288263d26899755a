# size: the scoring steps (feature context, score, fit, load the inputs); errors in two languages.
"""Scoring jobs: `auditlens score` (one shot), `auditlens run` (the batch job) and
`auditlens explain` (replay of a stored score), as plain functions."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from auditlens.calendar import BusinessCalendar
from auditlens.config import Settings
from auditlens.detect.ensemble import default_unsupervised
from auditlens.detect.explain import (
    REASONS_JSON,
    Reason,
    explain,
    incident_lines,
    incident_reasons,
    reasons_json,
)
from auditlens.detect.metrics import UserMetrics, user_metrics
from auditlens.errors import AuditlensError, ConfigError, NoEvents
from auditlens.features.base import KEYS, WINDOW, FeatureContext
from auditlens.features.catalog import ResourceCatalog
from auditlens.features.docs import PEER_PREFIX
from auditlens.features.matrix import HISTORY_DAYS, FeatureMatrix, MatrixBuilder
from auditlens.features.watchlist import parse_pattern
from auditlens.fitted import FittedPipeline
from auditlens.pipeline.ingestion import utc_now, validate_batch
from auditlens.pipeline.inputs import InputOptions, input_source, source_folder
from auditlens.schema import EVENT_COLUMNS, EVENT_ID, USER_ID
from auditlens.scoring import (
    DecayPolicy,
    RiskHistory,
    peak_keys,
    score_windows,
    user_peaks,
)
from auditlens.sources.labels import read_labels
from auditlens.store.models import ENSEMBLE_KIND as ENSEMBLE_KIND
from auditlens.store.models import UNSUPERVISED_KIND, ModelRecord
from auditlens.store.repo import Store

Clock = Callable[[], dt.datetime]
MODEL_KIND: Final = UNSUPERVISED_KIND
#: Windows at or above this decayed risk always get their reasons stored.
REASON_FLOOR: Final = 50.0
#: Feature rows hashed at a time (their texts are ~1 KB a row).
HASH_SLICE: Final = 100_000


# --- context ------------------------------------------------------------------------------


def feature_context(settings: Settings, near: Path | None = None) -> FeatureContext:
    """The FeatureContext the settings describe.

    Catalog and peer directory come from ``resource_catalog``/``peer_directory``; when
    those are unset and ``near`` (an input file or directory) has ``resource_catalog.csv``
    or ``directory.csv`` beside it (as generated samples do), those are used.
    """
    folder = None if near is None else (near if near.is_dir() else near.parent)
    catalog_path = settings.resource_catalog
    if catalog_path is None and folder is not None and (folder / "resource_catalog.csv").exists():
        catalog_path = folder / "resource_catalog.csv"
    catalog = (
        ResourceCatalog.read_csv(catalog_path, settings.default_sensitivity)
        if catalog_path is not None
        else ResourceCatalog(default_sensitivity=settings.default_sensitivity)
    )
    directory_path = settings.peer_directory
    if directory_path is None and folder is not None and (folder / "directory.csv").exists():
        directory_path = folder / "directory.csv"
    directory = None
    if directory_path is not None:
        if not directory_path.exists():
            raise ConfigError(
                f"peer_directory {directory_path} does not exist",
                ko=f"peer_directory 파일 {directory_path}이(가) 없습니다",
            )
        directory = pl.read_csv(directory_path, infer_schema=False)
        if USER_ID not in directory.columns:
            raise ConfigError(
                f"peer_directory {directory_path}: no user_id column",
                ko=f"peer_directory {directory_path}: user_id 열이 없습니다",
            )
    return FeatureContext(
        calendar=BusinessCalendar.from_settings(settings),
        catalog=catalog,
        profile_days=settings.profile_days,
        min_peer_group=settings.min_peer_group,
        peer_groups=directory,
        watchlist=tuple(parse_pattern(n, t) for n, t in sorted(settings.watchlist.items())),
        seed=settings.model_seed,
        session_gap_minutes=settings.session_gap_minutes,
    )


def fit_features(events: pl.DataFrame, ctx: FeatureContext) -> tuple[MatrixBuilder, FeatureMatrix]:
    """The default feature sets fitted on ``events``, and the training matrix they built."""
    features = MatrixBuilder()
    return features, features.fit_transform(events, ctx)


# --- scoring a matrix ----------------------------------------------------------------------


@dataclass(frozen=True)
class Scoring:
    """A scored matrix: the windows past warm-up, their risk, and per-user risk.

    The scored rows are not copied out of ``matrix`` (a copy of its feature and info
    rows past warm-up is nearly the matrix again: ~0.9 KB per user-day, issue 17);
    ``scored`` holds their positions in it, and each reader gathers the rows it needs.
    """

    matrix: FeatureMatrix
    timezone: str
    scored: pl.Series  # positions in matrix of the windows past warm-up, in key order
    windows: pl.DataFrame  # keys, raw_score, surprise, risk, decayed_risk, severity
    users: pl.DataFrame  # user_id, risk_score, peak_window, severity

    def rows_of(self, keys: pl.DataFrame) -> pl.Series:
        """Row positions (in ``windows``) of the given (user_id, window) keys."""
        indexed = self.windows.select(*KEYS).with_row_index("_i")
        return keys.select(*KEYS).join(indexed, on=list(KEYS), how="left")["_i"]

    def features(self, keys: pl.DataFrame) -> pl.DataFrame:
        """The feature rows (keys + features) of the given scored windows, in their order."""
        return self.matrix.frame[self.scored[self.rows_of(keys)]]

    def hashes(self, keys: pl.DataFrame) -> list[str]:
        """:func:`feature_hashes` of the given scored windows' rows, gathered a slice at
        a time (a run stores every window: all of them at once would copy the matrix)."""
        idx = self.scored[self.rows_of(keys)]
        found: list[str] = []
        for start in range(0, idx.len(), HASH_SLICE):
            found += feature_hashes(self.matrix.frame[idx.slice(start, HASH_SLICE)])
        return found

    def reasons(self, model: FittedPipeline, keys: pl.DataFrame) -> list[list[Reason]]:
        """Reasons for the given windows."""
        idx = self.scored[self.rows_of(keys)]
        return explain(
            model.detector, self.matrix.frame[idx], self.matrix.info[idx], timezone=self.timezone
        )


def incidents(peaks: pl.DataFrame, reasons: pl.DataFrame) -> pl.DataFrame:
    """``peaks`` (scoring.user_peaks) with each user's incident reasons as JSON, strongest
    first over every tied day (detect.explain.incident_reasons).

    ``reasons`` holds ``user_id, window, reasons`` (stored JSON) for at least the peak
    days; the run's output and the alerts both come through here. Only the peak days'
    reasons are decoded.
    """
    wanted = reasons.join(peak_keys(peaks), on=list(KEYS), how="semi")  # (often a few users')
    stored = {
        (user, day): text
        for user, day, text in wanted.select(USER_ID, WINDOW, "reasons").iter_rows()
    }
    decoded: list[list[dict[str, Any]]] = []
    for user, days in zip(peaks[USER_ID], peaks["peak_windows"].to_list(), strict=True):
        decoded.append(
            incident_reasons([(d, json.loads(stored.get((user, d)) or "[]")) for d in days])
        )
    column = pl.Series("reasons", [REASONS_JSON.encode(r) for r in decoded], dtype=pl.String)
    return peaks.with_columns(column)


def scored_part(matrix: FeatureMatrix, min_history_days: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Feature and info rows past each user's warm-up (copies: :func:`scored_rows` says
    which they are)."""
    rows = scored_rows(matrix, min_history_days)
    return matrix.frame[rows], matrix.info[rows]


def scored_rows(matrix: FeatureMatrix, min_history_days: int) -> pl.Series:
    """Positions of the rows past each user's warm-up (the windows scored)."""
    keep = matrix.info.get_column(HISTORY_DAYS) >= min_history_days
    return keep.arg_true()


def score_matrix(
    matrix: FeatureMatrix,
    model: FittedPipeline,
    settings: Settings,
    scores: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None,
    history: RiskHistory | None = None,
) -> Scoring:
    """Score every window past warm-up with ``model``; decay and rank users.

    ``scores``: the (raw score, surprise) of those windows when the caller has them
    already — the training rows of a model just fitted (:func:`fit_and_score`), which
    need not be scored again. ``history``: what the earlier windows left (the matrix
    holds later days only): decay continues from it and the users' peaks count its
    peak days.
    """
    rows = scored_rows(matrix, settings.min_history_days)
    if rows.len() == 0 and history is None:
        raise AuditlensError(
            f"no window to score: every user has under {settings.min_history_days} days of history",
            hint="load more days of events, or lower min_history_days",
            ko=f"점수를 매길 구간이 없습니다: 모든 사용자의 이력이 "
            f"{settings.min_history_days}일 미만입니다",
            ko_hint="더 많은 날짜의 이벤트를 적재하거나 min_history_days를 낮추십시오",
        )
    if scores is not None:
        raw, surprise = scores
    elif rows.len():
        raw, surprise = model.score(matrix.frame[rows])
    else:  # an increment with warm-up days only
        raw, surprise = np.zeros(0), np.zeros(0)
    keys = matrix.frame.select(*KEYS)[rows]
    windows = score_windows(keys, surprise, DecayPolicy(settings.decay_half_life_days), history)
    # the matrix is sorted by (user_id, window) like score_windows' output
    windows = windows.with_columns(pl.Series("raw_score", raw, dtype=pl.Float64))
    peaks = user_peaks(windows if history is None else history.with_peaks(windows))
    return Scoring(matrix, settings.timezone, rows, windows, peaks)


def fit_model(
    events: pl.DataFrame, ctx: FeatureContext, settings: Settings
) -> tuple[FittedPipeline, FeatureMatrix]:
    """Fit the default pipeline on ``events``: the feature sets on every event, the
    unsupervised detector and its risk scale on the windows past warm-up. Returns the
    pipeline and its training matrix."""
    model, matrix, _ = _fit(events, ctx, settings)
    return model, matrix


def fit_and_score(
    events: pl.DataFrame, ctx: FeatureContext, settings: Settings
) -> tuple[FittedPipeline, Scoring]:
    """:func:`fit_model`, then :func:`score_matrix` of its training matrix — with the
    scores fitting computed (each window is scored once, not three times)."""
    model, matrix, scores = _fit(events, ctx, settings)
    return model, score_matrix(matrix, model, settings, scores)


def fit_and_score_matrix(
    features: MatrixBuilder, matrix: FeatureMatrix, settings: Settings
) -> tuple[FittedPipeline, Scoring]:
    """:func:`fit_and_score` on a training matrix already built by ``features`` (fitted),
    e.g. in user partitions (pipeline/partitions.py)."""
    model, matrix, scores = _fit_detector(features, matrix, settings)
    return model, score_matrix(matrix, model, settings, scores)


def _fit(
    events: pl.DataFrame, ctx: FeatureContext, settings: Settings
) -> tuple[FittedPipeline, FeatureMatrix, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
    features, matrix = fit_features(events, ctx)
    return _fit_detector(features, matrix, settings)


def _fit_detector(
    features: MatrixBuilder, matrix: FeatureMatrix, settings: Settings
) -> tuple[FittedPipeline, FeatureMatrix, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
    frame = matrix.frame[scored_rows(matrix, settings.min_history_days)]
    if frame.height < 50:
        raise AuditlensError(
            f"only {frame.height} windows past warm-up: too few to learn what is usual",
            hint="load more users or days of events (50 user-days at least)",
            ko=f"준비 기간 이후의 사용자-일이 {frame.height}개뿐입니다: 평소 행동을 학습하기에 "
            "너무 적습니다",
            ko_hint="사용자나 날짜를 더 적재하십시오 (사용자-일 최소 50개)",
        )
    model = FittedPipeline(features, default_unsupervised(seed=settings.model_seed))
    scores = model.fit_score(frame)
    return model, matrix, scores


def save_model(
    store: Store,
    settings: Settings,
    model: FittedPipeline,
    *,
    kind: str,
    params: dict[str, Any],
    data_batch_id: int | None,
    now: dt.datetime,
) -> ModelRecord:
    """Save ``model`` under ``data_dir/models`` and register it in the store (the one
    place a model is saved); returns the record, whose ``sha256`` is the saved file's."""
    path = settings.data_dir / "models" / f"{kind}-{now:%Y%m%dT%H%M%S%f}.joblib"
    sha = model.save(path)
    record = ModelRecord(
        sha256=sha,
        kind=kind,
        path=str(path),
        feature_columns=model.feature_columns,
        params=params,
        n_train=model.n_train_,
        data_batch_id=data_batch_id,
        config_hash=settings.fingerprint(),
        created_at=now,
    )
    store.models.register(record)
    return record


def feature_hashes(frame: pl.DataFrame) -> list[str]:
    """sha256 of each feature row (values rounded to 9 significant digits, sorted names).

    Rounding keeps the hash stable against the last-bit float differences that
    multi-threaded sums may produce when the same features are computed again; a
    negative zero is written as 0.0 (Polars' ``int - float`` gave ``0 - 0.0 = -0.0``
    for some buffers and 0.0 for others: the same peer z-score, two texts).
    """
    row_text = pl.concat_str(_value_texts(frame), separator="|").alias("t")
    hashes: list[str] = []
    # the rows' texts HASH_SLICE at a time (all at once: ~1 KB per row held together)
    for start in range(0, frame.height, HASH_SLICE):
        text = frame.slice(start, HASH_SLICE).select(row_text)["t"]
        hashes += [hashlib.sha256(t.encode()).hexdigest() for t in text]
    return hashes


def signed_zero_hashes(row: pl.DataFrame) -> set[str]:
    """The hashes :func:`feature_hashes` gave the one-row ``row`` before it wrote a
    negative zero as 0.0, for every sign its zero peer z-scores may have had then (a
    day's run stored -0.0 where a full run computes 0.0): what a replay of a row stored
    then accepts besides today's hash. Only zeros change sign: any other difference in
    the features still gives none of these hashes."""
    named = row.select(_value_texts(row))
    columns, texts = named.columns, named.row(0)
    zeros = [
        i for i, c in enumerate(columns) if c.startswith(PEER_PREFIX) and texts[i] == f"{c}=0.0"
    ]
    found: set[str] = set()
    for signs in itertools.product(("0.0", "-0.0"), repeat=len(zeros)):
        parts = list(texts)
        for i, sign in zip(zeros, signs, strict=True):
            parts[i] = f"{columns[i]}={sign}"
        found.add(hashlib.sha256("|".join(parts).encode()).hexdigest())
    return found


def _value_texts(frame: pl.DataFrame) -> list[pl.Expr]:
    """``name=value`` of each feature column (sorted names; :func:`feature_hashes`)."""
    columns = sorted(c for c in frame.columns if c not in KEYS)
    rounded = {c: pl.col(c).cast(pl.Float64).round_sig_figs(9) for c in columns}
    return [
        (pl.lit(f"{c}=") + pl.when(x == 0.0).then(0.0).otherwise(x).cast(pl.String)).alias(c)
        for c, x in rounded.items()
    ]


# --- auditlens score ---------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreFileReport:
    """What `auditlens score` did."""

    ingested: int
    accepted: int
    quarantined: int
    users: int
    windows: int
    output: Path
    unknown_resources: int
    seconds: float
    metrics: UserMetrics | None = None
    top: pl.DataFrame = field(default_factory=pl.DataFrame)
    #: Action values outside the vocabulary (quarantined or kept, see actions_policy).
    unknown_actions: dict[str, int] = field(default_factory=dict)
    actions_policy: str = "quarantine"


def score_file(
    settings: Settings,
    inputs: InputOptions,
    *,
    output: Path,
    labels: Path | None = None,
    clock: Clock = utc_now,
) -> ScoreFileReport:
    """Load events, fit the unsupervised model on them, write one row per user.

    The CSV has ``user_id,risk_score,severity,top_reasons``; ``risk_score`` is the user's
    highest *decayed* risk over the period (scoring.user_peaks), ``top_reasons`` the
    reasons of that peak incident (every tied day, strongest first, as `run` and its
    alerts show them) in the configured language. Users with only warm-up days get 0
    and say so. Nothing is stored.

    Raises:
        NoEvents: the input holds no valid event (empty, header only, all quarantined).
    """
    began = time.perf_counter()
    loaded = load_valid_events(settings, inputs, clock)
    events = loaded.events
    ctx = feature_context(settings, near=loaded.folder)
    model, scoring = fit_and_score(events, ctx, settings)
    matrix = scoring.matrix
    keys = peak_keys(scoring.users)
    by_key = keys.with_columns(
        pl.Series(
            "reasons", [reasons_json(r) for r in scoring.reasons(model, keys)], dtype=pl.String
        )
    )
    found = incidents(scoring.users, by_key)
    texts = [
        "; ".join(incident_lines(json.loads(r), settings.language, len(days)))
        for r, days in zip(found["reasons"], found["peak_windows"].to_list(), strict=True)
    ]
    scored = scoring.users.with_columns(pl.Series("top_reasons", texts, dtype=pl.String))
    warmup = "(이력 부족: 점수화 전)" if settings.language == "ko" else "(warm-up: not scored yet)"
    everyone = (
        matrix.frame.select(USER_ID)
        .unique()
        .join(scored, on=USER_ID, how="left")
        .with_columns(
            pl.col("risk_score").fill_null(0.0).round(1),
            pl.col("severity").fill_null("low"),
            pl.col("top_reasons").fill_null(warmup),
        )
        .sort("risk_score", USER_ID, descending=[True, False])
        .select(USER_ID, "risk_score", "severity", "top_reasons")
    )
    write_atomically(output, everyone.write_csv)
    metrics = None
    if labels is not None:
        insiders = read_labels(labels, settings.timezone).get_column(USER_ID).unique()
        metrics = user_metrics(everyone, set(insiders.to_list()), seed=settings.model_seed)
    return ScoreFileReport(
        ingested=loaded.ingested,
        accepted=events.height,
        quarantined=loaded.quarantined,
        users=everyone.height,
        windows=scoring.windows.height,
        output=output,
        unknown_resources=len(matrix.unknown_resources),
        seconds=time.perf_counter() - began,
        metrics=metrics,
        top=everyone.head(10),
        unknown_actions=loaded.unknown_actions,
        actions_policy=loaded.actions_policy,
    )


@dataclass(frozen=True)
class LoadedEvents:
    """Valid events read from an input without a store, and what happened to the rest."""

    events: pl.DataFrame
    ingested: int
    quarantined: int
    folder: Path | None
    unknown_actions: dict[str, int]
    actions_policy: str


def load_valid_events(settings: Settings, inputs: InputOptions, clock: Clock) -> LoadedEvents:
    """Read and validate an input without a store (``inputs`` as on the command line).

    Raises:
        NoEvents: not a single valid event (empty or header-only input, or every row
            quarantined); the message says what was read.
    """
    source = input_source(settings, inputs)
    frames: list[pl.DataFrame] = []
    known = pl.Series(EVENT_ID, [], dtype=pl.String)
    ingested = quarantined = 0
    unknown: Counter[str] = Counter()
    for batch in source.read(None):
        result = validate_batch(batch, settings, clock(), known, rules=source.rules)
        rejected = batch.rejected.height if batch.rejected is not None else 0
        ingested += batch.events.height + rejected
        quarantined += result.quarantined.height + rejected
        unknown.update(result.unknown_actions)
        frames.append(result.valid.select(EVENT_COLUMNS))
        known = pl.concat([known, result.valid.get_column(EVENT_ID)])
    events = pl.concat(frames) if frames else pl.DataFrame()
    if events.height == 0:
        what = inputs.path or source.name
        raise NoEvents(
            f"no events to score in {what}: {ingested:,} rows read, {quarantined:,} quarantined",
            hint="check that the file has rows below its header, and the quarantine reasons",
            ko=f"{what}에 점수를 매길 이벤트가 없습니다: {ingested:,}행을 읽었고 "
            f"{quarantined:,}행을 격리했습니다",
            ko_hint="파일의 머리글 아래에 행이 있는지, 격리 사유는 무엇인지 확인하십시오",
        )
    return LoadedEvents(
        events=events,
        ingested=ingested,
        quarantined=quarantined,
        folder=inputs.path or source_folder(source),
        unknown_actions=dict(unknown.most_common()),
        actions_policy=source.rules.unknown_actions,
    )


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Let ``write`` fill a temporary file beside ``path``, then rename it into place:
    readers see the old file or the new one, never half of it; a failed write leaves no
    temporary file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
