"""Running expressions within runs of equal keys, on frames sorted by those keys.

``expr.over(keys)`` evaluates a running expression (``cum_sum``, ``cum_min``, ``shift``,
``forward_fill``) group by group: about 1.5 µs a group and expression, whatever the
group's size. A day's update has one row for each of thousands of users, so the
novelty set's six such expressions cost ~45 ms there for ~5,000 rows. The rows are
sorted by user already (and by day within a user), so every user's rows are one run;
these expressions give, bit for bit, what the ``over`` form gives, in a few passes over
the whole column:

* :func:`previous` — ``expr.shift(1).over(keys)``;
* :func:`running_sum` — ``ints.cum_sum().over(keys)`` (integers: exact sums);
* :func:`running_min` / :func:`running_max` — ``cum_min``/``cum_max().over(keys)``
  (values without NaN);
* :func:`last_before` — ``expr.shift(1).forward_fill().over(keys)``.

As Polars' cumulative functions, they leave a null where the value is null (the run goes
on past it). tests/features/test_runs.py checks each against its ``over`` form on random
runs with nulls.
"""

from __future__ import annotations

from typing import Final

import polars as pl

#: Runs lie this far apart on the axis of :func:`running_min` (more rows than a frame has;
#: up to 2**31 runs).
_APART: Final = 2**32
#: A rolling window as long as that: on that axis, the run's rows up to each row.
_WHOLE_RUN: Final = f"{_APART}i"


def starts(*keys: str) -> pl.Expr:
    """True on the first row of each run of equal ``keys`` (nulls equal to nulls)."""
    changed = pl.any_horizontal(pl.col(k).ne_missing(pl.col(k).shift(1)) for k in keys)
    return changed | (pl.int_range(pl.len()) == 0)


def previous(expr: pl.Expr, *keys: str) -> pl.Expr:
    """The value of ``expr`` on the run's row before (null on a run's first row)."""
    return pl.when(starts(*keys)).then(None).otherwise(expr.shift(1))


def running_sum(ints: pl.Expr, *keys: str) -> pl.Expr:
    """The running sum of the integers ``ints`` within each run (null where null)."""
    filled = ints.cast(pl.Int64).fill_null(0)
    total = filled.cum_sum()
    before = pl.when(starts(*keys)).then(total - filled).forward_fill()
    return pl.when(ints.is_null()).then(None).otherwise(total - before)


def running_min(values: pl.Expr, *keys: str) -> pl.Expr:
    """The running minimum of ``values`` within each run (null where null)."""
    upto = values.rolling_min_by(_whole_run(*keys), _WHOLE_RUN)
    return pl.when(values.is_null()).then(None).otherwise(upto)


def running_max(values: pl.Expr, *keys: str) -> pl.Expr:
    """The running maximum of ``values`` within each run (null where null)."""
    upto = values.rolling_max_by(_whole_run(*keys), _WHOLE_RUN)
    return pl.when(values.is_null()).then(None).otherwise(upto)


def last_before(expr: pl.Expr, *keys: str) -> pl.Expr:
    """The last non-null value of ``expr`` on an earlier row of the run (null if none)."""
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    found = pl.when(expr.is_not_null()).then(row).shift(1).forward_fill()
    first = pl.when(starts(*keys)).then(row).forward_fill()
    return pl.when(found >= first).then(expr.shift(1).forward_fill())


def _whole_run(*keys: str) -> pl.Expr:
    """The axis of a rolling window (:data:`_WHOLE_RUN`) that holds every row of the run
    up to and including each row: the rows of a run are consecutive integers on it and
    runs lie :data:`_APART` from each other."""
    run = starts(*keys).cast(pl.Int64).cum_sum()
    return run * _APART + pl.int_range(pl.len(), dtype=pl.Int64)
