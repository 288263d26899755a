# size: the batch job and its steps (model in force, new windows, evidence rows) in one place.
"""`auditlens run`: ingest what is new, build features, score, store with evidence
(``auditlens explain`` replays what it stored: pipeline/replay.py)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
import zoneinfo
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from auditlens.config import Settings, SourceConfig
from auditlens.detect.explain import (
    incident_lines,
    method_of,
    reasons_json,
)
from auditlens.errors import AuditlensError, NoEvents
from auditlens.features.base import KEYS, WINDOW, FeatureContext
from auditlens.features.history import FeatureHistory, LateEvents, advance
from auditlens.features.matrix import FeatureMatrix, MatrixBuilder
from auditlens.fitted import FittedPipeline
from auditlens.i18n import say
from auditlens.monitor.review import record_draw
from auditlens.pipeline.defaults import DEFAULT_RUN_WAIT
from auditlens.pipeline.detection import (
    ENSEMBLE_KIND,
    MODEL_KIND,
    REASON_FLOOR,
    Clock,
    Scoring,
    feature_context,
    fit_and_score_matrix,
    incidents,
    save_model,
    score_matrix,
)
from auditlens.pipeline.drift import record_drift
from auditlens.pipeline.heap import job_heap
from auditlens.pipeline.increments import (
    RunHistory,
    load_head,
    load_history,
    new_events,
    parts_digest,
    save_history,
)
from auditlens.pipeline.ingestion import IngestReport, ingest, utc_now
from auditlens.pipeline.inputs import make_source
from auditlens.pipeline.partitions import StoredEvents
from auditlens.pipeline.registration import champion
from auditlens.pipeline.shadow import ShadowReport, shadow_score
from auditlens.pipeline.stages import OnStage, Steps
from auditlens.schema import USER_ID
from auditlens.scoring import CapacityCut, RiskHistory, flag_top, peak_keys, user_peaks
from auditlens.store.locks import LockTimeout, store_lock
from auditlens.store.models import ModelRecord
from auditlens.store.repo import Store
from auditlens.store.scores import RunRecord


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
    top: pl.DataFrame  # user_id, risk_score, severity, peak_window(s), reasons (configured lang)
    unknown_resources: int
    seconds: float
    #: Works out :attr:`peaks` when it is first read (a run shows its top 10 only).
    peaks_of: Callable[[], pl.DataFrame] = field(default=pl.DataFrame, repr=False, compare=False)
    #: What the run decided that a person must know (rescored after a config change,
    #: which model it kept or replaced), in the configured language.
    notes: list[str] = field(default_factory=list)
    #: The model registry's version scored with (the champion), None for a model that
    #: is not registered there (the unsupervised model).
    model_version: int | None = None
    #: What the challenger did when the run scored in shadow mode (None: not asked).
    shadow: ShadowReport | None = None

    @cached_property
    def peaks(self) -> pl.DataFrame:
        """Every user's peak incident (user_peaks) with its reasons as stored JSON,
        strongest first (detection.incidents); every user when the run stored rows, else
        the top 10."""
        return self.peaks_of()


class RunInProgress(LockTimeout):
    """Another `auditlens run` (or `alerts raise`) holds the store's run lock."""


@contextlib.contextmanager
def run_lock(store: Store, settings: Settings, wait: float) -> Iterator[None]:
    """One run (scoring and raising alerts) at a time per store; waits up to ``wait`` s.

    Raises:
        RunInProgress: another run still holds the lock after ``wait`` seconds.
    """
    try:
        with store_lock(store.engine, "run", timeout=wait, what="auditlens run"):
            yield
    except RunInProgress:
        raise
    except LockTimeout:
        raise RunInProgress(
            say("en", "run_busy", wait=f"{wait:g}"),
            hint=say("en", "run_busy_hint"),
            ko=say("ko", "run_busy", wait=f"{wait:g}"),
            ko_hint=say("ko", "run_busy_hint"),
        ) from None


