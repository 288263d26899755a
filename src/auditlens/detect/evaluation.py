"""Evaluation folds: time-aware (train on earlier days, test on later ones) or grouped by
person (test people never seen in training), and the figures measured on them.

Time folds are *expanding windows* over the days that have labelled rows: the first
``first_share`` of the days only trains; the rest is cut into ``n_folds`` consecutive
test blocks, and fold k trains on every day before its block. A (user, window) row is
therefore in exactly one test block and never in its own training data.

User folds (:func:`user_folds`) split the people instead: every person is tested in
exactly one fold, on all their days, by a model trained on everybody else; labelled
insiders are spread evenly over the folds. A supervised model is then measured on
insiders it never saw, as it would be on the next real case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Final, cast

import numpy as np
import numpy.typing as npt
import polars as pl
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from auditlens.detect.base import Detector
from auditlens.detect.bootstrap import Intervals, bootstrap_intervals
from auditlens.errors import AuditlensError
from auditlens.features.base import WINDOW
from auditlens.schema import USER_ID

F64 = npt.NDArray[np.float64]
NAN: Final = float("nan")


@dataclass(frozen=True)
class Fold:
    """Train on days < ``test_from``; test on days in [test_from, test_until).

    With ``test_users`` (a user fold), train on every other person's rows and test on
    these people's rows in [test_from, test_until) (the whole period).
    """

    number: int
    test_from: dt.date
    test_until: dt.date
    test_users: frozenset[str] | None = None

    def train_rows(self, X: pl.DataFrame) -> pl.Series:
        """Rows of ``X`` the fold trains on (labelled or not)."""
        if self.test_users is not None:
            return ~X.get_column(USER_ID).is_in(list(self.test_users))
        return X.get_column(WINDOW) < self.test_from

    def test_rows(self, X: pl.DataFrame, y: pl.Series) -> pl.Series:
        """Labelled rows of ``X`` the fold tests on."""
        days = X.get_column(WINDOW)
        rows = (days >= self.test_from) & (days < self.test_until) & y.is_not_null()
        if self.test_users is not None:
            rows &= X.get_column(USER_ID).is_in(list(self.test_users))
        return rows


def user_folds(X: pl.DataFrame, y: pl.Series, n_folds: int = 5, seed: int = 0) -> list[Fold]:
    """Person-grouped folds: each labelled person tested in exactly one fold, never in
    its training rows; people with a positive window dealt round-robin over the folds
    (in a shuffled order, by ``seed``), then everyone else.

    Raises AuditlensError with fewer labelled people than folds, or fewer insiders than
    folds (a fold without an insider measures nothing).
    """
    labelled = X.select(USER_ID, WINDOW).with_columns(pl.Series("y", y)).drop_nulls("y")
    per_user = labelled.group_by(USER_ID).agg(pl.col("y").max()).sort(USER_ID)
    insiders = per_user.filter(pl.col("y") == 1).get_column(USER_ID).to_list()
    others = per_user.filter(pl.col("y") == 0).get_column(USER_ID).to_list()
    if len(insiders) < n_folds or per_user.height < 2 * n_folds:
        raise AuditlensError(
            f"{len(insiders)} labelled insiders among {per_user.height} people cannot make "
            f"{n_folds} person-grouped folds",
            hint="use fewer folds (--fold-count) or time folds (--folds time)",
            ko=f"라벨된 내부자 {len(insiders)}명(전체 {per_user.height}명)으로는 사람 단위 폴드 "
            f"{n_folds}개를 만들 수 없습니다",
            ko_hint="폴드 수를 줄이거나(--fold-count) 시간 순서 폴드(--folds time)를 쓰십시오",
        )
    rng = np.random.default_rng(seed)
    order = [str(u) for u in rng.permutation(insiders)] + [str(u) for u in rng.permutation(others)]
    groups: list[set[str]] = [set() for _ in range(n_folds)]
    for i, user in enumerate(order):
        groups[i % n_folds].add(user)
    days = labelled.get_column(WINDOW)
    first, last = cast(dt.date, days.min()), cast(dt.date, days.max())
    until = last + dt.timedelta(days=1)
    return [Fold(k + 1, first, until, frozenset(g)) for k, g in enumerate(groups)]


def time_folds(days: pl.Series, n_folds: int = 3, first_share: float = 0.4) -> list[Fold]:
    """Consecutive test blocks after an initial training-only share of the days."""
    unique = days.unique().sort().to_list()
    if len(unique) < n_folds + 2:
        raise AuditlensError(
            f"{len(unique)} days of data cannot make {n_folds} time-ordered folds",
            hint="evaluate on a longer period or with fewer folds",
            ko=f"{len(unique)}일 치 데이터로는 시간 순서 폴드 {n_folds}개를 만들 수 없습니다",
            ko_hint="더 긴 기간으로 평가하거나 폴드 수를 줄이십시오",
        )
    start = max(1, int(len(unique) * first_share))
    blocks = np.array_split(np.arange(start, len(unique)), n_folds)
    end = unique[-1] + dt.timedelta(days=1)
    folds = []
    for number, block in enumerate(blocks, start=1):
        until = unique[int(block[-1]) + 1] if int(block[-1]) + 1 < len(unique) else end
        folds.append(Fold(number, unique[int(block[0])], until))
    return folds


@dataclass(frozen=True)
class Metrics:
    """Quality of a score against labels (one fold or pooled)."""

    rows: int
    positives: int
    roc_auc: float
    pr_auc: float
    detection_at_5pct_fpr: float
    detection_at_10pct_fpr: float
    precision_at_k: float
    false_positives_at_recall: int | None = None
    recall_target: float | None = None

    def as_dict(self) -> dict[str, float | int | None]:
        """Plain dict for JSON."""
        return asdict(self)


def metrics(y: npt.ArrayLike, score: npt.ArrayLike, recall_target: float | None = None) -> Metrics:
    """ROC-AUC, PR-AUC, detection at 5%/10% FPR, precision@k (k = positives), and the
    false positives needed to reach ``recall_target`` when given."""
    truth = np.asarray(y, dtype=np.int8)
    s = np.asarray(score, dtype=np.float64)
    positives = int(truth.sum())
    if positives == 0 or positives == truth.size:
        return Metrics(truth.size, positives, NAN, NAN, NAN, NAN, NAN)
    # every threshold: the default drops collinear points, and with them the best one under
    # an FPR limit (detection at 5% FPR read 22.6% where 25.8% was reached)
    fpr, tpr, _ = roc_curve(truth, s, drop_intermediate=False)
    order = np.argsort(-s, kind="stable")
    return Metrics(
        rows=int(truth.size),
        positives=positives,
        roc_auc=float(roc_auc_score(truth, s)),
        pr_auc=float(average_precision_score(truth, s)),
        detection_at_5pct_fpr=float(tpr[fpr <= 0.05].max()),
        detection_at_10pct_fpr=float(tpr[fpr <= 0.10].max()),
        precision_at_k=float(truth[order][:positives].mean()),
        false_positives_at_recall=(
            None if recall_target is None else false_positives_at_recall(truth, s, recall_target)
        ),
        recall_target=recall_target,
    )


def recall_at_k(y: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Recall when flagging the k highest scores, k = number of positives."""
    truth = np.asarray(y, dtype=np.int8)
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")
    positives = int(truth.sum())
    return float(truth[order][:positives].sum() / positives) if positives else NAN


