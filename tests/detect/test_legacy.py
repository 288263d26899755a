"""Models saved before detectors followed scikit-learn's conventions still load and score
identically, but for the last bits that depend on the CPU and numpy build
(data/legacy_models.joblib was written by data/make_legacy_models.py with the code of
commit ed6eafb)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import numpy.typing as npt
import polars as pl
import pytest

from auditlens.detect.base import clone
from auditlens.detect.ensemble import MeanSurpriseEnsemble, StackedEnsemble
from auditlens.detect.explain import SHAP_METHOD, method_of

LEGACY = Path(__file__).parent / "data" / "legacy_models.joblib"


@pytest.fixture(scope="module")
def legacy() -> dict[str, Any]:
    saved: dict[str, Any] = joblib.load(LEGACY)
    return saved


def _same_but_grid_steps(got: npt.NDArray[np.float64], want: Any) -> None:
    """``got`` equals ``want`` on most rows, and elsewhere by at most one grid step.

    Every row here is a training row, so every member score *is* a value of its
    calibration grid; a last-bit difference (numpy's and scikit-learn's arithmetic
    differs by CPU: the same wheels gave 1e-16 relative changes on another machine) can
    put such a score one grid step away (the mean of two members: under 0.0126).
    """
    close = np.isclose(got, want, rtol=1e-12, atol=0)
    assert close.mean() >= 0.8, f"{(~close).sum()} of {close.size} rows moved"
    assert np.abs(got - want).max() <= 0.0126


def test_a_saved_unsupervised_ensemble_scores_and_explains_as_before(
    legacy: dict[str, Any],
) -> None:
    model, X = legacy["mean"], legacy["X"]
    assert isinstance(model, MeanSurpriseEnsemble) and model.fitted
    _same_but_grid_steps(model.score(X), legacy["mean_scores"])
    contrib, columns = model.feature_contributions(X)
    np.testing.assert_allclose(contrib, legacy["mean_contrib"], rtol=1e-12, atol=0)
    assert columns == ["a", "b", "c"]


def test_a_saved_stacked_ensemble_scores_and_explains_as_before(legacy: dict[str, Any]) -> None:
    model, X = legacy["stacked"], legacy["X"]
    assert isinstance(model, StackedEnsemble) and method_of(model) == SHAP_METHOD
    # to the last bits, which differ by CPU (1e-16 relative seen)
    np.testing.assert_allclose(model.score(X), legacy["stacked_scores"], rtol=1e-12, atol=0)
    contrib, base = model.contributions(X)
    np.testing.assert_allclose(contrib, legacy["stacked_contrib"], atol=1e-12)
    np.testing.assert_allclose(base, legacy["stacked_base"], atol=1e-12)
    assert model.member_names == ["isolation_depth", "tail_sum", "random_forest", "xgboost",
                                  "lightgbm"]  # fmt: skip


def test_a_saved_model_can_be_refitted_from_its_parameters(legacy: dict[str, Any]) -> None:
    fresh = clone(legacy["stacked"])
    assert not fresh.fitted and [m.fitted for m in fresh.supervised] == [False] * 3
    assert fresh.unsupervised is None and fresh.seed == 1


def test_fitting_today_gives_the_scores_the_old_code_gave(legacy: dict[str, Any]) -> None:
    X = legacy["X"]
    y = ((X["a"] + X["b"]) > 2.0).cast(pl.Int8)  # as make_legacy_models.py labels
    # a refit goes through numpy/scikit-learn arithmetic whose last bits change between
    # library builds (a fresh venv moved them by ~1e-15); a change in the code would move
    # scores by far more than 1e-9 of their size. Loading a saved model stays bit-exact.
    mean = clone(legacy["mean"]).fit(X)
    _same_but_grid_steps(mean.score(X), legacy["mean_scores"])
    stacked = clone(legacy["stacked"]).fit(X, y)
    np.testing.assert_allclose(stacked.score(X), legacy["stacked_scores"], rtol=1e-9, atol=0)


def test_a_model_file_joblib_wrote_still_loads_and_a_plain_pickle_with_its_name_too(
    tmp_path: Path,
) -> None:
    """Earlier versions saved with joblib (arrays after the pickle stream): such a file is
    told apart by the class it names, not by its bytes — a plain pickle of ours that
    merely holds the record's name as text loads as a pickle."""
    from auditlens.detect.base import load_artifact, save_artifact

    old = tmp_path / "old.joblib"
    joblib.dump({"w": np.arange(5.0), "names": ["a"]}, old)
    loaded = load_artifact(old)
    np.testing.assert_array_equal(loaded["w"], np.arange(5.0))
    assert loaded["names"] == ["a"]
    new = tmp_path / "new.joblib"
    digest = save_artifact({"note": "NumpyArrayWrapper", "w": np.arange(3)}, new)
    again = load_artifact(new, digest)
    assert again["note"] == "NumpyArrayWrapper"
    np.testing.assert_array_equal(again["w"], np.arange(3))
