"""Peer-group deviation: the same features as z-scores against the user's peers that day.

A DBA touching customer databases every day sits near their peers (other DBAs); a
marketer doing the same stands out. Peer groups are department/role; a group with fewer
than ``min_peer_group`` users falls back to the department, then to everyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl

from auditlens.features.base import KEYS, WINDOW, FeatureContext
from auditlens.schema import DEPARTMENT, ROLE, USER_ID

PEER_GROUP: Final = "peer_group"
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
    in the events. Users the directory does not list fall back to the events.
    """
    if ctx.resolved_groups is not None:
        return ctx.resolved_groups
    users = events.select(USER_ID).unique()
    from_events = (
        events.lazy()
        .group_by(USER_ID)
        .agg(
            pl.col(DEPARTMENT).drop_nulls().mode().sort().first().alias(DEPARTMENT)
            if DEPARTMENT in events.columns
            else pl.lit(None, pl.String).alias(DEPARTMENT),
            pl.col(ROLE).drop_nulls().mode().sort().first().alias(ROLE)
            if ROLE in events.columns
            else pl.lit(None, pl.String).alias(ROLE),
        )
        .collect()
    )
    table = users.join(from_events, on=USER_ID, how="left")
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
    """Keys, ``peer_z_<c>`` and the peer mean ``_peer_<c>`` for each column.

    z = (value - group mean that window) / max(group std, a quarter of the column's
    overall std): the floor keeps a quiet group (everyone 0) from turning one event
    into an enormous z.
    """
    frame = matrix.select(*KEYS, *columns).join(groups, on=USER_ID, how="left")
    over = (PEER_GROUP, WINDOW)
    exprs: list[pl.Expr] = []
    for c in columns:
        mean = pl.col(c).mean().over(over)
        std = pl.col(c).std().over(over).fill_null(0.0)
        floor = pl.max_horizontal(pl.col(c).std() * 0.25, pl.lit(1e-6))
        exprs += [
            ((pl.col(c) - mean) / pl.max_horizontal(std, floor)).alias(f"peer_z_{c}"),
            mean.alias(f"_peer_{c}"),
        ]
    return frame.with_columns(exprs).select(
        *KEYS, PEER_GROUP, *[e.meta.output_name() for e in exprs]
    )
