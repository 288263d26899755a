"""The contract every Detector keeps (River's ``checks``, scikit-learn's estimator checks).

A new detector is checked by adding one line to ``DETECTORS``: how to make it and
whether it learns from labels.
"""

from __future__ import annotations

import datetime as dt
import functools
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pytest

from auditlens.detect.base import Detector, Explainable, ModelError, NotFittedError, clone
from auditlens.detect.ensemble import MeanSurpriseEnsemble, StackedEnsemble
from auditlens.detect.explain import explain
from auditlens.detect.isolation import IsolationDetector
from auditlens.detect.supervised import KINDS, SupervisedDetector
from auditlens.detect.tail import TailDetector

SMALL = {"n_estimators": 10}


def _stacked() -> StackedEnsemble:
    members = [SupervisedDetector(k, SMALL, 3) for k in KINDS]
    small = [IsolationDetector(n_estimators=30, random_state=3), TailDetector()]
    return StackedEnsemble(members, unsupervised=small, seed=3, cross_fit_folds=3)


@dataclass(frozen=True)
class Case:
    """How to make a detector, and whether it learns from labels."""

    name: str
    make: Callable[[], Detector]
    labelled: bool = False


DETECTORS = [
    Case("isolation", lambda: IsolationDetector(n_estimators=50, random_state=3)),
    Case("tail", lambda: TailDetector(top_k=2)),
    Case("mean_surprise", lambda: MeanSurpriseEnsemble(seed=3)),
    Case("random_forest", lambda: SupervisedDetector("random_forest", SMALL, 3), labelled=True),
    Case("xgboost", lambda: SupervisedDetector("xgboost", SMALL, 3), labelled=True),
    Case("lightgbm", lambda: SupervisedDetector("lightgbm", SMALL, 3), labelled=True),
    Case("stacked", _stacked, labelled=True),
]

USERS, DAYS = 40, 10
PLANTED = {"a": 7.0, "b": 7.0, "c": 7.0}  # every feature far above anything seen


