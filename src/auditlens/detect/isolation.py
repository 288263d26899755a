"""IsolationForest behind the Detector interface (unsupervised: finds the unusual)."""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Self

import numpy as np
import numpy.typing as npt
import polars as pl

from auditlens.detect.base import Detector, Scores, feature_columns


class IsolationDetector(Detector):
    """scikit-learn IsolationForest; score = the forest's anomaly score (0..1, higher = riskier).

    Args:
        n_estimators: trees; more is steadier, linear in time.
        max_samples: rows per tree ("auto" = min(256, n)).
        max_features: share of features each tree sees.
        random_state: seed; the same data and seed give the same model.
        n_jobs: threads while fitting and scoring; -1 or None = one per CPU core. Results
            do not depend on it: scoring splits the rows into one contiguous block per
            thread, and each row's score is its own trees' depths summed in tree order,
            whichever block it is in (bit-identical; tests/detect/test_isolation.py).
    """

    #: Name of :meth:`margin` among a stacked ensemble's inputs.
    output_name: ClassVar[str] = "isolation_depth"

    def __init__(
        self,
        n_estimators: int = 300,
        max_samples: int | str = 2048,
        max_features: float = 1.0,
        random_state: int = 7,
        n_jobs: int | None = -1,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: pl.DataFrame, y: pl.Series | None = None) -> Self:
        """Fit on every feature column of ``X`` (everything except user_id/window)."""
        from sklearn.ensemble import IsolationForest  # seconds to import: only to fit

        columns = feature_columns(X)
        data = self.columns_of(X, columns)
        samples = self.max_samples
        if isinstance(samples, int):
            samples = min(samples, data.shape[0])
        forest = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=samples,
            max_features=self.max_features,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        ).fit(data)
        # fitted only now (a fit that raised leaves the detector as it was)
        self.forest_, self.n_train_ = forest, int(data.shape[0])
        self.feature_columns_ = columns
        return self

    def score(self, X: pl.DataFrame) -> Scores:
        """The anomaly score of each row: ~0.5 ordinary, towards 1 the more isolated."""
        data = self.matrix(X)
        walk: Walk | None = self.__dict__.get("_walk")
        if walk is not None and walk.worth(data, restored="forest_" in self.__dict__):
            out: Scores = -walk.scores(data)
            return out
        forest = self.forest_
        out = -score_blocks(lambda block: forest_scores(forest, block), data, threads(self.n_jobs))
        return out

    def depth(self, X: pl.DataFrame) -> Scores:
        """Mean isolation depth per row (lower = riskier): the additive output TreeSHAP
        explains. score = 2 ** (-depth / c(max_samples))."""
        self.check_fitted()
        walk: Walk | None = self.__dict__.get("_walk")
        samples = walk.max_samples if walk is not None else int(self.forest_.max_samples_)
        out: Scores = -np.log2(self.score(X)) * _average_path_length(samples)
        return out

    def __getstate__(self) -> dict[str, Any]:
        """What a saved detector holds: the fitted forest as scikit-learn's pickle inside
        this one, read only when asked for (:meth:`__getattr__`), and its trees as plain
        arrays (:class:`Walk`): a day's run in a fresh process scores without importing
        scikit-learn (~0.5 s of the command, issue 17)."""
        state = dict(self.__dict__)
        forest = state.pop("forest_", None)
        if forest is not None:
            state["_forest_pickle"] = pickle.dumps(forest, protocol=pickle.HIGHEST_PROTOCOL)
            state["_walk"] = Walk.of(forest)
        return state

    def __getattr__(self, name: str) -> Any:
        """``forest_`` of a loaded detector: scikit-learn's forest, read from the pickle
        :meth:`__getstate__` kept (importing scikit-learn) and kept."""
        blob = self.__dict__.get("_forest_pickle")
        if name != "forest_" or blob is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        forest = pickle.loads(blob)  # noqa: S301 - inside our model file, its sha256 checked
        self.__dict__["forest_"] = forest
        return forest

    def margin(self, X: pl.DataFrame) -> Scores:
        """The additive output :meth:`shap` explains: the depth (see :meth:`depth`)."""
        return self.depth(X)

    def shap(self, X: pl.DataFrame) -> tuple[npt.NDArray[np.float64], float]:
        """TreeSHAP contributions to the depth (rows x features) and the base depth."""
        import shap

        data = self.matrix(X)
        explainer = shap.TreeExplainer(self.forest_)
        values = np.asarray(explainer.shap_values(data), dtype=np.float64)
        return values, float(np.atleast_1d(explainer.expected_value)[0])


