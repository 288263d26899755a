"""Combine detectors into one score: the mean of their calibrated surprises.

Each member's raw score lives on its own scale (an IsolationForest's 0..1, a tail sum);
each is first mapped to its surprise among the training windows (surprise.py), so the
members count alike, then averaged. IsolationForest catches unusual *combinations*,
the tail detector single extreme features; together they beat either alone on the
planted scenarios (see the README's measured figures).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

import numpy as np
import numpy.typing as npt
import polars as pl

from auditlens.detect.base import Detector, ModelError, Scores
from auditlens.detect.isolation import IsolationDetector
from auditlens.detect.supervised import SupervisedDetector
from auditlens.detect.surprise import Surprise
from auditlens.detect.tail import TailDetector


class MeanSurpriseEnsemble(Detector):
    """Mean of the members' surprises; members are fitted on the same matrix."""

    def __init__(self, members: Sequence[Detector]) -> None:
        self.members = list(members)

    def fit(self, X: pl.DataFrame, y: pl.Series | None = None) -> Self:
        """Fit every member, then each member's surprise calibration on its scores."""
        self.feature_columns_ = [c for c in X.columns if c not in ("user_id", "window")]
        self.calibrations_ = []
        for member in self.members:
            member.fit(X, y)
            self.calibrations_.append(Surprise().fit(member.score(X)))
        return self

    def member_surprises(self, X: pl.DataFrame) -> list[Scores]:
        """Each member's surprise per row."""
        return [
            cal.transform(m.score(X))
            for m, cal in zip(self.members, self.calibrations_, strict=True)
        ]

    def score(self, X: pl.DataFrame) -> Scores:
        """Mean surprise over the members."""
        out: Scores = np.mean(np.vstack(self.member_surprises(X)), axis=0)
        return out

    def tail(self) -> TailDetector | None:
        """The tail member, whose per-feature surprises explain a score."""
        return next((m for m in self.members if isinstance(m, TailDetector)), None)


def default_unsupervised(seed: int = 7) -> MeanSurpriseEnsemble:
    """IsolationForest + per-feature tail detector, the default unsupervised model."""
    return MeanSurpriseEnsemble([IsolationDetector(random_state=seed), TailDetector()])


class StackedEnsemble(Detector):
    """IsolationForest and the tail detector (catch the new) stacked with classifiers
    trained on past findings (catch the known) into one calibrated probability.

    Fitting: the unsupervised members learn from every row; the classifiers from the
    labelled rows of the earlier ``1 - holdout`` share of days; a logistic regression
    (Platt scaling) then learns, on the labelled rows of the later days, how to weigh
    the members' additive outputs — IsolationForest depth, tail sum, RandomForest
    probability, boosters' log-odds — into a probability. The classifiers are then
    refitted on all labelled rows. Because the stacker is linear in additive member
    outputs, per-feature contributions to its log-odds are exact (see ``contributions``).

    Raises ModelError when there are too few positives to learn from (the caller then
    falls back to unsupervised detection and says so).
    """

    def __init__(
        self,
        supervised: Sequence[SupervisedDetector],
        *,
        seed: int = 7,
        holdout: float = 1 / 3,
        min_positives: int = 5,
    ) -> None:
        self.supervised = list(supervised)
        self.seed = seed
        self.holdout = holdout
        self.min_positives = min_positives

    def fit(self, X: pl.DataFrame, y: pl.Series | None = None) -> Self:
        """Fit on ``X`` (keys + features); ``y`` holds 1/0 labels, null = unlabelled."""
        if y is None:
            raise ModelError("the stacked ensemble needs labels (y); use the unsupervised model")
        self.feature_columns_ = [c for c in X.columns if c not in ("user_id", "window")]
        self.isolation_ = IsolationDetector(n_estimators=150, random_state=self.seed).fit(X)
        self.tail_ = TailDetector().fit(X)
        labelled = y.is_not_null()
        days = X.get_column("window")
        cut = days.filter(labelled).sort().quantile(1.0 - self.holdout, "lower")
        early = labelled & (days < cut)
        late = labelled & (days >= cut)
        for name, mask in (("earlier", early), ("later", late)):
            positives = int(y.filter(mask).sum() or 0)
            if positives < self.min_positives:
                raise ModelError(
                    f"only {positives} labelled positive windows in the {name} part of the "
                    f"period (need {self.min_positives}) — too few to learn from"
                )
        for model in self.supervised:
            model.fit(X.filter(early), y.filter(early))
        late_X = X.filter(late)
        from sklearn.linear_model import LogisticRegression

        self.stacker_ = LogisticRegression(C=1.0, max_iter=1000).fit(
            self.outputs(late_X), y.filter(late).cast(pl.Int8).to_numpy()
        )
        all_X, all_y = X.filter(labelled), y.filter(labelled)
        for model in self.supervised:
            model.fit(all_X, all_y)
        self.n_positive_ = int(all_y.sum() or 0)
        return self

    @property
    def member_names(self) -> list[str]:
        """Names of the stacker's inputs, in order."""
        return ["isolation_depth", "tail_sum", *[m.kind for m in self.supervised]]

    def outputs(self, X: pl.DataFrame) -> npt.NDArray[np.float64]:
        """Each member's additive output per row (rows x members)."""
        columns = [self.isolation_.depth(X), self.tail_.score(X)]
        columns += [m.margin(X) for m in self.supervised]
        return np.column_stack(columns)

    def log_odds(self, X: pl.DataFrame) -> Scores:
        """The stacker's log-odds per row."""
        out: Scores = self.stacker_.decision_function(self.outputs(X)).astype(np.float64)
        return out

    def score(self, X: pl.DataFrame) -> Scores:
        """Calibrated probability of a finding per row."""
        out: Scores = self.stacker_.predict_proba(self.outputs(X))[:, 1].astype(np.float64)
        return out

    def contributions(self, X: pl.DataFrame) -> tuple[npt.NDArray[np.float64], Scores]:
        """Signed per-feature contributions to the log-odds, and the base per row.

        base + contributions.sum(axis=1) == log_odds(X) exactly (up to float error):
        each member's TreeSHAP values (the tail member's top surprises) times the
        stacker's weight for that member.
        """
        weights = self.stacker_.coef_[0]
        parts: list[tuple[npt.NDArray[np.float64], float]] = [
            self.isolation_.shap(X),
            (self.tail_.additive(X), 0.0),
            *[m.shap(X) for m in self.supervised],
        ]
        contrib = sum(w * values for w, (values, _) in zip(weights, parts, strict=True))
        base = float(self.stacker_.intercept_[0]) + sum(
            w * b for w, (_, b) in zip(weights, parts, strict=True)
        )
        return np.asarray(contrib, dtype=np.float64), np.full(X.height, base)
