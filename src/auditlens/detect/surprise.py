"""Surprise: how rare a score is among the scores seen in training, as -log10(tail prob).

surprise 1 = one in ten, 2 = one in a hundred, 3 = one in a thousand. Up to the 99th
percentile the empirical distribution is used (a 400-point quantile grid, so saving it
is small whatever the training size); beyond it an exponential tail fitted to the
excesses over the 99th percentile (peaks over threshold), so rarer-than-ever-seen values
keep growing smoothly instead of all sharing the largest rank.
"""

from __future__ import annotations

from typing import Final, Self

import numpy as np
import numpy.typing as npt

TAIL_START: Final = 0.01  # tail probability where the exponential tail takes over
MAX_SURPRISE: Final = 8.0


class Surprise:
    """Fit on 1-D training scores; ``transform`` maps scores to -log10 P(X >= score)."""

    def __init__(self, grid: int = 400) -> None:
        self.grid = grid

    def fit(self, scores: npt.ArrayLike) -> Self:
        """Learn the distribution of ``scores`` (higher = rarer)."""
        values = np.asarray(scores, dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size == 0:
            values = np.zeros(1)
        # tail probabilities 1 .. TAIL_START, log-spaced, and the matching quantiles
        self.p_ = np.logspace(0.0, np.log10(TAIL_START), self.grid)
        self.v_ = np.quantile(values, 1.0 - self.p_, method="inverted_cdf")
        self.threshold_ = float(self.v_[-1])
        excess = values[values > self.threshold_] - self.threshold_
        self.tail_scale_ = float(excess.mean()) if excess.size else 0.0
        return self

    def transform(self, scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """-log10 of each score's tail probability, 0 (common) .. MAX_SURPRISE."""
        x = np.asarray(scores, dtype=np.float64)
        # P(X >= x) on the grid: the largest grid probability whose quantile is >= x
        idx = np.searchsorted(self.v_, x, side="left")
        p = self.p_[np.minimum(idx, self.p_.size - 1)]
        above = x > self.threshold_
        if self.tail_scale_ > 0:
            # only scores above the threshold take the tail; the others' exponents are
            # held at 0 (far below it, with a small scale, exp would overflow: a warning
            # in every run, the result thrown away)
            excess = np.maximum(x - self.threshold_, 0.0)
            tail = TAIL_START * np.exp(-excess / self.tail_scale_)
        else:  # nothing above the threshold in training: anything above is off the scale
            tail = np.zeros_like(x)
        p = np.where(above, np.minimum(tail, TAIL_START), p)
        with np.errstate(divide="ignore"):
            out = -np.log10(p)
        clipped: npt.NDArray[np.float64] = np.clip(
            np.nan_to_num(out, nan=0.0, posinf=MAX_SURPRISE), 0.0, MAX_SURPRISE
        )
        return clipped
