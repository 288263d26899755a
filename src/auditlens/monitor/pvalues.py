"""P-values drift needs, in numpy: the two-sided one-sample Kolmogorov-Smirnov survival
function for large samples and the exact two-sided binomial test.

A daily ``auditlens run`` measures drift in a fresh process; ``scipy.stats`` (and
``scipy.special`` under it) were imported for these two numbers alone, 0.6 CPU-s of a
run whose work is ~1.4 (issue 17). Both are worked out here from their published
formulas, with SciPy as the tests' oracle (tests/monitor/test_pvalues.py):

* :func:`kolmogorov_sf` — ``P(D_n >= x)``, what ``scipy.stats.kstwo.sf(x, n)`` gives and
  ``ks_2samp(method="asymp")`` uses with ``n = round(m·n / (m + n))``. Above
  :data:`MIN_N` by the methods Simard & L'Ecuyer (2011, "Computing the two-sided
  Kolmogorov-Smirnov distribution") recommend per region of (n, x): Ruben & Gambino's
  closed forms at the ends; twice the one-sided tail (Smirnov's, the Birnbaum-Tingey
  sum) where that is exact to double precision (``n x² >= 2.2`` and ``x >= 0.5``) — the
  small p-values drift decides on; else one minus the CDF, by Durbin's matrix
  (Marsaglia, Tsang & Wang 2003) where the matrix is small (``n x^1.5 <= 1.4``) and by
  Pelz & Good's asymptotic series otherwise. Equal to SciPy's within 1e-8 relative
  (closer below n = 100,000). None at
  or below :data:`MIN_N` (the caller asks SciPy: exact methods for small n).
* :func:`binomial_two_sided` — ``scipy.stats.binomtest(k, n, p).pvalue``: the
  probability of every outcome at most as likely as ``k`` (a relative tolerance of
  1e-7 counts ties as SciPy does), summed from the log-probabilities.

Example::

    >>> round(kolmogorov_sf(1000, 0.05), 6)  # P(D_1000 >= 0.05)
    0.013012
    >>> round(binomial_two_sided(60, 2000, 0.01), 12) < 1e-9  # 3% where 1% is expected
    True
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

#: At or below this many (effective) observations :func:`kolmogorov_sf` gives None:
#: the exact methods for small samples are SciPy's to run.
MIN_N: Final = 140
#: Ties in :func:`binomial_two_sided`: outcomes this close (relatively) to the observed
#: one's probability count as at most as likely (SciPy's ``binomtest`` tolerance).
_TIE: Final = 1.0 + 1e-7
#: Terms of the Pelz-Good series' theta sums (exp(-pi² k² / 2z²) below double precision
#: long before, for the z where the series is used).
_TERMS: Final = 40
_SQRT_HALF_PI: Final = math.sqrt(math.pi / 2.0)

Floats = npt.NDArray[np.float64]


def kolmogorov_sf(n: int, x: float) -> float | None:
    """``P(D_n >= x)`` for the two-sided one-sample KS statistic of ``n`` observations
    (None when ``n <= MIN_N``: ask SciPy)."""
    if n <= MIN_N:
        return None
    if x >= 1.0:
        return 0.0
    if x <= 0.0:
        return 1.0
    t = n * x
    if t <= 1.0:  # Ruben-Gambino: 1/2n <= x <= 1/n
        if t <= 0.5:
            return 1.0
        return _clip(1.0 - math.exp(_log_factorial_over_power(n) + n * math.log(2.0 * t - 1.0)))
    if t >= n - 1:  # Ruben-Gambino
        return _clip(2.0 * (1.0 - x) ** n)
    if x >= 0.5:
        return _clip(2.0 * smirnov_sf(n, x))
    nxx = t * x
    if nxx >= 370.0:
        return 0.0
    if nxx >= 2.2:  # twice the one-sided tail: the two tails' overlap is below precision
        return _clip(2.0 * smirnov_sf(n, x))
    if n <= 100_000 and n * x**1.5 <= 1.4:
        cdf = durbin_cdf(n, x)
    else:
        cdf = pelz_good_cdf(n, x)
    return _clip(1.0 - cdf)


def smirnov_sf(n: int, x: float) -> float:
    """``P(D_n^+ >= x)``, the one-sided KS tail, by the Birnbaum-Tingey sum
    ``x · Σ_j C(n, j) (1 - x - j/n)^(n-j) (x + j/n)^(j-1)``, j = 0 .. floor(n (1 - x)),
    added in logs (every term is positive)."""
    if x <= 0.0:
        return 1.0
    if x >= 1.0:
        return 0.0
    top = math.floor(n * (1.0 - x))
    j = np.arange(top + 1, dtype=np.float64)
    log_choose = _log_choose(n, top)
    with np.errstate(divide="ignore"):  # (1 - x - j/n) = 0 at the last j: a zero term
        terms = log_choose + (n - j) * np.log1p(-x - j / n) + (j - 1.0) * np.log(x + j / n)
    peak = float(terms.max())
    return x * math.exp(peak) * float(np.exp(terms - peak).sum())


def durbin_cdf(n: int, x: float) -> float:
    """``P(D_n < x)`` exactly: ``n!/n^n`` times the middle entry of ``H^n``, H the
    (2k-1)-square matrix of Durbin's method, ``k = floor(n x) + 1`` (Marsaglia, Tsang &
    Wang 2003); the power by squaring, each product scaled by a power of two, kept as an
    exponent."""
    k = math.floor(n * x) + 1
    m = 2 * k - 1
    h = k - n * x
    i, j = np.indices((m, m))
    gap = i - j + 1
    matrix = (gap >= 0).astype(np.float64)
    powers = h ** np.arange(1, m + 1, dtype=np.float64)
    matrix[:, 0] -= powers
    matrix[m - 1, :] -= powers[::-1]
    if 2.0 * h - 1.0 > 0.0:
        matrix[m - 1, 0] += (2.0 * h - 1.0) ** m
    factorials = np.array([math.factorial(g) for g in range(m + 1)], dtype=np.float64)
    matrix = np.where(gap > 0, matrix / factorials[np.clip(gap, 0, m)], matrix)
    power, exponent = _matrix_power(matrix, n)
    middle = power[k - 1, k - 1]
    if middle <= 0.0:
        return 0.0
    log_cdf = math.log(middle) + exponent * math.log(2.0) + _log_factorial_over_power(n)
    return min(math.exp(log_cdf), 1.0)


def _matrix_power(matrix: Floats, n: int) -> tuple[Floats, int]:
    """``matrix^n`` as (scaled matrix, e): the power is the matrix times 2^e."""
    result: Floats | None = None
    result_exp = 0
    base, base_exp = matrix, 0
    while n:
        if n & 1:
            if result is None:
                result, result_exp = base.copy(), base_exp
            else:
                result, shift = _scaled(result @ base)
                result_exp += base_exp + shift
        n >>= 1
        if n:
            base, shift = _scaled(base @ base)
            base_exp = 2 * base_exp + shift
    assert result is not None  # noqa: S101 - n >= 1
    return result, result_exp


def _scaled(matrix: Floats) -> tuple[Floats, int]:
    """``matrix`` divided by the power of two nearest its largest entry, and that power."""
    largest = float(np.abs(matrix).max())
    if largest == 0.0 or not math.isfinite(largest):
        return matrix, 0
    shift = math.frexp(largest)[1]
    return np.ldexp(matrix, -shift), shift


def pelz_good_cdf(n: int, x: float) -> float:
    """``P(D_n < x)`` by Pelz & Good's (1976) expansion in powers of ``1/sqrt(n)``,
    ``z = x sqrt(n)``: K0(z) + K1/√n + K2/n + K3/n^1.5 (the theta sums truncated at
    :data:`_TERMS` terms)."""
    z = x * math.sqrt(n)
    z2, z4, z6, z8 = z * z, z**4, z**6, z**8
    half = (np.arange(_TERMS, dtype=np.float64) + 0.5) ** 2 * math.pi**2  # pi² (k + 1/2)²
    whole = np.arange(1, _TERMS + 1, dtype=np.float64) ** 2 * math.pi**2  # pi² k²
    e_half = np.exp(-half / (2.0 * z2))
    e_whole = np.exp(-whole / (2.0 * z2))
    k0 = math.sqrt(2.0 * math.pi) / z * float(e_half.sum())
    k1 = _SQRT_HALF_PI / (3.0 * z4) * float(((half - z2) * e_half).sum())
    k2_half = (6.0 * z6 + 2.0 * z4) + half * (2.0 * z4 - 5.0 * z2) + half**2 * (1.0 - 2.0 * z2)
    k2 = _SQRT_HALF_PI * (
        float((k2_half * e_half).sum()) / (36.0 * z**7)
        - float((whole * e_whole).sum()) / (18.0 * z**3)
    )
    k3_half = (
        half**3 * (5.0 - 30.0 * z2)
        + half**2 * (-60.0 * z2 + 212.0 * z4)
        + half * (135.0 * z4 - 96.0 * z6)
        - 30.0 * z6
        - 90.0 * z8
    )
    k3 = _SQRT_HALF_PI * (
        float((k3_half * e_half).sum()) / (3240.0 * z**10)
        + float(((3.0 * whole * z2 - whole**2) * e_whole).sum()) / (108.0 * z6)
    )
    root = math.sqrt(n)
    return min(max(k0 + k1 / root + k2 / n + k3 / (n * root), 0.0), 1.0)


def binomial_two_sided(k: int, n: int, p: float) -> float:
    """The exact two-sided binomial p-value of ``k`` successes in ``n`` trials of
    probability ``p``: the summed probability of every outcome no more
    likely than ``k`` (SciPy's ``binomtest``, its tolerance for ties)."""
    if not 0 <= k <= n or not 0.0 <= p <= 1.0:
        raise ValueError(f"need 0 <= k <= n and 0 <= p <= 1, got k={k}, n={n}, p={p}")
    if k == n * p:
        return 1.0
    if p in (0.0, 1.0):  # one outcome is certain and k is not it
        return 0.0
    log_pmf = _binomial_log_pmf(n, p)
    pmf = np.exp(log_pmf)
    observed = pmf[k] * _TIE
    mean = n * p
    # the outcomes on k's side of the mean are all less likely than k (unimodal); on the
    # other side those at most as likely as k
    own = pmf[: k + 1] if k < mean else pmf[k:]
    other = pmf[math.ceil(mean) :] if k < mean else pmf[: math.floor(mean) + 1]
    total = float(own.sum()) + float(other[other <= observed].sum())
    return min(total, 1.0)


def _binomial_log_pmf(n: int, p: float) -> Floats:
    """log P(X = i), i = 0 .. n, X ~ Binomial(n, p)."""
    whole = np.arange(n + 1, dtype=np.float64)
    out: Floats = _log_choose(n, n) + whole * math.log(p) + (n - whole) * math.log1p(-p)
    return out


def _log_choose(n: int, top: int) -> Floats:
    """log C(n, j) for j = 0 .. ``top``, by its running sum of log((n - j + 1) / j)."""
    j = np.arange(1, top + 1, dtype=np.float64)
    out: Floats = np.zeros(top + 1)
    np.cumsum(np.log(n - j + 1.0) - np.log(j), out=out[1:])
    return out


def _log_factorial_over_power(n: int) -> float:
    """log(n! / n^n)."""
    return math.lgamma(n + 1.0) - n * math.log(n)


def _clip(p: float) -> float:
    return min(max(p, 0.0), 1.0)