def run(
    settings: Settings,
    *,
    refit: bool = False,
    unsupervised: bool = False,
    alerts: bool = True,
    wait: float = DEFAULT_RUN_WAIT,
    clock: Clock = utc_now,
    on_stage: OnStage | None = None,
    shadow: bool = False,
) -> RunReport:
    """The batch job's scoring half: ingest configured sources, score and store new
    windows, under the store's run lock (see :func:`score_run`)."""
    with job_heap(), Store.open(settings, migrate=True) as store:
        with run_lock(store, settings, wait):
            return score_run(
                store,
                settings,
                refit=refit,
                unsupervised=unsupervised,
                alerts=alerts,
                clock=clock,
                steps=Steps(on_stage),
                shadow=shadow,
            )


def score_run(
    store: Store,
    settings: Settings,
    *,
    refit: bool = False,
    unsupervised: bool = False,
    alerts: bool = True,
    clock: Clock = utc_now,
    steps: Steps | None = None,
    shadow: bool = False,
) -> RunReport:
    """Ingest configured sources, then score and store new windows (caller holds the lock).

    The model in force is the newest trained ensemble (unless a later ``--unsupervised``
    refit replaced it), else the newest unsupervised model, else one is fitted. ``refit``
    fits a new unsupervised model but keeps a trained ensemble (saying so);
    ``unsupervised`` replaces the ensemble with a new unsupervised model. A trained
    ensemble whose feature columns no longer match is refused with the commands to run.

    Every stored score row records the model's sha256, a hash of its feature row, the
    data watermark (last ingest batch id) and the config hash, so `explain` can replay
    it. Stored: windows on days with new events (all windows on a new model or when the
    settings that change scores differ from the previous run's, saying so), plus every
    day of the peak incident of each user who has a new window, so the run holds each
    such user's peak as the run found it. The run is stored with its alerts pending
    (``alerts=False``: skipped). ``steps`` hears of each stage as it starts. With
    ``shadow`` (or ``monitoring.shadow``) the challenger scores the same windows right
    after, stored apart (pipeline/shadow.py).
    """
    began = time.perf_counter()
    started = clock()
    steps = steps or Steps(None)
    ingests = [
        _ingest(name, cfg, settings, store, clock, steps) for name, cfg in settings.sources.items()
    ]
    if not (refit or unsupervised):
        quiet = _nothing_new(store, settings, ingests, began, shadow, steps)
        if quiet is not None:
            return quiet
    ctx = feature_context(settings)
    scored = _scored(store, settings, ctx, refit, unsupervised, shadow, clock, steps)
    choice, scoring, batch_id, total = scored.choice, scored.scoring, scored.batch_id, scored.events
    model, record = choice.model, choice.record
    notes = list(choice.notes)
    new, why = _new_windows(store, scoring.windows, record.sha256, settings, batch_id)
    if why:
        notes.append(why)
    peaks = scoring.users
    rows = _with_peak_days(new, scoring.windows, peaks)
    cut = flag_top(peaks, settings.review_capacity)
    shown = peaks if rows.height else peaks.head(10)
    # peak days of earlier runs (an increment scores the new days only): as stored
    earlier = _stored_peak_days(store, record.sha256, shown, scoring.windows, scored.after)
    steps.start("reasons")
    by_key = _reasons_by_key(scoring, model, rows, shown, earlier)
    run_id = None
    if rows.height:
        extra = _earlier_rows(rows, earlier, settings, batch_id)  # (counted in the total)
        steps.start("store", total=rows.height + extra.height, unit="rows")
        rows = _with_evidence(rows, by_key, scoring, record.sha256, settings, batch_id, extra)
        record_run = _run_record(settings, scored, rows.height, cut, alerts, (started, clock()))
        run_id = store.scores.commit_run(record_run, rows)
        steps.advance(rows.height)
    # what the next run continues from (a cache: increments), written on a second thread
    # while this one records drift and builds the report; written before the run returns
    with ThreadPoolExecutor(1) as background:
        after = _history_after(store, scored, rows, earlier, peaks)
        saving = None if after is None else background.submit(save_history, settings, after)
        if run_id is not None:
            notes += record_drift(
                store, settings, run_id, model, record.sha256, scoring, new, clock()
            )
            # miss-rate sampling ([monitoring] review_sample; 0 = off): monitor/review.py
            sample = settings.monitoring.review_sample
            record_draw(store, run_id, peaks, rows, cut.flagged, sample, now=clock())
        frame = scored.everything
        shadowed = shadow_score(store, settings, shadow, run_id, rows, frame, ctx, record, steps)
        top = incidents(shown.head(10), by_key)  # every user's: when the report is asked
        if saving is not None:
            saving.result()  # (its error is the run's)
    return RunReport(
        ingests=ingests,
        run_id=run_id,
        events=total,
        windows_scored=scoring.windows.height,
        rows_stored=rows.height,
        model_sha256=record.sha256,
        model_version=choice.version,
        refitted=choice.refitted,
        data_batch_id=batch_id,
        capacity=cut,
        top=_with_reason_texts(top, settings.language),
        unknown_resources=len(choice.matrix.unknown_resources),
        seconds=time.perf_counter() - began,
        peaks_of=lambda: incidents(shown, by_key),
        notes=notes + (shadowed.notes if shadowed else []),
        shadow=shadowed,
    )


