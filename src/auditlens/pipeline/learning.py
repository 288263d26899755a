# size: train and evaluate share the labelled matrix, the grid search and the model save.
"""Learning from past audit findings: `auditlens evaluate` (time-aware, side by side)
and `auditlens train` (fit and register the stacked ensemble `auditlens run` then uses)."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import polars as pl
from sklearn.metrics import precision_recall_curve

from auditlens.config import Settings
from auditlens.detect.bootstrap import Intervals
from auditlens.detect.ensemble import StackedEnsemble, default_unsupervised
from auditlens.detect.evaluation import (
    Fold,
    Metrics,
    cross_validate,
    expected_calibration_error,
    intervals_by_user,
    metrics,
    recall_at_k,
    time_folds,
    user_folds,
    user_level_metrics,
)
from auditlens.detect.isolation import IsolationDetector
from auditlens.detect.labels import (
    MIN_POSITIVE_USERS,
    MIN_POSITIVE_WINDOWS,
    label_windows,
    labelled_users,
)
from auditlens.detect.supervised import GRIDS, KINDS, Kind, SupervisedDetector
from auditlens.errors import NoEvents
from auditlens.features.base import WINDOW
from auditlens.features.matrix import MatrixBuilder
from auditlens.fitted import FittedPipeline
from auditlens.i18n import say
from auditlens.pipeline.detection import (
    ENSEMBLE_KIND,
    Clock,
    feature_context,
    fit_features,
    load_valid_events,
    save_model,
    scored_part,
    write_atomically,
)
from auditlens.pipeline.ingestion import utc_now
from auditlens.pipeline.inputs import InputOptions
from auditlens.pipeline.registration import data_fingerprint, register_training
from auditlens.pipeline.stages import OnStage, Steps
from auditlens.reports import charts
from auditlens.reports.evaluation import (
    EvaluationFindings,
    Scope,
    evaluation_json,
    evaluation_markdown,
    fallback_text,
    small_sample_warning,
)
from auditlens.reports.evaluation import (  # re-exported: the pipeline's public name
    false_positive_comparison as false_positive_comparison,
)
from auditlens.reports.evaluation_text import model_name
from auditlens.reports.evaluation_text import say as report_say
from auditlens.schema import EVENT_COLUMNS, USER_ID
from auditlens.sources.labels import read_findings
from auditlens.store.repo import Store

#: How `evaluate` splits: by time (earlier days train) or by person (others train).
FoldKind = Literal["time", "users"]


@dataclass(frozen=True)
class LabelledMatrix:
    """Scored windows with their labels (1, 0, null = excluded), and the feature sets
    fitted on the events they came from (a trained model is saved with them)."""

    frame: pl.DataFrame
    info: pl.DataFrame
    y: pl.Series
    batch_id: int | None
    features: MatrixBuilder


def labelled_matrix(
    settings: Settings,
    labels: Path,
    *,
    inputs: InputOptions | None,
    clock: Clock,
    upto: int | None = None,
) -> LabelledMatrix:
    """Events (from ``inputs`` or the store, its batches up to ``upto`` when given),
    features past warm-up, window labels.

    Raises NoEvents when the input or the store holds no valid event.
    """
    batch_id = None
    near = None
    if inputs is not None and inputs.given:
        loaded = load_valid_events(settings, inputs, clock)
        events, near = loaded.events, loaded.folder
    else:
        with Store.open(settings) as store:
            batch_id = store.events.last_batch_id() if upto is None else upto
            events = store.events.upto(batch_id).select(EVENT_COLUMNS).collect()
        if events.height == 0:
            raise NoEvents(
                "no events to learn from: the store holds no events",
                hint="give --input PATH or ingest events first",
                ko="학습할 이벤트가 없습니다: 저장소에 이벤트가 하나도 없습니다",
                ko_hint="--input 경로를 지정하거나 먼저 이벤트를 수집하십시오",
            )
    features, matrix = fit_features(events, feature_context(settings, near=near))
    frame, info = scored_part(matrix, settings.min_history_days)
    findings = read_findings(labels, settings.timezone)
    y = label_windows(frame, findings, settings.timezone)
    return LabelledMatrix(frame, info, y, batch_id, features)


def _enough(y: pl.Series) -> bool:
    return int(y.sum() or 0) >= MIN_POSITIVE_WINDOWS


def choose_params(
    X: pl.DataFrame, y: pl.Series, folds: list[Fold], seed: int, steps: Steps | None = None
) -> tuple[dict[Kind, dict[str, Any]], dict[str, list[float]]]:
    """Per classifier, the grid entry with the best mean PR-AUC over the folds (each fit
    counted on ``steps`` as a stage "grid search")."""
    steps = steps or Steps(None)
    steps.start("grid search", total=sum(len(GRIDS[k]) for k in KINDS) * len(folds), unit="fits")
    chosen: dict[Kind, dict[str, Any]] = {}
    scores: dict[str, list[float]] = {}
    for kind in KINDS:
        best, best_pr = GRIDS[kind][0], -1.0
        for params in GRIDS[kind]:
            name = f"{kind} {json.dumps(params, sort_keys=True)}"
            runs = cross_validate(
                X,
                y,
                {name: steps.counted(functools.partial(SupervisedDetector, kind, params, seed))},
                folds,
                supervised={name},
            )[name]
            prs = [metrics(t, s).pr_auc for _, t, s in runs]
            scores[name] = prs
            mean = float(np.nanmean(prs)) if prs else -1.0
            if mean > best_pr:
                best, best_pr = params, mean
        chosen[kind] = best
    return chosen, scores


def _ensemble(chosen: dict[Kind, dict[str, Any]], seed: int) -> StackedEnsemble:
    return StackedEnsemble([SupervisedDetector(k, chosen[k], seed) for k in KINDS], seed=seed)


# --- evaluate -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationReport:
    """What `auditlens evaluate` wrote and found."""

    out_dir: Path
    files: list[Path]
    pooled: dict[str, Metrics]
    user_level: dict[str, Metrics]
    recall_target: float
    ece: float | None
    chosen: dict[str, dict[str, Any]]
    fallback: str | None
    seconds: float
    per_fold: dict[str, list[Metrics]] = field(default_factory=dict)
    intervals: dict[str, Intervals] = field(default_factory=dict)
    warning: str | None = None
    language: str = "en"


def evaluate(
    settings: Settings,
    labels: Path,
    *,
    inputs: InputOptions | None = None,
    out_dir: Path | None = None,
    n_folds: int = 3,
    clock: Clock = utc_now,
    on_stage: OnStage | None = None,
    fold_kind: FoldKind = "time",
) -> EvaluationReport:
    """Evaluation of IsolationForest alone, the unsupervised model, each classifier and
    the stacked ensemble, side by side; writes Markdown, JSON and charts.

    ``fold_kind`` ``time`` trains on earlier days and tests on later ones; ``users``
    tests each person with a model trained on everybody else (``n_folds`` groups).

    Falls back to the unsupervised models alone, and says so, when the labels hold fewer
    than MIN_POSITIVE_WINDOWS positive windows. ``on_stage`` hears of each stage.
    """
    began = time.perf_counter()
    steps = Steps(on_stage)
    steps.start("features")
    data = labelled_matrix(settings, labels, inputs=inputs, clock=clock)
    X, y, seed = data.frame, data.y, settings.model_seed
    if fold_kind == "users":
        folds = user_folds(X, y, n_folds, seed)
    else:
        folds = time_folds(X.get_column(WINDOW).filter(y.is_not_null()), n_folds)
    factories: dict[str, Any] = {
        "isolation_forest": lambda: IsolationDetector(random_state=seed),
        "unsupervised": lambda: default_unsupervised(seed),
    }
    supervised: set[str] = set()
    chosen: dict[Kind, dict[str, Any]] = {}
    fallback = None
    if _enough(y):
        chosen, _ = choose_params(X, y, folds, seed, steps)
        for kind in KINDS:
            factories[kind] = functools.partial(SupervisedDetector, kind, chosen[kind], seed)
        factories["ensemble"] = lambda: _ensemble(chosen, seed)
        supervised = {*KINDS, "ensemble"}
    else:
        fallback = fallback_text(int(y.sum() or 0), MIN_POSITIVE_WINDOWS, settings.language)
    steps.start("cross-validation", total=len(factories) * len(folds), unit="fits")
    counted = {name: steps.counted(make) for name, make in factories.items()}
    runs = cross_validate(X, y, counted, folds, supervised=supervised)
    steps.start("metrics and report")
    pooled_runs, target, pooled, per_fold, ece = _figures(runs)
    user_level = user_level_metrics(X, y, runs)
    ci_began = time.perf_counter()
    intervals, user_intervals = intervals_by_user(X, y, runs, seed)
    ci_seconds = time.perf_counter() - ci_began
    out_dir = out_dir or settings.data_dir / "reports" / f"evaluation-{clock():%Y%m%dT%H%M%S}"
    findings = EvaluationFindings(
        folds=folds,
        recall_target=target,
        ece=ece,
        chosen={k: v for k, v in chosen.items()},
        fallback=fallback,
        pooled=pooled,
        per_fold=per_fold,
        user_level=user_level,
        curves={n: precision_recall_curve(t, s)[1::-1] for n, (t, s) in pooled_runs.items()},
        intervals=intervals,
        user_intervals=user_intervals,
        scope=_scope(X, y),
        bootstrap_seconds=ci_seconds,
        language=settings.language,
    )
    files = _write_report(out_dir, findings)
    if "ensemble" in factories:
        files += _shap_charts(X, y, _ensemble(chosen, seed), out_dir, settings.language)
    return EvaluationReport(
        out_dir=out_dir,
        files=files,
        pooled=pooled,
        user_level=user_level,
        recall_target=target,
        ece=ece,
        chosen={k: v for k, v in chosen.items()},
        fallback=fallback,
        seconds=time.perf_counter() - began,
        per_fold=per_fold,
        intervals=intervals,
        warning=small_sample_warning(findings),
        language=settings.language,
    )


def _figures(
    runs: dict[str, Any],
) -> tuple[dict[str, Any], float, dict[str, Any], dict[str, Any], float | None]:
    """Per model: the folds' test rows pooled, IsolationForest's recall at k (the
    recall every model is compared at), pooled and per-fold metrics, the ensemble's ECE."""
    pooled_runs = {
        name: (np.concatenate([t for _, t, _ in r]), np.concatenate([s for _, _, s in r]))
        for name, r in runs.items()
        if r
    }
    truth_if, score_if = pooled_runs["isolation_forest"]
    target = recall_at_k(truth_if, score_if)
    pooled = {n: metrics(t, s, target) for n, (t, s) in pooled_runs.items()}
    per_fold = {n: [metrics(t, s, target) for _, t, s in r] for n, r in runs.items() if r}
    ece = None
    if "ensemble" in pooled_runs:
        ece = expected_calibration_error(*pooled_runs["ensemble"])
    return pooled_runs, target, pooled, per_fold, ece


