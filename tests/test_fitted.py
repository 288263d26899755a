"""The fitted pipeline: saved, hashed, loaded and replayed as one unit."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from pathlib import Path

import joblib
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from auditlens.config import Settings
from auditlens.detect.base import ModelError, save_artifact
from auditlens.detect.ensemble import default_unsupervised
from auditlens.detect.explain import explain, reasons_json
from auditlens.features.base import FeatureContext, NotFitted
from auditlens.features.catalog import ResourceCatalog
from auditlens.features.matrix import HISTORY_DAYS, FeatureMatrix, MatrixBuilder
from auditlens.features.sequences import SequenceFeatures
from auditlens.fitted import FittedPipeline
from auditlens.pipeline import explain_user, ingest, run
from auditlens.scoring import RiskModel
from auditlens.sources.files import FileSource
from auditlens.sources.synthetic import GeneratorSpec, generate, write_sample
from auditlens.store.repo import Store

SPEC = GeneratorSpec(users=60, days=24, seed=9, insider_rate=0.05)


@pytest.fixture(scope="module")
def org() -> tuple[pl.DataFrame, pl.DataFrame, FeatureContext]:
    """Events of the first 16 days (to fit on) and of all 24 days, and their context."""
    data = generate(SPEC)
    ctx = FeatureContext(catalog=ResourceCatalog.from_frame(data.catalog))
    cut = dt.datetime(2026, 9, 16, 15, tzinfo=dt.UTC)
    return data.events.filter(pl.col("timestamp") < cut), data.events, ctx


def _fit(events: pl.DataFrame, ctx: FeatureContext) -> FittedPipeline:
    features = MatrixBuilder()
    matrix = features.fit_transform(events, ctx)
    rows = matrix.frame.filter(matrix.info[HISTORY_DAYS] >= 7)
    return FittedPipeline(features, default_unsupervised(seed=3)).fit(rows)


def _scored(model: FittedPipeline, events: pl.DataFrame, ctx: FeatureContext) -> pl.DataFrame:
    """Keys, features, raw score, surprise and reasons of every window of ``events``."""
    matrix: FeatureMatrix = model.matrix(events, ctx)
    raw, surprise = model.score(matrix.frame)
    reasons = explain(model.detector, matrix.frame, matrix.info, timezone="Asia/Seoul")
    return matrix.frame.with_columns(
        pl.Series("raw", raw),
        pl.Series("surprise", surprise),
        pl.Series("reasons", [reasons_json(r) for r in reasons]),
    )


def test_saved_and_loaded_pipeline_scores_and_explains_identically(
    org: tuple[pl.DataFrame, pl.DataFrame, FeatureContext], tmp_path: Path
) -> None:
    fit, every, ctx = org
    model = _fit(fit, ctx)
    sha = model.save(tmp_path / "model.joblib")
    assert sha == hashlib.sha256((tmp_path / "model.joblib").read_bytes()).hexdigest()
    loaded = FittedPipeline.load(tmp_path / "model.joblib", sha)
    assert loaded.feature_columns == model.feature_columns
    assert loaded.n_train_ == model.n_train_
    for events in (fit, every):  # the events fitted on, and later days it never saw
        before, after = _scored(model, events, ctx), _scored(loaded, events, ctx)
        assert_frame_equal(before, after)
        assert (after["reasons"] != "[]").sum() > 0
    # later days are scored with what was learned, not refitted on them
    unseen = _scored(loaded, every, ctx)
    refitted = _scored(_fit(every, ctx), every, ctx)
    assert not np.array_equal(unseen["raw"].to_numpy(), refitted["raw"].to_numpy())


def test_the_pipeline_and_its_feature_sets_refuse_to_work_unfitted(
    org: tuple[pl.DataFrame, pl.DataFrame, FeatureContext], tmp_path: Path
) -> None:
    fit, _, ctx = org
    features = MatrixBuilder()
    with pytest.raises(NotFitted, match="feature sets are not fitted"):
        features.transform(fit, ctx)
    pipeline = FittedPipeline(features, default_unsupervised(seed=3))
    with pytest.raises(NotFitted, match=r"MatrixBuilder\.fit"):
        pipeline.fit(pl.DataFrame({"x": [1.0]}))
    with pytest.raises(NotFitted, match="pipeline is not fitted"):
        pipeline.save(tmp_path / "never.joblib")
    assert not (tmp_path / "never.joblib").exists()


def test_a_model_saved_before_the_fitted_pipeline_still_loads_and_scores_the_same(
    org: tuple[pl.DataFrame, pl.DataFrame, FeatureContext], tmp_path: Path
) -> None:
    fit, every, ctx = org
    model = _fit(fit, ctx)
    # format 1: a RiskModel carrying the fitted sequence model (its pickled form)
    old = RiskModel(model.detector)
    old.scale_, old.n_train_ = model.risk_.scale_, model.risk_.n_train_
    sequences = model.features.sets_[-1]
    assert isinstance(sequences, SequenceFeatures)
    old.sequence_model = sequences.fitted_model()  # type: ignore[attr-defined]
    sha = save_artifact(old, tmp_path / "old.joblib")
    loaded = FittedPipeline.load(tmp_path / "old.joblib", sha)
    assert loaded.format_ == 1
    # a format-1 model learned no peer z-score floors: it takes them from the windows it
    # scores, as the version that saved it did; all else is what was fitted
    assert loaded.features.floors() is None and model.features.floors() is not None
    unfloored = copy.deepcopy(model)
    del unfloored.features.floors_
    assert_frame_equal(_scored(loaded, every, ctx), _scored(unfloored, every, ctx))


def test_an_unreadable_or_foreign_artefact_says_to_refit(tmp_path: Path) -> None:
    gone = tmp_path / "gone.joblib"  # a class this version does not have
    gone.write_bytes(b"cauditlens.features.gone\nModel\n(tR.")
    with pytest.raises(ModelError, match="another auditlens version") as caught:
        FittedPipeline.load(gone)
    assert "auditlens run --refit" in (caught.value.hint or "")
    other = tmp_path / "other.joblib"
    joblib.dump({"weights": [1, 2]}, other)
    with pytest.raises(ModelError, match="does not hold an auditlens model") as caught:
        FittedPipeline.load(other)
    assert "auditlens run --refit" in (caught.value.hint or "")
    old = tmp_path / "old.joblib"  # format 1 without a sequence model: cannot be replayed
    save_artifact(RiskModel(default_unsupervised(seed=1)), old)
    with pytest.raises(ModelError, match="without its fitted sequence model"):
        FittedPipeline.load(old)


def test_explain_replays_through_the_stored_pipeline(
    sqlite_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = tmp_path / "sample"
    write_sample(generate(SPEC), sample)
    settings = sqlite_settings.model_copy(
        update={
            "resource_catalog": sample / "resource_catalog.csv",
            "peer_directory": sample / "directory.csv",
        }
    )
    store = Store.open(settings, migrate=True)
    try:
        ingest(FileSource(sample / "events.parquet", name="events"), settings, store=store)
    finally:
        store.close()
    report = run(settings)
    loads: list[tuple[str | None, FittedPipeline]] = []
    built: list[FittedPipeline] = []
    real_load, real_matrix = FittedPipeline.load, FittedPipeline.matrix

    def load(path: Path, expected_sha256: str | None = None) -> FittedPipeline:
        loads.append((expected_sha256, real_load(path, expected_sha256)))
        return loads[-1][1]

    def matrix(self: FittedPipeline, events: pl.DataFrame, ctx: FeatureContext) -> FeatureMatrix:
        built.append(self)
        return real_matrix(self, events, ctx)

    monkeypatch.setattr(FittedPipeline, "load", staticmethod(load))
    monkeypatch.setattr(FittedPipeline, "matrix", matrix)
    top = report.top.row(0, named=True)
    replay = explain_user(settings, top["user_id"], top["peak_window"])
    assert replay.reproduced, replay.checks
    assert replay.checks["reasons"]
    assert [sha for sha, _ in loads] == [report.model_sha256]
    assert built == [loads[0][1]]  # the features were rebuilt by the loaded pipeline
    assert replay.replayed["raw_score"] == replay.stored["raw_score"]
    # a stored hash that is not this row's features is caught; one of the same features
    # with a zero peer z-score stored as -0.0 (runs before that was written 0.0) is not
    from sqlalchemy import update

    from auditlens.pipeline import replay as replay_module
    from auditlens.store.db import scores

    forged = "0" * 64
    with Store.open(settings) as store, store.engine.begin() as conn:
        conn.execute(
            update(scores)
            .where(scores.c.run_id == replay.stored["run_id"])
            .where(scores.c.user_id == top["user_id"], scores.c.window == top["peak_window"])
            .values(feature_hash=forged)
        )
    again = explain_user(settings, top["user_id"], top["peak_window"])
    assert again.stored["feature_hash"] == forged and not again.checks["features"]
    monkeypatch.setattr(replay_module, "signed_zero_hashes", lambda row: {forged})
    assert explain_user(settings, top["user_id"], top["peak_window"]).checks["features"]
