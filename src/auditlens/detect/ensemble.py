"""Combine detectors into one score: the mean of their calibrated surprises.

Each member's raw score lives on its own scale (an IsolationForest's 0..1, a tail sum);
each is first mapped to its surprise among the training windows (surprise.py), so the
members count alike, then averaged. IsolationForest catches unusual *combinations*,
the tail detector single extreme features; together they beat either alone on the
planted scenarios (see the README's measured figures).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Protocol, Self

import numpy as np
import numpy.typing as npt
import polars as pl

from auditlens.detect.base import (
    ContributionUnit,
    Detector,
    Explainable,
    ModelError,
    Scores,
    clone,
    feature_columns,
)
from auditlens.detect.isolation import IsolationDetector
from auditlens.detect.labels import MIN_POSITIVE_WINDOWS
from auditlens.detect.supervised import SupervisedDetector
from auditlens.detect.surprise import Surprise
from auditlens.detect.tail import TailDetector


def unsupervised_members(seed: int = 7) -> list[Detector]:
    """The default members of :class:`MeanSurpriseEnsemble`: IsolationForest + tail."""
    return [IsolationDetector(random_state=seed), TailDetector()]


class MeanSurpriseEnsemble(Detector):
    """Mean of the members' surprises; members are fitted on the same matrix.

    Args:
        members: the detectors to combine (cloned, then fitted, by ``fit``); None = the
            default :func:`unsupervised_members`.
        seed: seed of the default members.

    Explainable through its first member that explains in surprises (the tail member).
    """

    contribution_unit: ClassVar[ContributionUnit] = "surprise"

    def __init__(self, members: Sequence[Detector] | None = None, seed: int = 7) -> None:
        self.members = members
        self.seed = seed

    def fit(self, X: pl.DataFrame, y: pl.Series | None = None) -> Self:
        """Fit every member, then each member's surprise calibration on its scores."""
        self.fit_score(X, y)
        return self

    def fit_score(self, X: pl.DataFrame, y: pl.Series | None = None) -> Scores:
        """:meth:`fit`, returning :meth:`score` of ``X`` from the members' scores that
        fitting the calibrations took (each member scores ``X`` once, not twice)."""
        templates = unsupervised_members(self.seed) if self.members is None else self.members
        columns = feature_columns(X)
        members = [clone(m) for m in templates]
        # the first member on this thread, the others meanwhile on a second one: an
        # IsolationForest's fit keeps ~1.2 of two cores busy, the tail detector (numpy,
        # one core) takes the rest (a 10M-event batch's model stage ~3.0 -> ~2.6 s). Each
        # member fits and scores alone, so its scores are the same on either thread.
        with ThreadPoolExecutor(1) as pool:
            others = [pool.submit(m.fit_score, X, y) for m in members[1:]]
            raw = [members[0].fit_score(X, y), *(f.result() for f in others)]
        # fitted only once every member is (a member's error leaves the model as it was)
        self.members_ = members
        self.calibrations_ = [Surprise().fit(r) for r in raw]
        self.feature_columns_ = columns
        return self._mean(self._surprises(raw))

    def member_surprises(self, X: pl.DataFrame) -> list[Scores]:
        """Each member's surprise per row."""
        self.check_fitted()
        return self._surprises([m.score(X) for m in self.members_])

    def _surprises(self, raw: list[Scores]) -> list[Scores]:
        return [cal.transform(r) for r, cal in zip(raw, self.calibrations_, strict=True)]

    @staticmethod
    def _mean(surprises: list[Scores]) -> Scores:
        out: Scores = np.mean(np.vstack(surprises), axis=0)
        return out

    def score(self, X: pl.DataFrame) -> Scores:
        """Mean surprise over the members."""
        return self._mean(self.member_surprises(X))

    def explainer(self) -> Explainable | None:
        """The fitted member whose per-feature surprises explain a score, if any."""
        self.check_fitted()
        return next(
            (
                m
                for m in self.members_
                if isinstance(m, Explainable) and m.contribution_unit == "surprise"
            ),
            None,
        )

    def feature_contributions(self, X: pl.DataFrame) -> tuple[npt.NDArray[np.float64], list[str]]:
        """The explaining member's per-feature surprises (Explainable).

        Raises ModelError when no member explains in surprises.
        """
        member = self.explainer()
        if member is None:
            raise ModelError(
                f"cannot explain a {type(self).__name__} without a member that explains "
                "per feature (a TailDetector)",
                ko=f"{type(self).__name__}에는 특성별로 설명하는 구성 모델(TailDetector)이 "
                "없어 사유를 설명할 수 없습니다",
            )
        return member.feature_contributions(X)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # saved before members were cloned on fit: the members were fitted in place
        if "calibrations_" in state and "members_" not in state:
            state["members_"] = state["members"]
        state.setdefault("seed", 7)
        self.__dict__.update(state)


