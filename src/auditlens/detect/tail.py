"""Per-feature tail detector: how extreme is each feature, and the few most extreme.

Transparent by construction: each feature's surprise (see surprise.py) against all
training windows is its contribution, and the score is the sum of the ``top_k``
largest, so one wildly unusual feature (ten times the usual downloads) is not averaged
away by thirty ordinary ones — the weakness of distance- and forest-based scores on
wide matrices. Only the high side counts: features are oriented so that more is riskier.
"""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
import numpy.typing as npt
import polars as pl

from auditlens.detect.base import ContributionUnit, Detector, Scores, feature_columns
from auditlens.detect.surprise import Surprise


class TailDetector(Detector):
    """Score = sum of the ``top_k`` per-feature surprises of a row.

    Explainable: each feature's surprise is its contribution.
    """

    contribution_unit: ClassVar[ContributionUnit] = "surprise"
    #: Name of :meth:`margin` among a stacked ensemble's inputs.
    output_name: ClassVar[str] = "tail_sum"

    def __init__(self, top_k: int = 3) -> None:
        self.top_k = top_k

    def fit(self, X: pl.DataFrame, y: pl.Series | None = None) -> Self:
        """Learn each feature's distribution over the training windows."""
        columns = feature_columns(X)
        data = self.columns_of(X, columns)
        self.surprises_ = [Surprise().fit(data[:, j]) for j in range(data.shape[1])]
        self.feature_columns_ = columns  # fitted only now
        return self

    def contributions(self, X: pl.DataFrame) -> npt.NDArray[np.float64]:
        """Per row and feature, the feature's surprise (rows x features)."""
        data = self.matrix(X)
        out = np.empty_like(data)
        for j, surprise in enumerate(self.surprises_):
            out[:, j] = surprise.transform(data[:, j])
        return out

    def feature_contributions(self, X: pl.DataFrame) -> tuple[npt.NDArray[np.float64], list[str]]:
        """Per-feature surprises (rows x features) and the feature names (Explainable)."""
        return self.contributions(X), list(self.feature_columns_)

    def additive(self, X: pl.DataFrame) -> npt.NDArray[np.float64]:
        """Per-feature parts of the score: each row's ``top_k`` surprises, the rest 0.

        They sum exactly to :meth:`score` (base value 0).
        """
        contrib = self.contributions(X)
        k = min(self.top_k, contrib.shape[1])
        keep = np.argsort(-contrib, axis=1, kind="stable")[:, :k]
        out = np.zeros_like(contrib)
        rows = np.arange(contrib.shape[0])[:, None]
        out[rows, keep] = contrib[rows, keep]
        return out

    def score(self, X: pl.DataFrame) -> Scores:
        """Sum of each row's ``top_k`` feature surprises."""
        contrib = self.contributions(X)
        k = min(self.top_k, contrib.shape[1])
        top: Scores = np.sort(contrib, axis=1)[:, -k:].sum(axis=1)
        return top

    def margin(self, X: pl.DataFrame) -> Scores:
        """The additive output (the score itself), for stacking."""
        return self.score(X)

    def shap(self, X: pl.DataFrame) -> tuple[npt.NDArray[np.float64], float]:
        """Exact additive parts of :meth:`margin` (rows x features) and their base, 0."""
        return self.additive(X), 0.0