def _history_after(
    store: Store, scored: Scored, rows: pl.DataFrame, earlier: pl.DataFrame, peaks: pl.DataFrame
) -> RunHistory | None:
    """What the next run continues from, once this one stored ``rows`` (none when the
    run kept no history).

    A full run leaves the stored rows of every user's peak days, its own and, for the
    users it stored nothing for (no new event), the earlier runs' from the store: the
    next increment then finds them all in the history (a store lookup costs it ~0.15
    CPU-s per few hundred days, issue 17).
    """
    if scored.after is None or rows.height == 0:
        return scored.after
    after = scored.after.with_stored(rows, earlier, peak_keys(peaks))
    if scored.after.stored is not None or after.stored is None:  # an increment
        return after
    missing = peak_keys(peaks).join(after.stored.select(*KEYS), on=list(KEYS), how="anti")
    if missing.height == 0:
        return after
    found = _peak_rows(store, scored.choice.record.sha256, missing, None)
    both = pl.concat([after.stored, found.select(after.stored.columns)], how="vertical_relaxed")
    return replace(after, stored=both.sort(*KEYS))


def _nothing_new(
    store: Store,
    settings: Settings,
    ingests: list[IngestReport],
    began: float,
    shadow: bool,
    steps: Steps,
) -> RunReport | None:
    """The report of a run with nothing to score, or None when there is something.

    Nothing to score: the previous run scored with the model in force under the same
    scoring settings and no valid event arrived since its watermark. Then the matrix is
    not built at all (a full build costs seconds to minutes); the users' peaks come from
    the stored rows, as the previous runs found them.
    """
    previous = store.scores.last_run()
    if previous is None or previous.config_hash != settings.fingerprint():
        return None
    current, version = _current(store, settings)
    if current is None or current.sha256 != previous.model_sha256:
        return None
    batch_id = store.events.last_batch_id()
    if batch_id > previous.data_batch_id and store.events.first_event_after(previous.data_batch_id):
        return None
    head = load_head(store, settings, previous.model_sha256, previous.data_batch_id)
    # every user's peak days: what the last run's history holds, else the stored rows
    sha = previous.model_sha256
    days = head.risk.peaks if head is not None else store.scores.newest_days(sha)
    peaks = user_peaks(days)
    cut = flag_top(peaks, settings.review_capacity)
    keys = _peak_rows(store, sha, peak_keys(peaks.head(10)), head)
    found = incidents(peaks.head(10), keys.select(*KEYS, "reasons"))
    notes = [say(settings.language, "nothing_new", run=previous.id)]
    shadowed = None
    if shadow or settings.monitoring.shadow:  # it says that nothing was stored
        ctx = feature_context(settings)
        shadowed = shadow_score(
            store, settings, shadow, None, days.clear(), pl.DataFrame, ctx, current, steps
        )
    return RunReport(
        ingests=ingests,
        run_id=None,
        events=previous.events,
        windows_scored=0,
        rows_stored=0,
        model_sha256=previous.model_sha256,
        model_version=version,
        refitted=False,
        data_batch_id=batch_id,
        capacity=cut,
        top=_with_reason_texts(found, settings.language),
        unknown_resources=0,
        seconds=time.perf_counter() - began,
        peaks_of=lambda: found,
        notes=notes + (shadowed.notes if shadowed else []),
        shadow=shadowed,
    )


