"""Risk, severity bands, decay and capacity-sized thresholds."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import polars as pl
import pytest

from auditlens.detect.surprise import Surprise
from auditlens.scoring import (
    DecayPolicy,
    RiskScale,
    flag_top,
    risk_from_surprise,
    score_windows,
    severity,
    user_peaks,
)


def test_surprise_is_minus_log10_of_the_tail_share() -> None:
    train = np.arange(10_000, dtype=float)  # uniform: P(X >= x) = 1 - x/10000
    s = Surprise().fit(train)
    got = s.transform(np.array([0.0, 9_000.0, 9_900.0]))
    np.testing.assert_allclose(got, [0.0, 1.0, 2.0], atol=0.02)
    beyond = s.transform(np.array([9_990.0, 10_100.0, 10_400.0, 1e9]))
    assert 2.0 < beyond[0] < beyond[1] < beyond[2] < beyond[3] == 8.0  # grows past the data
    assert np.all(np.diff(s.transform(np.linspace(-5, 3e4, 500))) >= 0)  # monotone


def test_surprise_far_below_a_narrow_tail_gives_no_overflow_and_the_same_values() -> None:
    # the excesses over the 99th percentile are tiny: a score far below it made
    # exp(-(x - threshold) / scale) overflow (a RuntimeWarning, the value thrown away)
    train = np.r_[np.linspace(0.0, 1.0, 9_900), np.linspace(1.0, 1.0 + 1e-6, 100)]
    s = Surprise().fit(train)
    assert 0 < s.tail_scale_ < 1e-6
    scores = np.array([-1e6, -5.0, 0.0, 1.0, 1.0 + 2e-7, 1.0 + 1e-5, np.nan, np.inf])
    with np.errstate(all="raise"):  # any overflow or invalid operation raises
        got = s.transform(scores[np.isfinite(scores)])
    with np.errstate(over="ignore", divide="ignore"):  # the formula as it was: the same values
        above = scores > s.threshold_
        tail = 0.01 * np.exp(-(scores - s.threshold_) / s.tail_scale_)
        grid = s.p_[np.minimum(np.searchsorted(s.v_, scores), s.p_.size - 1)]
        p = np.where(above, np.minimum(tail, 0.01), grid)
        expected = np.clip(np.nan_to_num(-np.log10(p), nan=0.0, posinf=8.0), 0.0, 8.0)
    np.testing.assert_array_equal(got, expected[np.isfinite(scores)])
    np.testing.assert_array_equal(s.transform(scores), expected)
    assert got[0] == 0.0 and got[-1] == 8.0


def test_risk_points_and_severity_bands() -> None:
    np.testing.assert_allclose(risk_from_surprise([0, 1, 2, 3, 4, 9]), [0, 25, 50, 75, 100, 100])
    assert [severity(r) for r in (0, 49.9, 50, 74.9, 75, 89.9, 90, 100)] == [
        "low", "low", "medium", "medium", "high", "high", "critical", "critical",
    ]  # fmt: skip


def _windows(user: str, surprises: list[float]) -> tuple[pl.DataFrame, list[float]]:
    days = [dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(len(surprises))]
    return pl.DataFrame({"user_id": [user] * len(days), "window": days}), surprises


def test_one_bad_day_fades_and_a_persistent_pattern_accumulates() -> None:
    keys, s = _windows("once", [0.5, 3.0] + [0.5] * 21)
    once = score_windows(keys, s, DecayPolicy(half_life_days=7))["decayed_risk"].to_list()
    assert once[1] == pytest.approx(75.0)
    assert once[8] == pytest.approx(25 * (2 + 1.0 * 0.5), rel=1e-6)  # one half-life later
    assert once[-1] < once[8] < once[1]
    keys, s = _windows("again", [2.4] * 6)
    again = score_windows(keys, s, DecayPolicy(half_life_days=7))
    risks = again["decayed_risk"].to_list()
    assert all(b > a for a, b in itertools.pairwise(risks))
    assert risks[-1] >= 90.0 and again["risk"].max() == pytest.approx(60.0)
    assert again["severity"].to_list()[-1] == "critical"


def test_users_are_ranked_by_peak_decayed_risk_and_capacity_sets_the_cutoff() -> None:
    keys_a, s_a = _windows("a", [0.2, 3.5, 0.1])
    keys_b, s_b = _windows("b", [1.0, 1.2, 1.1])
    keys_c, s_c = _windows("c", [2.2, 2.4, 0.0])
    windows = score_windows(pl.concat([keys_a, keys_b, keys_c]), [*s_a, *s_b, *s_c])
    users = user_peaks(windows)
    assert users["user_id"].to_list() == ["a", "c", "b"]
    assert users.row(0, named=True)["peak_window"] == dt.date(2026, 9, 2)
    cut = flag_top(users, capacity=2)
    assert cut.flagged["user_id"].to_list() == ["a", "c"]
    assert cut.cutoff == pytest.approx(users.row(1, named=True)["risk_score"])
    assert flag_top(users, capacity=0).flagged.height == 0


def test_risk_scale_places_training_quantiles() -> None:
    rng = np.random.default_rng(0)
    train = rng.normal(size=50_000)
    scale = RiskScale().fit(train)
    q = np.quantile(train, [0.5, 0.9, 0.99])
    np.testing.assert_allclose(scale.surprise(q), [np.log10(2), 1, 2], atol=0.03)


def test_a_peak_tied_over_several_days_is_one_incident_starting_on_the_first() -> None:
    # one very rare day (surprise 9) carries the user at the 100 cap for days after it
    keys_a, s_a = _windows("a", [0.5, 9.0, 0.2, 0.1, 0.3])
    keys_b, s_b = _windows("b", [3.2, 0.4, 3.2])
    windows = score_windows(pl.concat([keys_a, keys_b]), [*s_a, *s_b])
    peaks = user_peaks(windows).rows_by_key("user_id", named=True, unique=True)
    a = peaks["a"]
    assert a["risk_score"] == 100.0 and a["severity"] == "critical"
    assert a["peak_window"] == dt.date(2026, 9, 2)  # the day the peak was reached
    tied = windows.filter((pl.col("user_id") == "a") & (pl.col("decayed_risk") == 100.0))
    assert a["peak_windows"] == tied["window"].to_list() and len(a["peak_windows"]) > 1
    assert peaks["b"]["peak_windows"] == [peaks["b"]["peak_window"]]  # accumulation breaks ties
