# size: the FeatureSet contract, event preparation and the keyed aggregation all sets share.
"""The FeatureSet plug-in point and what every feature set is given.

Events reach a FeatureSet *prepared* once by :func:`prepare`: local time, the window
(local calendar day), the off-hours flag and the resource's sensitivity are already
columns, so each set is one ``group_by`` over the same frame.

A FeatureSet follows scikit-learn's conventions: its constructor only stores parameters,
``fit`` learns from prepared events (attributes ending in ``_``) and returns it,
``transform`` computes the columns. Sets that learn nothing (``stateful = False``) need
no ``fit`` before ``transform``; a stateful one raises :class:`NotFitted` until fitted.
The :class:`FeatureContext` holds configuration only, never fitted state.

Sets built from per-window aggregations derive from :class:`AggregateFeatureSet`: they
declare their helper columns, aggregations and extra per-window frames, and
:func:`aggregate` computes those of several sets in ONE pass keyed by an integer per
(user, window) (build_matrix does so for all such sets at once).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Final, Self

import polars as pl

from auditlens.calendar import TICKS_PER_SECOND, BusinessCalendar
from auditlens.errors import AuditlensError
from auditlens.features.catalog import ResourceCatalog
from auditlens.features.runs import starts
from auditlens.schema import RESOURCE_ID, SUCCESS, TIMESTAMP, USER_ID

if TYPE_CHECKING:
    from polars._typing import ConcatMethod, EngineType

    from auditlens.features.asof import PeerDays
    from auditlens.features.running import DayValues
    from auditlens.features.watchlist import WatchPattern

#: Key columns of every feature frame and of the matrix.
WINDOW: Final = "window"
KEYS: Final = (USER_ID, WINDOW)

# columns ``prepare`` adds (leading underscore: helpers, never features)
LOCAL_HOUR: Final = "_hour"  # local hour of day as a float, 13.5 = 13:30
OFF_HOURS: Final = "_off_hours"
LEVEL: Final = "_level"  # sensitivity rank 0..3 (low..critical); null for resourceless rows
WEIGHT: Final = "_weight"
FAMILY: Final = "_family"  # catalog pattern matched, else the resource id itself
RESOURCE_CODE: Final = "_resource"  # integer per distinct resource id; null without one
OK: Final = "_ok"  # success, null read as success
_LOCAL: Final = "_local"

# columns ``add_keys`` adds to prepared events (integer keys, cheaper than strings)
USER_CODE: Final = "_user"  # rank of the user_id among the events' users, sorted
#: One integer per (user, window), ordered like (user_id, window).
KEY: Final = "_key"
_ROW: Final = "_row"
#: From this many events on, the feature queries over them run on Polars' streaming
#: engine; below it (a day's increment) on the in-memory one, whose start costs less:
#: a day's aggregation continuing a history, 248,667 events, 0.24-0.30 CPU-s against
#: 0.29-0.39 streamed (five alternating pairs, the same rows). Over whole users' events
#: (medians of four): 241k events 0.151 against 0.159 CPU-s, 486k 0.214 against 0.197,
#: 987k 0.435 against 0.346, 2M 1.13 against 0.69.
STREAMING_ROWS: Final = 400_000

BULK_ACTIONS: Final = ("download", "export", "print", "copy", "usb_connect")
CHANGE_ACTIONS: Final = ("edit", "delete")


@dataclass(frozen=True)
class FeatureContext:
    """What feature sets need besides the events: configuration only, nothing fitted.

    ``profile_days`` is the length of the rolling personal baseline (the window's own day
    excluded). ``peer_groups`` is a directory of ``user_id`` with department/role; when
    absent, groups come from the events' ``department`` and ``role``. ``watchlist``
    holds the watch-list patterns that always raise a reason; ``seed`` and
    ``session_gap_minutes`` are what a stateful set is fitted with. ``population``:
    the groups day by day of every user of a run that builds its matrix in user
    partitions (peers.population over all of them), so each partition's users keep the
    groups they have among everyone; None = the groups of the events given.
    """

    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    catalog: ResourceCatalog = field(default_factory=ResourceCatalog)
    profile_days: int = 28
    min_peer_group: int = 5
    peer_groups: pl.DataFrame | None = None
    watchlist: tuple[WatchPattern, ...] = ()
    seed: int = 7
    session_gap_minutes: float = 30.0
    population: PeerDays | None = None

    @property
    def profile(self) -> str:
        """The baseline length as a polars duration string."""
        return f"{self.profile_days}d"


class NotFitted(AuditlensError):
    """A stateful feature set (or the pipeline holding it) was used before ``fit``."""

    hint = "fit it first (`auditlens run --refit` fits and stores a new model)"
    ko_hint = "먼저 학습시키십시오 (`auditlens run --refit`이 새 모델을 학습해 저장합니다)"


#: Column marking the rows of earlier windows a batch's finish steps see (features/history).
PRIOR: Final = "_prior"
#: Kinds of ``Prior.seen`` values: hosts, source IPs, sensitive resource families.
SEEN_HOST: Final = "host"
SEEN_SRC_IP: Final = "src_ip"
SEEN_FAMILY: Final = "family"
#: Prefix of the per-user summary columns of earlier windows (``Prior.users``).
HISTORY_PREFIX: Final = "_h_"


@dataclass(frozen=True)
class Prior:
    """What the windows before a batch left behind, for computing the batch's windows
    exactly as a computation over every window would (features/history.py keeps it).

    ``daily``: the per-window aggregation rows (keys and the aggregation columns the sets
    read of earlier rows: :func:`looked_back`, before ``finish``) of the last
    ``profile_days`` days before the batch, for trailing baselines; ``users``: one row
    per user with the sets' summaries of every earlier window (``_h_`` columns: first
    window, last off-hours logon, ...); ``seen``: ``_what, user_id, _value``, the values
    each user used before (first-seen features; ``_what`` names the kind: host, src_ip,
    family); ``tail``: ``user_id, timestamp`` of the failed logins just before the batch
    (bursts across midnight).
    """

    daily: pl.DataFrame
    users: pl.DataFrame
    seen: pl.DataFrame
    tail: pl.DataFrame

    def seen_of(self, what: str, column: str) -> pl.LazyFrame:
        """``user_id, <column>``: the values of kind ``what`` each user used before."""
        return (
            self.seen.lazy()
            .filter(pl.col("_what") == what)
            .select(USER_ID, pl.col("_value").alias(column))
        )


class FeatureSet(ABC):
    """Computes named feature columns per (user_id, window) from prepared events."""

    #: Short name, used in docs and error messages.
    name: str
    #: True when ``transform`` needs what ``fit`` learned (it raises NotFitted before).
    stateful: ClassVar[bool] = False

    def fit(self, events: pl.DataFrame, ctx: FeatureContext) -> Self:
        """Learn what ``transform`` needs from prepared events; return self.

        Stateless sets learn nothing: this returns self unchanged.
        """
        return self

    @abstractmethod
    def transform(self, events: pl.DataFrame, ctx: FeatureContext) -> pl.DataFrame:
        """Return one row per (user_id, window) the events cover, keys first."""

    def fit_transform(self, events: pl.DataFrame, ctx: FeatureContext) -> pl.DataFrame:
        """``fit`` then ``transform`` on the same events (sets may share the work)."""
        return self.fit(events, ctx).transform(events, ctx)


def prepare(events: pl.DataFrame, ctx: FeatureContext) -> pl.DataFrame:
    """Add the shared helper columns to canonical events (one pass, done once).

    Rows keep their order. Raises nothing for unknown resources: they get the catalog's
    default level.
    """
    return prepare_matched(events, ctx)[0]


def prepare_matched(events: pl.DataFrame, ctx: FeatureContext) -> tuple[pl.DataFrame, list[str]]:
    """:func:`prepare`, and the distinct resource ids that matched no catalog entry
    (sorted): what the catalog match found anyway, so reports need not look again."""
    cal = ctx.calendar
    years = _years(events)
    # the catalog matched on a second thread meanwhile (hashing the ids keeps ~1.2 of two
    # cores busy, the local times below mostly one: 10M events 1.3 -> 1.0 s)
    with ThreadPoolExecutor(1) as pool:
        matching = pool.submit(_matched, events.get_column(RESOURCE_ID), ctx.catalog)
        # local wall-clock time once, as integer ticks, then integer arithmetic on them
        # (the same values as the date-time fields, without a time-zone lookup per field)
        local_ticks = cal.local_ticks(events.get_column(TIMESTAMP))
        per_second = TICKS_PER_SECOND[_time_unit(events.schema[TIMESTAMP])]
        ticks = pl.col(_LOCAL)
        day = ticks // (per_second * 86_400)
        second = ticks // per_second - day * 86_400  # of the local day, 0..86399
        local = (
            events.lazy()
            .with_columns(local_ticks.alias(_LOCAL))
            .with_columns(
                day.cast(pl.Int32).cast(pl.Date).alias(WINDOW),
                (
                    (second // 3600).cast(pl.Float64)
                    + (second // 60 % 60).cast(pl.Float64) / 60.0
                    + (second % 60).cast(pl.Float64) / 3600.0
                ).alias(LOCAL_HOUR),
                cal.off_hours_from_parts(day, second // 60, years).alias(OFF_HOURS),
                pl.col(SUCCESS).fill_null(True).alias(OK),
            )
            .drop(_LOCAL)
            .collect()
        )
        del local_ticks
        columns, unknown = matching.result()
    return local.with_columns(columns), unknown


def _matched(
    resource_ids: pl.Series, catalog: ResourceCatalog
) -> tuple[list[pl.Series], list[str]]:
    """Each event's catalog columns (``LEVEL``, ``WEIGHT``, ``FAMILY``, ``RESOURCE_CODE``)
    and the distinct resource ids that matched no catalog entry (sorted)."""
    # the catalog is matched once per distinct id, then spread to the rows by code
    # (cheaper than joining 10M string keys)
    codes, ids = factorize(resource_ids)
    found = catalog.match(ids)
    family = found.select(pl.coalesce("pattern", "resource_id")).to_series()
    numbers = pl.int_range(0, ids.len(), dtype=pl.UInt32, eager=True)
    resource_code = numbers.zip_with(ids.is_not_null(), pl.Series([None], dtype=pl.UInt32))
    unknown = found.filter(pl.col("pattern").is_null() & pl.col("resource_id").is_not_null())
    columns = [
        found.get_column("level").gather(codes).alias(LEVEL),
        found.get_column("weight").gather(codes).alias(WEIGHT),
        family.gather(codes).alias(FAMILY),
        resource_code.gather(codes).alias(RESOURCE_CODE),
    ]
    return columns, unknown.get_column("resource_id").sort().to_list()


def factorize(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """``(codes, distinct)`` with ``values == distinct.gather(codes)`` (nulls included).

    ``codes`` is UInt32, ``distinct`` holds each value once (null too, if present), in
    no particular order. Hashes group the values (no string hash join); the result is
    checked against the values and recomputed exactly on a hash collision.
    """
    hashes = values.hash()
    first = hashes.arg_unique()
    distinct = values.gather(first)
    numbers = pl.int_range(0, first.len(), dtype=pl.UInt32, eager=True)
    # (a hash map lookup: 0.09-0.16 s for 10M rows, a left join keeping order 0.13-0.20)
    codes = hashes.replace_strict(hashes.gather(first), numbers, return_dtype=pl.UInt32)
    if not values.eq_missing(distinct.gather(codes)).all():  # pragma: no cover - collision
        distinct = values.unique()
        numbers = pl.int_range(0, distinct.len(), dtype=pl.UInt32, eager=True)
        codes = values.replace_strict(distinct, numbers, return_dtype=pl.UInt32)
    return codes, distinct


def _time_unit(dtype: pl.DataType) -> str:
    if not isinstance(dtype, pl.Datetime):
        raise TypeError(f"{TIMESTAMP} must be a Datetime column, not {dtype}")
    return str(dtype.time_unit)


def _years(events: pl.DataFrame) -> list[int]:
    """The years whose holidays the events' off-hours flags may need (none without events)."""
    if events.height == 0:
        return []
    lo, hi = events.select(
        pl.col(TIMESTAMP).min().alias("lo"), pl.col(TIMESTAMP).max().alias("hi")
    ).row(0)
    return list(range(lo.year - 1, hi.year + 2))


