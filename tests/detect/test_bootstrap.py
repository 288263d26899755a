"""Bootstrap over users: each resample's figures equal the metrics of the drawn sample."""

from __future__ import annotations

import time

import numpy as np
import polars as pl
import pytest

from auditlens.detect.bootstrap import FIGURES, bootstrap_intervals, resampled_figures
from auditlens.detect.evaluation import expected_calibration_error, metrics
from auditlens.detect.metrics import user_metrics


def _sample(seed: int, users: int = 60, per_user: int = 5) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    who = np.repeat(np.arange(users), per_user)
    y = ((who < users // 6) & (rng.random(who.size) < 0.6)).astype(np.float64)
    score = np.round(y + rng.normal(0, 0.7, who.size), 1)  # rounded: ties on purpose
    prob = 1 / (1 + np.exp(-2 * score))
    return who, y, score, prob


def _point(y: np.ndarray, score: np.ndarray, prob: np.ndarray) -> list[float]:
    m = metrics(y, score)
    return [*(float(getattr(m, f)) for f in FIGURES), expected_calibration_error(y, prob)]


def test_a_row_of_ones_gives_the_sample_metrics() -> None:
    _, y, score, prob = _sample(1)
    got = resampled_figures(np.ones((1, y.size)), y, score, prob)[0]
    assert got == pytest.approx(_point(y, score, prob), abs=1e-12)


def test_weights_equal_repeating_the_windows() -> None:
    who, y, score, prob = _sample(2)
    counts = np.random.default_rng(5).multinomial(60, np.full(60, 1 / 60), size=4)
    weights = counts[:, who].astype(np.float64)
    got = resampled_figures(weights, y, score, prob)
    for row, w in zip(got, weights, strict=True):
        idx = np.repeat(np.arange(y.size), w.astype(int))
        # metrics() breaks ties by position; repeated windows sit together, as here
        assert row == pytest.approx(_point(y[idx], score[idx], prob[idx]), abs=1e-9)


def test_no_positive_or_no_negative_drawn_measures_nothing() -> None:
    _, y, score, prob = _sample(3)
    only_negatives = np.where(y == 0, 1.0, 0.0)[None, :]
    assert np.isnan(resampled_figures(only_negatives, y, score, prob)).all()


def test_intervals_contain_the_estimate_are_narrower_than_everything_and_seeded() -> None:
    who, y, score, prob = _sample(4, users=300, per_user=10)
    ci = bootstrap_intervals(who, y, score, probability=prob, resamples=500, seed=7)
    assert (ci.resamples, ci.valid) == (500, 500)
    point = dict(zip([*FIGURES, "ece"], _point(y, score, prob), strict=True))
    for name in [*FIGURES, "ece"]:
        low, high = getattr(ci, name)
        assert low <= point[name] <= high, name
        assert 0 < high - low < 0.5, name
    assert ci == bootstrap_intervals(who, y, score, probability=prob, resamples=500, seed=7)
    assert ci != bootstrap_intervals(who, y, score, probability=prob, resamples=500, seed=8)


def test_few_users_give_wide_intervals() -> None:
    who, y, score, _ = _sample(5, users=18, per_user=10)  # three users with positives
    wide = bootstrap_intervals(who, y, score, resamples=500, seed=0)
    many = bootstrap_intervals(*_sample(5, users=300, per_user=10)[:3], resamples=500, seed=0)
    assert wide.valid < wide.resamples  # some draws hold none of the three
    assert wide.roc_auc[1] - wide.roc_auc[0] > 1.5 * (many.roc_auc[1] - many.roc_auc[0])
    assert wide.precision_at_k[1] - wide.precision_at_k[0] > 0.3  # one user moves it a lot


def test_a_thousand_resamples_of_twenty_thousand_windows_take_seconds() -> None:
    who, y, score, prob = _sample(6, users=500, per_user=40)
    began = time.perf_counter()
    bootstrap_intervals(who, y, score, probability=prob, resamples=1000, seed=0)
    assert time.perf_counter() - began < 30


def test_user_metrics_carry_intervals_and_flag_few_insiders() -> None:
    rng = np.random.default_rng(9)
    ids = [f"U{i:04d}" for i in range(200)]
    insiders = set(ids[:20])
    risk = [float(rng.normal(60 if u in insiders else 40, 12)) for u in ids]
    scores = pl.DataFrame({"user_id": ids, "risk_score": risk})
    many = user_metrics(scores, insiders)
    assert many.intervals is not None and not many.small_sample
    for name in FIGURES:
        low, high = getattr(many.intervals, name)
        assert low <= getattr(many, name) <= high and high - low < 0.9, name
    assert many.as_dict()["intervals"]["roc_auc"] == list(many.intervals.roc_auc)  # type: ignore[index]
    few = user_metrics(scores, set(ids[:3]))
    assert few.small_sample and few.intervals is not None
    assert few.intervals.valid < few.intervals.resamples
