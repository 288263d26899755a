"""Drift: how far a run's windows moved from the model's training reference.

Three kinds of measure (docs/monitoring.md, *Drift*):

* **feature** — per feature column, the population stability index (PSI) and the
  two-sample Kolmogorov-Smirnov statistic and p-value (``scipy.stats.ks_2samp``'s; for
  large samples its asymptotic p-value worked out in :mod:`auditlens.monitor.pvalues`)
  between the reference rows and the run's new windows;
* **score** — the same two numbers for the risk 0-100 (before decay) of those rows;
* **alert rate** — the share of the run's new windows whose risk is at or above the alert
  line (``alert_min_severity``'s band) against the same share among the training rows
  (kept in the reference), as a ratio, with a two-sided exact binomial test
  (``scipy.stats.binomtest``'s p-value, from :mod:`auditlens.monitor.pvalues`).

PSI bins come from the reference: a feature with at most :data:`DISCRETE_VALUES` distinct
values (binary, small counts, a constant) gets one bin per value plus one for values the
reference never had; any other gets the reference's deciles as right-closed bins open at
both ends (so a zero-inflated feature keeps its zeros apart). Every bin count gets
:data:`PSEUDO_COUNT` added first, so an empty bin gives a finite PSI.

A feature or the score has **drifted** when its PSI reaches ``drift_psi`` or its KS
statistic reaches ``drift_ks`` *and* the KS p-value is below :data:`ALPHA` divided by the
number of measures (Bonferroni): with few windows both effect sizes are noisy, with many
every small shift is significant; asking for both keeps either from alerting alone. The
alert rate has drifted when the ratio reaches ``drift_alert_rate`` (or falls to its
inverse) and the binomial p-value is below :data:`ALPHA`. Fewer than ``drift_min_rows``
windows: nothing is measured.

Example::

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> same = psi(rng.normal(size=5000), rng.normal(size=500))
    >>> moved = psi(rng.normal(size=5000), rng.normal(1.0, size=500))
    >>> same < 0.1 < 0.2 < moved
    True
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from auditlens.config import MonitoringConfig
from auditlens.monitor.pvalues import binomial_two_sided, kolmogorov_sf
from auditlens.store.drift import ALERT_RATE, FEATURE, SCORE, DriftRow, expected_rate

#: Quantile bins of a continuous feature.
BINS: Final = 10
#: A feature with this many distinct reference values or fewer is binned per value.
DISCRETE_VALUES: Final = 10
#: Added to every bin's count before shares are taken (no empty bin, no infinite PSI).
PSEUDO_COUNT: Final = 0.5
#: Family-wise significance a drifted measure must also reach.
ALPHA: Final = 0.01
#: ``name`` of the score measure.
RISK: Final = "risk"

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Bins:
    """The bins PSI compared: a label per bin and each side's share in it."""

    labels: tuple[str, ...]
    reference: tuple[float, ...]
    current: tuple[float, ...]

    @property
    def psi(self) -> float:
        """Population stability index: sum of (current - reference) x ln(current/reference)."""
        ref = np.asarray(self.reference)
        cur = np.asarray(self.current)
        return float(np.sum((cur - ref) * np.log(cur / ref)))


@dataclass(frozen=True)
class Rows:
    """Rows to compare: feature values (one column per name, NaN = missing) and risk."""

    columns: tuple[str, ...]
    values: Floats
    risk: Floats


@dataclass(frozen=True)
class Measured:
    """Every measure of one comparison and the bins behind each PSI (by name)."""

    rows: tuple[DriftRow, ...]
    bins: dict[str, Bins]


def bins(reference: npt.ArrayLike, current: npt.ArrayLike, n_bins: int = BINS) -> Bins:
    """The shares of ``reference`` and ``current`` (finite values) in bins from the
    reference (see the module's docstring)."""
    ref = _finite(reference)
    return _bins(ref, np.sort(ref), np.sort(_finite(current)), n_bins)