class AggregateFeatureSet(FeatureSet):
    """A FeatureSet computed from per-(user, window) aggregations of the prepared events.

    Instead of running its own ``group_by``, it declares the work so that
    :func:`aggregate` can run the aggregations of several sets in one pass:

    * :meth:`helpers`: per-event columns (elementwise expressions), added first;
    * :meth:`aggregations`: expressions evaluated per (user, window) group;
    * :meth:`extras`: other per-window frames (``KEY`` + columns), e.g. distinct counts
      or first use, computed from the keyed events;
    * :meth:`finish`: the output columns from all of the above (the frame is sorted by
      user and window and has ``USER_ID`` and ``WINDOW``).

    Names of helper and intermediate columns start with ``_`` and a set's own prefix
    (sets computed together share one frame). ``transform`` runs the set on its own.
    """

    #: The feature columns ``transform`` returns after the keys, in order.
    columns: tuple[str, ...]

    #: The aggregation columns of a user's earlier rows :meth:`finish` reads (e.g. for
    #: trailing means over the profile window): a ``Prior``'s rows then come before the
    #: new ones, and a feature history keeps these columns of the last ``profile_days``
    #: days (:func:`looked_back`). None: any column. A set whose ``finish`` needs only
    #: the row itself and the ``_h_`` user columns says ``()``, and finishes the new
    #: rows alone (far fewer rows in a daily increment).
    looks_back: ClassVar[tuple[str, ...] | None] = None

    def helpers(self, ctx: FeatureContext) -> dict[str, pl.Expr]:
        """Per-event helper columns by name (elementwise over the prepared events)."""
        return {}

    @abstractmethod
    def aggregations(self, ctx: FeatureContext) -> list[pl.Expr]:
        """Aggregations per (user, window), each aliased to its output name."""

    def extras(
        self, keyed: pl.LazyFrame, ctx: FeatureContext, prior: Prior | None = None
    ) -> list[pl.LazyFrame]:
        """Further per-window frames of ``KEY`` + columns (windows missing there get nulls).

        ``keyed`` is the prepared events with the helper columns, ``USER_CODE`` and
        ``KEY``; ``prior`` what earlier windows left (first-seen values), None when the
        events start at each user's beginning.
        """
        return []

    def finish(self, daily: pl.LazyFrame, ctx: FeatureContext) -> pl.LazyFrame:
        """Add the output columns to ``daily`` (sorted by user and window). With a
        ``Prior``, ``daily`` also holds its rows (``_prior`` true) and its ``_h_`` user
        columns, and every row gets what a computation over all windows gives it."""
        return daily

    def merges(self) -> list[pl.Expr] | None:
        """How each of :meth:`aggregations`' columns of two pieces of one window merge
        into the column of the whole (grouped by user: ``pl.col(c).sum()``, ``.min()``,
        ...), so a window whose events arrive in pieces is aggregated a piece at a time
        (features/today.py). None: they cannot; the window is then aggregated again over
        all its events each time. A set with :meth:`extras` that merges must also give
        :meth:`running_extras`."""
        return None

    def running_extras(self, values: DayValues, ctx: FeatureContext) -> list[pl.DataFrame]:
        """:meth:`extras` of one window, keyed by ``user_id`` instead of ``KEY``, from
        the window's :class:`features.running.DayValues` (its distinct values, hours and
        failed logins) instead of its events."""
        return []

    def summary(self) -> list[pl.Expr]:
        """Per-user aggregations over finished rows (with any prior ``_h_`` columns)
        that the next batch's ``finish`` needs, aliased ``_h_...`` (none by default)."""
        return []

    def transform(self, events: pl.DataFrame, ctx: FeatureContext) -> pl.DataFrame:
        """One row per (user, window) with this set's columns (via :func:`aggregate`)."""
        return aggregate([self], events, ctx)


