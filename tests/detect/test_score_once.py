"""Fitting scores the training rows once: fit_score equals fit then score, bit for bit."""

from __future__ import annotations

from typing import Self

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from auditlens.config import Settings
from auditlens.detect.base import Scores
from auditlens.detect.ensemble import MeanSurpriseEnsemble, default_unsupervised
from auditlens.detect.isolation import IsolationDetector
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
