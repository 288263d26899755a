"""Incremental sequence features: day by day from a carried history, the columns are bit
for bit those of one transform over all events (issue 17)."""

from __future__ import annotations

import datetime as dt
import itertools
import pickle
import threading
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from auditlens.features.base import FeatureContext, prepare
from auditlens.features.catalog import ResourceCatalog
from auditlens.features.peers import peer_groups
from auditlens.features.sequences import (
    SequenceFeatures,
    SequenceHistory,
    kernels,
    tokenise,
    tokens,
)
from auditlens.features.sequences.tokens import Sessions
from auditlens.features.watchlist import find_matches, parse_pattern, resume_matches
from auditlens.sources.synthetic import GeneratorSpec, generate
from tests.features.test_features import CTX, at, events

PATTERNS = (
    parse_pattern("usb-then-upload", "usb_connect>upload"),  # no time bound: spans days
    parse_pattern("print-delete", "print>delete same resource"),
    parse_pattern("tamper", "view>edit>delete within 10m"),
)

Org = tuple[pl.DataFrame, FeatureContext, pl.DataFrame, SequenceFeatures]


@pytest.fixture(scope="module")
def org() -> Org:
    data = generate(GeneratorSpec(users=60, days=20, seed=3))
    ctx = FeatureContext(catalog=ResourceCatalog.from_frame(data.catalog), watchlist=PATTERNS)
    prepared = prepare(data.events, ctx)
    groups = peer_groups(prepared, ctx)
    fitted = SequenceFeatures().fit(prepared, ctx)
    return prepared, ctx, groups, fitted


def _windows(prepared: pl.DataFrame) -> list[dt.date]:
    return prepared.get_column("window").unique().sort().to_list()


def _carry(
    features: SequenceFeatures,
    parts: list[pl.DataFrame],
    ctx: FeatureContext,
    groups: pl.DataFrame,
    history: SequenceHistory | None = None,
) -> tuple[pl.DataFrame, SequenceHistory]:
    """transform_after part by part, the history carried; the frames concatenated."""
    history = SequenceHistory.empty() if history is None else history
    frames = []
    for part in parts:
        frame, history = features.transform_after(part, ctx, history, groups)
        frames.append(frame)
    return pl.concat(frames).sort("user_id", "window"), history


def test_day_by_day_equals_the_full_transform_bit_for_bit(org: Org) -> None:
    prepared, ctx, groups, features = org
    full = features.transform(prepared, ctx)
    days = [prepared.filter(pl.col("window") == w) for w in _windows(prepared)]
    daily, history = _carry(features, days, ctx, groups)
    assert_frame_equal(
        daily, full, check_exact=True
    )  # exact: every column, reason columns included
    assert full.height > 500 and full["seq_anomaly_score"].n_unique() > 100
    # the watch list matched, across days too: a pattern without a bound spans windows
    assert full["watchlist_match_count"].sum() > 0
    tz = ctx.calendar.timezone
    matches = find_matches(prepared, PATTERNS, "_level", ctx.calendar).with_columns(
        pl.col("start", "end").dt.convert_time_zone(tz).dt.date()
    )
    across = matches.filter(pl.col("start") != pl.col("end"))
    assert across.height > 0 and set(across["pattern"]) >= {"usb-then-upload"}
    # the history carried day by day is the history of one pass over everything
    _, whole = features.transform_after(prepared, ctx, SequenceHistory.empty(), groups)
    assert history.equals(whole)
    assert history.last_window == _windows(prepared)[-1]
    # its size follows users x steps, not events
    assert history.step_user.size < prepared.height / 4
    assert history.users.len() == prepared["user_id"].n_unique()


def test_chunks_of_days_and_merged_user_partitions_give_the_same(org: Org) -> None:
    prepared, ctx, groups, features = org
    full = features.transform(prepared, ctx)
    windows = _windows(prepared)
    cuts = [windows[0], windows[6], windows[13], windows[-1] + dt.timedelta(days=1)]
    chunks = [
        prepared.filter(pl.col("window").is_between(lo, hi, closed="left"))
        for lo, hi in itertools.pairwise(cuts)
    ]
    by_chunk, _ = _carry(features, chunks, ctx, groups)
    assert_frame_equal(by_chunk, full, check_exact=True)
    # two user partitions carry their own histories for the first 13 days, then the
    # merged history continues over everyone
    users = prepared.get_column("user_id").unique().sort()
    halves = [users.filter(users < users[25]), users.filter(users >= users[25])]
    frames, histories = [], []
    for half in halves:
        mine = [c.filter(pl.col("user_id").is_in(half.implode())) for c in chunks[:2]]
        frame, history = _carry(features, mine, ctx, groups)
        frames.append(frame)
        histories.append(history)
    merged = SequenceHistory.merged(histories)
    rest, after = _carry(features, chunks[2:], ctx, groups, merged)
    together = pl.concat([*frames, rest]).sort("user_id", "window")
    assert_frame_equal(together, full, check_exact=True)
    _, whole = features.transform_after(prepared, ctx, SequenceHistory.empty(), groups)
    assert after.equals(whole)
    # restricting the merged history to a partition gives that partition's history back
    assert merged.restricted(halves[0].to_list()).equals(histories[0])
    assert merged.restricted(halves[1].to_list()).equals(histories[1])
    with pytest.raises(ValueError, match="share users"):
        SequenceHistory.merged([histories[0], merged])