#: Fewer rows per thread than this are scored on one thread (threads would cost more).
MIN_BLOCK_ROWS = 8192
#: At most this many rows are scored by :class:`Walk` in a process without scikit-learn
#: (a day's ~5,000: 0.15 s against ~0.5 s importing it; beyond, scikit-learn's compiled
#: tree walk on both cores is worth its import).
WALK_MAX_ROWS: Final = 20_000


@dataclass(frozen=True)
class Walk:
    """A fitted IsolationForest's trees as plain arrays, scored in numpy: the scores of
    :func:`forest_scores` bit for bit (the same comparisons, each tree's depths added in
    tree order), without scikit-learn.

    Nodes of all trees in one run of arrays: ``left``/``right`` the next node (a leaf
    points at itself), ``feature`` the column compared (in the forest's input columns),
    ``threshold`` what it is compared with, ``value`` a leaf's depth term
    (``_decision_path_lengths + _average_path_length_per_tree - 1``); each tree's
    ``root`` and ``levels`` (its depth: that many steps reach a leaf from the root).
    """

    left: npt.NDArray[np.int64]
    right: npt.NDArray[np.int64]
    feature: npt.NDArray[np.int64]
    threshold: npt.NDArray[np.float64]
    value: npt.NDArray[np.float64]
    root: tuple[int, ...]
    levels: tuple[int, ...]
    n_features: int
    max_samples: int

    @staticmethod
    def of(forest: Any) -> Walk:
        """The trees of a fitted scikit-learn IsolationForest."""
        lefts, rights, features, thresholds, values, roots, levels = [], [], [], [], [], [], []
        offset = 0
        subsample = forest._max_features != forest.n_features_in_
        for i, (tree, columns) in enumerate(
            zip(forest.estimators_, forest.estimators_features_, strict=True)
        ):
            t = tree.tree_
            nodes = np.arange(t.node_count, dtype=np.int64)
            leaf = t.children_left < 0
            feature = np.where(leaf, 0, t.feature).astype(np.int64)
            if subsample:  # the tree saw these columns only, in this order
                feature = np.asarray(columns, dtype=np.int64)[feature]
            lefts.append(np.where(leaf, nodes, t.children_left) + offset)
            rights.append(np.where(leaf, nodes, t.children_right) + offset)
            features.append(feature)
            thresholds.append(np.asarray(t.threshold, dtype=np.float64))
            values.append(
                forest._decision_path_lengths[i] + forest._average_path_length_per_tree[i] - 1.0
            )
            roots.append(offset)
            levels.append(int(t.max_depth))
            offset += t.node_count
        return Walk(
            left=np.concatenate(lefts),
            right=np.concatenate(rights),
            feature=np.concatenate(features),
            threshold=np.concatenate(thresholds),
            value=np.concatenate(values).astype(np.float64),
            root=tuple(roots),
            levels=tuple(levels),
            n_features=int(forest.n_features_in_),
            max_samples=int(forest._max_samples),
        )

    def worth(self, data: npt.NDArray[np.float64], *, restored: bool) -> bool:
        """Score ``data`` this way? Only a few rows, in a process that has not loaded
        scikit-learn (nor the forest), and only rows scikit-learn compares alike (finite:
        a tree fitted without missing values sends NaN by its own rule)."""
        return (
            not restored
            and "sklearn" not in sys.modules
            and data.ndim == 2
            and data.shape[0] <= WALK_MAX_ROWS
            and data.shape[1] == self.n_features
            and bool(np.isfinite(data).all())
        )

    def scores(self, data: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """:func:`forest_scores` of ``data`` (rows x the forest's columns)."""
        # the trees compare float32 inputs with float64 thresholds, as scikit-learn does
        columns = np.asarray(data, dtype=np.float32).T.copy()
        rows = np.arange(columns.shape[1])
        depths = np.zeros(columns.shape[1], dtype=np.float64)
        for root, levels in zip(self.root, self.levels, strict=True):
            node = np.full(columns.shape[1], root, dtype=np.int64)
            for _ in range(levels):
                left = columns[self.feature[node], rows] <= self.threshold[node]
                node = np.where(left, self.left[node], self.right[node])
            depths += self.value[node]
        return _from_depths(depths, len(self.root), self.max_samples)


def threads(n_jobs: int | None) -> int:
    """Threads ``n_jobs`` asks for: itself when positive, else one per usable CPU core."""
    if n_jobs is not None and n_jobs > 0:
        return n_jobs
    return len(os.sched_getaffinity(0))


def score_blocks(
    score: Callable[[npt.NDArray[np.float64]], npt.ArrayLike],
    data: npt.NDArray[np.float64],
    workers: int,
) -> npt.NDArray[np.float64]:
    """``score(data)`` computed on contiguous row blocks over ``workers`` threads.

    For a row-wise ``score`` (each row's result depends on that row only, as a forest's
    path lengths do) the result is the same array, bit for bit; the forest's tree walks
    release the GIL, so the blocks run on separate cores.
    """
    rows = data.shape[0]
    blocks = min(workers, rows // MIN_BLOCK_ROWS)
    if blocks <= 1:
        return np.asarray(score(data), dtype=np.float64)
    bounds = np.linspace(0, rows, blocks + 1).astype(int)
    with ThreadPoolExecutor(blocks) as pool:
        parts = pool.map(
            lambda lo_hi: np.asarray(score(data[lo_hi[0] : lo_hi[1]]), dtype=np.float64),
            zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True),
        )
        return np.concatenate(list(parts))


def forest_scores(forest: Any, data: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``forest.score_samples(data)`` of a fitted IsolationForest, bit for bit, without
    its per-tree task set-up (scikit-learn runs each tree as a joblib task that copies
    its config and warning filters: ~0.1 ms per tree, most of the time of a few rows,
    e.g. a streaming micro-batch's). The trees are walked in the same order and their
    depths summed as scikit-learn does; a forest without those fitted arrays (another
    scikit-learn) is scored by ``score_samples``."""
    needed = ("_decision_path_lengths", "_average_path_length_per_tree", "_max_samples")
    if not all(hasattr(forest, name) for name in needed) or hasattr(data, "tocsr"):
        return np.asarray(forest.score_samples(data), dtype=np.float64)
    # the trees' dtype, as score_samples checks, and row by row in memory: a tree walks a
    # row's features, which a column-major matrix (Polars' to_numpy) puts a column apart
    # (175k windows x 300 trees: 4.5-4.9 -> 2.9 CPU-s, the same scores)
    rows = np.ascontiguousarray(data, dtype=np.float32)
    if rows.ndim != 2 or rows.shape[1] != forest.n_features_in_:
        return np.asarray(forest.score_samples(data), dtype=np.float64)
    subsample = forest._max_features != rows.shape[1]
    depths = np.zeros(int(rows.shape[0]), dtype=np.float64, order="F")
    for i, (tree, features) in enumerate(
        zip(forest.estimators_, forest.estimators_features_, strict=True)
    ):
        # (take keeps rows row by row; indexing columns with an array would not)
        leaves = tree.apply(rows.take(features, axis=1) if subsample else rows, check_input=False)
        depths += (
            forest._decision_path_lengths[i][leaves]
            + forest._average_path_length_per_tree[i][leaves]
            - 1.0
        )
    return _from_depths(depths, len(forest.estimators_), int(forest._max_samples))


def _from_depths(
    depths: npt.NDArray[np.float64], trees: int, max_samples: int
) -> npt.NDArray[np.float64]:
    """scikit-learn's ``score_samples`` from the trees' summed depths: -2^(-mean depth /
    c(max_samples)), c as scikit-learn's _average_path_length works it out, without its
    input check (whose first call in a process scans every installed package's entry
    points: a daily run's fresh process paid it)."""
    denominator = trees * _average_path_length(max_samples)
    ratio = np.divide(depths, denominator, out=np.ones_like(depths), where=denominator != 0)
    return np.asarray(-(2 ** (-ratio)), dtype=np.float64)


def _average_path_length(n: int) -> float:
    """Expected depth of an unsuccessful search in a binary tree of n points, c(n)."""
    if n <= 1:
        return 0.0
    if n == 2:
        return 1.0
    euler = 0.5772156649015329
    return float(2.0 * (np.log(n - 1.0) + euler) - 2.0 * (n - 1.0) / n)