def default_unsupervised(seed: int = 7) -> MeanSurpriseEnsemble:
    """IsolationForest + per-feature tail detector, the default unsupervised model."""
    return MeanSurpriseEnsemble(seed=seed)


class Stackable(Protocol):
    """A member the stacked ensemble can weigh: an additive output and its exact SHAP."""

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters (what :func:`clone` copies)."""
        ...

    @property
    def output_name(self) -> str:
        """The output's name among the stacker's inputs."""
        ...

    def fit(self, X: pl.DataFrame, y: pl.Series | None = None) -> Self:
        """Learn from ``X`` (and labels ``y`` when it needs them)."""
        ...

    def margin(self, X: pl.DataFrame) -> Scores:
        """The additive output per row (any sign; the stacker learns its weight)."""
        ...

    def shap(self, X: pl.DataFrame) -> tuple[npt.NDArray[np.float64], float]:
        """Per-feature parts of :meth:`margin` (rows x features) and their base."""
        ...


def stacked_unsupervised_members(seed: int = 7) -> list[IsolationDetector | TailDetector]:
    """The default unsupervised members of :class:`StackedEnsemble`."""
    return [IsolationDetector(n_estimators=150, random_state=seed), TailDetector()]


class StackedEnsemble(Detector):
    """Unsupervised members (catch the new) stacked with classifiers trained on past
    findings (catch the known) into one calibrated probability.

    Fitting: the unsupervised members learn from every row; the classifiers from the
    labelled rows. A logistic regression (Platt scaling) learns, from out-of-fold
    classifier outputs (``cross_fit_folds`` folds by user) and the unsupervised outputs
    of the labelled rows, how to weigh the members' additive outputs — IsolationForest
    depth, tail sum, RandomForest probability, boosters' log-odds — into a probability;
    the classifiers are then refitted on every labelled row. Because the stacker is
    linear in additive member outputs, per-feature contributions to its log-odds are
    exact (see ``contributions``).

    Args:
        supervised: classifiers (cloned, then fitted, by ``fit``).
        unsupervised: members fitted on every row; None = the default
            :func:`stacked_unsupervised_members` (IsolationForest and the tail detector).
        seed: seed of the default members and of the user folds.
        cross_fit_folds: user folds of the out-of-fold classifier outputs.
        min_positives: fewer labelled positive windows and ``fit`` refuses.

    Raises ModelError when there are too few positives to learn from (the caller then
    falls back to unsupervised detection and says so).
    """

    contribution_unit: ClassVar[ContributionUnit] = "log_odds"

    def __init__(
        self,
        supervised: Sequence[SupervisedDetector],
        *,
        unsupervised: Sequence[Stackable] | None = None,
        seed: int = 7,
        cross_fit_folds: int = 5,
        min_positives: int = MIN_POSITIVE_WINDOWS,
    ) -> None:
        self.supervised = supervised
        self.unsupervised = unsupervised
        self.seed = seed
        self.cross_fit_folds = cross_fit_folds
        self.min_positives = min_positives

    def fit(self, X: pl.DataFrame, y: pl.Series | None = None) -> Self:
        """Fit on ``X`` (keys + features); ``y`` holds 1/0 labels, null = unlabelled."""
        if y is None:
            raise ModelError(
                "the stacked ensemble needs labels (y); use the unsupervised model",
                ko="스태킹 앙상블은 라벨(y)이 있어야 학습할 수 있습니다. "
                "비지도 모델을 사용하십시오",
            )
        columns = feature_columns(X)
        fitted: list[Stackable] = [clone(m).fit(X) for m in self._unsupervised_templates()]
        labelled = y.is_not_null()
        X_l, y_l = X.filter(labelled), y.filter(labelled).cast(pl.Int8)
        positives = int(y_l.sum() or 0)
        if positives < self.min_positives:
            raise ModelError(
                f"only {positives} labelled positive windows (need {self.min_positives}) — "
                "too few to learn from",
                ko=f"라벨이 붙은 양성 구간이 {positives}개뿐입니다 (최소 {self.min_positives}개 "
                "필요): 학습하기에 너무 적습니다",
            )
        oof = self._out_of_fold(X_l, y_l)
        unsupervised = [m.margin(X_l) for m in fitted]
        inputs = np.column_stack([*unsupervised, oof])
        from sklearn.linear_model import LogisticRegression

        stacker = LogisticRegression(C=1.0, max_iter=1000).fit(inputs, y_l.to_numpy())
        supervised = [clone(m).fit(X_l, y_l) for m in self.supervised]
        # fitted only now (too few positives, or a member's error, leaves it as it was)
        self.unsupervised_: list[Stackable] = fitted
        self.stacker_, self.supervised_, self.n_positive_ = stacker, supervised, positives
        self.feature_columns_ = columns
        return self

    def _unsupervised_templates(self) -> list[Stackable]:
        if self.unsupervised is None:
            return list(stacked_unsupervised_members(self.seed))
        return list(self.unsupervised)

    def _out_of_fold(self, X_l: pl.DataFrame, y_l: pl.Series) -> npt.NDArray[np.float64]:
        """Out-of-fold classifier outputs (labelled rows x classifiers)."""
        # folds by *user*: every labelled window is scored by classifiers that never saw
        # that person, each trained on (k-1)/k of the people — close to the final fit on
        # everyone, so the stacker's weights still hold for it
        fold_of = _user_folds(X_l.get_column("user_id"), self.cross_fit_folds, self.seed)
        oof = np.zeros((X_l.height, len(self.supervised)))
        for k in range(self.cross_fit_folds):
            test = fold_of == k
            train = pl.Series(~test)
            if int(y_l.filter(train).sum() or 0) == 0 or not test.any():
                continue
            for j, model in enumerate(self.supervised):
                fold_model = clone(model).fit(X_l.filter(train), y_l.filter(train))
                oof[test, j] = fold_model.margin(X_l.filter(pl.Series(test)))
        return oof

    def _members(self) -> list[Stackable]:
        self.check_fitted()
        return [*self.unsupervised_, *self.supervised_]

    @property
    def member_names(self) -> list[str]:
        """Names of the stacker's inputs, in order."""
        unsupervised = self.unsupervised_ if self.fitted else self._unsupervised_templates()
        return [m.output_name for m in [*unsupervised, *self.supervised]]

    def outputs(self, X: pl.DataFrame) -> npt.NDArray[np.float64]:
        """Each member's additive output per row (rows x members)."""
        return np.column_stack([m.margin(X) for m in self._members()])

    def log_odds(self, X: pl.DataFrame) -> Scores:
        """The stacker's log-odds per row."""
        outputs = self.outputs(X)
        out: Scores = self.stacker_.decision_function(outputs).astype(np.float64)
        return out

    def score(self, X: pl.DataFrame) -> Scores:
        """Calibrated probability of a finding per row."""
        outputs = self.outputs(X)
        out: Scores = self.stacker_.predict_proba(outputs)[:, 1].astype(np.float64)
        return out

    def contributions(self, X: pl.DataFrame) -> tuple[npt.NDArray[np.float64], Scores]:
        """Signed per-feature contributions to the log-odds, and the base per row.

        base + contributions.sum(axis=1) == log_odds(X) exactly (up to float error):
        each member's TreeSHAP values (the tail member's top surprises) times the
        stacker's weight for that member.
        """
        parts = [m.shap(X) for m in self._members()]  # checks that it is fitted first
        weights = self.stacker_.coef_[0]
        contrib = sum(w * values for w, (values, _) in zip(weights, parts, strict=True))
        base = float(self.stacker_.intercept_[0]) + sum(
            w * b for w, (_, b) in zip(weights, parts, strict=True)
        )
        return np.asarray(contrib, dtype=np.float64), np.full(X.height, base)

    def feature_contributions(self, X: pl.DataFrame) -> tuple[npt.NDArray[np.float64], list[str]]:
        """Per-feature SHAP contributions to the log-odds and the feature names
        (Explainable)."""
        contrib, _ = self.contributions(X)
        return contrib, list(self.feature_columns_)

    def __setstate__(self, state: dict[str, Any]) -> None:
        # saved before members were parameters: IsolationForest and the tail detector
        # were attributes of their own, the classifiers were fitted in place
        if "isolation_" in state:
            state["unsupervised_"] = [state.pop("isolation_"), state.pop("tail_")]
            state["supervised_"] = state["supervised"]
        state.setdefault("unsupervised", None)
        self.__dict__.update(state)


def _user_folds(users: pl.Series, k: int, seed: int) -> npt.NDArray[np.int64]:
    """Fold number 0..k-1 per row, all rows of a user in one fold (seeded shuffle)."""
    unique = users.unique().sort()
    order = np.random.default_rng(seed).permutation(unique.len())
    fold_of_user = dict(zip(unique.to_list(), (order % k).tolist(), strict=True))
    return np.array([fold_of_user[u] for u in users.to_list()], dtype=np.int64)