def test_history_pickles_to_an_equal_history_that_continues_the_same(org: Org) -> None:
    prepared, ctx, groups, features = org
    windows = _windows(prepared)
    head = prepared.filter(pl.col("window") < windows[10])
    tail = prepared.filter(pl.col("window") >= windows[10])
    _, history = features.transform_after(head, ctx, SequenceHistory.empty(), groups)
    again = pickle.loads(pickle.dumps(history))  # noqa: S301 (our own bytes)
    assert isinstance(again, SequenceHistory) and again.equals(history)
    assert history.watch is not None and history.watch.height > 0  # partial matches kept
    want, want_history = features.transform_after(tail, ctx, history, groups)
    got, got_history = features.transform_after(tail, ctx, again, groups)
    assert_frame_equal(got, want, check_exact=True)
    assert got_history.equals(want_history)
    # events that do not follow the history are refused
    with pytest.raises(ValueError, match="do not follow"):
        features.transform_after(head, ctx, history, groups)


def test_groups_by_window_are_used_per_session(org: Org) -> None:
    prepared, ctx, groups, features = org
    windows = pl.DataFrame({"window": _windows(prepared)})
    by_day = groups.join(windows, how="cross").select("user_id", "window", "peer_group")
    full = features.transform(prepared, ctx)
    # the same group every day: the same columns as groups by user
    same, _ = features.transform_after(prepared, ctx, SequenceHistory.empty(), by_day)
    assert_frame_equal(same, full, check_exact=True)
    # a user moved to another group from day 10: a first session that day uses the new
    # group's centroid and backoff; day by day still equals one pass
    labels = groups["peer_group"].unique().sort()
    mover = groups.filter(pl.col("peer_group") == labels[0])["user_id"][0]
    moved = (pl.col("user_id") == mover) & (pl.col("window") >= windows["window"][10])
    changed = by_day.with_columns(
        pl.when(moved).then(pl.lit(labels[1])).otherwise(pl.col("peer_group")).alias("peer_group")
    )
    one_pass, _ = features.transform_after(prepared, ctx, SequenceHistory.empty(), changed)
    days = [prepared.filter(pl.col("window") == w) for w in windows["window"]]
    daily, _ = _carry(features, days, ctx, changed)
    assert_frame_equal(daily, one_pass, check_exact=True)
    differs = one_pass.join(full, on=["user_id", "window"]).filter(
        pl.col("seq_anomaly_score") != pl.col("seq_anomaly_score_right")
    )
    assert differs.height > 0 and set(differs["user_id"]) == {mover}


def _late_night(extra: list[dict[str, Any]] | None = None) -> pl.DataFrame:
    rows = [
        {"user": "u", "t": at(22, 23, 40), "action": "view", "resource": "fileshare/a"},
        {"user": "u", "t": at(22, 23, 55), "action": "edit", "resource": "fileshare/a"},
        {"user": "u", "t": at(23, 0, 5), "action": "delete", "resource": "fileshare/a"},
        {"user": "u", "t": at(23, 0, 10), "action": "logout"},
    ]
    return prepare(events(rows + (extra or [])), CTX)


def test_a_session_crossing_local_midnight_is_two_sessions() -> None:
    prepared = _late_night()
    tokens = tokenise(prepared)  # 15 minutes apart, under the 30-minute gap
    assert tokens["_session"].to_list() == [1, 1, 2, 2]
    assert tokens["window"].to_list() == [dt.date(2026, 9, 22)] * 2 + [dt.date(2026, 9, 23)] * 2
    features = SequenceFeatures().fit(prepared, CTX)
    frame = features.transform(prepared, CTX)
    # the first day's session no longer reads the next day's events
    assert frame["_seq_tokens"].to_list() == ["view edit", "delete logout"]
    first_day = prepared.filter(pl.col("window") == dt.date(2026, 9, 22))
    alone, history = features.transform_after(first_day, CTX, SequenceHistory.empty())
    assert_frame_equal(alone, frame.head(1), check_exact=True)
    assert history.sessions.tolist() == [1]