def _bins(ref: Floats, ref_sorted: Floats, cur_sorted: Floats, n_bins: int = BINS) -> Bins:
    """:func:`bins` of finite values: ``ref`` as given (its distinct values and deciles
    are taken from it) and both sides sorted (each bin's count is where its bounds fall
    in them)."""
    distinct = np.unique(ref)
    if distinct.size <= DISCRETE_VALUES:
        ref_counts = _value_counts(ref_sorted, distinct)
        cur_counts = _value_counts(cur_sorted, distinct)
        labels = [f"= {_num(v)}" for v in distinct] + ["other"]
    else:
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, n_bins + 1)[1:-1]))
        ref_counts = _bin_counts(ref_sorted, edges)
        cur_counts = _bin_counts(cur_sorted, edges)
        labels = [f"≤ {_num(edges[0])}"]
        labels += [f"{_num(lo)} - {_num(hi)}" for lo, hi in itertools.pairwise(edges)]
        labels.append(f"> {_num(edges[-1])}")
    return Bins(tuple(labels), _shares(ref_counts), _shares(cur_counts))


def psi(reference: npt.ArrayLike, current: npt.ArrayLike, n_bins: int = BINS) -> float:
    """The population stability index of ``current`` against ``reference``."""
    return bins(reference, current, n_bins).psi


#: Above this many (reference, current) pairs the KS p-value is the asymptotic one.
_EXACT_PAIRS: Final = 1_000_000


def ks(reference: npt.ArrayLike, current: npt.ArrayLike) -> tuple[float, float]:
    """The two-sample Kolmogorov-Smirnov statistic and its p-value (finite values)."""
    ref = _finite(reference)
    cur = _finite(current)
    return _ks(ref, cur, np.sort(ref), np.sort(cur))


def _ks(ref: Floats, cur: Floats, ref_sorted: Floats, cur_sorted: Floats) -> tuple[float, float]:
    """:func:`ks` of finite values, given also sorted."""
    if ref.size == 0 or cur.size == 0:
        return 0.0, 1.0
    # exact p-values cost O(n·m) (0.7 s over 43 columns of a 5,000-window day against a
    # 10,000-row baseline); beyond a million pairs the asymptotic one is as good
    if ref.size * cur.size > _EXACT_PAIRS:
        return _ks_asymptotic(ref_sorted, cur_sorted)
    from scipy import stats  # here: store commands that never measure drift skip its import

    found = stats.ks_2samp(ref, cur, method="exact")
    return float(found.statistic), float(found.pvalue)


def _ks_asymptotic(ref: Floats, cur: Floats) -> tuple[float, float]:
    """``scipy.stats.ks_2samp(ref, cur, method="asymp")`` of sorted finite samples: the
    same statistic, and its p-value (SciPy's ``kstwo`` survival function at the
    effective sample size) from :func:`~auditlens.monitor.pvalues.kolmogorov_sf`, within
    1e-8 of SciPy's, without importing ``scipy.stats`` (0.4-0.6 CPU-s of a fresh run);
    SciPy's own only for an effective sample of 140 or fewer.

    The statistic is the largest difference of the two empirical CDFs over every value
    of either sample; scipy looks each value up in both samples, here one stable merge
    of the two sorted samples counts them (the same differences, half the time).
    """
    both = np.concatenate([ref, cur])
    order = np.argsort(both, kind="stable")  # two sorted runs: one merge
    values = both[order]
    ref_at_or_below = np.cumsum(order < ref.size)
    cur_at_or_below = np.arange(1, both.size + 1) - ref_at_or_below
    last = np.append(values[1:] != values[:-1], True)  # the last of each equal value
    diffs = ref_at_or_below[last] / ref.size - cur_at_or_below[last] / cur.size
    below = np.clip(-diffs.min(), 0, 1)
    above = diffs.max()
    statistic = below if below > above else above
    m, n = sorted([float(ref.size), float(cur.size)], reverse=True)
    effective = round(m * n / (m + n))
    p_value = kolmogorov_sf(effective, float(statistic))
    if p_value is None:  # a small effective sample: SciPy's exact methods
        from scipy import stats

        p_value = float(np.clip(stats.kstwo.sf(statistic, effective), 0, 1))
    return float(statistic), p_value


