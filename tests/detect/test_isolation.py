"""IsolationForest scored by row blocks over threads: the same scores, bit for bit."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from auditlens.detect import isolation
from auditlens.detect.isolation import IsolationDetector, forest_scores, score_blocks, threads


def _frame(rows: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((rows, 6))
    values[::97] *= 8.0  # some far-out rows, so scores spread
    return pl.DataFrame(
        {
            "user_id": [f"u{i % 300}" for i in range(rows)],
            "window": pl.date_range(
                pl.date(2026, 1, 1), pl.date(2026, 1, 1), eager=True
            ).extend_constant(None, rows - 1),
        }
        | {f"f{j}": values[:, j] for j in range(values.shape[1])}
    )


def test_threads_give_bit_identical_scores() -> None:
    frame = _frame(40_000)
    detector = IsolationDetector(n_estimators=60, n_jobs=1).fit(frame)
    one = detector.score(frame)
    detector.n_jobs = 2
    two = detector.score(frame)
    detector.n_jobs = 3  # blocks of uneven length
    three = detector.score(frame)
    assert np.array_equal(one, two)
    assert np.array_equal(one, three)
    assert one.std() > 0  # real scores, not a constant


def test_score_blocks_splits_rows_in_order() -> None:
    seen: list[int] = []

    def rowwise(block: np.ndarray) -> np.ndarray:
        seen.append(block.shape[0])
        return block[:, 0] * 2.0

    data = np.arange(3 * isolation.MIN_BLOCK_ROWS, dtype=np.float64).reshape(-1, 1)
    out = score_blocks(rowwise, data, 3)
    assert np.array_equal(out, data[:, 0] * 2.0)
    assert sorted(seen) == [isolation.MIN_BLOCK_ROWS] * 3
    seen.clear()
    small = data[:100]
    assert np.array_equal(score_blocks(rowwise, small, 4), small[:, 0] * 2.0)
    assert seen == [100]  # too few rows for threads: one call


def test_threads_of_n_jobs() -> None:
    assert threads(3) == 3
    assert threads(-1) == threads(None) >= 1


@pytest.mark.parametrize(("rows", "max_features"), [(1, 1.0), (7, 1.0), (3_000, 1.0), (50, 0.5)])
def test_forest_scores_equal_score_samples(rows: int, max_features: float) -> None:
    """The per-tree loop gives scikit-learn's scores bit for bit (small inputs: the
    stream's micro-batches), with and without feature subsampling."""
    frame = _frame(5_000)
    detector = IsolationDetector(n_estimators=40, max_features=max_features).fit(frame)
    data = detector.matrix(frame.head(rows))
    want = detector.forest_.score_samples(data)
    assert np.array_equal(forest_scores(detector.forest_, data), want)
