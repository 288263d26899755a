"""The current day's matrix kept up to date a piece of its events at a time (the stream).

:func:`features.history.advance` of a day's events so far gives that day's rows bit for
bit as a batch over the same events; the stream needs them after every micro-batch, and
computing them again over the whole day each time costs the day so far, a cost that
grows until midnight. :class:`RunningDay` keeps what the day's rows are made of instead:

* the aggregate sets' per-window aggregations of the day so far, per user, merged a
  piece at a time (:meth:`~features.base.AggregateFeatureSet.merges`: sums, counts,
  minima, maxima, ``any``);
* the values their extra columns are computed from (:class:`features.running.DayValues`:
  distinct values, events per hour, failed logins);
* events per user and role (peer groups of the day);
* the day's prepared events for the sets that are not aggregations (the sequence
  features: a session's score depends on the other steps its user took that day), and
  their rows per user, computed again only for the users with events since the last
  :meth:`RunningDay.matrix` or whose peer group changed.

:meth:`RunningDay.matrix` finishes the day's rows from these and the history before the
day (trailing baselines, first-seen values, peers): the rows ``advance`` gives over the
same events (tests/features/test_today.py compares them after every piece).
:meth:`RunningDay.close` gives them over the whole day with the history after it, as
``advance`` does. A piece costs its own events (and a join with the day's and the
history's distinct values); the rows cost the day's users, the history's peer tables and
the sequence features of the acting users over their day so far. A builder whose
aggregate sets cannot merge is run over the day's events again each time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Final

import polars as pl

from auditlens.features.base import (
    KEYS,
    WINDOW,
    AggregateFeatureSet,
    FeatureContext,
    finish_rows,
    finished_rows,
    looked_back,
    prepare_matched,
)
from auditlens.features.history import (
    After,
    FeatureHistory,
    LateEvents,
    advance,
    with_other_sets,
)
from auditlens.features.matrix import FeatureMatrix, MatrixBuilder, MatrixPart, combine_rows
from auditlens.features.peers import PEER_GROUP, peer_days, role_counts_by_day
from auditlens.features.running import DayValues
from auditlens.schema import DEPARTMENT, EVENT_COLUMNS, EVENT_DTYPES, ROLE, USER_ID

#: Pieces of prepared events kept apart before they are copied into one.
_PIECES: Final = 64


class RunningDay:
    """One day's rows over the days before it (``history``), its events added in pieces
    (module docstring)."""

    def __init__(
        self, builder: MatrixBuilder, ctx: FeatureContext, history: FeatureHistory, day: dt.date
    ) -> None:
        self.builder, self.ctx, self.history, self.day = builder, ctx, history, day
        sets = builder.fitted_sets()
        self._aggregates = [s for s in sets if isinstance(s, AggregateFeatureSet)]
        merges = [s.merges() for s in self._aggregates]
        self._merges = None if None in merges else [e for m in merges if m for e in m]
        #: the aggregate sets merge pieces (else the day's events are aggregated again)
        self.merging = self._merges is not None
        self._prior = history.prior if history.last_window is not None else None
        self.height = 0  # the day's events so far
        self._prepared: list[pl.DataFrame] = []  # per piece (the sequence features')
        self._rows = pl.DataFrame()  # user_id + every aggregation of the day so far
        self._values = DayValues.empty()
        self._counts = pl.DataFrame()  # role_counts_by_day of the day so far
        self._unknown: set[str] = set()
        self._others: pl.DataFrame | None = None  # _other_rows' rows so far
        self._groups = pl.DataFrame()  # the peer groups they were computed with
        self._dirty: set[str] = set()  # users with events since

    def add(self, events: pl.DataFrame) -> None:
        """Add more of the day's events (canonical, validated, all on ``day``).

        Raises:
            LateEvents: an event is not on ``day``.
        """
        if events.height == 0:
            return
        prepared, unknown = prepare_matched(events, self.ctx)
        days = prepared.get_column(WINDOW).unique().to_list()
        if days != [self.day]:
            raise LateEvents(
                f"events of {', '.join(map(str, sorted(days)))} added to the day {self.day}",
                ko=f"{self.day}의 이벤트가 아닌 이벤트가 추가되었습니다: "
                f"{', '.join(map(str, sorted(days)))}",
            )
        self.height += events.height
        self._prepared.append(prepared)
        self._dirty.update(prepared.get_column(USER_ID).unique().to_list())
        self._unknown.update(unknown)
        counts = role_counts_by_day(prepared).with_columns(pl.col("_n").cast(pl.Int64))
        self._counts = _summed(self._counts, counts, [USER_ID, WINDOW, DEPARTMENT, ROLE])
        if self._merges is None:
            return
        helpers = {k: v for s in self._aggregates for k, v in s.helpers(self.ctx).items()}
        rows = prepared.lazy().with_columns(**helpers)
        aggregations = [a for s in self._aggregates for a in s.aggregations(self.ctx)]
        piece = rows.group_by(USER_ID).agg(aggregations).collect()
        if self._rows.height:
            both = pl.concat([self._rows, piece], how="vertical_relaxed")
            piece = both.group_by(USER_ID).agg(self._merges)
        self._rows = piece
        self._values = self._values.added(prepared, self._prior)

    @property
    def events(self) -> pl.DataFrame:
        """The day's canonical events so far (from the prepared pieces, which hold their
        columns: the day is kept once, not as events and as prepared events)."""
        if not self._prepared:
            return pl.DataFrame(schema=EVENT_DTYPES)
        return pl.concat([p.select(EVENT_COLUMNS) for p in self._prepared], how="vertical_relaxed")

    def role_counts(self) -> pl.DataFrame:
        """``user_id, window, department, role, _n``: the day's events per user and role."""
        return self._counts

    def matrix(self) -> FeatureMatrix:
        """The day's rows over its events so far (those ``advance`` gives)."""
        if self._merges is None or not self._prepared:
            matrix, _ = advance(self.builder, self.events, self.ctx, self.history, keep=False)
            return matrix
        peers = peer_days(self._counts, self.ctx, self.history.peers)
        day_ctx = replace(self.ctx, population=peers)
        finished = finish_rows(self._aggregates, self._daily(day_ctx), day_ctx, self._prior)
        columns = [c for s in self._aggregates for c in s.columns]
        others = self._other_rows(day_ctx)
        frame = finished.select(*KEYS, *columns).join(others, on=list(KEYS), how="left")
        part = MatrixPart(frame, peers.groups, tuple(sorted(self._unknown)), peers)
        floors, earlier = self.builder.floors(), self.history.earlier
        matrix, _ = combine_rows([part], day_ctx, floors, earlier, keep=False)
        return matrix

    def close(self) -> tuple[FeatureMatrix, FeatureHistory]:
        """The day's rows over all its events and the history after the day: what
        ``advance(builder, events, ctx, history)`` gives, without preparing and
        aggregating the day's events again (the sequence features are computed over the
        whole day once more: the history they leave is every user's)."""
        if self._merges is None or not self._prepared:
            return advance(self.builder, self.events, self.ctx, self.history)
        history = self.history
        peers = peer_days(self._counts, self.ctx, history.peers)
        day_ctx = replace(self.ctx, population=peers)
        daily = self._daily(day_ctx)
        frame, users = finished_rows(self._aggregates, daily, day_ctx, self._prior)
        prepared = pl.concat(self._prepared, how="vertical_relaxed")
        sets = self.builder.fitted_sets()
        frame, sequences = with_other_sets(sets, frame, prepared, day_ctx, history.sequences)
        part = MatrixPart(frame, peers.groups, tuple(sorted(self._unknown)), peers)
        floors = self.builder.floors()
        matrix, earlier = combine_rows([part], day_ctx, floors, history.earlier)
        kept = looked_back(self._aggregates, daily)
        after = After(kept, users, prepared, peers, earlier, sequences)
        return matrix, after.of(history, self.day, self.ctx)

    def _daily(self, day_ctx: FeatureContext) -> pl.DataFrame:
        """The day's aggregation rows before ``finish`` (keys, every aggregation and
        extra column), sorted by user: those ``aggregate_rows`` gives."""
        daily = self._rows
        for feature_set in self._aggregates:
            for extra in feature_set.running_extras(self._values, day_ctx):
                daily = daily.join(extra, on=USER_ID, how="left")
        daily = daily.with_columns(pl.lit(self.day).alias(WINDOW)).sort(USER_ID)
        return daily.select(*KEYS, pl.exclude(*KEYS))

    def _other_rows(self, day_ctx: FeatureContext) -> pl.DataFrame:
        """Keys and the columns of the sets that are not aggregations (the sequence
        features) of every user so far: computed again over the day's events of the
        users with events since the last call or whose peer group changed (a set's rows
        of a user depend on that user's events, the history and the user's group only),
        kept for the others."""
        assert day_ctx.population is not None  # noqa: S101 - matrix() sets it
        today = pl.col(WINDOW) == self.day
        groups = day_ctx.population.groups.filter(today).select(USER_ID, PEER_GROUP)
        dirty = pl.Series(USER_ID, sorted(self._dirty), dtype=pl.String)
        if self._others is not None:
            moved = groups.join(self._groups, on=[USER_ID, PEER_GROUP], how="anti")
            dirty = pl.concat([dirty, moved.get_column(USER_ID)]).unique()
        if len(self._prepared) > _PIECES:  # one piece again (each event copied rarely)
            self._prepared = [pl.concat(self._prepared, how="vertical_relaxed", rechunk=True)]
        events = pl.concat(self._prepared, how="vertical_relaxed")
        few = self._others is not None and dirty.len() * 2 < groups.height
        if few:  # (picking most users' events out costs more than it saves)
            events = events.filter(pl.col(USER_ID).is_in(dirty.implode()))
        keys = dirty.to_frame() if few else groups.select(USER_ID)
        keys = keys.with_columns(pl.lit(self.day, pl.Date).alias(WINDOW))
        fresh, _ = with_other_sets(
            self.builder.fitted_sets(), keys, events, day_ctx, self.history.sequences
        )
        if few and self._others is not None:
            kept = self._others.join(fresh.select(USER_ID), on=USER_ID, how="anti")
            fresh = pl.concat([kept, fresh.select(kept.columns)])
        self._others, self._groups, self._dirty = fresh, groups, set()
        return fresh


def _summed(before: pl.DataFrame, more: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """``before`` and ``more`` (keys and ``_n``) with the counts of equal keys added."""
    if before.height == 0:
        return more
    both = pl.concat([before, more], how="vertical_relaxed")
    return both.group_by(keys).agg(pl.col("_n").sum())