def test_resumed_matching_finds_what_one_pass_finds(org: Org) -> None:
    prepared, ctx, _, _ = org
    everything = find_matches(prepared, PATTERNS, "_level", ctx.calendar)
    found, state = [], None
    for window in _windows(prepared):
        day = prepared.filter(pl.col("window") == window)
        matches, state = resume_matches(day, PATTERNS, "_level", ctx.calendar, state)
        found.append(matches)
    keys = ["user_id", "pattern", "end", "start", "resource_id"]
    assert_frame_equal(pl.concat(found).sort(keys), everything.sort(keys))
    assert everything.height > 0
    # the time-bounded pattern keeps no partial match older than its bound
    assert state is not None
    tamper = state.filter(pl.col("pattern") == "tamper")
    assert tamper.height == 0 or (
        tamper["start"].min() >= prepared["timestamp"].max() - dt.timedelta(minutes=10)  # type: ignore[operator]
    )


def test_sessions_scored_in_pieces_of_users_on_threads_equal_one_piece(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From ``PARALLEL_SESSIONS`` sessions on the model scores runs of whole users on
    threads (Sessions.split): the columns and the history are bit for bit those of one
    piece, from the start and continuing a history."""
    prepared, ctx, groups, features = org
    head = prepared.filter(pl.col("window") < _windows(prepared)[12])
    tail = prepared.filter(pl.col("window") >= _windows(prepared)[12])

    def both() -> list[tuple[pl.DataFrame, SequenceHistory]]:
        first = features.transform_after(head, ctx, SequenceHistory.empty(), groups)
        return [first, features.transform_after(tail, ctx, first[1], groups)]

    monkeypatch.setattr(tokens, "PARALLEL_SESSIONS", 10**9)
    whole = both()
    monkeypatch.setattr(tokens, "PARALLEL_SESSIONS", 1)
    monkeypatch.setattr(kernels.os, "sched_getaffinity", lambda _: set(range(3)))
    seq = Sessions.of(tokenise(head))
    pieces = tokens.by_users(seq)
    assert len(pieces) == 3  # three cores: three runs of whole users, about equal
    assert [int(p.user[0]) for p in pieces[1:]] != [int(p.user[-1]) for p in pieces[:-1]]
    assert np.array_equal(np.concatenate([p.user for p in pieces]), seq.user)
    assert np.array_equal(np.concatenate([p.code for p in pieces]), seq.code)
    assert max(p.code.size for p in pieces) < 0.5 * seq.code.size
    for (frame, history), (want_frame, want_history) in zip(both(), whole, strict=True):
        assert_frame_equal(frame, want_frame, check_exact=True)
        assert history.equals(want_history)
    # pieces of about PIECE_EVENTS events: more pieces than cores, on the cores' threads
    monkeypatch.setattr(tokens, "PIECE_EVENTS", seq.code.size // 8)
    pieces = tokens.by_users(seq)
    assert len(pieces) >= 8
    assert np.array_equal(np.concatenate([p.code for p in pieces]), seq.code)
    names: set[str] = set()

    def square(i: int) -> int:
        names.add(threading.current_thread().name)
        return i * i

    assert kernels.in_threads(square, range(9)) == [i * i for i in range(9)]  # in order
    assert 1 <= len(names) <= 3  # on no more threads than the usable cores
    for (frame, history), (want_frame, want_history) in zip(both(), whole, strict=True):
        assert_frame_equal(frame, want_frame, check_exact=True)
        assert history.equals(want_history)


def test_fit_counted_in_pieces_of_users_equals_one_piece(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fit counts each user's and each group's steps over pieces of whole users
    (SequenceModel._step_counts): every fitted table is the one a single piece gives, and
    so are the columns the model then scores."""
    prepared, ctx, _, _ = org
    monkeypatch.setattr(tokens, "PARALLEL_SESSIONS", 10**9)
    whole = SequenceFeatures().fit(prepared, ctx)
    monkeypatch.setattr(tokens, "PARALLEL_SESSIONS", 1)
    monkeypatch.setattr(tokens, "PIECE_EVENTS", prepared.height // 7)
    assert len(tokens.by_users(Sessions.of(tokenise(prepared)))) >= 7
    cut = SequenceFeatures().fit(prepared, ctx)
    tables = ["user_counts_", "user_rows_", "group_counts_", "group_rows_", "global_rows_"]
    for name in [*tables, "global_", "vectors_", "group_centroids_"]:
        assert_frame_equal(getattr(cut.model_, name), getattr(whole.model_, name), check_exact=True)
    assert whole.model_.user_counts_.height > 1000  # many users' steps were counted
    monkeypatch.setattr(tokens, "PARALLEL_SESSIONS", 10**9)
    assert_frame_equal(
        cut.transform(prepared, ctx), whole.transform(prepared, ctx), check_exact=True
    )
