"""Risk 0-100, severity bands, decay over time and thresholds sized to reviewer capacity.

**Risk.** A window's detector score is turned into its *surprise* among the training
windows (-log10 of the share of training windows scoring at least as high; see
detect/surprise.py) and risk = 25 x surprise, capped at 100:

======  ===========================  ==========
risk    rarer than                   severity
======  ===========================  ==========
< 50    1 in 100 windows             low
50-75   1 in 100 .. 1 in 1,000       medium
75-90   1 in 1,000 .. 1 in ~4,000    high
>= 90   1 in ~4,000 (10^-3.6)        critical
======  ===========================  ==========

**Decay.** Per user, windows in date order accumulate *excess* surprise (above the
medium line, surprise 2) that halves every ``half_life_days``:
``A_t = A_prev * 0.5 ** (days_between / half_life) + max(0, s_t - 2)`` and the decayed
surprise is ``max(s_t, 2 + A_t)`` once anything accumulated. One bad day fades over a
few half-lives; the same pattern on several days adds up and climbs.

**Peaks.** ``user_peaks`` is the one definition of a user's peak day(s) (the incident).

**Capacity.** ``flag_top(users, k)`` flags the k riskiest users (by decayed risk) and
reports the score cut-off that implies, for teams that size alerts to reviewers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Self

import numpy as np
import numpy.typing as npt
import polars as pl

from auditlens.detect.base import Detector
from auditlens.detect.surprise import Surprise
from auditlens.features.base import WINDOW
from auditlens.schema import USER_ID
from auditlens.vocabulary import Severity as Severity  # re-exported: bands live here

POINTS_PER_DECADE: Final = 25.0
#: Lower risk bound of each band (risk >= bound).
SEVERITY_CUTOFFS: Final[dict[Severity, float]] = {
    Severity.MEDIUM: 50.0,
    Severity.HIGH: 75.0,
    Severity.CRITICAL: 90.0,
}
#: Surprise above which a window's excess accumulates (the medium line).
ACCUMULATE_ABOVE: Final = SEVERITY_CUTOFFS[Severity.MEDIUM] / POINTS_PER_DECADE


def severity(risk: float) -> Severity:
    """The band of a risk value."""
    band = Severity.LOW
    for name, bound in SEVERITY_CUTOFFS.items():
        if risk >= bound:
            band = name
    return band


def severity_expr(column: str) -> pl.Expr:
    """Vectorised :func:`severity` over a risk column."""
    return (
        pl.when(pl.col(column) >= SEVERITY_CUTOFFS[Severity.CRITICAL])
        .then(pl.lit(Severity.CRITICAL.value))
        .when(pl.col(column) >= SEVERITY_CUTOFFS[Severity.HIGH])
        .then(pl.lit(Severity.HIGH.value))
        .when(pl.col(column) >= SEVERITY_CUTOFFS[Severity.MEDIUM])
        .then(pl.lit(Severity.MEDIUM.value))
        .otherwise(pl.lit(Severity.LOW.value))
    )


def risk_from_surprise(surprise: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """25 points per factor of ten in rarity, 0..100."""
    return np.clip(np.asarray(surprise, dtype=np.float64) * POINTS_PER_DECADE, 0.0, 100.0)


class RiskScale:
    """Learned map from detector scores to risk 0-100 (a fitted Surprise)."""

    def fit(self, scores: npt.ArrayLike) -> Self:
        """Learn the training windows' score distribution."""
        self.surprise_ = Surprise().fit(scores)
        return self

    def surprise(self, scores: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Each score's surprise among the training windows."""
        return self.surprise_.transform(scores)


class RiskModel:
    """A detector together with the risk scale fitted on its training scores.

    The fitted pipeline (:mod:`auditlens.fitted`) holds one behind its feature sets;
    that pipeline is what ``auditlens run`` saves and the store refers to by sha256.
    """

    def __init__(self, detector: Detector) -> None:
        self.detector = detector

    def fit(self, X: pl.DataFrame) -> Self:
        """Fit the detector on ``X`` and the risk scale on its scores of ``X``."""
        self.fit_score(X)
        return self

    def fit_supervised(self, X: pl.DataFrame, y: pl.Series) -> Self:
        """Fit a detector that learns from labels (1/0/null) and the scale on all of X."""
        self.fit_score(X, y)
        return self

    def fit_score(
        self, X: pl.DataFrame, y: pl.Series | None = None
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """:meth:`fit` (:meth:`fit_supervised` with labels ``y``), returning
        :meth:`score` of ``X`` from the training scores fitting took (the detector
        scores ``X`` once)."""
        raw = self.detector.fit_score(X, y)
        self.scale_ = RiskScale().fit(raw)
        self.n_train_ = X.height
        return raw, self.scale_.surprise(raw)

    @property
    def feature_columns(self) -> list[str]:
        """Columns the detector was fitted on."""
        return list(self.detector.feature_columns_)

    def score(self, X: pl.DataFrame) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(raw detector score, surprise) per row of ``X``."""
        raw = self.detector.score(X)
        return raw, self.scale_.surprise(raw)


@dataclass(frozen=True)
class DecayPolicy:
    """How fast accumulated risk fades (days for it to halve)."""

    half_life_days: float = 7.0


@dataclass(frozen=True)
class RiskHistory:
    """What the scored windows so far leave for scoring later ones as a run over every
    window would: ``carry``, per user the accumulated excess after their last scored
    window (``_acc``) and that window (``_day``, days since 1970); ``peaks``, each user's
    peak-day rows (``user_id, window, decayed_risk``)."""

    carry: pl.DataFrame
    peaks: pl.DataFrame

    @staticmethod
    def empty() -> RiskHistory:
        """Before the first scored window."""
        return RiskHistory(
            pl.DataFrame(schema={USER_ID: pl.String, "_acc": pl.Float64, "_day": pl.Int32}),
            pl.DataFrame(schema={USER_ID: pl.String, WINDOW: pl.Date, "decayed_risk": pl.Float64}),
        )

    def after(self, windows: pl.DataFrame, half_life: float) -> RiskHistory:
        """The history once ``windows`` (score_windows' output from this one, every
        window later than its) are scored too."""
        users = windows.get_column(USER_ID).to_numpy()
        days = windows.get_column(WINDOW).cast(pl.Int32).to_numpy()
        s = windows.get_column("surprise").to_numpy()
        start = _carried(self)
        last: dict[str, tuple[float, int]] = {}
        _decay(users, days, s, half_life, start, last)
        carry = pl.DataFrame(
            {
                USER_ID: list(last),
                "_acc": [a for a, _ in last.values()],
                "_day": [d for _, d in last.values()],
            },
            schema=self.carry.schema,
        )
        carry = pl.concat([self.carry.join(carry, on=USER_ID, how="anti"), carry]).sort(USER_ID)
        peaks = peak_keys(user_peaks(self.with_peaks(windows))).join(
            pl.concat([self.peaks, windows.select(self.peaks.columns)]),
            on=[USER_ID, WINDOW],
        )
        return RiskHistory(carry, peaks.sort(USER_ID, WINDOW))

    def with_peaks(self, windows: pl.DataFrame) -> pl.DataFrame:
        """``windows`` (user_id, window, decayed_risk, ...) and the earlier peak days:
        what user_peaks needs to find every user's peak over all windows."""
        return pl.concat([self.peaks, windows.select(self.peaks.columns)])


def _carried(history: RiskHistory | None) -> dict[str, tuple[float, int]]:
    if history is None or history.carry.height == 0:
        return {}
    return {u: (a, d) for u, a, d in history.carry.iter_rows()}


def score_windows(
    keys: pl.DataFrame,
    surprise: npt.ArrayLike,
    decay: DecayPolicy = DecayPolicy(),
    history: RiskHistory | None = None,
) -> pl.DataFrame:
    """Risk, decayed risk and severity per (user_id, window).

    Args:
        keys: ``user_id, window`` of each scored row.
        surprise: each row's surprise (RiskScale.surprise of the detector score).
        decay: the half-life of accumulated risk.
        history: what earlier windows left (their accumulated excess), every key later
            than them; None = the keys start each user's history.

    Returns:
        keys, ``surprise``, ``risk``, ``decayed_risk``, ``severity`` (of decayed risk),
        sorted by user and window.
    """
    frame = (
        keys.select(USER_ID, WINDOW)
        .with_columns(pl.Series("surprise", np.asarray(surprise, dtype=np.float64)))
        .sort(USER_ID, WINDOW)
    )
    users = frame.get_column(USER_ID).to_numpy()
    days = frame.get_column(WINDOW).cast(pl.Int32).to_numpy()
    s = frame.get_column("surprise").to_numpy()
    decayed = _decay(users, days, s, decay.half_life_days, _carried(history))
    return frame.with_columns(
        pl.Series("risk", risk_from_surprise(s)),
        pl.Series("decayed_risk", risk_from_surprise(decayed)),
    ).with_columns(severity_expr("decayed_risk").alias("severity"))


def _decay(
    users: npt.NDArray[np.object_],
    days: npt.NDArray[np.int32],
    s: npt.NDArray[np.float64],
    half_life: float,
    start: dict[str, tuple[float, int]] | None = None,
    last: dict[str, tuple[float, int]] | None = None,
) -> npt.NDArray[np.float64]:
    """Decayed surprise of rows sorted by user and day; ``start``: each user's
    accumulated excess and day before these rows; ``last`` is filled with them after."""
    out = s.copy()
    start = start or {}
    acc, prev_user, prev_day = 0.0, None, 0
    for i in range(s.size):
        if users[i] != prev_user:
            if prev_user is not None and last is not None:
                last[prev_user] = (acc, prev_day)
            prev_user = users[i]
            acc, before = start.get(prev_user, (0.0, None))
            if before is not None:  # as if the earlier windows had come in this loop
                acc *= 0.5 ** ((int(days[i]) - before) / half_life)
        else:
            acc *= 0.5 ** ((int(days[i]) - prev_day) / half_life)
        acc += max(0.0, float(s[i]) - ACCUMULATE_ABOVE)
        prev_day = int(days[i])
        if acc > 0:
            out[i] = max(float(s[i]), ACCUMULATE_ABOVE + acc)
    if prev_user is not None and last is not None:
        last[prev_user] = (acc, prev_day)
    return out


def user_peaks(windows: pl.DataFrame) -> pl.DataFrame:
    """One row per user: their peak — the one definition of "a user's peak day".

    ``risk_score`` is the user's *maximum decayed risk* over the windows given, so a user
    whose risk peaked mid-period is not hidden by quiet days after it. Risk is capped at
    100 and decay carries a bad day's excess into the following days, so several days
    often tie at the maximum: ``peak_windows`` lists every tied day (the *incident*, in
    date order) and ``peak_window`` is the first of them — the day the peak was reached.
    The run's output, its alerts, ``explain`` and reports all take the peak from here.

    Args:
        windows: ``user_id``, ``window`` and ``decayed_risk`` per scored window (computed
            or as stored).

    Returns:
        ``user_id, risk_score, peak_window, peak_windows, severity``, riskiest first
        (ties by user id).
    """
    return (
        windows.select(USER_ID, WINDOW, "decayed_risk")
        .filter(pl.col("decayed_risk") == pl.col("decayed_risk").max().over(USER_ID))
        .group_by(USER_ID)
        .agg(
            pl.col("decayed_risk").first().alias("risk_score"),
            pl.col(WINDOW).unique().sort().alias("peak_windows"),
        )
        .with_columns(pl.col("peak_windows").list.first().alias("peak_window"))
        .with_columns(severity_expr("risk_score").alias("severity"))
        .select(USER_ID, "risk_score", "peak_window", "peak_windows", "severity")
        .sort("risk_score", USER_ID, descending=[True, False])
    )


def peak_keys(peaks: pl.DataFrame) -> pl.DataFrame:
    """``user_id, window`` of every day of every user's peak incident (from user_peaks)."""
    return peaks.select(USER_ID, pl.col("peak_windows").alias(WINDOW)).explode(WINDOW)


@dataclass(frozen=True)
class CapacityCut:
    """The result of sizing the flagged set to reviewer capacity."""

    flagged: pl.DataFrame
    cutoff: float
    capacity: int


def flag_top(users: pl.DataFrame, capacity: int, min_risk: float = 0.0) -> CapacityCut:
    """Flag the ``capacity`` riskiest users (ties at the cut-off by user id).

    ``cutoff`` is the lowest flagged risk: "reviewing 20 a week means reviewing
    everyone at risk >= cutoff". ``min_risk`` additionally drops users below it.
    """
    ranked = users.filter(pl.col("risk_score") >= min_risk).sort(
        "risk_score", USER_ID, descending=[True, False]
    )
    flagged = ranked.head(max(capacity, 0))
    cutoff = float(flagged.get_column("risk_score").min()) if flagged.height else 100.0  # type: ignore[arg-type]
    return CapacityCut(flagged=flagged, cutoff=cutoff, capacity=capacity)