def _ingest(
    name: str, cfg: SourceConfig, settings: Settings, store: Store, clock: Clock, steps: Steps
) -> IngestReport:
    """One configured source into the store; its rows reported to ``steps`` per batch."""
    steps.start(f"ingest {name}", unit="rows")
    return ingest(
        make_source(name, cfg, settings),
        settings,
        store=store,
        clock=clock,
        on_batch=lambda batch: steps.advance(batch.ingested),
        keep_going=True,  # one failing source must not stop the others
    )


def _with_reason_texts(found: pl.DataFrame, language: str) -> pl.DataFrame:
    """``found`` (detection.incidents) with its reasons as text in ``language``."""
    texts = [
        "; ".join(incident_lines(json.loads(r), language, len(days)))
        for r, days in zip(found["reasons"], found["peak_windows"].to_list(), strict=True)
    ]
    return found.with_columns(pl.Series("reasons", texts, dtype=pl.String))


def _stored_events(store: Store, settings: Settings) -> tuple[int, StoredEvents]:
    """The last ingest batch id and the valid events up to it (read whole when they fit
    ``[engine] memory_budget``, else in user partitions: pipeline/partitions.py).

    Raises:
        AuditlensError: nothing was ingested yet.
        NoEvents: batches were ingested but hold no valid event.
    """
    batch_id = store.events.last_batch_id()
    if batch_id == 0:
        raise AuditlensError(
            "the store holds no events yet",
            hint="configure [sources.NAME] in auditlens.toml or run `auditlens ingest PATH`",
            ko="저장소에 아직 이벤트가 없습니다",
            ko_hint="auditlens.toml에 [sources.NAME]을 설정하거나 `auditlens ingest 경로`를 "
            "실행하십시오",
        )
    parts = store.events.parts_upto(batch_id) if settings.engine.kind == "spark" else None
    if parts is not None:  # the features computed on Spark (reading whole lake files)
        from auditlens.pipeline.spark import SparkEvents

        paths = [store.events.lake.root / p for p in parts]
        events: StoredEvents = SparkEvents.read(store.events.upto(batch_id), paths, settings)
    else:
        events = StoredEvents.planned(store.events.upto(batch_id), settings)
    if events.height == 0:
        raise NoEvents(
            f"no events to score in the store ({batch_id} batches ingested, every row "
            "quarantined or the inputs empty)",
            hint="see `auditlens quarantine` and check that the sources have rows",
            ko=f"저장소에 점수를 매길 이벤트가 없습니다 (수집 배치 {batch_id}개, 모든 행이 "
            "격리되었거나 입력이 비어 있음)",
            ko_hint="`auditlens quarantine`을 확인하고 소스에 행이 있는지 점검하십시오",
        )
    return batch_id, events


