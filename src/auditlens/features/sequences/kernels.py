"""Numeric inner loops of the sequence model: integer keys, sums per key, running sums.

Everything here works on int64/float64 numpy arrays; keys are mixed-radix integers
(most significant part first) kept below ``KEY_LIMIT`` so they never overflow.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, TypeVar

import numpy as np
import numpy.typing as npt
import polars as pl

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
KEY_LIMIT: Final = 1 << 62  # mixed-radix int64 keys must stay below this
LOOP_GROUPS: Final = 20_000  # up to this many (long) groups: one running sum per group
#: From this many columns, averaging at least ``POLARS_RUN`` a group, Polars' running
#: sum over each group (every row's sum computed in parallel across the rows of values):
#: 0.31 s against 0.7-1.7 s laid out position by position for 16 x 1.3M (5,250 groups);
#: slower below (its grouping costs ~0.02 s, and more with tens of thousands of groups).
POLARS_COLUMNS: Final = 400_000
POLARS_RUN: Final = 32

_T = TypeVar("_T")
_R = TypeVar("_R")


def usable_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0))


def in_threads(fn: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]:
    """``[fn(x) for x in items]``, in order, on up to one thread per usable core when
    there are several items (numpy's sorts, gathers and arithmetic on large arrays run
    without the GIL)."""
    items = list(items)
    if len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(min(len(items), usable_cores())) as pool:
        return list(pool.map(fn, items))


def categories(column: pl.Series) -> tuple[list[str], I64]:
    """Sorted categories of a String or Enum column and each row's index into them."""
    if not isinstance(column.dtype, pl.Enum):
        column = column.cast(pl.Enum(column.unique().drop_nulls().sort()))
    dtype = column.dtype
    if not isinstance(dtype, pl.Enum):  # pragma: no cover - the cast above made it one
        raise TypeError(f"{column.name} is {dtype}, not an Enum")
    return dtype.categories.to_list(), column.to_physical().cast(pl.Int64).to_numpy()


def key_space(*radices: int) -> int:
    """The number of cells of a mixed-radix int64 key; raises when it could overflow."""
    total = 1
    for radix in radices:
        total *= max(radix, 1)
    if total >= KEY_LIMIT:
        raise ValueError(f"sequence key space too large ({total:,} cells)")
    return total


def mixed_key(*parts: tuple[I64, int]) -> I64:
    """Mixed-radix int64 key of (values, radix) parts, most significant first."""
    key_space(*(radix for _, radix in parts))
    key = parts[0][0].astype(np.int64)  # a copy
    for values, radix in parts[1:]:
        key *= radix
        key += values
    return key


def run_starts(ordered: I64) -> npt.NDArray[np.bool_]:
    """True where a run of equal values begins."""
    new = np.empty(ordered.size, dtype=np.bool_)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    return new


def sum_by(keys: I64, values: I64 | None = None) -> tuple[I64, I64]:
    """Distinct keys (ascending) and the sum of ``values`` (or the count) per key."""
    if keys.size == 0:
        return keys, keys.copy()
    size = int(keys.max()) + 1
    if size <= 4 * keys.size + (1 << 20):  # dense: bincount
        seen = np.bincount(keys, minlength=size)
        distinct = np.flatnonzero(seen)
        if values is None:
            return distinct, seen[distinct].astype(np.int64)
        sums = np.bincount(keys, weights=values, minlength=size)  # integers < 2**53: exact
        return distinct, sums[distinct].astype(np.int64)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.flatnonzero(run_starts(ordered))
    data = np.ones_like(keys) if values is None else values[order]
    return ordered[starts], np.add.reduceat(data, starts).astype(np.int64)


def totals_by(keys: I64, values: I64) -> I64:
    """Per row: the sum of ``values`` over the rows with the same key (exact integers)."""
    if keys.size and int(keys.max()) < 4 * keys.size + (1 << 20):  # dense: bincount
        return np.bincount(keys, weights=values)[keys].astype(np.int64)  # exact below 2**53
    distinct, sums = sum_by(keys, values)
    return sums[np.searchsorted(distinct, keys)]


def cumsum_by(first: I64, values: F64) -> F64:
    """Running sums along the columns of ``values``, restarting at each ``first`` column
    (sequential adds, as a per-group cumulative sum does them)."""
    columns = values.shape[1]
    lengths = np.diff(np.r_[first, columns])
    # few groups, each longer than their number: one cumsum per group; else position
    # by position (a day of many users with a few sessions each)
    if first.size <= LOOP_GROUPS and first.size <= int(lengths.max(initial=0)):
        out = np.empty_like(values)
        for lo, hi in zip(first.tolist(), (first + lengths).tolist(), strict=True):
            np.cumsum(values[:, lo:hi], axis=1, out=out[:, lo:hi])
        return out
    if columns >= POLARS_COLUMNS and columns >= POLARS_RUN * first.size:
        return _cumsum_polars(lengths, values)
    # many groups: lay the columns out position by position, longest groups first, so
    # the groups with more than k columns are the first count[k] of the k-th run
    order = np.argsort(-lengths, kind="stable")
    count = np.searchsorted(-lengths[order], -np.arange(int(lengths.max())), "left")
    offset = np.r_[0, np.cumsum(count)]
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    group = np.repeat(np.arange(first.size), lengths)
    slot = offset[np.arange(columns) - first[group]] + rank[group]
    laid = np.empty_like(values)
    laid[:, slot] = values
    for k in range(1, count.size):
        n = int(count[k])
        laid[:, offset[k] : offset[k] + n] += laid[:, offset[k - 1] : offset[k - 1] + n]
    return laid[:, slot]


def _cumsum_polars(lengths: I64, values: F64) -> F64:
    """:func:`cumsum_by` of groups of ``lengths`` columns in order, by Polars (a running
    sum adds in row order within each group: the same adds, the same bits)."""
    group = pl.Series("_g", np.repeat(np.arange(lengths.size, dtype=np.int64), lengths))
    rows = pl.DataFrame([pl.Series(f"_{d}", row) for d, row in enumerate(values)])
    summed = rows.with_columns(group).select(pl.exclude("_g").cum_sum().over("_g"))
    out = np.empty_like(values)
    for d, column in enumerate(summed.iter_columns()):
        out[d] = column.to_numpy()
    return out


def lookup(keys: I64, values: npt.NDArray[Any], queries: I64, fill: float) -> npt.NDArray[Any]:
    """The value of each query's key (``fill`` when absent or negative); keys distinct."""
    out = np.full(queries.shape, fill, dtype=values.dtype)
    valid = queries >= 0
    if keys.size == 0 or not valid.any():
        return out
    size = max(int(keys.max()), int(queries.max())) + 1
    if size <= 4 * (keys.size + queries.size) + (1 << 20):  # dense table
        table = np.full(size, fill, dtype=values.dtype)
        table[keys] = values
        out[valid] = table[queries[valid]]
        return out
    order = np.argsort(keys)
    ordered = keys[order]
    pos = np.searchsorted(ordered, queries).clip(max=ordered.size - 1)
    hit = valid & (ordered[pos] == queries)
    out[hit] = values[order][pos[hit]]
    return out