def false_positives_at_recall(y: npt.ArrayLike, score: npt.ArrayLike, recall: float) -> int:
    """Negatives flagged by the highest threshold that reaches ``recall`` (ties included)."""
    truth = np.asarray(y, dtype=np.int8)
    s = np.asarray(score, dtype=np.float64)
    positives = int(truth.sum())
    needed = int(np.ceil(recall * positives - 1e-9))
    if needed <= 0:
        return 0
    threshold = np.sort(s[truth == 1])[::-1][needed - 1]
    return int(((s >= threshold) & (truth == 0)).sum())


def expected_calibration_error(y: npt.ArrayLike, p: npt.ArrayLike, bins: int = 10) -> float:
    """ECE: |mean predicted - observed rate| per equal-width bin, weighted by bin size."""
    truth = np.asarray(y, dtype=np.float64)
    prob = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(prob, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(prob[mask].mean() - truth[mask].mean())
    return float(total)


ModelFactory = Callable[[], Detector]


def cross_validate(
    X: pl.DataFrame,
    y: pl.Series,
    factories: dict[str, ModelFactory],
    folds: list[Fold],
    *,
    supervised: set[str],
) -> dict[str, list[tuple[Fold, F64, F64]]]:
    """Per model, per fold: (fold, labels, scores) of the fold's labelled test rows.

    Unsupervised models fit on every training row (earlier days, or other people);
    supervised ones on the labelled training rows. Models that cannot fit a fold (too
    few positives) get no entry.
    """
    out: dict[str, list[tuple[Fold, F64, F64]]] = {name: [] for name in factories}
    for fold in folds:
        train = fold.train_rows(X)
        test = fold.test_rows(X, y)
        X_test, y_test = X.filter(test), y.filter(test).cast(pl.Int8).to_numpy()
        for name, make in factories.items():
            model = make()
            try:
                if name in supervised:
                    model.fit(X.filter(train), y.filter(train))
                else:
                    model.fit(X.filter(train))
            except AuditlensError:
                continue
            out[name].append((fold, y_test.astype(np.float64), model.score(X_test)))
    return out


def intervals_by_user(
    X: pl.DataFrame, y: pl.Series, runs: dict[str, list[Any]], seed: int
) -> tuple[dict[str, Intervals], dict[str, Intervals]]:
    """Per model, 95% intervals of the pooled (user-day) and the user-level figures, by
    bootstrap over the tested users; the ensemble's include its calibration error."""
    pooled: dict[str, Intervals] = {}
    per_user: dict[str, Intervals] = {}
    for name, fold_runs in runs.items():
        if not fold_runs:
            continue
        who = np.concatenate(
            [X.filter(f.test_rows(X, y)).get_column(USER_ID).to_numpy() for f, _, _ in fold_runs]
        )
        truth = np.concatenate([t for _, t, _ in fold_runs])
        score = np.concatenate([s for _, _, s in fold_runs])
        prob = score if name == "ensemble" else None  # the ensemble's score is a probability
        pooled[name] = bootstrap_intervals(who, truth, score, probability=prob, seed=seed)
        best = (
            pl.DataFrame({"u": who, "t": truth, "s": score})
            .group_by("u")
            .agg(pl.col("t").max(), pl.col("s").max())
        )
        per_user[name] = bootstrap_intervals(best["u"], best["t"], best["s"], seed=seed)
    return pooled, per_user


def user_level_metrics(
    X: pl.DataFrame, y: pl.Series, runs: dict[str, list[Any]]
) -> dict[str, Metrics]:
    """Per model: each user's highest test score vs whether they had a positive window."""
    out: dict[str, Metrics] = {}
    for name, fold_runs in runs.items():
        frames = []
        for fold, truth, score in fold_runs:
            frames.append(
                X.filter(fold.test_rows(X, y))
                .select(USER_ID)
                .with_columns(pl.Series("t", truth), pl.Series("s", score))
            )
        if not frames:
            continue
        users = pl.concat(frames).group_by(USER_ID).agg(pl.col("t").max(), pl.col("s").max())
        out[name] = metrics(users["t"].to_numpy(), users["s"].to_numpy())
    return out