def _reasons_by_key(
    scoring: Scoring,
    model: FittedPipeline,
    rows: pl.DataFrame,
    shown: pl.DataFrame,
    earlier: pl.DataFrame,
) -> pl.DataFrame:
    """``user_id, window, reasons`` (JSON) of the stored ``rows`` at or above
    REASON_FLOOR and of every peak day of the users ``shown`` (``earlier``: the stored
    rows of peak days this run did not score)."""
    explained = (
        pl.concat(
            [rows.filter(pl.col("decayed_risk") >= REASON_FLOOR).select(*KEYS), peak_keys(shown)]
        )
        .unique()
        .join(scoring.windows.select(*KEYS), on=list(KEYS), how="semi")
    )
    found = explained.with_columns(
        pl.Series(
            "reasons",
            [reasons_json(r) for r in scoring.reasons(model, explained)],
            dtype=pl.String,
        )
    )
    return pl.concat([found, earlier.select(*KEYS, "reasons")], how="vertical_relaxed")


def _stored_peak_days(
    store: Store,
    sha: str,
    shown: pl.DataFrame,
    windows: pl.DataFrame,
    history: RunHistory | None,
) -> pl.DataFrame:
    """The newest stored rows of the peak days of ``shown`` that ``windows`` (this run's
    scored windows) does not hold: an increment's earlier peaks, as their run found
    them (every feature of a day depends on events up to that day only, so a full run
    would score them alike)."""
    missing = peak_keys(shown).join(windows.select(*KEYS), on=list(KEYS), how="anti")
    if missing.height == 0:
        return pl.DataFrame(schema={USER_ID: pl.String, WINDOW: pl.Date, "reasons": pl.String})
    return _peak_rows(store, sha, missing, history)


def _peak_rows(
    store: Store, sha: str, keys: pl.DataFrame, history: RunHistory | None
) -> pl.DataFrame:
    """The newest stored rows (SCORE_COLUMNS) of ``keys`` scored with ``sha``: from the
    history's copy of the peak days' rows where it holds them, else from the store (a
    store lookup of thousands of (user, day) pairs costs seconds)."""
    found = None
    if history is not None and history.stored is not None:
        found = history.stored.join(keys, on=list(KEYS), how="semi")
        keys = keys.join(found.select(*KEYS), on=list(KEYS), how="anti")
        if keys.height == 0:
            return found
    rows = store.scores.newest_rows(sha, keys).drop("run_id")
    return rows if found is None else pl.concat([found, rows], how="vertical_relaxed").sort(*KEYS)


def _earlier_rows(
    rows: pl.DataFrame, earlier: pl.DataFrame, settings: Settings, batch_id: int
) -> pl.DataFrame:
    """The earlier peak days of the users of ``rows`` that ``rows`` do not hold, as
    stored, under this run's watermark (stored with them)."""
    if earlier.height == 0 or "raw_score" not in earlier.columns:
        return earlier.clear()
    extra = earlier.join(rows.select(USER_ID).unique(), on=USER_ID, how="semi").join(
        rows.select(*KEYS), on=list(KEYS), how="anti"
    )
    return extra.with_columns(
        pl.lit(settings.fingerprint()).alias("config_hash"),
        pl.lit(batch_id).alias("data_batch_id"),
    )


@dataclass(frozen=True)
class ModelChoice:
    """The model a run scores with, the matrix it scores, and what was decided."""

    model: FittedPipeline
    record: ModelRecord
    matrix: FeatureMatrix
    refitted: bool
    notes: list[str]
    #: The model registry's version of ``record`` when it is the champion.
    version: int | None = None
    #: ``matrix`` scored already (a model fitted now: scored while fitting).
    scoring: Scoring | None = None


def model_in_force(store: Store) -> ModelRecord | None:
    """The model `auditlens run` scores with: the newest trained ensemble, unless a
    newer unsupervised model was fitted to replace it (``run --refit --unsupervised``);
    else the newest unsupervised model."""
    return store.models.in_force()  # the rule lives with the models (views read it too)


def _current(store: Store, settings: Settings) -> tuple[ModelRecord | None, int | None]:
    """The registry's champion and its version when there is one (unless `run --refit
    --unsupervised` replaced it since), else the model in force."""
    plain = model_in_force(store)
    found = champion(store, settings)
    if found is None:
        return plain, None
    version, record = found
    if plain is not None and plain.params.get("replaces") == record.sha256:
        return plain, None
    return record, version.number


