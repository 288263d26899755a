"""The drift p-values worked out without SciPy (monitor/pvalues.py), against SciPy."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from auditlens.monitor.pvalues import (
    MIN_N,
    binomial_two_sided,
    durbin_cdf,
    kolmogorov_sf,
    pelz_good_cdf,
    smirnov_sf,
)

#: Effective sample sizes drift meets (a day's windows against a 10,000-row reference)
#: and beyond, each side of the Durbin / Pelz-Good switch at n = 100,000.
SIZES = [MIN_N + 1, 150, 500, 1_000, 3_380, 9_999, 20_000, 100_000, 100_001, 250_000]


def _xs(n: int) -> np.ndarray:
    """Statistics across every region of (n, x): the Ruben-Gambino ends, Durbin's
    matrix, Pelz-Good, twice the one-sided tail, and x >= 0.5."""
    return np.r_[
        np.linspace(0.01 / n, 3.0 / n, 15),
        np.geomspace(0.1 / math.sqrt(n), 20.0 / math.sqrt(n), 60),
        [0.3, 0.49, 0.5, 0.7, 0.999, 1.0 - 1.0 / n, 1.0 - 0.5 / n, 1.0, 1.2, 0.0, -0.1],
    ]


@pytest.mark.parametrize("n", SIZES)
def test_kolmogorov_sf_is_scipys_kstwo(n: int) -> None:
    for x in _xs(n):
        ours = kolmogorov_sf(n, float(x))
        theirs = float(stats.kstwo.sf(x, n))
        assert ours is not None
        assert ours == pytest.approx(theirs, rel=1e-8, abs=1e-300), (n, x)


def test_kolmogorov_sf_falls_in_x_and_leaves_small_samples_to_scipy() -> None:
    found = [kolmogorov_sf(3_380, float(x)) for x in np.linspace(0.0, 1.0, 2_001)]
    assert found[0] == 1.0 and found[-1] == 0.0
    assert all(a is not None and b is not None and b <= a for a, b in itertools.pairwise(found))
    assert kolmogorov_sf(MIN_N, 0.1) is None and kolmogorov_sf(1, 0.5) is None


def test_each_method_agrees_with_scipy_where_it_is_used() -> None:
    from scipy import special

    for n in (141, 3_380, 100_000):
        for x in np.geomspace(1.5 / n, 0.999 * (1.4 / n) ** (2 / 3), 12):  # Durbin's matrix
            assert durbin_cdf(n, x) == pytest.approx(stats.kstwo.cdf(x, n), rel=1e-9)
        root = math.sqrt(n)
        for x in np.linspace(0.3 / root, 1.48 / root, 12):  # Pelz-Good (n x² < 2.2)
            if n * x**1.5 > 1.4 or n > 100_000:
                assert pelz_good_cdf(n, x) == pytest.approx(stats.kstwo.cdf(x, n), rel=1e-9)
        for x in np.linspace(1.49 / root, min(19.0 / root, 0.99), 12):  # one-sided tail
            assert smirnov_sf(n, x) == pytest.approx(special.smirnov(n, x), rel=1e-9)


def test_binomial_two_sided_is_scipys_binomtest() -> None:
    rng = np.random.default_rng(4)
    for _ in range(600):
        n = int(rng.integers(1, 60_000))
        p = float(rng.choice([rng.uniform(1e-4, 0.05), rng.uniform(0.05, 0.95), 0.5]))
        spread = 4.0 * math.sqrt(n * p * (1.0 - p)) + 2.0
        k = int(np.clip(round(rng.normal(n * p, spread)), 0, n))
        theirs = stats.binomtest(k, n, p).pvalue
        assert binomial_two_sided(k, n, p) == pytest.approx(theirs, rel=1e-9, abs=1e-300), (
            k,
            n,
            p,
        )


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [(0, 10, 0.1), (10, 10, 0.1), (5, 10, 0.5), (1, 10, 0.1), (2, 4, 0.5), (0, 1, 0.5),
     (3, 5, 1.0), (5, 5, 1.0), (0, 5, 0.0), (2, 5, 0.0), (60, 2_000, 0.01), (1, 5_000, 0.03)],
)  # fmt: skip
def test_binomial_two_sided_at_the_edges(k: int, n: int, p: float) -> None:
    assert binomial_two_sided(k, n, p) == pytest.approx(
        stats.binomtest(k, n, p).pvalue, rel=1e-9, abs=1e-300
    )


def test_binomial_two_sided_refuses_impossible_counts() -> None:
    for k, n, p in ((-1, 5, 0.5), (6, 5, 0.5), (1, 5, 1.5), (1, 5, -0.1)):
        with pytest.raises(ValueError, match="0 <= k <= n"):
            binomial_two_sided(k, n, p)
