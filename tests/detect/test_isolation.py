"""IsolationForest scored by row blocks over threads: the same scores, bit for bit."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from auditlens.detect import isolation
from auditlens.detect.base import load_artifact
from auditlens.detect.isolation import (
    IsolationDetector,
    Walk,
    forest_scores,
    score_blocks,
    threads,
)


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


@pytest.mark.parametrize("max_features", [1.0, 0.5])
def test_the_trees_walk_rows_laid_out_row_by_row(max_features: float) -> None:
    """Polars hands a column-major matrix; the trees get it row by row (C order: a tree
    reads one row's features, not one column's rows) and score it the same."""
    frame = _frame(5_000, seed=5)
    detector = IsolationDetector(n_estimators=20, max_features=max_features).fit(frame)
    data = detector.matrix(frame)
    assert data.flags.f_contiguous and not data.flags.c_contiguous  # as Polars gives it
    given: list[np.ndarray] = []
    tree = detector.forest_.estimators_[0]
    apply = tree.apply

    def recorded(rows: np.ndarray, check_input: bool = True) -> np.ndarray:
        given.append(rows)
        return apply(rows, check_input=check_input)

    tree.apply = recorded
    try:
        found = forest_scores(detector.forest_, data)
    finally:
        del tree.apply
    assert len(given) == 1
    assert given[0].flags.c_contiguous and given[0].dtype == np.float32
    assert np.array_equal(found, detector.forest_.score_samples(data))


@pytest.mark.parametrize(("rows", "max_features"), [(1, 1.0), (7, 1.0), (3_000, 1.0), (500, 0.5)])
def test_the_numpy_walk_scores_as_scikit_learn_does(rows: int, max_features: float) -> None:
    """A loaded detector scores a day's rows without scikit-learn (Walk): the same
    scores bit for bit, values exactly at a split included."""
    frame = _frame(5_000, seed=3)
    detector = IsolationDetector(n_estimators=40, max_features=max_features).fit(frame)
    data = detector.matrix(frame.head(rows))
    forest = detector.forest_
    # ties: each tree's root split moved onto one row's value (float32, as the trees
    # read inputs); that row goes left, as scikit-learn sends it
    subsample = forest._max_features != data.shape[1]
    pairs = zip(forest.estimators_, forest.estimators_features_, strict=True)
    for i, (tree, columns) in enumerate(pairs):
        column = columns[tree.tree_.feature[0]] if subsample else tree.tree_.feature[0]
        tree.tree_.threshold[0] = float(np.float32(data[i % rows, column]))
    walk = Walk.of(forest)
    assert np.array_equal(walk.scores(data), forest_scores(detector.forest_, data))
    assert walk.max_samples == int(detector.forest_.max_samples_)


def test_a_loaded_detector_scores_a_day_without_importing_scikit_learn(tmp_path: Path) -> None:
    frame = _frame(5_000, seed=4)
    detector = IsolationDetector(n_estimators=50).fit(frame)
    day = frame.head(700)
    want, depth = detector.score(day), detector.depth(day)  # scikit-learn's walk
    sha = detector.save(tmp_path / "iso.pkl")
    day.write_parquet(tmp_path / "day.parquet")
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "import numpy as np, polars as pl\n"
        "from auditlens.detect.base import load_artifact\n"
        f"detector = load_artifact(Path({str(tmp_path / 'iso.pkl')!r}), {sha!r})\n"
        f"day = pl.read_parquet({str(tmp_path / 'day.parquet')!r})\n"
        f"np.save({str(tmp_path / 'got.npy')!r}, detector.score(day))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    assert done.stdout.strip() == "[]", done.stdout
    assert np.array_equal(np.load(tmp_path / "got.npy"), want)
    # in this process (scikit-learn loaded) the forest is read back when asked for
    again = load_artifact(tmp_path / "iso.pkl", sha)
    assert "forest_" not in vars(again)
    assert np.array_equal(again.score(day), want)
    assert np.array_equal(again.depth(day), depth)
    assert again.forest_.n_estimators == 50 and "forest_" in vars(again)


def test_a_detector_saved_with_its_forest_inside_still_scores(tmp_path: Path) -> None:
    """A model file of an earlier version holds scikit-learn's forest as an attribute."""
    frame = _frame(3_000, seed=5)
    detector = IsolationDetector(n_estimators=30).fit(frame)
    old = IsolationDetector.__new__(IsolationDetector)
    old.__dict__.update(pickle.loads(pickle.dumps(vars(detector))))  # noqa: S301 - ours
    assert "_walk" not in vars(old)
    assert np.array_equal(old.score(frame), detector.score(frame))
