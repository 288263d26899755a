# size: builder, parts and combine (continuing from earlier windows) share row order, floors.
"""Join every FeatureSet into one matrix keyed by (user_id, window).

:class:`MatrixBuilder` fits the feature sets (``fit``) and builds the matrix with them
(``transform``); :func:`build_matrix` does both on the same events.

The matrix is built in two steps, so that it can be built in user partitions: a
:class:`MatrixPart` holds the feature sets' columns of some users (every FeatureSet is
per user: a user's rows depend on that user's events and the fitted sets only), and
:func:`combine` joins the parts of all users and adds what compares users with each
other (peer deviation: a second pass over the whole, small, matrix). The matrix of
everyone in one part equals the combined matrix of the same users in any partition,
when the context's ``population`` gives every partition the peer groups of everyone
(tests/features/test_partitions.py).

Example::

    >>> from auditlens.sources.synthetic import GeneratorSpec, generate
    >>> events = generate(GeneratorSpec(users=20, days=10)).events
    >>> fm = build_matrix(events, FeatureContext())
    >>> fm.frame.columns[:2]
    ['user_id', 'window']
    >>> from auditlens.features.docs import FEATURE_DOCS
    >>> {c.removeprefix("peer_z_") for c in fm.feature_columns} <= set(FEATURE_DOCS)
    True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from typing import Final, Self

import numpy as np
import numpy.typing as npt
import polars as pl

from auditlens.features.access import AccessFeatures
from auditlens.features.base import (
    KEYS,
    WINDOW,
    AggregateFeatureSet,
    FeatureContext,
    FeatureSet,
    NotFitted,
    add_keys,
    aggregate,
    concat_days,
    prepare_matched,
    timeline,
)
from auditlens.features.novelty import LISTS, NEW_HOSTS, NoveltyFeatures
from auditlens.features.peer_novelty import NoveltyPeers, peer_novelty
from auditlens.features.peers import (
    PEER_COLUMNS,
    PEER_GROUP,
    PEERS_ACTIVE,
    PeerDays,
    peer_days,
    peer_deviation,
    peer_floors,
    role_counts_by_day,
)
from auditlens.features.resources import ResourceFeatures
from auditlens.features.sequences import SequenceFeatures
from auditlens.features.temporal import TemporalFeatures
from auditlens.schema import USER_ID

HISTORY_DAYS: Final = "history_days"
#: Info columns: the holiday's name or the weekend, when the window is a day off.
DAY_OFF_KO: Final = "_day_off_ko"
DAY_OFF_EN: Final = "_day_off_en"
#: Columns of the users' own trailing means worked out at once (memory: rows x block).
OWN_BLOCK: Final = 8


def default_sets() -> tuple[FeatureSet, ...]:
    """Fresh instances of the feature sets of the default matrix, in column order."""
    return (
        TemporalFeatures(),
        ResourceFeatures(),
        AccessFeatures(),
        NoveltyFeatures(),
        SequenceFeatures(),
    )


@dataclass(frozen=True)
class FeatureMatrix:
    """The matrix and what explains it.

    ``frame``: keys + feature columns (model input). ``info``: keys, ``history_days``
    (days since the user's first window: warm-up windows have little history),
    ``peer_group``, ``_peers_active`` (other members of the group active that day), and
    for each explained feature the user's own trailing mean ``_own_<c>`` and the peer
    mean ``_peer_<c>`` (the user left out; null when there is no peer to compare with),
    the extra ``_`` columns of the sets, and ``_day_off_ko``/``_day_off_en`` (the
    holiday's name or the weekend; null on workdays). ``unknown_resources``: the
    distinct resource ids of the events that no catalog entry matched, sorted (they got
    the default sensitivity; runs report how many).
    """

    frame: pl.DataFrame
    info: pl.DataFrame
    unknown_resources: tuple[str, ...] = ()

    @property
    def feature_columns(self) -> list[str]:
        """Names of the feature columns, in order."""
        return [c for c in self.frame.columns if c not in KEYS]


@dataclass(frozen=True)
class MatrixPart:
    """The feature sets' columns of some users, before the peer pass (:func:`combine`).

    ``frame``: keys and every set's columns in order (features and ``_`` extras);
    ``groups``: ``user_id, peer_group`` of these users; ``unknown_resources``: resource
    ids of their events that no catalog entry matched, sorted.
    """

    frame: pl.DataFrame
    groups: pl.DataFrame
    unknown_resources: tuple[str, ...] = ()
    #: The groups day by day when the part computed them (no ``ctx.population``).
    peers: PeerDays | None = None


class MatrixBuilder:
    """The feature stage: feature sets fitted together, then the matrix built with them.

    ``sets`` (None: :func:`default_sets`) are the sets to fit, in column order; ``fit``
    fits them in place and keeps them as ``sets_``. Saved inside the fitted pipeline, it
    builds the same columns on events it was not fitted on.
    """

    sets_: tuple[FeatureSet, ...]

    def __init__(self, sets: Sequence[FeatureSet] | None = None) -> None:
        self.sets = sets

    def fit(self, events: pl.DataFrame, ctx: FeatureContext) -> Self:
        """Fit every set on ``events`` (canonical, validated); return self."""
        self.fit_transform(events, ctx)
        return self

    def fit_transform(self, events: pl.DataFrame, ctx: FeatureContext) -> FeatureMatrix:
        """Fit every set on ``events`` and build their matrix (each set's work done once)."""
        return self.combine([self.fit_part(events, ctx)], ctx)

    def transform(self, events: pl.DataFrame, ctx: FeatureContext) -> FeatureMatrix:
        """The matrix of ``events`` computed with the fitted sets.

        Raises:
            NotFitted: ``fit`` was not called.
        """
        return self.combine([self.transform_part(events, ctx)], ctx)

    def combine(self, parts: Sequence[MatrixPart], ctx: FeatureContext) -> FeatureMatrix:
        """:func:`combine` with the floors learned in ``fit`` (a builder saved before
        they were learned: the parts' own)."""
        return combine(parts, ctx, self.floors())

    def fitted_sets(self) -> tuple[FeatureSet, ...]:
        """The sets ``fit`` fitted; raises NotFitted before."""
        sets: tuple[FeatureSet, ...] | None = getattr(self, "sets_", None)
        if sets is None:
            raise NotFitted(
                "the feature sets are not fitted: call fit (or fit_transform) first",
                ko="특성 집합이 아직 학습되지 않았습니다: 먼저 fit(또는 fit_transform)을 "
                "호출하십시오",
            )
        return sets

    def floors(self) -> dict[str, float] | None:
        """The peer z-score floors ``fit`` learned (None for a builder saved before)."""
        floors: dict[str, float] | None = getattr(self, "floors_", None)
        return floors

    def fit_part(self, events: pl.DataFrame, ctx: FeatureContext) -> MatrixPart:
        """Fit every set on ``events`` (canonical, validated) and return their columns
        (:func:`combine` turns the parts of all users into the matrix)."""
        sets = tuple(default_sets() if self.sets is None else self.sets)
        part = _part(events, ctx, sets, fitting=True)
        self.sets_ = sets
        # the peer z-score floors, learned with the sets (a day's z-scores must not move
        # with the days scored beside it)
        self.floors_ = peer_floors(part.frame, [c for c in PEER_COLUMNS if c in part.frame.columns])
        return part

    def transform_part(self, events: pl.DataFrame, ctx: FeatureContext) -> MatrixPart:
        """The fitted sets' columns of ``events`` (some users' events, all of each one's).

        Raises:
            NotFitted: ``fit`` was not called.
        """
        return _part(events, ctx, self.fitted_sets(), fitting=False)


def build_matrix(
    events: pl.DataFrame, ctx: FeatureContext, sets: Sequence[FeatureSet] | None = None
) -> FeatureMatrix:
    """Fit the feature sets (default: :func:`default_sets`) on ``events`` and join them.

    Shorthand for ``MatrixBuilder(sets).fit_transform(events, ctx)``; keep the
    MatrixBuilder to build matrices of other events with what it learned.
    """
    return MatrixBuilder(sets).fit_transform(events, ctx)


def _part(
    events: pl.DataFrame, ctx: FeatureContext, sets: Sequence[FeatureSet], *, fitting: bool
) -> MatrixPart:
    """Compute every feature set on ``events`` (canonical, validated), fitting each set
    first when ``fitting``; their columns joined, one row per (user, window) with events.
    """
    prepared, unknown = prepare_matched(events, ctx)
    # a part of several (the context has everyone's groups) shares the cores with the
    # other parts already: its sets run one after the other, within the memory planned
    # per part in flight; the only part uses a second thread (below)
    alone = ctx.population is None
    with ThreadPoolExecutor(1) as pool:
        return _part_on(pool, prepared, unknown, ctx, sets, fitting=fitting, alone=alone)


def _part_on(
    pool: ThreadPoolExecutor,
    prepared: pl.DataFrame,
    unknown: list[str],
    ctx: FeatureContext,
    sets: Sequence[FeatureSet],
    *,
    fitting: bool,
    alone: bool,
) -> MatrixPart:
    """:func:`_part` of ``prepared`` events, with ``pool``'s one thread (``alone``: the
    only part; else the sets run one after the other on this thread)."""
    # a sequence set's sessions need neither the keys nor the peer groups: cut on the
    # second thread while this one works those out
    early = {
        id(s): pool.submit(s.sessions, prepared, ctx, fitting=fitting)
        for s in sets
        if alone and isinstance(s, SequenceFeatures)
    }
    # integer (user, window) keys once, for every set and the peer groups
    prepared = add_keys(prepared)
    peers = None
    if ctx.population is None:  # the groups day by day of these users, once for every set
        peers = peer_days(role_counts_by_day(prepared), ctx)
        ctx = replace(ctx, population=peers)
        groups = peers.groups
    else:
        groups = ctx.population.of_users(prepared)
    # the aggregations of every AggregateFeatureSet run in one pass over the events; it
    # has a row for every (user, window), so it is the frame the other sets join onto.
    # The other sets (numpy, mostly) run on a second thread meanwhile.
    combined = [s for s in sets if isinstance(s, AggregateFeatureSet)]
    others = [s for s in sets if not isinstance(s, AggregateFeatureSet)]

    def other(feature_set: FeatureSet) -> pl.DataFrame:
        cut = early.get(id(feature_set))
        if cut is not None and isinstance(feature_set, SequenceFeatures):
            sessions = cut.result()
            if fitting:
                return feature_set.fit_transform(prepared, ctx, sessions=sessions)
            return feature_set.transform(prepared, ctx, sessions=sessions)
        if fitting:
            return feature_set.fit_transform(prepared, ctx)
        return feature_set.transform(prepared, ctx)

    pending = [pool.submit(other, s) for s in others] if alone else []
    if fitting:
        combined = [s.fit(prepared, ctx) for s in combined]
    if combined:
        frame = aggregate(combined, prepared, ctx)
    else:
        frame = prepared.lazy().select(*KEYS).unique().sort(*KEYS).collect(engine="streaming")
    columns = iter([p.result() for p in pending] if alone else map(other, others))
    order: list[str] = list(KEYS)
    for feature_set in sets:
        if isinstance(feature_set, AggregateFeatureSet):
            order += feature_set.columns
            continue
        part = next(columns)
        order += [c for c in part.columns if c not in KEYS]
        frame = frame.join(part, on=list(KEYS), how="left")
    return MatrixPart(frame.select(order), groups, tuple(unknown), peers)


def combine(
    parts: Iterable[MatrixPart], ctx: FeatureContext, floors: dict[str, float] | None = None
) -> FeatureMatrix:
    """The matrix of the users of every part (disjoint users): their columns, then the
    second passes that compare users (peer novelty and peer deviation over everyone at
    once).

    Every (user, window) with at least one event gets a row; feature nulls become 0.
    Columns starting with ``_`` that a set returns (e.g. the most surprising session's
    tokens) go to ``info``, not to the model's input. ``floors``: the peer z-score
    floors learned with the model (None: from these parts). A list of ``parts`` is
    emptied: their frames are let go once joined (memory, issue 17).
    """
    return combine_rows(parts, ctx, floors, keep=False)[0]


@dataclass(frozen=True)
class Earlier:
    """What :func:`combine_rows` continues from: the peer-novelty counts of the earlier
    windows and ``recent``, the keys and base feature columns of their last
    ``profile_days`` days (the users' own trailing means)."""

    novelty: NoveltyPeers
    recent: pl.DataFrame


def combine_rows(
    parts: Iterable[MatrixPart],
    ctx: FeatureContext,
    floors: dict[str, float] | None = None,
    earlier: Earlier | None = None,
    *,
    keep: bool = True,
) -> tuple[FeatureMatrix, Earlier]:
    """:func:`combine`, continuing from the ``earlier`` windows (all before the parts'),
    and what the next windows continue from (``keep=False``: not worked out — the
    ``recent`` rows are then ``earlier``'s, for a caller that throws them away)."""
    given = parts
    parts = list(parts)
    alone = len(parts) == 1
    frame = pl.concat([p.frame for p in parts]) if not alone else parts[0].frame
    unknown = sorted({r for p in parts for r in p.unknown_resources})
    days = ctx.population if ctx.population is not None else parts[0].peers
    if days is None or (not alone and ctx.population is None):
        raise ValueError("parts of a partitioned matrix need ctx.population (peers.population)")
    # the parts' frames are not held past their concatenation (a list given is emptied)
    del parts
    if isinstance(given, list):
        given.clear()
    # one row order (users, then days) whatever the partitions: the peer sums add alike
    frame = frame.sort(*KEYS)
    novelty = earlier.novelty if earlier is not None else NoveltyPeers.empty()
    if NEW_HOSTS in frame.columns:
        # novelty against the peers: a second pass over the (user, window) frame
        found, novelty = peer_novelty(frame, days, novelty)
        frame = frame.join(found, on=list(KEYS), how="left").drop(LISTS)
    extra = frame.select(*KEYS, pl.selectors.starts_with("_"))
    frame = frame.select(pl.exclude("^_.*$"))
    base = [c for c in frame.columns if c not in KEYS]
    # peer means of every feature explain reasons; z-scores of PEER_COLUMNS feed the model
    scored = [c for c in PEER_COLUMNS if c in base]  # (the others' z-scores go unused)
    filled = frame.with_columns(pl.col(base).fill_null(0).fill_nan(0)).sort(*KEYS)
    # the users' own trailing means (numpy) on a second thread while Polars compares
    # peers; the matrix of many parts (larger than memory at once) one after the other
    with ThreadPoolExecutor(1) as pool:
        own_means = partial(_own_means, filled, ctx, earlier, novelty, keep=keep)
        owned = pool.submit(own_means) if alone else None
        peers = peer_deviation(frame, days, base, floors, scored)
        z = peers.select(*KEYS, pl.col([f"peer_z_{c}" for c in scored]).fill_null(0).fill_nan(0))
        frame = filled.join(z, on=list(KEYS), maintain_order="left")
        del z
        own, recent = own_means() if owned is None else owned.result()
        del filled, own_means, owned
    info = (
        own.join(
            peers.select(*KEYS, PEER_GROUP, PEERS_ACTIVE, pl.selectors.starts_with("_peer_")),
            on=list(KEYS),
        )
        .select(
            *KEYS,
            HISTORY_DAYS,
            PEER_GROUP,
            PEERS_ACTIVE,
            pl.selectors.starts_with("_own_", "_peer_"),
        )
        .join(extra, on=list(KEYS), how="left")
        .join(_days_off(frame.get_column(WINDOW), ctx), on=WINDOW, how="left")
        .sort(*KEYS)
    )
    matrix = FeatureMatrix(frame=frame, info=info, unknown_resources=tuple(unknown))
    return matrix, Earlier(novelty, recent)


def _own_means(
    rows: pl.DataFrame,
    ctx: FeatureContext,
    earlier: Earlier | None,
    novelty: NoveltyPeers,
    *,
    keep: bool = True,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Keys, ``history_days`` and each base column's trailing mean ``_own_<c>`` of
    ``rows`` (keys and base columns) over the user's earlier days, ``earlier.recent``
    included; and the last ``profile_days`` days of rows for the next windows."""
    base = [c for c in rows.columns if c not in KEYS]
    before = rows.clear() if earlier is None else earlier.recent
    before = before.join(
        rows.select(USER_ID).unique(), on=USER_ID, how="semi", maintain_order="left"
    )
    both = rows.with_columns(pl.lit(False).alias("_old"))  # (rows are sorted by keys)
    if before.height:
        both = concat_days(before.with_columns(pl.lit(True).alias("_old")), both)
    starts = novelty.starts.rename({"first": "_start"})
    axis = both.select(timeline(ctx)).to_series().to_numpy()
    new = np.flatnonzero(~both.get_column("_old").to_numpy())
    own = (
        both.select(*KEYS, "_old")
        .join(starts, on=USER_ID, how="left", maintain_order="left")
        .with_columns(
            (pl.col(WINDOW) - pl.min_horizontal(pl.col(WINDOW).min().over(USER_ID), "_start"))
            .dt.total_days()
            .cast(pl.Int64)
            .alias(HISTORY_DAYS),
        )
        .filter(~pl.col("_old"))
        .drop("_old", "_start")
        .with_columns(_trailing_means(both, base, axis, new, ctx.profile_days))
    )
    kept = earlier.recent if earlier is not None else rows.clear()
    if not keep:  # (re-sorting ~profile_days x users rows: most of a small update's cost)
        return own, kept
    last = rows.get_column(WINDOW).max()
    recent = concat_days(kept, rows)
    if isinstance(last, dt.date):
        recent = recent.filter(pl.col(WINDOW) > last - dt.timedelta(days=ctx.profile_days + 1))
    return own, recent


def _trailing_means(
    rows: pl.DataFrame, columns: list[str], axis: npt.NDArray[np.int64], at: npt.NDArray[np.int64],
    days: int,
) -> list[pl.Series]:  # fmt: skip
    """``_own_<c>``: for the rows ``at`` of ``rows`` (sorted by user and day, ``axis``
    their days on features.base.timeline), the mean of ``c`` over the user's rows of the
    ``days`` days before (null without any).

    Each mean adds its (at most ``days``) values nearest first, from 0.0: the same bits
    whatever rows come before (a rolling sum would carry rounding from wherever the frame
    starts, and the days computed from a history must equal the days among all).
    """
    lo = np.searchsorted(axis, axis[at] - days, side="left")
    if not columns:
        return []
    # which rows have a row k rows back among their days, k = 1, 2, ... (at - k only
    # falls as k grows: once no row has one, none has for a larger k)
    counted: list[npt.NDArray[np.bool_]] = []
    for k in range(1, days + 1):
        ok = at - k >= lo
        if not ok.any():
            break
        counted.append(ok)
    n: npt.NDArray[np.int64] = np.zeros(at.size, dtype=np.int64)
    for ok in counted:
        n += ok
    none = pl.Series(n == 0)
    # the rows scored one after the other (a whole matrix): k rows back is a slice
    run = at.size > 0 and int(at[-1] - at[0]) == at.size - 1
    first_row = int(at[0]) if at.size else 0
    means: list[pl.Series] = []
    # OWN_BLOCK columns at once (rows x columns; every column at once held five copies
    # of the matrix's base columns): the same element-wise sums, in the same order (a
    # row not counted adds nothing, as adding 0.0 to a sum that started at 0.0 did)
    for first in range(0, len(columns), OWN_BLOCK):
        block = columns[first : first + OWN_BLOCK]
        x = rows.select(pl.col(block).cast(pl.Float64).fill_null(0.0)).to_numpy()
        total = np.zeros((at.size, len(block)))
        for k, ok in enumerate(counted, start=1):
            if run:  # (the first rows have none k rows back in the frame: not counted)
                skip = max(k - first_row, 0)
                back = x[first_row + skip - k : first_row - k + at.size]
                np.add(total[skip:], back, out=total[skip:], where=ok[skip:, None])
            else:
                np.add(total, x[np.maximum(at - k, 0)], out=total, where=ok[:, None])
        del x
        with np.errstate(invalid="ignore", divide="ignore"):
            total /= n[:, None]
        means += [pl.Series(f"_own_{c}", total[:, i]).set(none, None) for i, c in enumerate(block)]
    return means


def _days_off(windows: pl.Series, ctx: FeatureContext) -> pl.DataFrame:
    """``window, _day_off_ko, _day_off_en``: why each window is a day off (null on workdays).

    Reasons name the holiday ("추석 연휴 중 활동") from these columns.
    """
    days = windows.drop_nulls().unique().sort().to_list()
    ko = ctx.calendar.day_off_names(days, "ko")
    en = ctx.calendar.day_off_names(days, "en")
    return pl.DataFrame(
        {
            WINDOW: days,
            DAY_OFF_KO: [ko.get(d) for d in days],
            DAY_OFF_EN: [en.get(d) for d in days],
        },
        schema={WINDOW: pl.Date, DAY_OFF_KO: pl.String, DAY_OFF_EN: pl.String},
    )
