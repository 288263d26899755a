"""Peer-group deviation: the same features as z-scores against the user's peers that day.

A DBA touching customer databases every day sits near their peers (other DBAs); a
marketer doing the same stands out. Peer groups are department/role; a group with fewer
than ``min_peer_group`` users falls back to the department, then to everyone.

Groups are decided **day by day** (:func:`peer_days`): a user's group on a day comes from
the events up to that day (or the directory), among the users seen by then, so a day's
peer features never change with later events and the matrix built day by day equals the
matrix of all days (features/history.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

import numpy as np
import polars as pl

from auditlens.features.asof import _TO, PeerDays, spell_ends
from auditlens.features.base import KEYS, USER_CODE, WINDOW, FeatureContext, engine_for
from auditlens.features.docs import FEATURE_DOCS
from auditlens.features.runs import running_sum
from auditlens.schema import DEPARTMENT, ROLE, TIMESTAMP, USER_ID

PEER_GROUP: Final = "peer_group"  # = asof.PEER_GROUP
__all__ = ["PEER_GROUP", "PeerDays"]
#: How many other members of the user's group were active that window (info column;
#: null when the group has no other member).
PEERS_ACTIVE: Final = "_peers_active"
#: Columns a member without events that day has 0 of: their peer mean counts idle members.
ZERO_WHEN_IDLE: Final = frozenset(
    {c for c, doc in FEATURE_DOCS.items() if doc.unit == "count"} | {"weighted_resource_score"}
)
_MEMBERS: Final = "_members"
_ACTIVE: Final = "_active"
#: Features compared with peers (each becomes ``peer_z_<name>``).
PEER_COLUMNS: Final = (
    "off_hours_login_ratio",
    "off_hours_action_ratio",
    "weighted_resource_score",
    "sensitive_access_count",
    "bulk_action_count",
    "delete_count",
    "distinct_resources",
    "failed_access_count",
)


def peer_groups(events: pl.DataFrame, ctx: FeatureContext) -> pl.DataFrame:
    """``user_id, window, peer_group`` for every user-day in ``events`` (prepared).

    From ``ctx.peer_groups`` (a directory with ``user_id`` and ``department``/``role``
    or ``peer_group``) when given, else each user's most frequent department and role
    in the events up to that day. Users the directory does not list fall back to the
    events. A pure function of its arguments.

    When ``ctx.population`` holds the groups of every user of a run (:func:`peer_days`
    over all of them), ``events`` may be a partition of the users: each keeps the group
    it has among everyone, whose sizes decide the fallbacks.
    """
    if ctx.population is not None:
        return ctx.population.of_users(events).sort(USER_ID, WINDOW)
    return peer_days(role_counts_by_day(events), ctx).groups


def role_counts_by_day(events: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """``user_id, window, department, role, _n``: events per user-day and role (events
    with a ``window`` column: prepared, or the lake with its local day added)."""
    columns = events.collect_schema().names()
    present = [c for c in (DEPARTMENT, ROLE) if c in columns]
    if isinstance(events, pl.DataFrame) and USER_CODE in columns:
        # grouped by the integer user code add_keys put there; a row of each group
        # names its user (cheaper than grouping by the strings)
        counts = (
            events.lazy()
            .with_row_index("_row")
            .group_by(USER_CODE, WINDOW, *present)
            .agg(pl.col("_row").first(), pl.len().alias("_n"))
            .collect(engine=engine_for(events.height))
        )
        counts = counts.with_columns(events.get_column(USER_ID).gather(counts.get_column("_row")))
    else:
        counts = (
            events.lazy()
            .group_by(USER_ID, WINDOW, *present)
            .agg(pl.len().alias("_n"))
            .collect(engine="streaming")
        )
    missing = [pl.lit(None, pl.String).alias(c) for c in (DEPARTMENT, ROLE) if c not in present]
    return counts.with_columns(missing).select(USER_ID, WINDOW, DEPARTMENT, ROLE, "_n")


def population(events: pl.LazyFrame, ctx: FeatureContext) -> PeerDays:
    """The groups day by day of every user of ``events`` (canonical events, e.g. the lake
    scanned: one streaming pass over four columns), for ``FeatureContext.population``."""
    local = ctx.calendar.local_expr(TIMESTAMP).dt.date().alias(WINDOW)
    present = [c for c in (DEPARTMENT, ROLE) if c in events.collect_schema().names()]
    return peer_days(role_counts_by_day(events.select(USER_ID, local, *present)), ctx)


def peer_days(by_day: pl.DataFrame, ctx: FeatureContext, prior: PeerDays | None = None) -> PeerDays:
    """The groups of every user-day of ``by_day`` (:func:`role_counts_by_day`), decided
    day by day over the counts up to that day, continuing from ``prior`` (its days all
    earlier), every day at once.

    On each day with events every user seen by then has a group: the directory's
    department and role (``ctx.peer_groups``), else the most frequent in the user's
    events up to that day (on a tie the smallest); a department/role with fewer than
    ``min_peer_group`` such users falls back to the department, then to ``(all)``. A
    user's most frequent values change only on the user's own days: they are worked out
    there, from running counts, and carried forward.
    """
    prior = prior or PeerDays.empty()
    days = by_day.select(pl.col(WINDOW).unique().sort())
    if days.height == 0:
        return PeerDays(PeerDays.empty().groups, prior.spells.sort(USER_ID, WINDOW), prior.counts)
    before = days.item(0, WINDOW) - dt.timedelta(days=1)  # the prior's counts: "the day before"
    earlier = prior.counts.with_columns(pl.lit(before).alias(WINDOW))
    rows = pl.concat([earlier, by_day.select(earlier.columns).cast(earlier.schema)])
    counts = (
        rows.group_by(USER_ID, DEPARTMENT, ROLE)
        .agg(pl.col("_n").sum())
        .sort(USER_ID, DEPARTMENT, ROLE, nulls_last=True)
    )
    # every user seen by each day, from their first day (the prior's users from the first)
    first = rows.group_by(USER_ID).agg(pl.col(WINDOW).min().alias("_first"))
    grid = (
        first.join(days, how="cross")
        .filter(pl.col(WINDOW) >= pl.col("_first"))
        .drop("_first")
        .sort(WINDOW)
    )
    for column in (DEPARTMENT, ROLE):
        grid = grid.join_asof(
            _modes(rows, column), on=WINDOW, by=USER_ID, strategy="backward", check_sortedness=False
        )
    if ctx.peer_groups is not None:
        cols = [c for c in (DEPARTMENT, ROLE) if c in ctx.peer_groups.columns]
        directory = ctx.peer_groups.select(USER_ID, *cols).unique(USER_ID, keep="last")
        grid = (
            grid.join(directory, on=USER_ID, how="left", suffix="_dir")
            .with_columns(pl.coalesce(f"{c}_dir", c).alias(c) for c in cols)
            .drop(f"{c}_dir" for c in cols)
        )
    dept = pl.col(DEPARTMENT).fill_null("(none)")
    fine = pl.concat_str(dept, pl.lit("/"), pl.col(ROLE).fill_null("(none)"))
    n = ctx.min_peer_group
    grid = (
        grid.with_columns(fine.alias("_fine"), dept.alias("_dept"))
        .select(
            USER_ID,
            WINDOW,
            pl.when(pl.len().over(WINDOW, "_fine") >= n)
            .then(pl.col("_fine"))
            .when(pl.len().over(WINDOW, "_dept") >= n)
            .then(pl.col("_dept"))
            .otherwise(pl.lit("(all)"))
            .alias(PEER_GROUP),
        )
        .sort(USER_ID, WINDOW)
    )
    current = spell_ends(prior.spells).filter(pl.col(_TO).is_null()).select(USER_ID, PEER_GROUP)
    # the group the day before: the prior's on a user's first day here (rows in order)
    first_day = pl.col(USER_ID).ne_missing(pl.col(USER_ID).shift(1))
    spells = (
        grid.join(current, on=USER_ID, how="left", suffix="_was", maintain_order="left")
        .with_columns(
            pl.when(first_day)
            .then(pl.col(f"{PEER_GROUP}_was"))
            .otherwise(pl.col(PEER_GROUP).shift(1))
            .alias("_was")
        )
        .filter(pl.col("_was").ne_missing(pl.col(PEER_GROUP)))
        .select(USER_ID, WINDOW, PEER_GROUP)
    )
    active = by_day.select(USER_ID, WINDOW).unique()
    return PeerDays(
        grid.join(active, on=[USER_ID, WINDOW], how="semi", maintain_order="left"),
        pl.concat([prior.spells, spells]).sort(USER_ID, WINDOW),
        counts,
    )


def _modes(rows: pl.DataFrame, column: str) -> pl.DataFrame:
    """``user_id, window, <column>``: from each day a user's events in ``column`` (not
    null) change, the most frequent value up to that day (on a tie the smallest)."""
    values = (
        rows.filter(pl.col(column).is_not_null())
        .group_by(USER_ID, column, WINDOW)
        .agg(pl.col("_n").sum())
        .sort(USER_ID, column, WINDOW)
        .with_columns(running_sum(pl.col("_n"), USER_ID, column).alias("_upto"))
    )
    # every value of the user at each of the user's changing days, with its count then
    changing = values.select(USER_ID, WINDOW).unique()
    each = values.select(USER_ID, column).unique()
    table = (
        changing.join(each, on=USER_ID)
        .sort(WINDOW)
        .join_asof(
            values.select(USER_ID, column, WINDOW, "_upto").sort(WINDOW),
            on=WINDOW,
            by=[USER_ID, column],
            strategy="backward",
            check_sortedness=False,
        )
    )
    upto = pl.col("_upto")
    return (
        table.filter(upto == upto.max().over(USER_ID, WINDOW))
        .group_by(USER_ID, WINDOW)
        .agg(pl.col(column).min())
        .sort(WINDOW)
    )


def peer_deviation(
    matrix: pl.DataFrame,
    peers: PeerDays,
    columns: Sequence[str] = PEER_COLUMNS,
    floors: dict[str, float] | None = None,
    scored: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Keys, ``peer_z_<c>`` for each column in ``scored`` (None: every column), the peer
    mean ``_peer_<c>`` for each column, and ``_peers_active`` (how many *other* members
    of the group were active that window).

    The peers are the *other* members of the user's group that day (``peers``: groups
    day by day): the user is left out, so the mean never echoes the user's own value.
    For the columns in :data:`ZERO_WHEN_IDLE` (counts: a member without events that day
    did 0) every other member counts, active or not; for the rest (ratios, hours) only
    the other members active that window. z = (value - peer mean) / max(peer std,
    floor): the floor keeps a quiet group (everyone 0) from turning one event into an
    enormous z. ``floors`` are learned with the model (:func:`peer_floors` of the
    training matrix); None computes them from ``matrix``. With no peer to compare with
    (no other member, or none active for an active-only column) the mean is null and z
    is 0.

    Example: three members, only ``a`` active, 14 deletions: its peers did 0.

    >>> import datetime as dt
    >>> day = dt.date(2026, 10, 3)
    >>> g = pl.DataFrame({"user_id": ["a", "b", "c"], "window": [day] * 3,
    ...                   "peer_group": ["x"] * 3})
    >>> peers = PeerDays(g.head(1), g, PeerDays.empty().counts)
    >>> m = pl.DataFrame({"user_id": ["a"], "window": [day],
    ...                   "delete_count": [14], "first_activity_hour": [22.7]})
    >>> peer_deviation(m, peers, ["delete_count", "first_activity_hour"]).select(
    ...     "_peers_active", "_peer_delete_count", "_peer_first_activity_hour").row(0)
    (0, 0.0, None)
    """
    frame = matrix.select(*KEYS, *columns).join(
        peers.groups, on=list(KEYS), how="left", maintain_order="left"
    )
    over = [PEER_GROUP, WINDOW]
    # every column's sums per (group, window), joined back; each row then takes its own
    # value out (leave-one-out mean and sample std)
    stats = _group_sums(frame, columns)
    stats = stats.with_columns(peers.members(stats.select(over)).alias(_MEMBERS))
    scored = list(columns if scored is None else scored)
    given = floors or {}
    floors = given | peer_floors(matrix, [c for c in scored if c not in given])
    frame = frame.join(stats, on=over, how="left", maintain_order="left", nulls_equal=True)
    # null for a group of one: there is nobody to be active
    others = pl.when(pl.col(_MEMBERS) > 1).then(pl.col(_ACTIVE) - 1)
    exprs: list[pl.Expr] = [others.alias(PEERS_ACTIVE)]
    for c in columns:
        mean, std = _leave_one_out(c, zero_when_idle=c in ZERO_WHEN_IDLE)
        if c in scored:
            z = (pl.col(c) - mean) / pl.max_horizontal(std.fill_null(0.0), floors[c])
            exprs.append(z.fill_null(0.0).alias(f"peer_z_{c}"))
        exprs.append(mean.alias(f"_peer_{c}"))
    return frame.select(*KEYS, PEER_GROUP, *exprs)


