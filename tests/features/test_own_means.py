"""The users' own trailing means (``features.matrix._trailing_means``) against their
definition, bit for bit: for each scored row, the mean of each column over the user's
rows of the ``days`` days before, added nearest first from 0.0 (null without any)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from auditlens.features.matrix import _trailing_means


def _definition(
    x: np.ndarray, users: np.ndarray, axis: np.ndarray, at: np.ndarray, days: int
) -> np.ndarray:
    out = np.full((at.size, x.shape[1]), np.nan)
    for i, row in enumerate(at.tolist()):
        total, n = np.zeros(x.shape[1]), 0
        for k in range(1, row + 1):  # nearest first
            j = row - k
            if users[j] != users[row] or axis[j] < axis[row] - days:
                break
            total = total + x[j]
            n += 1
        if n:
            out[i] = total / n
    return out


@pytest.mark.parametrize("scored", ["every row", "the last rows", "rows here and there"])
def test_own_means_are_their_definition_bit_for_bit(scored: str) -> None:
    rng = np.random.default_rng(11)
    users, axis = [], []
    for user in range(40):  # each user's days ascending, some days skipped
        days = np.sort(rng.choice(60, size=int(rng.integers(1, 30)), replace=False))
        users += [user] * days.size
        axis += (days + 1000 * user).tolist()  # a timeline that never mixes users
    users_arr, axis_arr = np.array(users), np.array(axis, dtype=np.int64)
    x = rng.normal(size=(users_arr.size, 3)) * 10.0 ** rng.integers(-3, 4, size=(users_arr.size, 3))
    x[rng.random(x.shape) < 0.2] = 0.0
    x[5, 1] = -0.0
    rows = pl.DataFrame({f"c{i}": x[:, i] for i in range(3)})
    n = users_arr.size
    at = {
        "every row": np.arange(n),
        "the last rows": np.arange(n // 2, n),
        "rows here and there": np.flatnonzero(rng.random(n) < 0.3),
    }[scored]
    got = _trailing_means(rows, ["c0", "c1", "c2"], axis_arr, at.astype(np.int64), 7)
    want = _definition(x, users_arr, axis_arr, at, 7)
    for i, series in enumerate(got):
        values = series.to_numpy()
        assert np.array_equal(values, want[:, i], equal_nan=True), series.name
        assert np.array_equal(np.signbit(values), np.signbit(want[:, i])), series.name
    assert any(s.null_count() for s in got) and not all(s.null_count() == n for s in got)
