"""Feature history: what the windows so far leave, so later windows are computed from
their own events only, exactly as a computation over every window computes them.

Every feature of a (user, day) window depends only on events up to the end of that day
(and on the fitted feature sets): peer groups are decided day by day, peers are counted
as of the day, sessions never span two days, z-score floors are learned with the model.
So the matrix of all days equals the matrix built a day at a time, and a daily run only
reads the new day's events. :class:`FeatureHistory` holds, for every user seen:

* ``prior`` (:class:`features.base.Prior`): the per-window aggregation rows of the last
  ``profile_days`` days (trailing baselines), one summary row per user (first window,
  last off-hours logon and USB day, logon-hour range), the hosts, source IPs and
  sensitive families each user used before, the failed logins of the last minutes
  (bursts across midnight);
* ``peers`` (:class:`features.asof.PeerDays`): role counts and group spells;
* ``earlier`` (:class:`features.matrix.Earlier`): user-days per host, first-ever kinds and
  families, and the last ``profile_days`` days of base features (own trailing means);
* ``sequences``: the sequence model's per-user habits, session vectors and watch-list
  partial matches.

Its size grows with users, hosts and distinct steps, not with events.
:func:`advance` turns a history and the events of later days into those days' matrix and
the next history; the matrix of all events is ``advance`` from :meth:`FeatureHistory.empty`
(tests/features/test_history.py checks day by day against all at once).
"""

from __future__ import annotations

import datetime as dt
import pickle
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Final

import polars as pl

from auditlens.errors import AuditlensError
from auditlens.features.access import BURST_WINDOW
from auditlens.features.asof import PeerDays
from auditlens.features.base import (
    LOCAL_HOUR,
    OK,
    WINDOW,
    AggregateFeatureSet,
    FeatureContext,
    FeatureSet,
    Prior,
    add_keys,
    aggregate_rows,
    concat_days,
    looked_back,
    prepare_matched,
)
from auditlens.features.matrix import (
    Earlier,
    FeatureMatrix,
    MatrixBuilder,
    MatrixPart,
    combine_rows,
)
from auditlens.features.peers import peer_days, role_counts_by_day
from auditlens.features.running import used_values
from auditlens.features.sequences import SequenceFeatures
from auditlens.features.sequences.history import SequenceHistory
from auditlens.schema import ACTION_TYPE, TIMESTAMP, USER_ID

#: Minutes before midnight whose failed logins the next day's bursts may include.
_TAIL_MINUTES: Final = int(BURST_WINDOW.removesuffix("m"))


class LateEvents(AuditlensError):
    """Events of a day the history already holds: the days after it must be rebuilt."""