def measure(
    reference: Rows,
    current: Rows,
    *,
    reference_rate: float,
    alert_line: float,
    model_sha256: str,
    settings: MonitoringConfig,
) -> Measured:
    """Every feature of ``reference`` (by name; a column ``current`` lacks is skipped),
    the score and the alert rate (``alert_line``: the lowest risk that alerts;
    ``reference_rate``: the share of training rows at or above it).

    The caller checks ``drift_min_rows`` (a run below it is not measured).
    """
    positions = {name: i for i, name in enumerate(current.columns)}
    names = [name for name in reference.columns if name in positions]
    alpha = ALPHA / (len(names) + 1)
    rows: list[DriftRow] = []
    found: dict[str, Bins] = {}
    for i, name in enumerate(reference.columns):
        if name not in positions:
            continue
        ref = reference.values[:, i]
        cur = current.values[:, positions[name]]
        row, binned = _compare(FEATURE, name, ref, cur, alpha, model_sha256, settings)
        rows.append(row)
        found[name] = binned
    row, binned = _compare(SCORE, RISK, reference.risk, current.risk, alpha, model_sha256, settings)
    rows.append(row)
    found[RISK] = binned
    rows.append(
        alert_rate(
            reference_rate,
            reference.risk.size,
            int(np.sum(current.risk >= alert_line)),
            current.risk.size,
            model_sha256=model_sha256,
            ratio=settings.drift_alert_rate,
        )
    )
    return Measured(tuple(rows), found)


def alert_rate(
    reference_rate: float,
    reference_n: int,
    flagged: int,
    n: int,
    *,
    model_sha256: str,
    ratio: float,
) -> DriftRow:
    """The alert-rate measure: ``flagged`` of ``n`` windows against ``reference_rate``
    (a share of ``reference_n`` rows; a zero share counts as half a row, so the ratio
    stays finite). Drifted: the ratio reaches ``ratio`` or 1/``ratio`` and the binomial
    p-value is below :data:`ALPHA`."""
    expected = expected_rate(reference_rate, reference_n)
    current = flagged / n if n else 0.0
    p_value = binomial_two_sided(flagged, n, expected) if n else 1.0
    change = current / expected
    drifted = (change >= ratio or change <= 1.0 / ratio) and p_value < ALPHA
    return DriftRow(
        model_sha256=model_sha256,
        kind=ALERT_RATE,
        name=ALERT_RATE,
        psi=None,
        ks=None,
        ks_pvalue=p_value,
        reference_value=reference_rate,
        current_value=current,
        reference_n=reference_n,
        current_n=n,
        drifted=bool(drifted),
    )


def _compare(
    kind: str,
    name: str,
    ref: Floats,
    cur: Floats,
    alpha: float,
    model_sha256: str,
    settings: MonitoringConfig,
) -> tuple[DriftRow, Bins]:
    ref, cur = _finite(ref), _finite(cur)
    ref_sorted, cur_sorted = np.sort(ref), np.sort(cur)  # one sort each: bins and KS
    binned = _bins(ref, ref_sorted, cur_sorted)
    index = binned.psi
    statistic, p_value = _ks(ref, cur, ref_sorted, cur_sorted)
    large = index >= settings.drift_psi or statistic >= settings.drift_ks
    row = DriftRow(
        model_sha256=model_sha256,
        kind=kind,
        name=name,
        psi=index,
        ks=statistic,
        ks_pvalue=p_value,
        reference_value=_mean(ref),
        current_value=_mean(cur),
        reference_n=ref.size,
        current_n=cur.size,
        drifted=bool(large and p_value < alpha),
    )
    return row, binned


def _finite(values: npt.ArrayLike) -> Floats:
    array = np.asarray(values, dtype=np.float64).ravel()
    finite: Floats = array[np.isfinite(array)]
    return finite


def _mean(finite: Floats) -> float | None:
    return float(finite.mean()) if finite.size else None


def _value_counts(ordered: Floats, distinct: Floats) -> npt.NDArray[np.int64]:
    """Counts per distinct reference value, then of every other value (``ordered``:
    the values sorted)."""
    counts = np.searchsorted(ordered, distinct, side="right")
    counts -= np.searchsorted(ordered, distinct, side="left")
    return np.append(counts, ordered.size - int(counts.sum())).astype(np.int64)


def _bin_counts(ordered: Floats, edges: Floats) -> npt.NDArray[np.int64]:
    """Counts in the right-closed bins ``(-inf, edges[0]], (edges[0], edges[1]], ...,
    (edges[-1], inf)`` (``ordered``: the values sorted)."""
    at_or_below = np.searchsorted(ordered, edges, side="right")
    counts: npt.NDArray[np.int64] = np.diff(at_or_below, prepend=0, append=ordered.size)
    return counts


def _shares(counts: npt.ArrayLike) -> tuple[float, ...]:
    smoothed = np.asarray(counts, dtype=np.float64) + PSEUDO_COUNT
    return tuple(float(v) for v in smoothed / smoothed.sum())


def _num(value: float) -> str:
    return f"{value:.3g}"
