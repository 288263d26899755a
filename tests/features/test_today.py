"""The running day (features/today.py): after every piece of a day's events, its rows
are bit for bit those ``advance`` computes over all of the day's events so far."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from auditlens.features.base import FeatureContext, prepare
from auditlens.features.catalog import ResourceCatalog
from auditlens.features.history import FeatureHistory, LateEvents, advance
from auditlens.features.matrix import FeatureMatrix, MatrixBuilder
from auditlens.features.running import DayValues
from auditlens.features.sequences import SequenceFeatures
from auditlens.features.temporal import TemporalFeatures
from auditlens.features.today import RunningDay
from auditlens.schema import TIMESTAMP
from auditlens.sources.synthetic import GeneratorSpec, generate

SPEC = GeneratorSpec(users=60, days=16, seed=5, insider_rate=0.15)


@pytest.fixture(scope="module")
def organisation() -> tuple[pl.DataFrame, pl.Series, FeatureContext, MatrixBuilder]:
    data = generate(SPEC)
    ctx = FeatureContext(catalog=ResourceCatalog.from_frame(data.catalog), profile_days=7)
    builder = MatrixBuilder().fit(data.events, ctx)
    return data.events, prepare(data.events, ctx).get_column("window"), ctx, builder


def _same(got: FeatureMatrix, want: FeatureMatrix) -> None:
    assert_frame_equal(got.frame, want.frame, check_exact=True)
    assert_frame_equal(got.info.select(want.info.columns), want.info, check_exact=True)
    assert got.unknown_resources == want.unknown_resources


def _busiest(window: pl.Series) -> dt.date:
    """The busiest of the last five days (a working day with over ten days before it)."""
    late = window.filter(window > window.unique().sort()[-6]).value_counts(sort=True)
    day = late.row(0)[0]
    assert isinstance(day, dt.date)
    return day


def _pieces(day: pl.DataFrame, seed: int, shuffled: bool) -> list[pl.DataFrame]:
    """The day's events in pieces of random sizes, in time order or shuffled."""
    rng = np.random.default_rng(seed)
    rows = day.sample(fraction=1.0, shuffle=True, seed=seed) if shuffled else day.sort(TIMESTAMP)
    cuts = np.sort(rng.choice(np.arange(1, rows.height), size=6, replace=False))
    ends = zip(np.r_[0, cuts], np.r_[cuts, rows.height], strict=True)
    return [rows.slice(a, b - a) for a, b in ends]


@pytest.mark.parametrize("shuffled", [False, True])
def test_after_every_piece_the_rows_are_those_of_all_the_days_events(
    organisation: tuple[pl.DataFrame, pl.Series, FeatureContext, MatrixBuilder], shuffled: bool
) -> None:
    events, window, ctx, builder = organisation
    busy = _busiest(window)
    _, history = advance(builder, events.filter(window < busy), ctx)
    running = RunningDay(builder, ctx, history, busy)
    assert running.merging
    so_far: list[pl.DataFrame] = []
    for piece in _pieces(events.filter(window == busy), seed=3, shuffled=shuffled):
        running.add(piece)
        so_far.append(piece)
        want, _ = advance(builder, pl.concat(so_far), ctx, history, keep=False)
        _same(running.matrix(), want)
    _same(running.matrix(), want)  # again, with nothing new
    final = want.frame
    assert final.height > 40
    # the pieces met every kind of extra: first-seen values, bursts, entropy, new IPs
    for column in ("new_host_count", "new_src_ip_count", "failed_login_burst"):
        assert final.get_column(column).max() > 0, column  # type: ignore[operator]
    assert final.get_column("hour_entropy").n_unique() > 10
    assert running.role_counts().get_column("_n").sum() == events.filter(window == busy).height


def test_a_users_first_day_runs_without_a_history(
    organisation: tuple[pl.DataFrame, pl.Series, FeatureContext, MatrixBuilder],
) -> None:
    events, window, ctx, builder = organisation
    first = window.min()
    assert isinstance(first, dt.date)
    running = RunningDay(builder, ctx, FeatureHistory.empty(), first)
    so_far: list[pl.DataFrame] = []
    for piece in _pieces(events.filter(window == first), seed=8, shuffled=False):
        running.add(piece)
        so_far.append(piece)
    want, _ = advance(builder, pl.concat(so_far), ctx, keep=False)
    _same(running.matrix(), want)


def test_events_of_another_day_are_refused(
    organisation: tuple[pl.DataFrame, pl.Series, FeatureContext, MatrixBuilder],
) -> None:
    events, window, ctx, builder = organisation
    days = window.unique().sort().to_list()
    _, history = advance(builder, events.filter(window < days[-2]), ctx)
    running = RunningDay(builder, ctx, history, days[-2])
    with pytest.raises(LateEvents, match=str(days[-1])):
        running.add(events.filter(window == days[-1]).head(5))
    assert running.events.height == 0  # nothing of the refused piece was kept


class _Unmergeable(TemporalFeatures):
    """The temporal set without merges: its window cannot be aggregated in pieces."""

    def merges(self) -> None:  # type: ignore[override]
        return None


def test_a_set_that_cannot_merge_is_computed_over_the_days_events(
    organisation: tuple[pl.DataFrame, pl.Series, FeatureContext, MatrixBuilder],
) -> None:
    events, window, ctx, _ = organisation
    busy = _busiest(window)
    before = events.filter(window < busy)
    builder = MatrixBuilder([_Unmergeable()]).fit(before, ctx)
    _, history = advance(builder, before, ctx)
    running = RunningDay(builder, ctx, history, busy)
    assert not running.merging
    pieces = _pieces(events.filter(window == busy), seed=1, shuffled=False)
    for piece in pieces:
        running.add(piece)
    want, _ = advance(builder, pl.concat(pieces), ctx, history, keep=False)
    _same(running.matrix(), want)