def _model_for(
    store: Store,
    settings: Settings,
    events: StoredEvents,
    ctx: FeatureContext,
    refit: bool,
    unsupervised: bool,
    batch_id: int,
    clock: Clock,
) -> ModelChoice:
    """The model in force and the matrix it scores, or a newly fitted and registered one."""
    lang = settings.language
    current, version = _current(store, settings)
    notes: list[str] = []
    if current is not None and current.kind == ENSEMBLE_KIND and not unsupervised:
        stored = FittedPipeline.load(Path(current.path), current.sha256)
        matrix = events.matrix(stored.features, ctx)
        if current.feature_columns != matrix.feature_columns:
            diff = _column_diff(current.feature_columns, matrix.feature_columns)
            raise AuditlensError(
                say("en", "ensemble_stale", sha=current.sha256[:12], diff=diff),
                hint=say("en", "ensemble_stale_hint"),
                ko=say("ko", "ensemble_stale", sha=current.sha256[:12], diff=diff),
                ko_hint=say("ko", "ensemble_stale_hint"),
            )
        if refit:
            notes.append(say(lang, "refit_keeps_ensemble", sha=current.sha256[:12]))
        if current.config_hash != settings.fingerprint():
            notes.append(
                say(lang, "model_other_config", sha=current.sha256[:12], cmd="train --labels FILE")
            )
        return ModelChoice(stored, current, matrix, False, notes, version)
    if current is not None and not refit and current.kind != ENSEMBLE_KIND:
        stored = FittedPipeline.load(Path(current.path), current.sha256)
        matrix = events.matrix(stored.features, ctx)
        if current.feature_columns == matrix.feature_columns:
            if current.config_hash != settings.fingerprint():
                notes.append(
                    say(lang, "model_other_config", sha=current.sha256[:12], cmd="run --refit")
                )
            return ModelChoice(stored, current, matrix, False, notes)
        notes.append(
            say(lang, "features_changed", sha=current.sha256[:12],
                diff=_column_diff(current.feature_columns, matrix.feature_columns))
        )  # fmt: skip
    features = MatrixBuilder()
    model, scoring = fit_and_score_matrix(features, events.fit_matrix(features, ctx), settings)
    params: dict[str, Any] = {
        "detector": type(model.detector).__name__,
        "seed": settings.model_seed,
    }
    if current is not None and current.kind == ENSEMBLE_KIND:
        params["replaces"] = current.sha256
    record = save_model(
        store, settings, model, kind=MODEL_KIND, params=params, data_batch_id=batch_id, now=clock()
    )
    sha = record.sha256
    if current is not None:
        key = "replaced_ensemble" if current.kind == ENSEMBLE_KIND else "replaced_model"
        notes.append(say(lang, key, old=current.sha256[:12], new=sha[:12]))
    return ModelChoice(model, record, scoring.matrix, True, notes, scoring=scoring)


def _column_diff(before: list[str], now: list[str]) -> str:
    added = [c for c in now if c not in before]
    removed = [c for c in before if c not in now]
    parts = [f"+{c}" for c in added[:5]] + [f"-{c}" for c in removed[:5]]
    more = len(added) + len(removed) - len(parts)
    return ", ".join(parts) + (f" (+{more})" if more > 0 else "") if parts else "order"


def _run_record(
    settings: Settings,
    scored: Scored,
    rows: int,
    cut: CapacityCut,
    alerts: bool,
    times: tuple[dt.datetime, dt.datetime],
) -> RunRecord:
    """The score run to store with its ``rows``."""
    choice = scored.choice
    return RunRecord(
        started_at=times[0],
        finished_at=times[1],
        model_sha256=choice.record.sha256,
        config_hash=settings.fingerprint(),
        data_batch_id=scored.batch_id,
        events=scored.events,
        windows=rows,
        reason_method=method_of(choice.model.detector),
        capacity=settings.review_capacity,
        capacity_cutoff=cut.cutoff if cut.flagged.height else None,
        alerts_state="pending" if alerts else "skipped",
        config=json.dumps(settings.scoring_config(), sort_keys=True, default=str),
        model_version=choice.version,
    )