def _matrix(seed: int) -> tuple[pl.DataFrame, pl.Series]:
    """Ordinary windows (three Gaussian features); label 1 where their sum is high."""
    rng = np.random.default_rng(seed)
    n = USERS * DAYS
    frame = pl.DataFrame(
        {
            "user_id": [f"u{i % USERS:02d}" for i in range(n)],
            "window": [dt.date(2026, 9, 1) + dt.timedelta(days=i // USERS) for i in range(n)],
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.normal(size=n),
        }
    )
    y = ((frame["a"] + frame["b"] + frame["c"]) > 2.0).cast(pl.Int8).alias("label")
    return frame, y


X, Y = _matrix(0)
X_NEW, _ = _matrix(1)  # later, unseen windows of the same kind


@pytest.fixture(params=DETECTORS, ids=[c.name for c in DETECTORS])
def case(request: pytest.FixtureRequest) -> Case:
    return request.param  # type: ignore[no-any-return]


def _fit(case: Case, X: pl.DataFrame = X) -> Detector:
    """A fresh detector of ``case`` fitted on ``X``."""
    return case.make().fit(X, Y if case.labelled else None)


@functools.cache
def _fitted(case: Case) -> Detector:
    """One fitted detector per case, shared by the tests that only read it."""
    return _fit(case)


def _plain(value: Any) -> Any:
    """Parameters as plain values, nested detectors by class and parameters."""
    if isinstance(value, Detector):
        return type(value).__name__, {k: _plain(v) for k, v in value.get_params(False).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def test_fit_returns_self_and_learns_the_feature_columns(case: Case) -> None:
    detector = case.make()
    assert not detector.fitted
    assert detector.fit(X, Y if case.labelled else None) is detector
    assert detector.fitted and detector.feature_columns_ == ["a", "b", "c"]


def test_fit_score_is_fit_then_score_bit_for_bit(case: Case) -> None:
    detector = case.make()
    at_once = detector.fit_score(X, Y if case.labelled else None)
    assert detector.fitted
    np.testing.assert_array_equal(at_once, detector.score(X))  # exact, not close
    np.testing.assert_array_equal(detector.score(X_NEW), _fitted(case).score(X_NEW))


def test_scoring_before_fit_raises_a_clear_error(case: Case) -> None:
    detector = case.make()
    with pytest.raises(NotFittedError, match=rf"{type(detector).__name__} is not fitted.*fit"):
        detector.score(X)
    if isinstance(detector, Explainable):
        with pytest.raises(NotFittedError):
            detector.feature_contributions(X)


def test_higher_is_riskier_on_a_planted_outlier(case: Case) -> None:
    detector = _fitted(case)
    planted = X_NEW.head(1).with_columns(pl.lit(v).alias(k) for k, v in PLANTED.items())
    ordinary = detector.score(X_NEW)
    (outlier,) = detector.score(planted)
    assert outlier > np.quantile(ordinary, 0.95), (outlier, np.quantile(ordinary, 0.95))


def test_same_seed_same_scores(case: Case) -> None:
    np.testing.assert_array_equal(_fit(case).score(X_NEW), _fitted(case).score(X_NEW))


def test_scores_are_finite_floats_one_per_row(case: Case) -> None:
    scores = _fitted(case).score(X_NEW.head(37))
    assert isinstance(scores, np.ndarray) and scores.dtype == np.float64
    assert scores.shape == (37,) and np.isfinite(scores).all()


def test_clone_is_unfitted_with_equal_parameters(case: Case) -> None:
    fitted = _fitted(case)
    copy = clone(fitted)
    assert type(copy) is type(fitted) and copy is not fitted and not copy.fitted
    assert _plain(copy.get_params(deep=False)) == _plain(fitted.get_params(deep=False))
    before = fitted.score(X_NEW)
    copy.fit(X_NEW, Y if case.labelled else None)  # leaves the original and its members be
    np.testing.assert_array_equal(fitted.score(X_NEW), before)


def test_get_and_set_params_follow_scikit_learn(case: Case) -> None:
    detector = case.make()
    params = detector.get_params(deep=False)
    assert detector.set_params(**params) is detector
    assert _plain(detector.get_params(deep=False)) == _plain(params)
    with pytest.raises(ModelError, match="no parameter 'nonsense'"):
        detector.set_params(nonsense=1)


def test_fit_and_score_do_not_change_the_input(case: Case) -> None:
    X_before, y_before = X.clone(), Y.clone()
    detector = _fit(case)
    detector.score(X)
    if isinstance(detector, Explainable):
        detector.feature_contributions(X)
    assert X.equals(X_before) and Y.equals(y_before)


def test_a_missing_feature_column_is_refused(case: Case) -> None:
    with pytest.raises(ModelError, match="lacks: b"):
        _fitted(case).score(X_NEW.drop("b"))


def test_a_fit_that_fails_leaves_the_detector_as_it_was(case: Case) -> None:
    # a feature column of text that is not a number: every detector's fit raises
    broken = X.with_columns(pl.lit("n/a").alias("c"))
    y = Y if case.labelled else None
    fresh = case.make()
    with pytest.raises(pl.exceptions.InvalidOperationError):
        fresh.fit(broken, y)
    assert not fresh.fitted  # not half-fitted: scoring still says "fit first"
    with pytest.raises(NotFittedError):
        fresh.score(X_NEW)
    # a fitted detector refitted on it keeps the model it had
    detector = _fit(case)
    before = detector.score(X_NEW)
    with pytest.raises(pl.exceptions.InvalidOperationError):
        detector.fit(broken, y)
    assert detector.feature_columns_ == ["a", "b", "c"]
    np.testing.assert_array_equal(detector.score(X_NEW), before)


def test_a_fit_that_fails_late_leaves_the_detector_as_it_was() -> None:
    # failures after the matrix is read: scikit-learn refusing a parameter when it fits;
    # too few positives once the stacked ensemble's unsupervised members are fitted
    forest = IsolationDetector(n_estimators=10, max_features=-1.0, random_state=3)
    with pytest.raises(ValueError, match="max_features"):
        forest.fit(X)
    assert not forest.fitted
    stacked = _stacked()
    few = pl.Series("label", [1, 1] + [0] * (X.height - 2), dtype=pl.Int8)
    with pytest.raises(ModelError, match="only 2 labelled positive windows"):
        stacked.fit(X, few)
    assert not stacked.fitted
    fitted = _stacked().fit(X, Y)
    before = fitted.score(X_NEW)
    with pytest.raises(ModelError, match="only 2 labelled positive windows"):
        fitted.fit(X, few)
    np.testing.assert_array_equal(fitted.score(X_NEW), before)


def test_a_saved_detector_scores_identically(case: Case) -> None:
    detector = _fitted(case)
    again = pickle.loads(pickle.dumps(detector))  # noqa: S301 (our own bytes)
    np.testing.assert_array_equal(again.score(X_NEW), detector.score(X_NEW))


def test_explanations_have_one_contribution_per_feature_or_are_refused(case: Case) -> None:
    detector = _fitted(case)
    if not isinstance(detector, Explainable):  # explain() says so instead of guessing
        with pytest.raises(ModelError, match=f"cannot explain a {type(detector).__name__}"):
            explain(detector, X_NEW, X_NEW.select())
        return
    values, columns = detector.feature_contributions(X_NEW)
    assert columns == ["a", "b", "c"] and values.shape == (X_NEW.height, 3)
    assert np.isfinite(values).all()
