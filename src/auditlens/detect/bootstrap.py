"""Confidence intervals for the evaluation figures, by bootstrap over *users*.

A person's windows are not independent draws (the same insider fills many of them), so
the resampling unit is the user: each resample draws as many users as were tested, with
replacement, keeps all their windows, and recomputes every figure. The 95% interval is
the 2.5th to 97.5th percentile of the resampled figures. Resamples that drew no positive
or no negative user measure nothing and are left out (``valid`` counts the rest).

Every resample is a row of multiplicities (how often each user was drawn), so a figure
over all resamples is one sort of the scores and a few cumulative sums over a
(resamples x windows) weight matrix, computed in blocks to bound memory.

Example::

    >>> import numpy as np
    >>> users = np.repeat(np.arange(40), 3)
    >>> y = (users < 8).astype(float)
    >>> s = y + np.random.default_rng(0).normal(0, 0.6, users.size)
    >>> ci = bootstrap_intervals(users, y, s, resamples=200, seed=1)
    >>> ci.resamples, ci.valid
    (200, 200)
    >>> bool(ci.roc_auc[0] < 0.85 < ci.roc_auc[1])
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
Interval = tuple[float, float]

#: Resamples by default: enough for stable 2.5/97.5 percentiles, fast (numpy, blocks).
RESAMPLES: Final = 1000
#: Cells of one block's weight matrix: 100 resamples x 20,000 windows x 8 bytes = 16 MB,
#: and a block holds about ten such matrices at once (sums, rates), so ~160 MB at most.
_BLOCK_CELLS: Final = 2_000_000
_NAN_INTERVAL: Final = (float("nan"), float("nan"))


@dataclass(frozen=True)
class Intervals:
    """95% percentile intervals of each figure over ``valid`` of ``resamples`` draws."""

    resamples: int
    valid: int
    roc_auc: Interval
    pr_auc: Interval
    detection_at_5pct_fpr: Interval
    detection_at_10pct_fpr: Interval
    precision_at_k: Interval
    ece: Interval | None = None

    def as_dict(self) -> dict[str, object]:
        """Plain dict for JSON: each figure as ``[low, high]``."""
        out: dict[str, object] = {"resamples": self.resamples, "valid": self.valid}
        for name in FIGURES:
            out[name] = list(getattr(self, name))
        out["ece"] = None if self.ece is None else list(self.ece)
        return out


FIGURES: Final = (
    "roc_auc",
    "pr_auc",
    "detection_at_5pct_fpr",
    "detection_at_10pct_fpr",
    "precision_at_k",
)


def bootstrap_intervals(
    users: npt.ArrayLike,
    truth: npt.ArrayLike,
    score: npt.ArrayLike,
    *,
    probability: npt.ArrayLike | None = None,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Intervals:
    """Intervals of ROC-AUC, PR-AUC, detection at 5%/10% FPR and precision@k (k = the
    resample's positives) of ``score`` against ``truth``, resampling the ``users`` the
    rows belong to; and of the calibration error when ``probability`` is given.

    The same ``seed`` draws the same resamples (the report can be reproduced).
    """
    _, user_index = np.unique(np.asarray(users), return_inverse=True)
    n_users = int(user_index.max()) + 1 if user_index.size else 0
    draws = (
        np.random.default_rng(seed)
        .multinomial(n_users, np.full(n_users, 1.0 / max(n_users, 1)), size=resamples)
        .astype(np.float64)
    )
    block = max(1, _BLOCK_CELLS // max(user_index.size, 1))
    parts = [
        resampled_figures(draws[start : start + block][:, user_index], truth, score, probability)
        for start in range(0, resamples, block)
    ]
    figures = np.concatenate(parts, axis=0)  # (resamples, 6): five figures and ECE
    valid = ~np.isnan(figures[:, 0])
    kept = figures[valid]

    def interval(column: int) -> Interval:
        if not kept.shape[0]:
            return _NAN_INTERVAL
        low, high = np.percentile(kept[:, column], [2.5, 97.5])
        return (float(low), float(high))

    return Intervals(
        resamples=resamples,
        valid=int(valid.sum()),
        roc_auc=interval(0),
        pr_auc=interval(1),
        detection_at_5pct_fpr=interval(2),
        detection_at_10pct_fpr=interval(3),
        precision_at_k=interval(4),
        ece=None if probability is None else interval(5),
    )


def resampled_figures(
    weights: F64, truth: npt.ArrayLike, score: npt.ArrayLike, probability: npt.ArrayLike | None
) -> F64:
    """ROC-AUC, PR-AUC, detection at 5%/10% FPR, precision@k and ECE (NaN without
    ``probability``) of each row of ``weights`` (resamples x windows: how often each
    window was drawn); NaN in a row that drew no positive or no negative.

    A row of ones gives the figures of the sample itself, as ``evaluation.metrics`` does.
    """
    y0 = np.asarray(truth, dtype=np.float64)
    s0 = np.asarray(score, dtype=np.float64)
    order = np.argsort(-s0, kind="stable")
    y, s, w = y0[order], s0[order], np.asarray(weights, dtype=np.float64)[:, order]
    # the last window of each run of tied scores: thresholds fall between distinct scores
    last_of_tie = np.append(s[1:] != s[:-1], True)
    prob = None if probability is None else np.asarray(probability, dtype=np.float64)[order]
    tp = np.cumsum(w * y, axis=1)
    total = np.cumsum(w, axis=1)
    positives, negatives = tp[:, -1:], total[:, -1:] - tp[:, -1:]
    measurable = (positives[:, 0] > 0) & (negatives[:, 0] > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tpr = (tp / positives)[:, last_of_tie]
        fpr = ((total - tp) / negatives)[:, last_of_tie]
        precision = (tp / total)[:, last_of_tie]
        # ROC-AUC: trapezoids from (0, 0) through each threshold
        tpr0 = np.concatenate([np.zeros((w.shape[0], 1)), tpr], axis=1)
        fpr0 = np.concatenate([np.zeros((w.shape[0], 1)), fpr], axis=1)
        roc = (np.diff(fpr0, axis=1) * (tpr0[:, 1:] + tpr0[:, :-1]) / 2).sum(axis=1)
        # average precision: recall steps weighted by the precision there (sklearn's AP)
        ap = (np.diff(tpr0, axis=1) * np.nan_to_num(precision)).sum(axis=1)
        det5 = np.where(fpr <= 0.05, tpr, 0.0).max(axis=1)
        det10 = np.where(fpr <= 0.10, tpr, 0.0).max(axis=1)
        # precision@k on the drawn sample, k = its positives: the windows whose copies
        # fill the first k places, the one crossing k counted in part
        k = positives[:, 0]
        before = total - w
        inside = np.clip(k[:, None] - before, 0.0, w)
        prec_k = (inside * y).sum(axis=1) / k
    ece = np.full(w.shape[0], np.nan) if prob is None else _ece(w, y, prob)
    out = np.stack([roc, ap, det5, det10, prec_k, ece], axis=1)
    out[~measurable] = np.nan
    return out


def _ece(w: F64, y: F64, prob: F64, bins: int = 10) -> F64:
    """Expected calibration error per resample (equal-width bins, weighted)."""
    p = np.clip(prob, 0.0, 1.0)
    which = np.clip(np.digitize(p, np.linspace(0.0, 1.0, bins + 1)[1:-1]), 0, bins - 1)
    onehot = np.zeros((p.size, bins))
    onehot[np.arange(p.size), which] = 1.0
    weight = w @ onehot
    gap = w @ (onehot * p[:, None]) - w @ (onehot * y[:, None])
    return np.asarray(np.abs(gap).sum(axis=1) / weight.sum(axis=1), dtype=np.float64)