def _scope(X: pl.DataFrame, y: pl.Series) -> Scope:
    """People, days and confirmed findings the evaluation covered."""
    days = X.get_column(WINDOW)
    return Scope(
        users=X.get_column(USER_ID).n_unique(),
        days=days.n_unique(),
        first_day=days.min(),  # type: ignore[arg-type]
        last_day=days.max(),  # type: ignore[arg-type]
        labelled_users=labelled_users(X, y),
        positive_windows=int(y.sum() or 0),
        min_users=MIN_POSITIVE_USERS,
    )


def _write_report(out_dir: Path, findings: EvaluationFindings) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = write_atomically(out_dir / "evaluation.json", _text(evaluation_json(findings)))
    md_path = write_atomically(out_dir / "evaluation.md", _text(evaluation_markdown(findings)))
    lang = findings.language
    chart = charts.pr_curves(
        findings.curves,
        out_dir / "pr_curves.png",
        title=report_say(lang, "chart_pr"),
        lang=lang,
        names={name: model_name(lang, name) for name in findings.curves},
    )
    return [md_path, json_path, chart]


def _shap_charts(
    X: pl.DataFrame,
    y: pl.Series,
    model: StackedEnsemble,
    out_dir: Path,
    lang: str,
    *,
    fit: bool = True,
) -> list[Path]:
    """Beeswarm over the positives and a sample of the rest; waterfall of the top window
    (of ``model`` fitted here unless ``fit`` is false: it is fitted already)."""
    if fit:
        model.fit(X, y)
    sample = pl.concat(
        [
            X.with_row_index("_i").filter(y == 1),
            X.with_row_index("_i").filter(y == 0).sample(min(500, int((y == 0).sum())), seed=0),
        ]
    )
    rows = sample.drop("_i")
    contrib, base = model.contributions(rows)
    names = charts.feature_labels(model.feature_columns_, lang)
    values = rows.select(model.feature_columns_).cast(pl.Float64).to_numpy()
    files = [
        charts.beeswarm(
            contrib,
            values,
            names,
            out_dir / "shap_summary.png",
            title=report_say(lang, "chart_shap"),
            lang=lang,
        )
    ]
    top = int(np.argmax(model.log_odds(rows)))
    user, day = rows.row(top, named=True)[USER_ID], rows.row(top, named=True)[WINDOW]
    files.append(
        charts.waterfall(
            contrib[top],
            names,
            float(base[top]),
            out_dir / f"shap_waterfall_{user}_{day}.png",
            title=f"{user} {day}",
            lang=lang,
        )
    )
    return files


