"""IsolationForest behind the Detector interface (unsupervised: finds the unusual)."""

from __future__ import annotations

from typing import ClassVar, Self

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
        n_jobs: threads while fitting and scoring (results do not depend on it).
    """

    #: Name of :meth:`margin` among a stacked ensemble's inputs.
    output_name: ClassVar[str] = "isolation_depth"

    def __init__(
        self,
        n_estimators: int = 300,
        max_samples: int | str = 2048,
        max_features: float = 1.0,
        random_state: int = 7,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: pl.DataFrame, y: pl.Series | None = None) -> Self:
        """Fit on every feature column of ``X`` (everything except user_id/window)."""
        from sklearn.ensemble import IsolationForest  # seconds to import: only to fit

        self.feature_columns_ = feature_columns(X)
        data = self.matrix(X)
        samples = self.max_samples
        if isinstance(samples, int):
            samples = min(samples, data.shape[0])
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=samples,
            max_features=self.max_features,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        ).fit(data)
        self.n_train_ = int(data.shape[0])
        return self

    def score(self, X: pl.DataFrame) -> Scores:
        """The anomaly score of each row: ~0.5 ordinary, towards 1 the more isolated."""
        data = self.matrix(X)
        out: Scores = -np.asarray(self.forest_.score_samples(data), dtype=np.float64)
        return out

    def depth(self, X: pl.DataFrame) -> Scores:
        """Mean isolation depth per row (lower = riskier): the additive output TreeSHAP
        explains. score = 2 ** (-depth / c(max_samples))."""
        self.check_fitted()
        norm = _average_path_length(int(self.forest_.max_samples_))
        out: Scores = -np.log2(self.score(X)) * norm
        return out

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


def _average_path_length(n: int) -> float:
    """Expected depth of an unsuccessful search in a binary tree of n points, c(n)."""
    if n <= 1:
        return 0.0
    if n == 2:
        return 1.0
    euler = 0.5772156649015329
    return float(2.0 * (np.log(n - 1.0) + euler) - 2.0 * (n - 1.0) / n)