def aggregate(
    sets: Sequence[AggregateFeatureSet],
    events: pl.DataFrame,
    ctx: FeatureContext,
    prior: Prior | None = None,
) -> pl.DataFrame:
    """Keys and every set's columns (in order), one row per (user, window), sorted.

    One ``group_by`` evaluates all the sets' aggregations, keyed by the integer ``KEY``
    (added by :func:`add_keys` unless ``events`` has it); the extra frames are separate
    queries over the same keyed events. With ``prior`` (earlier windows' rows and
    summaries) the rows are those a computation over every window gives these windows.
    """
    return aggregate_rows(sets, events, ctx, prior)[0]


def aggregate_rows(
    sets: Sequence[AggregateFeatureSet],
    events: pl.DataFrame,
    ctx: FeatureContext,
    prior: Prior | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """:func:`aggregate`, the per-window aggregation rows before ``finish`` (keys and
    every aggregation and extra column) and the sets' per-user summaries (``user_id`` and
    ``_h_`` columns, over ``prior`` and these windows): what the next batch continues
    from."""
    keyed = events if KEY in events.columns else add_keys(events)
    helpers: dict[str, pl.Expr] = {}
    for feature_set in sets:
        helpers.update(feature_set.helpers(ctx))
    # materialised once: every query below reads it
    rows = keyed.lazy().with_columns(**helpers).with_row_index(_ROW).collect().lazy()
    aggregations = [a for feature_set in sets for a in feature_set.aggregations(ctx)]
    # a row of each window names its user and day (cheaper than first() of the strings)
    queries = [rows.group_by(KEY).agg(pl.col(_ROW).first(), *aggregations)]
    for feature_set in sets:
        queries += feature_set.extras(rows, ctx, prior)
    main, *extras = pl.collect_all(queries, engine=engine_for(keyed.height))
    for extra in extras:
        main = main.join(extra, on=KEY, how="left")
    main = main.sort(KEY)
    first_rows = main.get_column(_ROW)
    daily = main.with_columns(
        keyed.get_column(USER_ID).gather(first_rows), keyed.get_column(WINDOW).gather(first_rows)
    ).drop(KEY, _ROW)
    daily = daily.select(*KEYS, pl.exclude(*KEYS))
    frame, users = finished_rows(sets, daily, ctx, prior)
    return frame, daily, users


def finished_rows(
    sets: Sequence[AggregateFeatureSet],
    daily: pl.DataFrame,
    ctx: FeatureContext,
    prior: Prior | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The sets' columns of the windows of the aggregation rows ``daily`` (keys first,
    sorted by user and window; :func:`finish_rows`), and the sets' per-user summaries
    (``user_id`` and ``_h_`` columns, over ``prior`` and these windows: a summary of
    the new rows with the prior's ``_h_`` columns covers the prior's windows too)."""
    finished = finish_rows(sets, daily, ctx, prior)
    summaries = [e for feature_set in sets for e in feature_set.summary()]
    users = finished.group_by(USER_ID).agg(summaries) if summaries else daily.select(USER_ID)
    if prior is not None:
        untouched = prior.users.join(users, on=USER_ID, how="anti")
        users = pl.concat([untouched, users], how="diagonal_relaxed")
    columns = [c for feature_set in sets for c in feature_set.columns]
    return finished.select(*KEYS, *columns), users.sort(USER_ID)


def finish_rows(
    sets: Sequence[AggregateFeatureSet],
    daily: pl.DataFrame,
    ctx: FeatureContext,
    prior: Prior | None = None,
) -> pl.DataFrame:
    """Every set's ``finish`` over the aggregation rows ``daily`` (keys first, sorted by
    user and window). With ``prior``, the rows carry its ``_h_`` user columns and a
    ``PRIOR`` column (false); the sets that look back (``looks_back``) finish with the
    prior's rows of ``daily``'s users before the new ones (``PRIOR`` true), which are
    dropped before the sets after the last of them finish."""
    if prior is None:
        lazy = daily.lazy()
        for feature_set in sets:
            lazy = feature_set.finish(lazy, ctx)
        return lazy.collect()
    back = max((i + 1 for i, s in enumerate(sets) if s.looks_back != ()), default=0)
    rows = daily.with_columns(pl.lit(False).alias(PRIOR))
    if back:
        # (looked_back: a history of an earlier version may hold more columns)
        earlier = looked_back(sets, prior.daily).join(
            daily.select(USER_ID).unique(), on=USER_ID, how="semi", maintain_order="left"
        )
        rows = concat_days(
            earlier.with_columns(pl.lit(True).alias(PRIOR)), rows, "diagonal_relaxed"
        )
    lazy = rows.join(prior.users, on=USER_ID, how="left", maintain_order="left").lazy()
    for feature_set in sets[:back]:
        lazy = feature_set.finish(lazy, ctx)
    if back:
        lazy = lazy.filter(~pl.col(PRIOR))
    for feature_set in sets[back:]:
        lazy = feature_set.finish(lazy, ctx)
    return lazy.collect()


def looked_back(sets: Sequence[AggregateFeatureSet], daily: pl.DataFrame) -> pl.DataFrame:
    """The keys and the columns of the aggregation rows ``daily`` that the ``sets`` read
    of earlier rows (:attr:`AggregateFeatureSet.looks_back`): what a ``Prior`` keeps
    (every column when a set does not say which; only the keys when none looks back)."""
    wanted: set[str] = set()
    for feature_set in sets:
        if feature_set.looks_back is None:
            return daily
        wanted.update(feature_set.looks_back)
    return daily.select(*KEYS, *(c for c in daily.columns if c in wanted))


def concat_days(
    earlier: pl.DataFrame, later: pl.DataFrame, how: ConcatMethod = "vertical"
) -> pl.DataFrame:
    """The rows of ``earlier`` and ``later`` (each sorted by user and window) as one frame
    sorted by user and window.

    When every window of ``later`` comes after every window of ``earlier`` (a history and
    the days after it), a stable sort by user alone gives that order, for about half the
    cost of sorting by both keys; otherwise both keys are sorted.
    """
    both = pl.concat([earlier, later], how=how)
    if earlier.height and later.height:
        first, last = later.get_column(WINDOW).min(), earlier.get_column(WINDOW).max()
        if first is None or last is None or first <= last:  # type: ignore[operator]
            return both.sort(*KEYS)
    return both.sort(USER_ID, maintain_order=True)


def engine_for(rows: int) -> EngineType:
    """The Polars engine for a query over ``rows`` events (:data:`STREAMING_ROWS`)."""
    return "streaming" if rows >= STREAMING_ROWS else "in-memory"


def add_keys(events: pl.DataFrame) -> pl.DataFrame:
    """Prepared events plus the integer ``USER_CODE`` and ``KEY`` columns.

    ``USER_CODE`` is the user's rank among the users (sorted, nulls first) and
    ``KEY = USER_CODE * span + 1 + days since the first window`` (0 for a null window),
    so sorting by ``KEY`` sorts by (user_id, window). build_matrix adds them once for
    every set; keys of frames prepared separately must not be mixed.
    """
    codes, distinct = factorize(events.get_column(USER_ID))
    rank = distinct.arg_sort().arg_sort()  # code -> position among the sorted users
    days = events.get_column(WINDOW).cast(pl.Int32)
    lo, hi = days.min(), days.max()
    first = int(lo) if isinstance(lo, int) else 0
    span = (int(hi) if isinstance(hi, int) else 0) - first + 2
    user = rank.gather(codes)
    return events.with_columns(
        user.alias(USER_CODE),
        (user.cast(pl.Int64) * span + (days - first + 1).fill_null(0)).alias(KEY),
    )


def distinct_count(
    keyed: pl.LazyFrame, column: str, name: str, code: str | None = None
) -> pl.LazyFrame:
    """Per window (``KEY``): how many distinct non-null ``column`` values, as ``name``.

    With ``code``, an integer column numbering the values (e.g. ``RESOURCE_CODE``), the
    count sorts integers instead of hashing (key, value) pairs: much cheaper when most
    pairs are distinct.
    """
    rows = keyed.filter(pl.col(column).is_not_null())
    count = pl.len().cast(pl.Int64).alias(name)
    if code is not None:
        top_key, top_code = rows.select(pl.col(KEY).max(), pl.col(code).max()).collect().row(0)
        width = (top_code or 0) + 1
        if (top_key or 0) < (2**62) // width:  # KEY * width + code fits in an Int64
            pair = pl.col("_pair")
            return (
                rows.select((pl.col(KEY) * width + pl.col(code)).alias("_pair"))
                .sort("_pair")
                .filter(pair.ne_missing(pair.shift(1)))
                .group_by((pair // width).alias(KEY))
                .agg(count)
            )
    return rows.group_by(KEY, column).agg().group_by(KEY).agg(count)


def first_seen_keyed(
    keyed: pl.LazyFrame,
    column: str,
    name: str,
    valid: pl.Expr | None = None,
    seen: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """:func:`first_seen` per ``KEY``, as ``name`` (the first window = the smallest key).

    ``seen``: ``user_id, <column>`` pairs used in earlier windows (``Prior.seen_of``),
    which are not new; ``keyed`` then needs ``user_id``.
    """
    return (
        first_keys(keyed, column, valid, seen)
        .group_by(KEY)
        .agg(pl.len().cast(pl.Int64).alias(name))
    )


def first_keys(
    keyed: pl.LazyFrame,
    column: str,
    valid: pl.Expr | None = None,
    seen: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """``USER_CODE, <column>, KEY``: each user's values of ``column`` never used before
    (not in ``seen``), with the first window (``KEY``) they were used in."""
    rows = keyed if valid is None else keyed.filter(valid)
    rows = rows.filter(pl.col(column).is_not_null())
    if seen is None:
        return rows.group_by(USER_CODE, column).agg(pl.col(KEY).min())
    return (
        rows.group_by(USER_CODE, USER_ID, column)
        .agg(pl.col(KEY).min())
        .join(seen, on=[USER_ID, column], how="anti")
        .select(USER_CODE, column, KEY)
    )


def first_seen(events: pl.DataFrame, column: str, valid: pl.Expr | None = None) -> pl.DataFrame:
    """Per (user, window): how many distinct ``column`` values the user had never used before.

    A value's first window is the earliest window the user used it in; on the user's own
    first window everything is new, so warm-up windows must not be scored (scoring.py
    skips them).
    """
    rows = events.lazy()
    if valid is not None:
        rows = rows.filter(valid)
    firsts = (
        rows.filter(pl.col(column).is_not_null())
        .group_by(USER_ID, column)
        .agg(pl.col(WINDOW).min())
        .group_by(*KEYS)
        .agg(pl.len().cast(pl.Int64).alias("n"))
    )
    return firsts.collect()


def trailing_mean(column: str, ctx: FeatureContext) -> pl.Expr:
    """The user's own mean of ``column`` over the previous ``profile_days`` (today excluded).

    Frames must be sorted by user and window. Null when the user has no history yet.
    """
    return pl.col(column).rolling_mean_by(timeline(ctx), f"{ctx.profile_days}i", closed="left")


def trailing_std(column: str, ctx: FeatureContext) -> pl.Expr:
    """The user's own standard deviation of ``column`` over the previous ``profile_days``."""
    return pl.col(column).rolling_std_by(timeline(ctx), f"{ctx.profile_days}i", closed="left")


def timeline(ctx: FeatureContext) -> pl.Expr:
    """Days on one axis for all users, each user's days far from the next user's.

    On a frame sorted by user and window, a rolling window of ``profile_days`` over this
    axis never reaches another user: one rolling pass over the whole column gives what
    ``rolling_*_by(WINDOW, ...).over(USER_ID)`` gives, without a pass per user.
    """
    user = starts(USER_ID).cum_sum().cast(pl.Int64)
    day = pl.col(WINDOW).cast(pl.Int32).cast(pl.Int64)
    gap = day.max() - day.min() + ctx.profile_days + 1
    return user * gap + day


def safe_ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """num / den, 0 where den is 0."""
    return pl.when(den > 0).then(num.cast(pl.Float64) / den).otherwise(0.0)


def baseline_ratio(column: str, ctx: FeatureContext) -> pl.Expr:
    """(today + 1) / (own trailing mean + 1): 1 = as usual, 5 = five times the usual."""
    own = trailing_mean(column, ctx).fill_null(0.0)
    return (pl.col(column).cast(pl.Float64) + 1.0) / (own + 1.0)
