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
    labelled rows. A logistic regression (Platt scaling) learns, from out-of-fold
    classifier outputs (``cross_fit_folds`` folds by user) and the unsupervised outputs
    of the labelled rows, how to weigh the members' additive outputs — IsolationForest
    depth, tail sum, RandomForest probability, boosters' log-odds — into a probability;
    the classifiers are then refitted on every labelled row. Because the stacker is
    linear in additive member outputs, per-feature contributions to its log-odds are
    exact (see ``contributions``).

    Raises ModelError when there are too few positives to learn from (the caller then
    falls back to unsupervised detection and says so).
    """

    def __init__(
        self,
        supervised: Sequence[SupervisedDetector],
        *,
        seed: int = 7,
        cross_fit_folds: int = 5,
        min_positives: int = 5,
    ) -> None:
        self.supervised = list(supervised)
        self.seed = seed
        self.cross_fit_folds = cross_fit_folds
        self.min_positives = min_positives

    def fit(self, X: pl.DataFrame, y: pl.Series | None = None) -> Self:
        """Fit on ``X`` (keys + features); ``y`` holds 1/0 labels, null = unlabelled."""
        if y is None:
            raise ModelError("the stacked ensemble needs labels (y); use the unsupervised model")
        self.feature_columns_ = [c for c in X.columns if c not in ("user_id", "window")]
        self.isolation_ = IsolationDetector(n_estimators=150, random_state=self.seed).fit(X)
        self.tail_ = TailDetector().fit(X)
        labelled = y.is_not_null()
        X_l, y_l = X.filter(labelled), y.filter(labelled).cast(pl.Int8)
        positives = int(y_l.sum() or 0)
        if positives < self.min_positives:
            raise ModelError(
                f"only {positives} labelled positive windows (need {self.min_positives}) — "
                "too few to learn from"
            )
        # out-of-fold classifier outputs, folds by *user*: every labelled window is scored
        # by classifiers that never saw that person, each trained on (k-1)/k of the people
        # — close to the final fit on everyone, so the stacker's weights still hold for it
        fold_of = _user_folds(X_l.get_column("user_id"), self.cross_fit_folds, self.seed)
        oof = np.zeros((X_l.height, len(self.supervised)))
        for k in range(self.cross_fit_folds):
            test = fold_of == k
            train = pl.Series(~test)
            if int(y_l.filter(train).sum() or 0) == 0 or not test.any():
                continue
            for j, model in enumerate(self.supervised):
                clone = SupervisedDetector(model.kind, model.params, model.random_state)
                clone.fit(X_l.filter(train), y_l.filter(train))
                oof[test, j] = clone.margin(X_l.filter(pl.Series(test)))
        inputs = np.column_stack([self.isolation_.depth(X_l), self.tail_.score(X_l), oof])
        from sklearn.linear_model import LogisticRegression

        self.stacker_ = LogisticRegression(C=1.0, max_iter=1000).fit(inputs, y_l.to_numpy())
        for model in self.supervised:
            model.fit(X_l, y_l)
        self.n_positive_ = positives
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


def _user_folds(users: pl.Series, k: int, seed: int) -> npt.NDArray[np.int64]:
    """Fold number 0..k-1 per row, all rows of a user in one fold (seeded shuffle)."""
    unique = users.unique().sort()
    order = np.random.default_rng(seed).permutation(unique.len())
    fold_of_user = dict(zip(unique.to_list(), (order % k).tolist(), strict=True))
    return np.array([fold_of_user[u] for u in users.to_list()], dtype=np.int64)