def _text(text: str) -> Callable[[Path], int]:
    return lambda path: path.write_text(text, encoding="utf-8")


# --- train ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainReport:
    """What `auditlens train` did."""

    trained: bool
    message: str
    sha256: str | None
    positives: int
    chosen: dict[str, dict[str, Any]]
    seconds: float
    version: int | None = None  # in the model registry
    alias: str = ""  # the version's alias there: champion (the first) or challenger


def train(
    settings: Settings,
    labels: Path,
    *,
    inputs: InputOptions | None = None,
    n_folds: int = 3,
    clock: Clock = utc_now,
    on_stage: OnStage | None = None,
    who_am_i: Callable[[], str] | None = None,
) -> TrainReport:
    """Choose hyper-parameters by time-aware CV, fit the stacked ensemble on every
    labelled window, save it and register it in the store and in the model registry
    (an MLflow run with parameters, cross-validated PR-AUC, the cross-validation report,
    SHAP charts and the data fingerprint; the trainer, ``who_am_i`` else the OS account,
    as a tag); `auditlens run` then scores with the registry's champion.

    With too few labels nothing is saved and the unsupervised model stays in use (the
    report says so). ``on_stage`` hears of each stage.
    """
    began = time.perf_counter()
    steps = Steps(on_stage)
    steps.start("features")
    data = labelled_matrix(settings, labels, inputs=inputs, clock=clock)
    X, y, seed = data.frame, data.y, settings.model_seed
    positives = int(y.sum() or 0)
    people = labelled_users(X, y)
    if people < MIN_POSITIVE_USERS:
        return TrainReport(
            False,
            say(settings.language, "train_few_users", n=people, need=MIN_POSITIVE_USERS),
            None,
            positives,
            {},
            time.perf_counter() - began,
        )
    if not _enough(y):
        return TrainReport(
            False,
            say(settings.language, "train_few_windows", n=positives, need=MIN_POSITIVE_WINDOWS),
            None,
            positives,
            {},
            time.perf_counter() - began,
        )
    chosen, grid, folds, model = fit_trained(data, n_folds, seed, steps)
    ensemble = cast(StackedEnsemble, model.detector)  # fit_trained made it
    steps.start("save")
    params = {k: v for k, v in chosen.items()} | {"seed": seed}
    with Store.open(settings, migrate=True) as store:
        record = save_model(
            store,
            settings,
            model,
            kind=ENSEMBLE_KIND,
            params=params,
            data_batch_id=data.batch_id,
            now=clock(),
        )
        fingerprint = data_fingerprint(store, settings, data.batch_id, labels)
    steps.start("register")
    out_dir = settings.data_dir / "reports" / f"train-{clock():%Y%m%dT%H%M%S%f}"
    files = _cv_report(out_dir, chosen, grid, folds)
    files += _shap_charts(X, y, ensemble, out_dir, settings.language, fit=False)
    version = register_training(
        settings,
        record,
        params=params | {"n_folds": n_folds, "positives": positives},
        metrics=_cv_metrics(chosen, grid),
        files=files,
        fingerprint=fingerprint,
        labels=labels,
        trainer=who_am_i() if who_am_i else None,
    )
    return TrainReport(
        True,
        say(settings.language, "train_done", n=positives),
        record.sha256,
        positives,
        {k: v for k, v in chosen.items()},
        time.perf_counter() - began,
        version.number,
        ", ".join(version.aliases),
    )


