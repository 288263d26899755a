"""Peer-group deviation: the same features as z-scores against the user's peers that day.

A DBA touching customer databases every day sits near their peers (other DBAs); a
marketer doing the same stands out. Peer groups are department/role; a group with fewer
than ``min_peer_group`` users falls back to the department, then to everyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl

from auditlens.features.base import KEYS, USER_CODE, WINDOW, FeatureContext
from auditlens.features.docs import FEATURE_DOCS
from auditlens.schema import DEPARTMENT, ROLE, USER_ID

PEER_GROUP: Final = "peer_group"
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
    """``user_id, peer_group`` for every user in ``events``.

    From ``ctx.peer_groups`` (a directory with ``user_id`` and ``department``/``role``
    or ``peer_group``) when given, else each user's most frequent department and role
    in the events. Users the directory does not list fall back to the events. A pure
    function of its arguments: callers that need the groups twice may compute them once.

    When ``ctx.population`` holds the groups of every user of a run (computed once over
    all of them by :func:`groups_of_counts`), ``events`` may be a partition of the users:
    each keeps the group it has among everyone, whose sizes decide the fallbacks.
    """
    if ctx.population is not None:
        users = events.select(pl.col(USER_ID).unique())
        return ctx.population.join(users, on=USER_ID, how="semi").sort(USER_ID)
    return groups_of_counts(role_counts(events), ctx)


def role_counts(events: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """``user_id, [department], [role], _n``: events per user and (department, role).

    A LazyFrame (e.g. the lake, scanned) is read as a stream of the three columns only.
    Users in disjoint partitions give disjoint rows: the rows of all partitions
    concatenated are the rows of all events.
    """
    columns = events.collect_schema().names()
    present = [c for c in (DEPARTMENT, ROLE) if c in columns]
    # grouping by the integer user code when add_keys put it there
    if isinstance(events, pl.DataFrame) and USER_CODE in columns:
        counts = (
            events.lazy()
            .with_row_index("_row")
            .group_by(USER_CODE, *present)
            .agg(pl.col("_row").first(), pl.len().alias("_n"))
            .collect(engine="streaming")
        )
        # a row of each group names its user (cheaper than first() of the strings)
        counts = counts.with_columns(events.get_column(USER_ID).gather(counts.get_column("_row")))
        return counts.select(USER_ID, *present, "_n")
    return (
        events.lazy()
        .group_by(USER_ID, *present)
        .agg(pl.len().alias("_n"))
        .collect(engine="streaming")
    )


def groups_of_counts(counts: pl.DataFrame, ctx: FeatureContext) -> pl.DataFrame:
    """``user_id, peer_group`` of every user in ``counts`` (:func:`role_counts`); the
    directory ``ctx.peer_groups`` overrides the events, small groups fall back."""
    present = [c for c in (DEPARTMENT, ROLE) if c in counts.columns]
    table = counts.select(USER_ID).unique()
    for column in (DEPARTMENT, ROLE):
        if column not in present:
            table = table.with_columns(pl.lit(None, pl.String).alias(column))
            continue
        # the most frequent non-null value; on a tie the smallest (as mode().sort().first())
        events_n = pl.col("_n")
        mode = (
            counts.filter(pl.col(column).is_not_null())
            .group_by(USER_ID, column)
            .agg(events_n.sum())
            .group_by(USER_ID)
            .agg(pl.col(column).filter(events_n == events_n.max()).min())
        )
        table = table.join(mode, on=USER_ID, how="left")
    if ctx.peer_groups is not None:
        cols = [c for c in (DEPARTMENT, ROLE) if c in ctx.peer_groups.columns]
        directory = ctx.peer_groups.select(USER_ID, *cols).unique(USER_ID, keep="last")
        table = (
            table.join(directory, on=USER_ID, how="left", suffix="_dir")
            .with_columns(pl.coalesce(f"{c}_dir", c).alias(c) for c in cols)
            .drop(f"{c}_dir" for c in cols)
        )
    dept = pl.col(DEPARTMENT).fill_null("(none)")
    fine = pl.concat_str(dept, pl.lit("/"), pl.col(ROLE).fill_null("(none)"))
    n = ctx.min_peer_group
    return (
        table.with_columns(fine.alias("_fine"), dept.alias("_dept"))
        .with_columns(
            pl.when(pl.len().over("_fine") >= n)
            .then(pl.col("_fine"))
            .when(pl.len().over("_dept") >= n)
            .then(pl.col("_dept"))
            .otherwise(pl.lit("(all)"))
            .alias(PEER_GROUP)
        )
        .select(USER_ID, PEER_GROUP)
        .sort(USER_ID)
    )


def peer_deviation(
    matrix: pl.DataFrame, groups: pl.DataFrame, columns: Sequence[str] = PEER_COLUMNS
) -> pl.DataFrame:
    """Keys, ``peer_z_<c>`` and the peer mean ``_peer_<c>`` for each column, and
    ``_peers_active`` (how many *other* members of the group were active that window).

    The peers are the *other* members of the user's group: the user is left out, so the
    mean never echoes the user's own value. For the columns in :data:`ZERO_WHEN_IDLE`
    (counts: a member without events that day did 0) every other member counts, active
    or not; for the rest (ratios, hours) only the other members active that window.
    z = (value - peer mean) / max(peer std, a quarter of the column's overall std): the
    floor keeps a quiet group (everyone 0) from turning one event into an enormous z.
    With no peer to compare with (no other member, or none active for an active-only
    column) the mean is null and z is 0.

    Example: three members, only ``a`` active, 14 deletions: its peers did 0.

    >>> import datetime as dt
    >>> m = pl.DataFrame({"user_id": ["a"], "window": [dt.date(2026, 10, 3)],
    ...                   "delete_count": [14], "first_activity_hour": [22.7]})
    >>> g = pl.DataFrame({"user_id": ["a", "b", "c"], "peer_group": ["x"] * 3})
    >>> peer_deviation(m, g, ["delete_count", "first_activity_hour"]).select(
    ...     "_peers_active", "_peer_delete_count", "_peer_first_activity_hour").row(0)
    (0, 0.0, None)
    """
    frame = matrix.select(*KEYS, *columns).join(
        groups, on=USER_ID, how="left", maintain_order="left"
    )
    over = [PEER_GROUP, WINDOW]
    members = groups.group_by(PEER_GROUP).agg(pl.len().cast(pl.Int64).alias(_MEMBERS))
    # one group_by for every column's sums per (group, window), joined back; each row
    # then takes its own value out (leave-one-out mean and sample std)
    stats = frame.group_by(over).agg(
        pl.len().cast(pl.Int64).alias(_ACTIVE),
        *[pl.col(c).cast(pl.Float64).sum().alias(f"_sum_{c}") for c in columns],
        *[(pl.col(c).cast(pl.Float64) ** 2).sum().alias(f"_sq_{c}") for c in columns],
        *[pl.col(c).count().cast(pl.Int64).alias(f"_n_{c}") for c in columns],
    )
    floors = (
        frame.select(
            pl.max_horizontal(pl.col(c).std() * 0.25, pl.lit(1e-6)).alias(c) for c in columns
        ).row(0, named=True)
        if columns
        else {}
    )
    frame = frame.join(stats, on=over, how="left", maintain_order="left", nulls_equal=True).join(
        members, on=PEER_GROUP, how="left", nulls_equal=True
    )
    # null for a group of one: there is nobody to be active
    others = pl.when(pl.col(_MEMBERS) > 1).then(pl.col(_ACTIVE) - 1)
    exprs: list[pl.Expr] = [others.alias(PEERS_ACTIVE)]
    for c in columns:
        mean, std = _leave_one_out(c, zero_when_idle=c in ZERO_WHEN_IDLE)
        exprs += [
            ((pl.col(c) - mean) / pl.max_horizontal(std.fill_null(0.0), floors[c]))
            .fill_null(0.0)
            .alias(f"peer_z_{c}"),
            mean.alias(f"_peer_{c}"),
        ]
    return frame.select(*KEYS, PEER_GROUP, *exprs)


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
