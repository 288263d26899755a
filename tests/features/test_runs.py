"""features/runs.py gives, bit for bit, what the ``over`` form of each running expression
gives on frames sorted by their keys: random runs of every length (one row each, as a
day's update; many rows each, as a whole matrix), nulls anywhere, two keys."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_series_equal

from auditlens.features import runs


def _frame(rows: int, users: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    user = np.sort(rng.integers(0, users, rows))
    values = rng.random(rows) * 24 - 6  # negatives too
    missing = rng.random((3, rows)) < 0.25
    frame = pl.DataFrame(
        {
            "user": [f"U{u:05d}" for u in user],
            "kind": rng.integers(0, 2, rows),
            "day": np.arange(rows),
            "x": values,
            "flag": rng.random(rows) < 0.3,
            "n": rng.integers(-3, 9, rows),
        }
    )
    gone = {c: pl.Series(missing[i]) for i, c in enumerate(["x", "flag", "n"])}
    return frame.with_columns(
        pl.when(gone[c]).then(None).otherwise(pl.col(c)).alias(c) for c in gone
    ).sort("user", "kind", "day")


CASES = [(0, 1), (1, 1), (60, 7), (5_000, 4_928), (20_000, 300), (3_000, 1)]


@pytest.mark.parametrize(("rows", "users"), CASES)
@pytest.mark.parametrize("keys", [("user",), ("user", "kind")])
def test_each_running_expression_is_its_over_form(
    rows: int, users: int, keys: tuple[str, ...]
) -> None:
    frame = _frame(rows, users, seed=rows + users)
    if keys == ("user", "kind"):
        frame = frame.sort("user", "kind", "day")
    x, n = pl.col("x"), pl.col("n")
    stamp = pl.when(pl.col("flag")).then(pl.col("day"))
    pairs = {
        "previous": (x.shift(1).over(keys), runs.previous(x, *keys)),
        "running_sum": (n.cum_sum().over(keys), runs.running_sum(n, *keys)),
        "running_sum of flags": (
            pl.col("flag").cast(pl.Int64).cum_sum().over(keys),
            runs.running_sum(pl.col("flag"), *keys),
        ),
        "running_min": (x.cum_min().over(keys), runs.running_min(x, *keys)),
        "running_max": (x.cum_max().over(keys), runs.running_max(x, *keys)),
        "last_before": (stamp.shift(1).forward_fill().over(keys), runs.last_before(stamp, *keys)),
        "previous running_min": (
            x.cum_min().shift(1).over(keys),
            runs.previous(runs.running_min(x, *keys), *keys),
        ),
    }
    for name, (over, ours) in pairs.items():
        want = frame.select(over.alias(name)).to_series()
        got = frame.select(ours.alias(name)).to_series()
        assert_series_equal(got, want, check_exact=True, check_dtypes=False)
        assert got.null_count() == want.null_count(), name


def test_a_run_is_not_reached_from_the_one_before() -> None:
    """The last values of one user never leak into the next user's first rows."""
    frame = pl.DataFrame(
        {
            "user": ["a", "a", "b", "b", "c"],
            "x": [1.0, 0.5, None, 9.0, 3.0],
            "f": [True, False, False, True, None],
        }
    )
    got = frame.select(
        runs.previous(runs.running_min(pl.col("x"), "user"), "user").alias("lo"),
        runs.last_before(pl.when(pl.col("f")).then(pl.col("x")), "user").alias("last"),
        runs.running_sum(pl.col("f"), "user").alias("n"),
    )
    assert got.to_dict(as_series=False) == {
        "lo": [None, 1.0, None, None, None],
        "last": [None, 1.0, None, None, None],
        "n": [1, 1, 0, 1, None],
    }