@dataclass(frozen=True)
class Scored:
    """The features and scores of a run: the model chosen and its scoring, the
    watermark, how many events it stands on, what gives every event (shadow scoring) and
    the history for the next run (None: none to leave)."""

    choice: ModelChoice
    scoring: Scoring
    batch_id: int
    events: int
    everything: Callable[[], pl.DataFrame]
    after: RunHistory | None


def _scored(
    store: Store,
    settings: Settings,
    ctx: FeatureContext,
    refit: bool,
    unsupervised: bool,
    shadow: bool,
    clock: Clock,
    steps: Steps,
) -> Scored:
    """Features and scores: of the new days only when the last run left a history
    (increments), else of every event."""
    steps.start("features and model")
    increment = None
    if not (refit or unsupervised or shadow or settings.monitoring.shadow):
        increment = _increment(store, settings, ctx)
    if increment is not None:  # only the days after the last run's history
        steps.start("score")
        choice = increment.choice
        assert choice.scoring is not None  # noqa: S101 - an increment is scored
        after = increment.after(choice.scoring, settings)
        batch_id, total = increment.batch_id, increment.events
        return Scored(choice, choice.scoring, batch_id, total, pl.DataFrame, after)
    batch_id, events = _stored_events(store, settings)
    events.keep_history = settings.engine.kind == "polars"
    with events:  # partition files, if any, removed once the matrix is built
        choice = _model_for(store, settings, events, ctx, refit, unsupervised, batch_id, clock)
    steps.start("score")
    scoring = choice.scoring or score_matrix(choice.matrix, choice.model, settings)
    history = _full_history(store, settings, events, choice, scoring, batch_id)
    return Scored(choice, scoring, batch_id, events.height, events.frame, history)


@dataclass(frozen=True)
class Increment:
    """A run over the days after the last run's history only."""

    choice: ModelChoice
    batch_id: int
    events: int  # every valid event up to batch_id (the history's and the new ones)
    history: RunHistory
    features: FeatureHistory

    def after(self, scoring: Scoring, settings: Settings) -> RunHistory:
        """The history once this increment is scored."""
        risk = self.history.risk.after(scoring.windows, settings.decay_half_life_days)
        return replace(
            self.history,
            data_batch_id=self.batch_id,
            parts=self.parts,
            features=self.features,
            risk=risk,
            events=self.events,
        )

    parts: str = ""


def _increment(store: Store, settings: Settings, ctx: FeatureContext) -> Increment | None:
    """The increment when the model in force left a history that the new events all
    come after, else None (a full run)."""
    if settings.engine.kind != "polars":
        return None
    current, version = _current(store, settings)
    if current is None:
        return None
    history = load_history(store, settings, current.sha256)
    if history is None:
        return None
    batch_id = store.events.last_batch_id()
    events = new_events(store, history.data_batch_id, batch_id)
    model = FittedPipeline.load(Path(current.path), current.sha256)
    try:
        matrix, features = advance(model.features, events, ctx, history.features)
    except LateEvents:
        return None
    if current.feature_columns != matrix.feature_columns:
        return None  # the full run says what to do
    notes: list[str] = []
    if current.config_hash != settings.fingerprint():
        cmd = "train --labels FILE" if current.kind == ENSEMBLE_KIND else "run --refit"
        notes.append(say(settings.language, "model_other_config", sha=current.sha256[:12], cmd=cmd))
    scoring = score_matrix(matrix, model, settings, history=history.risk)
    choice = ModelChoice(
        model, current, matrix, False, notes,
        version if current.kind == ENSEMBLE_KIND else None, scoring=scoring,
    )  # fmt: skip
    parts = parts_digest(store.events.ingested_parts(batch_id))
    total = history.events + events.height
    return Increment(choice, batch_id, total, history, features, parts)


