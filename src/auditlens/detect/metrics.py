"""Detection quality at user level: ROC-AUC, PR-AUC, detection rate at a false-positive
rate, precision at k."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from auditlens.detect.bootstrap import Intervals, bootstrap_intervals
from auditlens.detect.labels import MIN_POSITIVE_USERS
from auditlens.errors import AuditlensError


@dataclass(frozen=True)
class UserMetrics:
    """How well a per-user score separates labelled insiders from everyone else."""

    users: int
    insiders: int
    roc_auc: float
    pr_auc: float
    detection_at_5pct_fpr: float
    detection_at_10pct_fpr: float
    precision_at_k: float
    k: int
    intervals: Intervals | None = None

    @property
    def small_sample(self) -> bool:
        """Fewer labelled insiders than the documented minimum: the figures mean little."""
        return self.insiders < MIN_POSITIVE_USERS

    def as_dict(self) -> dict[str, object]:
        """Plain dict (for JSON and printing); intervals as ``[low, high]`` per figure."""
        out: dict[str, object] = asdict(self)
        out["intervals"] = None if self.intervals is None else self.intervals.as_dict()
        return out


def user_metrics(scores: pl.DataFrame, insiders: Collection[str], *, seed: int = 0) -> UserMetrics:
    """Metrics of ``scores`` (``user_id, risk_score``) against the labelled ``insiders``.

    ``k`` is the number of labelled insiders among the scored users; detection at x% FPR
    is the share of insiders caught by the best threshold that flags at most x% of the
    other users; ``intervals`` are 95% bootstrap intervals over users (``seed``). Raises
    AuditlensError when the labels name no scored user, or all.
    """
    truth = scores.get_column("user_id").is_in(list(insiders)).to_numpy()
    score = scores.get_column("risk_score").cast(pl.Float64).to_numpy()
    positives = int(truth.sum())
    if positives == 0 or positives == truth.size:
        raise AuditlensError(
            f"labels name {positives} of {truth.size} scored users: metrics need both "
            "insiders and others",
            hint="check that the labels' user ids match the events' user_id",
            ko=f"라벨이 점수가 있는 사용자 {truth.size}명 중 {positives}명을 지목합니다: "
            "지표를 계산하려면 내부자와 그 밖의 사용자가 모두 있어야 합니다",
            ko_hint="라벨의 사용자 ID가 이벤트의 user_id와 일치하는지 확인하십시오",
        )
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(truth, score, drop_intermediate=False)  # every threshold counts
    order = np.lexsort((scores.get_column("user_id").to_numpy(), -score))
    top_k = truth[order][:positives]
    return UserMetrics(
        users=int(truth.size),
        insiders=positives,
        roc_auc=float(roc_auc_score(truth, score)),
        pr_auc=float(average_precision_score(truth, score)),
        detection_at_5pct_fpr=float(tpr[fpr <= 0.05].max()),
        detection_at_10pct_fpr=float(tpr[fpr <= 0.10].max()),
        precision_at_k=float(top_k.mean()),
        k=positives,
        intervals=bootstrap_intervals(
            scores.get_column("user_id").to_numpy(), truth, score, seed=seed
        ),
    )