def test_day_values_keep_each_value_once_and_know_what_is_new() -> None:
    ctx = FeatureContext()
    at = dt.datetime(2026, 3, 3, 1, 0, tzinfo=dt.UTC)  # 10:00 in Seoul
    rows = {
        "event_id": ["a", "b", "c"],
        "timestamp": [at, at + dt.timedelta(minutes=1), at + dt.timedelta(minutes=2)],
        "user_id": ["u1", "u1", "u2"],
        "action_type": ["login", "login", "read"],
        "resource_id": [None, None, "db/x"],
        "host": ["h1", "h1", "h2"],
        "src_ip": ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
        "success": [False, True, True],
        "department": ["d", "d", "d"],
        "role": ["r", "r", "r"],
    }
    events = pl.DataFrame(rows).with_columns(pl.col("timestamp").dt.cast_time_unit("us"))
    first = DayValues.empty().added(prepare(events.head(2), ctx), None)
    both = first.added(prepare(events, ctx), None)  # the first two again: nothing doubles
    hosts = both.of("host").sort("user_id")
    assert hosts.rows() == [("u1", "h1", True), ("u2", "h2", True)]
    assert both.of("resource").get_column("_value").to_list() == ["db/x"]
    assert both.failed.height == 2  # a failed login is an event, not a value
    assert both.hours.get_column("_n").sum() == 5


def test_a_peer_group_that_changes_without_its_members_events_is_followed(
    organisation: tuple[pl.DataFrame, pl.Series, FeatureContext, MatrixBuilder],
) -> None:
    """A joiner's first events today make their department/role group big enough: the
    other members' group changes though they had no new events, and so do their rows."""
    events, window, ctx, builder = organisation
    busy = _busiest(window)
    day = events.filter(window == busy)
    model = next(s for s in builder.fitted_sets() if isinstance(s, SequenceFeatures)).model_
    known = model.group_rows_.get_column("peer_group").to_list()  # the groups it has priors of
    roles = day.group_by("department", "role").agg(pl.col("user_id").unique().sort())
    roles = roles.filter(
        (pl.col("user_id").list.len() >= 3)
        & pl.col("department").is_in(known)
        & pl.concat_str("department", pl.lit("/"), "role").is_in(known)
    )
    members = roles.sort("department", "role").get_column("user_id")[0].to_list()
    joiner = members[0]
    ctx = replace(ctx, min_peer_group=len(members))  # the group exists with the joiner only
    before = events.filter((window < busy) & (pl.col("user_id") != joiner))
    _, history = advance(builder, before, ctx)
    running = RunningDay(builder, ctx, history, busy)
    others, theirs = (
        day.filter(pl.col("user_id") != joiner),
        day.filter(pl.col("user_id") == joiner),
    )
    pieces = [*_pieces(others, seed=2, shuffled=False)[:2], theirs]
    so_far: list[pl.DataFrame] = []
    rows: list[pl.DataFrame] = []
    for piece in pieces:
        running.add(piece)
        so_far.append(piece)
        want, _ = advance(builder, pl.concat(so_far), ctx, history, keep=False)
        got = running.matrix()
        _same(got, want)
        mine = got.info.join(got.frame, on=["user_id", "window"])
        rows.append(mine.filter(pl.col("user_id").is_in(members[1:])).sort("user_id"))
    # the members' group changed with the joiner, and with it their sequence scores
    assert not rows[1].get_column("peer_group").equals(rows[2].get_column("peer_group"))
    score = "seq_anomaly_score"
    assert not rows[1].get_column(score).equals(rows[2].get_column(score))


def _same_history(got: FeatureHistory, want: FeatureHistory) -> None:
    assert got.last_window == want.last_window
    for name in ("daily", "users", "seen", "tail"):
        mine, theirs = getattr(got.prior, name), getattr(want.prior, name)
        assert_frame_equal(mine.select(theirs.columns), theirs, check_exact=True)
    for name in ("groups", "spells", "counts"):
        assert_frame_equal(getattr(got.peers, name), getattr(want.peers, name), check_exact=True)
    assert got.earlier is not None and want.earlier is not None
    assert_frame_equal(got.earlier.recent, want.earlier.recent, check_exact=True)
    for name in ("host_days", "firsts", "families", "starts"):
        mine, theirs = getattr(got.earlier.novelty, name), getattr(want.earlier.novelty, name)
        assert_frame_equal(mine, theirs, check_exact=True)
    assert got.sequences is not None and want.sequences is not None
    assert got.sequences.equals(want.sequences)


@pytest.mark.parametrize("with_history", [True, False])
def test_closing_the_day_gives_the_rows_and_history_advance_gives(
    organisation: tuple[pl.DataFrame, pl.Series, FeatureContext, MatrixBuilder],
    with_history: bool,
) -> None:
    events, window, ctx, builder = organisation
    busy = _busiest(window) if with_history else window.min()
    assert isinstance(busy, dt.date)
    history = FeatureHistory.empty()
    if with_history:
        _, history = advance(builder, events.filter(window < busy), ctx)
    running = RunningDay(builder, ctx, history, busy)
    pieces = _pieces(events.filter(window == busy), seed=4, shuffled=False)
    for piece in pieces:
        running.add(piece)
    running.matrix()  # a scoring in between leaves nothing behind
    got, after = running.close()
    want, expected = advance(builder, pl.concat(pieces), ctx, history)
    _same(got, want)
    _same_history(after, expected)
    # the next day continues from either history alike
    nxt = window.filter(window > busy).min()
    day = events.filter(window == nxt)
    _same(advance(builder, day, ctx, after)[0], advance(builder, day, ctx, expected)[0])
