"""Fitting scores the training rows once: fit_score equals fit then score, bit for bit."""

from __future__ import annotations

import threading
from typing import ClassVar, Self

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from auditlens.config import Settings
from auditlens.detect.base import Scores, clone
from auditlens.detect.ensemble import MeanSurpriseEnsemble, default_unsupervised
from auditlens.detect.isolation import IsolationDetector
from auditlens.detect.surprise import Surprise
from auditlens.detect.tail import TailDetector
from auditlens.features.base import FeatureContext
from auditlens.features.catalog import ResourceCatalog
from auditlens.features.matrix import MatrixBuilder
from auditlens.fitted import FittedPipeline, training_reference
from auditlens.pipeline.detection import fit_and_score, fit_model, score_matrix
from auditlens.scoring import RiskModel
from auditlens.sources.synthetic import GeneratorSpec, generate
from tests.detect.conftest import Planted


class CountingForest(IsolationDetector):
    """An IsolationForest that counts the rows it scored."""

    scored = 0

    def fit(self, X: pl.DataFrame, y: pl.Series | None = None) -> Self:
        type(self).scored = 0
        return super().fit(X, y)

    def score(self, X: pl.DataFrame) -> Scores:
        type(self).scored += X.height
        return super().score(X)


class ThreadedTail(TailDetector):
    """A tail detector that notes the thread it was fitted on (and can fail there)."""

    threads: ClassVar[list[int]] = []
    fail = False

    def fit(self, X: pl.DataFrame, y: pl.Series | None = None) -> Self:
        type(self).threads.append(threading.get_ident())
        if type(self).fail:
            raise RuntimeError("the tail member failed")
        return super().fit(X, y)


def test_ensemble_members_fit_side_by_side_as_each_alone(planted: Planted) -> None:
    forest, tail = IsolationDetector(random_state=3, n_estimators=30), ThreadedTail()
    ThreadedTail.threads, ThreadedTail.fail = [], False
    got = MeanSurpriseEnsemble(members=[forest, tail]).fit_score(planted.frame)
    # the second member was fitted on another thread than the caller's
    assert ThreadedTail.threads and ThreadedTail.threads[0] != threading.get_ident()
    # each member fitted alone, on this thread, one after the other: the same bits
    surprises = []
    for member in (clone(forest), clone(tail)):
        raw = member.fit(planted.frame).score(planted.frame)
        surprises.append(Surprise().fit(raw).transform(raw))
    assert np.array_equal(got, np.mean(np.vstack(surprises), axis=0))


def test_ensemble_member_failing_on_the_second_thread_fails_the_fit(planted: Planted) -> None:
    ThreadedTail.threads, ThreadedTail.fail = [], True
    model = MeanSurpriseEnsemble(members=[IsolationDetector(n_estimators=10), ThreadedTail()])
    try:
        with pytest.raises(RuntimeError, match="the tail member failed"):
            model.fit_score(planted.frame)
    finally:
        ThreadedTail.fail = False
    assert not model.fitted  # nothing half-fitted left to score with


def test_ensemble_fit_score_is_fit_then_score(planted: Planted) -> None:
    fitted = default_unsupervised(seed=5).fit(planted.frame)
    expected = fitted.score(planted.frame)
    at_once = default_unsupervised(seed=5)
    got = at_once.fit_score(planted.frame)
    assert np.array_equal(got, expected)  # bit-identical, not merely close
    # and the model it fitted scores other rows the same as the one fitted by fit
    other = planted.frame.head(500)
    assert np.array_equal(at_once.score(other), fitted.score(other))


def test_ensemble_fit_scores_the_forest_once(planted: Planted) -> None:
    model = MeanSurpriseEnsemble(members=[CountingForest(n_estimators=20), TailDetector()])
    model.fit_score(planted.frame)
    assert CountingForest.scored == planted.frame.height


def test_risk_model_fit_score_matches_score(planted: Planted) -> None:
    risk = RiskModel(default_unsupervised(seed=5))
    raw, surprise = risk.fit_score(planted.frame)
    again_raw, again_surprise = risk.score(planted.frame)
    assert np.array_equal(raw, again_raw)
    assert np.array_equal(surprise, again_surprise)
    old = RiskModel(default_unsupervised(seed=5)).fit(planted.frame)
    assert np.array_equal(old.scale_.surprise_.v_, risk.scale_.surprise_.v_)


def test_fit_and_score_equals_fit_model_then_score_matrix() -> None:
    data = generate(GeneratorSpec(users=80, days=20, seed=4, insider_rate=0.05))
    ctx = FeatureContext(catalog=ResourceCatalog.from_frame(data.catalog))
    settings = Settings()
    model, matrix = fit_model(data.events, ctx, settings)
    expected = score_matrix(matrix, model, settings)  # the model scores its rows again
    fitted, scoring = fit_and_score(data.events, ctx, settings)
    assert isinstance(fitted, FittedPipeline)
    assert scoring.windows.height > 0
    assert_frame_equal(scoring.windows, expected.windows, check_exact=True)
    assert_frame_equal(scoring.users, expected.users, check_exact=True)
    assert_frame_equal(
        scoring.features(scoring.windows), expected.features(expected.windows), check_exact=True
    )


def test_training_reference_from_fitting_scores_equals_scoring_its_sample(
    planted: Planted,
) -> None:
    features = MatrixBuilder()
    features.sets_ = ()  # the rows are given: the feature sets play no part here
    pipeline = FittedPipeline(features, default_unsupervised(seed=5)).fit(planted.frame)
    reference = pipeline.reference()
    assert reference is not None and reference.n < planted.frame.height  # a sample
    scored = training_reference(pipeline.risk_, planted.frame, 5)  # scores the sample again
    assert np.array_equal(reference.risk, scored.risk)
    assert np.array_equal(reference.values, scored.values, equal_nan=True)
    assert reference.risk_at_or_above == scored.risk_at_or_above