def fit_trained(
    data: LabelledMatrix, n_folds: int, seed: int, steps: Steps | None = None
) -> tuple[dict[Kind, dict[str, Any]], dict[str, list[float]], list[Fold], FittedPipeline]:
    """Grid search by time-aware CV, then the stacked ensemble fitted on every labelled
    window as a fitted pipeline (what train saves and `model verify` fits again)."""
    steps = steps or Steps(None)
    X, y = data.frame, data.y
    folds = time_folds(X.get_column(WINDOW).filter(y.is_not_null()), n_folds)
    chosen, grid = choose_params(X, y, folds, seed, steps)
    steps.start("fit")
    model = FittedPipeline(data.features, _ensemble(chosen, seed)).fit(X, y)
    return chosen, grid, folds, model


def _cv_metrics(
    chosen: dict[Kind, dict[str, Any]], grid: dict[str, list[float]]
) -> dict[str, float]:
    """Per classifier, the chosen grid entry's mean PR-AUC over the folds."""
    found: dict[str, float] = {}
    for kind, params in chosen.items():
        prs = grid.get(f"{kind} {json.dumps(params, sort_keys=True)}", [])
        if prs and not np.all(np.isnan(prs)):
            found[f"cv_pr_auc_{kind}"] = float(np.nanmean(prs))
    return found


def _cv_report(
    out_dir: Path,
    chosen: dict[Kind, dict[str, Any]],
    grid: dict[str, list[float]],
    folds: list[Fold],
) -> list[Path]:
    """The grid search as JSON: every candidate's PR-AUC per fold and what was chosen."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {
        "folds": len(folds),
        "chosen": {k: v for k, v in chosen.items()},
        "pr_auc_per_fold": {
            name: [None if np.isnan(v) else v for v in prs] for name, prs in grid.items()
        },
    }
    text = json.dumps(report, indent=2, sort_keys=True, default=str)
    return [write_atomically(out_dir / "cross_validation.json", _text(text))]
