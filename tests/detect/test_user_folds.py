"""Person-grouped evaluation: no tested person in training, insiders spread over the
folds, and bootstrap intervals (over users) around the user-level figures."""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import polars as pl
import pytest

from auditlens.detect.evaluation import (
    cross_validate,
    intervals_by_user,
    user_folds,
    user_level_metrics,
)
from auditlens.detect.isolation import IsolationDetector
from auditlens.detect.supervised import SupervisedDetector
from auditlens.errors import AuditlensError
from auditlens.features.base import WINDOW
from auditlens.schema import USER_ID

USERS, DAYS, INSIDERS = 60, 12, 10


def _matrix(seed: int = 0) -> tuple[pl.DataFrame, pl.Series]:
    """60 people over 12 days; the first 10 misbehave on days 6-11 (positive), their
    other days unknown (null), as label_windows leaves them."""
    rng = np.random.default_rng(seed)
    user = np.repeat([f"U{i:02d}" for i in range(USERS)], DAYS)
    day = np.tile(np.arange(DAYS), USERS)
    bad = (np.repeat(np.arange(USERS), DAYS) < INSIDERS) & (day >= 6)
    x = rng.normal(0, 1, (user.size, 3)) + bad[:, None] * np.array([2.0, 1.5, 0.0])
    X = pl.DataFrame(
        {
            USER_ID: user,
            WINDOW: [dt.date(2026, 9, 1) + dt.timedelta(days=int(d)) for d in day],
            "a": x[:, 0],
            "b": x[:, 1],
            "c": x[:, 2],
        }
    )
    insider = np.repeat(np.arange(USERS), DAYS) < INSIDERS
    y = pl.Series("y", np.where(bad, 1, np.where(insider, -1, 0))).cast(pl.Int8)
    return X, y.replace(-1, None)


def test_user_folds_never_put_a_tested_person_in_training() -> None:
    X, y = _matrix()
    folds = user_folds(X, y, n_folds=5, seed=3)
    assert [f.number for f in folds] == [1, 2, 3, 4, 5]
    tested: list[str] = []
    for fold in folds:
        assert fold.test_users is not None
        train_people = set(X.filter(fold.train_rows(X))[USER_ID])
        test_people = set(X.filter(fold.test_rows(X, y))[USER_ID])
        assert test_people == set(fold.test_users)
        assert not train_people & test_people
        assert train_people | test_people == set(X[USER_ID])
        insiders = [u for u in fold.test_users if int(u[1:]) < INSIDERS]
        assert len(insiders) == INSIDERS // 5  # dealt evenly
        tested += list(fold.test_users)
    assert sorted(tested) == sorted(set(X[USER_ID]))  # everyone tested exactly once
    again = user_folds(X, y, n_folds=5, seed=3)
    assert [f.test_users for f in again] == [f.test_users for f in folds]
    assert [f.test_users for f in user_folds(X, y, n_folds=5, seed=4)] != [
        f.test_users for f in folds
    ]


def test_user_folds_need_an_insider_per_fold() -> None:
    X, y = _matrix()
    with pytest.raises(AuditlensError, match="cannot make 11 person-grouped folds") as caught:
        user_folds(X, y, n_folds=11)
    assert caught.value.ko and "사람 단위 폴드" in caught.value.ko


def test_cross_validation_by_person_and_its_intervals_are_sane() -> None:
    X, y = _matrix()
    folds = user_folds(X, y, n_folds=5, seed=1)
    factories = {
        "isolation_forest": lambda: IsolationDetector(random_state=0),
        "random_forest": functools.partial(
            SupervisedDetector, "random_forest", {"min_samples_leaf": 3}, 0
        ),
    }
    runs = cross_validate(X, y, factories, folds, supervised={"random_forest"})
    labelled = int(y.is_not_null().sum())
    for name, fold_runs in runs.items():
        assert len(fold_runs) == 5, name
        assert sum(t.size for _, t, _ in fold_runs) == labelled  # each labelled row once
    user_level = user_level_metrics(X, y, runs)
    _, per_user = intervals_by_user(X, y, runs, seed=0)
    for name in runs:
        point, ci = user_level[name], per_user[name]
        assert point.rows == USERS and point.positives == INSIDERS
        assert 0.7 < point.roc_auc  # a real signal
        assert ci.valid == ci.resamples
        for figure in ("roc_auc", "pr_auc", "detection_at_5pct_fpr"):
            low, high = getattr(ci, figure)
            value, eps = getattr(point, figure), 1e-9
            assert 0.0 <= low <= value + eps and value - eps <= high <= 1.0, (name, figure)
            assert high - low > 0.01  # a sample of 60 people is uncertain