def _full_history(
    store: Store,
    settings: Settings,
    events: StoredEvents,
    choice: ModelChoice,
    scoring: Scoring,
    batch_id: int,
) -> RunHistory | None:
    """What a full run over every event leaves for the next, when it built its matrix
    with a history (in memory, with a stored model)."""
    if events.history is None or choice.refitted:
        return None
    risk = RiskHistory.empty().after(scoring.windows, settings.decay_half_life_days)
    return RunHistory(
        model_sha256=choice.record.sha256,
        config_hash=settings.fingerprint(),
        data_batch_id=batch_id,
        parts=parts_digest(store.events.ingested_parts(batch_id)),
        features=events.history,
        risk=risk,
        events=events.height,
    )


def _new_windows(
    store: Store, windows: pl.DataFrame, sha: str, settings: Settings, batch_id: int
) -> tuple[pl.DataFrame, str | None]:
    """Windows to store and, when all are rescored for a changed configuration, why.

    All windows on a new model, or when the settings that change scores differ from the
    previous run's; else those on days that got new events.
    """
    previous = store.scores.last_run()
    if previous is None or previous.model_sha256 != sha:
        return windows, None
    if previous.config_hash != settings.fingerprint():
        return windows, say(
            settings.language,
            "config_changed",
            run=previous.id,
            fields=", ".join(_changed_fields(previous.config, settings))
            or say(settings.language, "not_recorded"),
            n=f"{windows.height:,}",
        )
    if previous.data_batch_id >= batch_id:
        return windows.clear(), None
    since = store.events.first_event_after(previous.data_batch_id)
    if since is None:
        return windows.clear(), None
    if since.tzinfo is None:  # SQLite returns stored UTC times naive
        since = since.replace(tzinfo=dt.UTC)
    local = since.astimezone(zoneinfo.ZoneInfo(settings.timezone)).date()
    return windows.filter(pl.col(WINDOW) >= local), None


def _changed_fields(stored: str | None, settings: Settings) -> list[str]:
    """Names of the scoring settings that differ from a run's recorded ones."""
    if not stored:
        return []
    before = json.loads(stored)
    now = json.loads(json.dumps(settings.scoring_config(), sort_keys=True, default=str))
    return sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))


def _with_peak_days(new: pl.DataFrame, windows: pl.DataFrame, peaks: pl.DataFrame) -> pl.DataFrame:
    """``new`` plus every peak-incident day of the users in it (if not already there)."""
    if new.height == 0:
        return new
    keys = peak_keys(peaks).join(new.select(USER_ID).unique(), on=USER_ID, how="semi")
    extra = windows.join(keys, on=list(KEYS), how="semi").join(
        new.select(*KEYS), on=list(KEYS), how="anti"
    )
    return pl.concat([new, extra]).sort(*KEYS)


def _with_evidence(
    rows: pl.DataFrame,
    by_key: pl.DataFrame,
    scoring: Scoring,
    sha: str,
    settings: Settings,
    batch_id: int,
    earlier: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Add reasons (``by_key``: flagged windows and peak days), hashes and watermarks;
    then the ``earlier`` rows (:func:`_earlier_rows`: as stored), in key order."""
    hashes = scoring.hashes(rows)
    found = (
        rows.with_columns(pl.Series("feature_hash", hashes))
        .join(by_key, on=list(KEYS), how="left", maintain_order="left")
        .with_columns(
            pl.col("reasons").fill_null("[]"),
            pl.lit(sha).alias("model_sha256"),
            pl.lit(settings.fingerprint()).alias("config_hash"),
            pl.lit(batch_id).alias("data_batch_id"),
        )
    )
    if earlier is None or earlier.height == 0:
        return found
    both = pl.concat([found, earlier.select(found.columns)], how="vertical_relaxed")
    return both.sort(*KEYS)