@dataclass(frozen=True)
class FeatureHistory:
    """What every window up to ``last_window`` leaves (module docstring)."""

    last_window: dt.date | None
    prior: Prior
    peers: PeerDays
    earlier: Earlier | None
    sequences: SequenceHistory | None = None

    @staticmethod
    def empty() -> FeatureHistory:
        """Before the first window."""
        prior = Prior(
            daily=pl.DataFrame(schema={USER_ID: pl.String, WINDOW: pl.Date}),
            users=pl.DataFrame(schema={USER_ID: pl.String}),
            seen=pl.DataFrame(schema={"_what": pl.String, USER_ID: pl.String, "_value": pl.String}),
            tail=pl.DataFrame(schema={USER_ID: pl.String, TIMESTAMP: pl.Datetime("us", "UTC")}),
        )
        return FeatureHistory(None, prior, PeerDays.empty(), None)

    def to_bytes(self) -> bytes:
        """The history as bytes (pickle: frames and numpy arrays of this package)."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def from_bytes(data: bytes) -> FeatureHistory:
        """A history written by :meth:`to_bytes` (only ever files this package wrote)."""
        history = pickle.loads(data)  # noqa: S301 - our own file, hashed with its run
        if not isinstance(history, FeatureHistory):
            raise TypeError("not a feature history")
        return history


def advance(
    builder: MatrixBuilder,
    events: pl.DataFrame,
    ctx: FeatureContext,
    history: FeatureHistory | None = None,
    *,
    keep: bool = True,
) -> tuple[FeatureMatrix, FeatureHistory]:
    """The matrix of ``events`` (canonical, validated; every window later than the
    history's) computed with ``builder``'s fitted sets, and the history after them
    (``keep=False``: the history given, unchanged — for a day whose events are not all
    in yet, e.g. the stream's today, whose history would be thrown away).

    Raises:
        LateEvents: an event falls on or before the history's last window.
        NotFitted: the builder was not fitted.
    """
    history = history or FeatureHistory.empty()
    sets = builder.fitted_sets()
    prepared, unknown = prepare_matched(events, ctx)
    last = history.last_window
    first_new = prepared.get_column(WINDOW).min()
    if last is not None and isinstance(first_new, dt.date) and first_new <= last:
        raise LateEvents(
            f"events of {first_new} arrived after the features of days up to {last} were "
            "computed: the days from then on must be computed again",
            ko=f"{last}까지의 특성을 계산한 뒤 {first_new}의 이벤트가 들어왔습니다: 그날부터 "
            "다시 계산해야 합니다",
        )
    prepared = add_keys(prepared)
    peers = peer_days(role_counts_by_day(prepared), ctx, history.peers)
    day_ctx = replace(ctx, population=peers)
    prior = history.prior if last is not None else None
    combined = [s for s in sets if isinstance(s, AggregateFeatureSet)]
    # the other sets (the sequences: numpy over the sessions) on a second thread while
    # the aggregations run (Polars, which releases the GIL): both read the prepared events
    with ThreadPoolExecutor(1) as pool:
        others = pool.submit(other_columns, sets, prepared, day_ctx, history.sequences)
        frame, daily, users = aggregate_rows(combined, prepared, day_ctx, prior)
        columns, sequences = others.result()
    part = MatrixPart(with_columns_of(frame, columns), peers.groups, tuple(unknown), peers)
    matrix, earlier = combine_rows([part], day_ctx, builder.floors(), history.earlier, keep=keep)
    newest = prepared.get_column(WINDOW).max()
    if not keep or not isinstance(newest, dt.date):  # no events: nothing changes
        return matrix, history
    after = After(looked_back(combined, daily), users, prepared, peers, earlier, sequences)
    return matrix, after.of(history, newest, ctx)


@dataclass(frozen=True)
class After:
    """What a computation of the windows up to ``newest`` leaves, besides their rows:
    the aggregation rows before ``finish`` (``daily``: the columns the sets read of
    earlier rows, ``base.looked_back``), the sets' per-user summaries,
    the prepared events, the peer days, ``combine_rows``' earlier windows, the sequence
    history."""

    daily: pl.DataFrame
    users: pl.DataFrame
    prepared: pl.DataFrame
    peers: PeerDays
    earlier: Earlier
    sequences: SequenceHistory | None

    def of(self, history: FeatureHistory, newest: dt.date, ctx: FeatureContext) -> FeatureHistory:
        """The history after ``history`` and these windows (the last one ``newest``)."""
        prior = Prior(
            daily=_recent(history.prior.daily, self.daily, newest, ctx.profile_days),
            users=self.users,
            seen=_seen(history.prior.seen, self.prepared),
            tail=_tail(self.prepared, newest),
        )
        peers = self.peers.keep_counts()
        return FeatureHistory(newest, prior, peers, self.earlier, self.sequences)


def with_other_sets(
    sets: tuple[FeatureSet, ...],
    frame: pl.DataFrame,
    prepared: pl.DataFrame,
    day_ctx: FeatureContext,
    sequences: SequenceHistory | None,
) -> tuple[pl.DataFrame, SequenceHistory | None]:
    """``frame`` (the aggregate sets' rows) with the columns of the other ``sets`` over
    ``prepared`` (a sequence set continuing ``sequences``; ``day_ctx.population``: the
    peer groups by day), in the sets' order; and the sequence history after them."""
    columns, sequences = other_columns(sets, prepared, day_ctx, sequences)
    return with_columns_of(frame, columns), sequences


def other_columns(
    sets: tuple[FeatureSet, ...],
    prepared: pl.DataFrame,
    day_ctx: FeatureContext,
    sequences: SequenceHistory | None,
) -> tuple[list[pl.DataFrame], SequenceHistory | None]:
    """The rows (keys and columns) of each of ``sets`` that is not an aggregate set, over
    ``prepared`` (a sequence set continuing ``sequences``), in the sets' order; and the
    sequence history after them."""
    groups = day_ctx.population.groups if day_ctx.population is not None else None
    out: list[pl.DataFrame] = []
    for feature_set in sets:
        if isinstance(feature_set, AggregateFeatureSet):
            continue
        if isinstance(feature_set, SequenceFeatures):
            habits = sequences if sequences is not None else SequenceHistory.empty()
            columns, sequences = feature_set.transform_after(
                prepared, day_ctx, habits, groups=groups
            )
        else:  # a set without a history of its own
            columns = feature_set.transform(prepared, day_ctx)
        out.append(columns)
    return out, sequences


def with_columns_of(frame: pl.DataFrame, others: list[pl.DataFrame]) -> pl.DataFrame:
    """``frame`` left-joined with each of ``others`` on the keys, its new columns after
    ``frame``'s in order."""
    order = list(frame.columns)
    for columns in others:
        order += [c for c in columns.columns if c not in order]
        frame = frame.join(columns, on=[USER_ID, WINDOW], how="left")
    return frame.select(order)


def _recent(before: pl.DataFrame, daily: pl.DataFrame, newest: dt.date, days: int) -> pl.DataFrame:
    """The aggregation rows of the last ``days`` days up to ``newest`` (and one more), in
    the columns of ``daily`` (a history of an earlier version may hold more)."""
    kept = before.select(c for c in before.columns if c in daily.columns)
    both = concat_days(kept, daily, "diagonal_relaxed") if before.height else daily
    return both.filter(pl.col(WINDOW) > newest - dt.timedelta(days=days + 1))


def _seen(before: pl.DataFrame, prepared: pl.DataFrame) -> pl.DataFrame:
    """``before`` plus the hosts, source IPs and sensitive families used in ``prepared``."""
    new = used_values(prepared.lazy()).drop_nulls().unique().collect()
    return pl.concat([before, new]).unique().sort("_what", USER_ID, "_value")


def _tail(prepared: pl.DataFrame, newest: dt.date) -> pl.DataFrame:
    """The failed logins of the last minutes of ``newest`` (a burst across midnight)."""
    late = pl.col(LOCAL_HOUR) >= 24.0 - _TAIL_MINUTES / 60.0
    failed = (pl.col(ACTION_TYPE) == "login") & ~pl.col(OK)
    return prepared.filter(failed & late & (pl.col(WINDOW) == newest)).select(
        USER_ID, pl.col(TIMESTAMP).dt.convert_time_zone("UTC")
    )
