"""Feature history: the matrix built a day (or a few days) at a time equals the matrix of
every day at once, bit for bit, because a window never depends on later events."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from auditlens.features.base import FeatureContext, concat_days, prepare
from auditlens.features.catalog import ResourceCatalog
from auditlens.features.history import FeatureHistory, LateEvents, advance
from auditlens.features.matrix import FeatureMatrix, MatrixBuilder
from auditlens.sources.synthetic import GeneratorSpec, generate

SPEC = GeneratorSpec(users=60, days=20, seed=11, insider_rate=0.1)


@pytest.fixture(scope="module")
def fitted() -> tuple[pl.DataFrame, FeatureContext, MatrixBuilder, FeatureMatrix]:
    data = generate(SPEC)
    ctx = FeatureContext(catalog=ResourceCatalog.from_frame(data.catalog))
    builder = MatrixBuilder().fit(data.events, ctx)
    return data.events, ctx, builder, builder.transform(data.events, ctx)


def _windows(events: pl.DataFrame, ctx: FeatureContext) -> pl.Series:
    return prepare(events, ctx).get_column("window")


def _by_days(
    events: pl.DataFrame, ctx: FeatureContext, builder: MatrixBuilder, size: int
) -> tuple[FeatureMatrix, FeatureHistory]:
    """The matrix built ``size`` days at a time, the history carried between."""
    day = _windows(events, ctx)
    days = day.unique().sort().to_list()
    history, frames, infos = FeatureHistory.empty(), [], []
    for i in range(0, len(days), size):
        chunk = events.filter(day.is_in(days[i : i + size]))
        matrix, history = advance(builder, chunk, ctx, history)
        frames.append(matrix.frame)
        infos.append(matrix.info)
    return FeatureMatrix(pl.concat(frames), pl.concat(infos, how="diagonal_relaxed")), history


@pytest.mark.parametrize("size", [1, 3])
def test_day_by_day_equals_all_at_once(
    fitted: tuple[pl.DataFrame, FeatureContext, MatrixBuilder, FeatureMatrix], size: int
) -> None:
    events, ctx, builder, whole = fitted
    parts, history = _by_days(events, ctx, builder, size)
    got = parts.frame.sort("user_id", "window")
    assert got.height == whole.frame.height > 500
    assert_frame_equal(got, whole.frame, check_exact=True)
    info = parts.info.sort("user_id", "window").select(whole.info.columns)
    assert_frame_equal(info, whole.info, check_exact=True)  # the reasons' figures too
    # the history grows with users, not with days of events
    assert history.prior.daily["window"].n_unique() <= ctx.profile_days + 1


def test_events_of_a_day_already_computed_are_refused(
    fitted: tuple[pl.DataFrame, FeatureContext, MatrixBuilder, FeatureMatrix],
) -> None:
    events, ctx, builder, _ = fitted
    day = _windows(events, ctx)
    last = day.max()
    assert isinstance(last, dt.date)
    _, history = advance(builder, events.filter(day < last), ctx)
    with pytest.raises(LateEvents):
        advance(builder, events.filter(day == last - dt.timedelta(days=1)), ctx, history)


def test_a_history_survives_bytes(
    fitted: tuple[pl.DataFrame, FeatureContext, MatrixBuilder, FeatureMatrix],
) -> None:
    events, ctx, builder, whole = fitted
    day = _windows(events, ctx)
    last = day.max()
    assert isinstance(last, dt.date)
    _, history = advance(builder, events.filter(day < last), ctx)
    again = FeatureHistory.from_bytes(history.to_bytes())
    matrix, _ = advance(builder, events.filter(day == last), ctx, again)
    assert_frame_equal(matrix.frame, whole.frame.filter(pl.col("window") == last))


def _days(rows: list[tuple[str, int]]) -> pl.DataFrame:
    start = dt.date(2026, 9, 1)
    return pl.DataFrame(
        {
            "user_id": [u for u, _ in rows],
            "window": [start + dt.timedelta(days=d) for _, d in rows],
            "n": list(range(len(rows))),
        },
        schema={"user_id": pl.String, "window": pl.Date, "n": pl.Int64},
    ).sort("user_id", "window")


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ([("b", 0), ("a", 1), ("a", 0), ("c", 2)], [("c", 3), ("a", 3), ("d", 4)]),  # later
        ([("b", 0), ("a", 5), ("a", 0)], [("a", 3), ("b", 1), ("c", 2)]),  # windows overlap
        ([], [("b", 1), ("a", 2)]),
        ([("b", 1), ("a", 2)], []),
    ],
)
def test_concat_days_sorts_by_user_and_window(
    earlier: list[tuple[str, int]], later: list[tuple[str, int]]
) -> None:
    """A history's rows and the days after it come out sorted by user and window, by a
    stable sort by user when the later windows all follow; when they do not (overlap),
    by both keys, still the right order."""
    first, then = _days(earlier), _days(later)
    got = concat_days(first, then)
    assert_frame_equal(got, pl.concat([first, then]).sort("user_id", "window", "n"))


def test_a_history_keeps_only_the_columns_read_back_and_one_holding_more_still_serves(
    fitted: tuple[pl.DataFrame, FeatureContext, MatrixBuilder, FeatureMatrix],
) -> None:
    """The earlier rows a history keeps hold the keys and the columns the sets read of
    earlier rows (the resource set's trailing means), not every aggregation column; a
    history written before (every column) gives the same next day, and the history
    after it is the narrow one."""
    events, ctx, builder, whole = fitted
    day = _windows(events, ctx)
    last = day.max()
    assert isinstance(last, dt.date)
    _, history = advance(builder, events.filter(day < last), ctx)
    assert history.prior.daily.columns == ["user_id", "window", "bulk_action_count",
                                           "delete_count"]  # fmt: skip
    wide = history.prior.daily.with_columns(
        pl.lit(7.0).alias("weighted_resource_score"), pl.lit(3).alias("login_count")
    )
    old = replace(history, prior=replace(history.prior, daily=wide))
    for earlier in (history, old):
        matrix, after = advance(builder, events.filter(day == last), ctx, earlier)
        want = whole.frame.filter(pl.col("window") == last).sort("user_id")
        assert_frame_equal(matrix.frame.sort("user_id"), want, check_exact=True)
        assert after.prior.daily.columns == history.prior.daily.columns