def _group_sums(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """``peer_group, window``, the active rows and each column's sum, sum of squares and
    count per (group, window).

    Summed with numpy over each (group, window)'s rows in user order: the same bits
    whatever other windows the frame holds (a group_by's float sum depends on how the
    engine split the whole frame, so a day alone would differ from the day among all).
    """
    ordered = frame.sort(PEER_GROUP, WINDOW, USER_ID, nulls_last=True)
    cell = ordered.select(
        (pl.col(PEER_GROUP).ne_missing(pl.col(PEER_GROUP).shift(1))
         | pl.col(WINDOW).ne_missing(pl.col(WINDOW).shift(1))).alias("_new")
    ).get_column("_new").to_numpy()  # fmt: skip
    if ordered.height == 0:
        starts = np.zeros(0, dtype=np.int64)
    else:
        cell[0] = True
        starts = np.flatnonzero(cell)
    sizes = np.diff(np.r_[starts, ordered.height]).astype(np.int64)
    out: dict[str, object] = {
        PEER_GROUP: ordered.get_column(PEER_GROUP).gather(starts),
        WINDOW: ordered.get_column(WINDOW).gather(starts),
        _ACTIVE: sizes,
    }
    # every column out of Polars at once; each is then summed alone (contiguous), as before
    values = ordered.select(pl.col(columns).cast(pl.Float64))
    xs = values.select(pl.all().fill_null(0.0)).to_numpy(order="fortran")
    knowns = values.select(pl.all().is_not_null().cast(pl.Int64)).to_numpy(order="fortran")
    for i, c in enumerate(columns):
        x, known = xs[:, i], knowns[:, i]
        if starts.size:
            out[f"_sum_{c}"] = np.add.reduceat(x, starts)
            out[f"_sq_{c}"] = np.add.reduceat(x * x, starts)
            out[f"_n_{c}"] = np.add.reduceat(known, starts)
        else:
            out[f"_sum_{c}"] = out[f"_sq_{c}"] = np.zeros(0)
            out[f"_n_{c}"] = np.zeros(0, dtype=np.int64)
    return pl.DataFrame(out)


def peer_floors(matrix: pl.DataFrame, columns: Sequence[str] = PEER_COLUMNS) -> dict[str, float]:
    """The z-score floor of each column: a quarter of its standard deviation over
    ``matrix`` (at least 1e-6). Learned on the training matrix and kept with the model,
    so a day's z-scores do not move with the days scored beside it."""
    if not columns:
        return {}
    row = (
        matrix.sort(*KEYS)
        .select(pl.max_horizontal(pl.col(c).std() * 0.25, pl.lit(1e-6)).alias(c) for c in columns)
        .row(0, named=True)
    )
    return {c: float(v) for c, v in row.items()}


def _leave_one_out(column: str, *, zero_when_idle: bool) -> tuple[pl.Expr, pl.Expr]:
    """The mean and sample std of ``column`` over the row's peers (the row left out)."""
    x = pl.col(column).cast(pl.Float64)
    own = x.fill_null(0.0)
    if zero_when_idle:  # every other member: the idle ones add 0 to the sums
        n = (pl.col(_MEMBERS) - 1).cast(pl.Float64)
    else:  # the other members active that window with a value
        n = (pl.col(f"_n_{column}") - x.is_not_null().cast(pl.Int64)).cast(pl.Float64)
    total = pl.col(f"_sum_{column}") - own
    squares = pl.col(f"_sq_{column}") - own**2
    mean = pl.when(n > 0).then(total / n)
    # sums of squares minus a square can dip below 0 by rounding
    var = pl.when(n > 1).then(pl.max_horizontal((squares - n * mean**2) / (n - 1), pl.lit(0.0)))
    return mean, var.sqrt()
