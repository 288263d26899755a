"""The online detector of ``auditlens stream``: River's Half-Space Trees over scaled
features, learning from every updated (user, day) window.

Why Half-Space Trees: it learns in constant time and memory per row (a fixed forest of
random half-space splits and two mass windows), needs no labels, and forgets: the
reference mass is replaced every ``window_size`` rows, so it follows the population's
drift between batch trainings instead of freezing on the training weeks. It expects
features in [0, 1], hence River's running ``MinMaxScaler`` in front. River's per-row cost
(tens of microseconds) is paid per updated user-window, not per event.

Explanations: per feature, River's running mean and variance (``stats.Var``) of what
it learned; a row's reasons are its features furthest from that running mean (in
standard deviations), worded as the batch run's reasons (detect/explain.py), strongest
first.

The state is not saved: ``auditlens stream`` rebuilds it on start (and at each day's
roll) by learning the in-force pipeline's features of the profile window's days, in
(window, user) order, with the configured seed: the same stored events give the same
detector (pipeline/stream_state.py).

Example::

    online = OnlineDetector(seed=7)
    online.learn(matrix.frame)                # rows: keys + feature columns
    scores = online.score_learn(new_rows)     # 0..1, higher = more unusual; then learns
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from auditlens.detect.base import feature_columns
from auditlens.detect.explain import Reason, _reason, unusual


class OnlineDetector:
    """River ``MinMaxScaler | HalfSpaceTrees``; scores in [0, 1], higher = more unusual.

    ``n_trees``, ``height`` and ``window_size`` are HalfSpaceTrees' parameters (River's
    defaults: ~60 µs a row here; 25 trees of height 10 cost ~5x more for no gain on
    ~40 features), ``seed`` its random state. River is imported on construction (the
    CLI starts without it).
    """

    def __init__(
        self, n_trees: int = 10, height: int = 8, window_size: int = 250, seed: int = 0
    ) -> None:
        from river import anomaly, preprocessing, stats

        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.seed = seed
        self.model_: Any = preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(
            n_trees=n_trees, height=height, window_size=window_size, seed=seed
        )
        self._var = stats.Var
        self.stats_: dict[str, Any] = {}
        self.learned_ = 0

    def learn(self, X: pl.DataFrame) -> None:
        """Learn every row of ``X`` (keys + feature columns), in order."""
        for row in self._rows(X):
            self._learn_one(row)

    def score_learn(self, X: pl.DataFrame) -> npt.NDArray[np.float64]:
        """Score each row of ``X`` with what was learned before it, then learn it."""
        out = np.empty(X.height, dtype=np.float64)
        for i, row in enumerate(self._rows(X)):
            out[i] = float(self.model_.score_one(row))
            self._learn_one(row)
        return out

    def score(self, X: pl.DataFrame) -> npt.NDArray[np.float64]:
        """Score each row of ``X`` without learning it."""
        return np.array([float(self.model_.score_one(r)) for r in self._rows(X)], np.float64)

    def reasons(
        self, X: pl.DataFrame, info: pl.DataFrame, top: int = 3, rows: pl.Series | None = None
    ) -> list[list[Reason]]:
        """Per row of ``X`` (``info``: the matrix's info rows of the same keys), the
        features furthest from their running mean, in the batch run's words; with
        ``rows`` (booleans) only for those rows (the others get none)."""
        out: list[list[Reason]] = []
        columns = feature_columns(X)
        wanted = [True] * X.height if rows is None else rows.to_list()
        for row, ctx, want in zip(
            X.iter_rows(named=True), info.iter_rows(named=True), wanted, strict=True
        ):
            if not want:
                out.append([])
                continue
            found: list[tuple[float, str]] = []
            for column in columns:
                z = self._z(column, row[column])
                if z >= 1.0 and unusual(column, row, ctx):
                    found.append((z, column))
            found.sort(reverse=True)
            out.append([_reason(c, row, ctx, z) for z, c in found[:top]])
        return out

    def _z(self, column: str, value: Any) -> float:
        var = self.stats_.get(column)
        if var is None or value is None or var.n < 2:
            return 0.0
        sd = math.sqrt(max(float(var.get()), 0.0))
        mean = float(var.mean.get())
        return abs(float(value) - mean) / sd if sd > 1e-9 else 0.0

    def _learn_one(self, row: dict[str, float]) -> None:
        self.model_.learn_one(row)
        for column, value in row.items():
            var = self.stats_.get(column)
            if var is None:
                var = self.stats_[column] = self._var()
            var.update(value)
        self.learned_ += 1

    @staticmethod
    def _rows(X: pl.DataFrame) -> list[dict[str, float]]:
        columns = feature_columns(X)
        values = X.select(columns).cast(pl.Float64).fill_null(0.0).fill_nan(0.0)
        return values.to_dicts()
