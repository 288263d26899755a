"""Novelty: what a person does for the first time, or for the first time in a long while.

Real insiders rarely do *more* of what they always did; they start doing something they
never did before: a first logon outside business hours, a first USB stick, a logon on
somebody else's PC, a login hour beyond any they ever kept. A 28-day average dilutes a
handful of such events; comparing with the person's whole history does not.

:class:`NoveltyFeatures` computes per person, from that person's own events only (so it
runs per user partition unchanged):

* ``off_hours_login_gap_days`` / ``usb_gap_days``: on a day with an off-hours logon (a USB
  connect), the days since the person's previous such day; the first ever counts the
  days since the person's first window, plus one. 0 on days without.
* ``login_hours_beyond_range``: hours the day's logons fall outside every logon hour
  the person kept before (hours read on a day that starts at 05:00, so 02:00 is late).
* ``novel_kind_count``: how many kinds of behaviour (off-hours logon, USB, a new host)
  the person shows that day for the first time ever.

:func:`peer_novelty` is a second pass over the (user, window) matrix, like
``peers.peer_deviation``: ``peer_rare_novelty`` weighs each first-ever kind by how few of
the *other* members of the person's peer group ever showed it ("nobody in my group ever
did this" = 1 per kind), and ``foreign_host_count`` counts hosts used for the first time
that are the main host of somebody else.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from auditlens.features.base import (
    FAMILY,
    KEY,
    KEYS,
    LEVEL,
    LOCAL_HOUR,
    OFF_HOURS,
    OK,
    USER_CODE,
    WINDOW,
    AggregateFeatureSet,
    FeatureContext,
)
from auditlens.features.catalog import SENSITIVE_RANK
from auditlens.features.peers import PEER_GROUP
from auditlens.schema import ACTION_TYPE, HOST, RESOURCE_ID, USER_ID

#: Hour the "logon day" starts at: a 02:00 logon is late at night, not early morning.
DAY_STARTS: Final = 5.0
#: Kinds of behaviour whose first occurrence counts (per window flag columns, info).
KINDS: Final = ("off_hours_login", "usb", "new_host")
#: Info columns: per kind, 1 when the person shows it that window for the first time.
FIRST: Final = {k: f"_nv_first_{k}" for k in KINDS}
#: Info column: the hosts the person used for the first time that window.
NEW_HOSTS: Final = "_nv_new_hosts"
#: Info column: every host the person used that window.
HOSTS: Final = "_nv_hosts"
#: Info column: the sensitive resource families the person used for the first time.
NEW_FAMILIES: Final = "_nv_new_families"
#: Info columns the second pass reads (lists; dropped after it).
LISTS: Final = (HOSTS, NEW_HOSTS, NEW_FAMILIES)
#: Columns the second pass adds.
PEER_NOVELTY_COLUMNS: Final = (
    "peer_rare_novelty",
    "foreign_host_count",
    "peer_new_resource",
)
#: A host is somebody's main host when they hold at least this share of its user-days.
OWNER_SHARE: Final = 0.5

_FIRST_FOREIGN = "_nv_first_foreign_host"
_LOGIN = "_nv_login"
_OFF_LOGIN = "_nv_off_login"
_USB = "_nv_usb"
_LOGIN_HOUR = "_nv_login_hour"


class NoveltyFeatures(AggregateFeatureSet):
    """Columns: off_hours_login_gap_days, usb_gap_days, login_hours_beyond_range,
    novel_kind_count; and the info columns ``_nv_first_<kind>``, ``_nv_hosts`` and
    ``_nv_new_hosts`` that :func:`peer_novelty` reads."""

    name = "novelty"
    columns = (
        "off_hours_login_gap_days",
        "usb_gap_days",
        "login_hours_beyond_range",
        "novel_kind_count",
        *FIRST.values(),
        *LISTS,
    )

    def helpers(self, ctx: FeatureContext) -> dict[str, pl.Expr]:
        """Successful logons, off-hours ones, USB connects, logon hours from 05:00."""
        login = (pl.col(ACTION_TYPE) == "login") & pl.col(OK)
        return {
            _LOGIN: login,
            _OFF_LOGIN: login & pl.col(OFF_HOURS),
            _USB: pl.col(ACTION_TYPE) == "usb_connect",
            _LOGIN_HOUR: pl.when(login).then((pl.col(LOCAL_HOUR) - DAY_STARTS) % 24.0),
        }

    def aggregations(self, ctx: FeatureContext) -> list[pl.Expr]:
        """Per window: any off-hours logon, any USB, the earliest and latest logon hour."""
        return [
            pl.col(_OFF_LOGIN).any().alias("_nv_off"),
            pl.col(_USB).any().alias("_nv_usb_day"),
            pl.col(_LOGIN_HOUR).min().alias("_nv_lo"),
            pl.col(_LOGIN_HOUR).max().alias("_nv_hi"),
        ]

    def extras(self, keyed: pl.LazyFrame, ctx: FeatureContext) -> list[pl.LazyFrame]:
        """The hosts of each window, and those the person had never used before."""
        seen = keyed.filter(pl.col(HOST).is_not_null()).group_by(USER_CODE, KEY, HOST).agg()
        hosts = seen.group_by(KEY).agg(pl.col(HOST).sort().alias(HOSTS))
        new = (
            seen.group_by(USER_CODE, HOST)
            .agg(pl.col(KEY).min())
            .group_by(KEY)
            .agg(pl.col(HOST).sort().alias(NEW_HOSTS))
        )
        sensitive = pl.col(RESOURCE_ID).is_not_null() & (pl.col(LEVEL) >= SENSITIVE_RANK)
        families = (
            keyed.filter(sensitive & pl.col(OK) & pl.col(FAMILY).is_not_null())
            .group_by(USER_CODE, FAMILY)
            .agg(pl.col(KEY).min())
            .group_by(KEY)
            .agg(pl.col(FAMILY).sort().alias(NEW_FAMILIES))
        )
        return [hosts, new, families]

    def finish(self, daily: pl.LazyFrame, ctx: FeatureContext) -> pl.LazyFrame:
        """Gaps since the last occurrence, the range of earlier logon hours, first kinds."""
        user = pl.col(USER_ID)
        first_window = pl.col(WINDOW).min().over(user)
        is_first_window = pl.col(WINDOW) == first_window
        out = daily.with_columns(pl.col(c).fill_null(pl.lit([], pl.List(pl.String))) for c in LISTS)
        exprs: list[pl.Expr] = []
        for flag, name in (
            ("_nv_off", "off_hours_login_gap_days"),
            ("_nv_usb_day", "usb_gap_days"),
        ):
            last = pl.when(pl.col(flag)).then(pl.col(WINDOW)).shift(1).forward_fill().over(user)
            since = pl.coalesce(last, first_window - pl.duration(days=1))
            gap = (pl.col(WINDOW) - since).dt.total_days().cast(pl.Float64)
            exprs.append(pl.when(pl.col(flag)).then(gap).otherwise(0.0).alias(name))
        lo = pl.col("_nv_lo").cum_min().shift(1).over(user)
        hi = pl.col("_nv_hi").cum_max().shift(1).over(user)
        beyond = pl.max_horizontal(lo - pl.col("_nv_lo"), pl.col("_nv_hi") - hi, pl.lit(0.0))
        exprs.append(beyond.fill_null(0.0).alias("login_hours_beyond_range"))
        # first ever: the flag today and never on an earlier window (nothing counts as
        # new on the person's own first window: everything is)
        before = {
            "off_hours_login": pl.col("_nv_off").cast(pl.Int64).cum_sum().shift(1).over(user),
            "usb": pl.col("_nv_usb_day").cast(pl.Int64).cum_sum().shift(1).over(user),
        }
        today = {"off_hours_login": pl.col("_nv_off"), "usb": pl.col("_nv_usb_day")}
        for kind in ("off_hours_login", "usb"):
            first = today[kind].fill_null(False) & (before[kind].fill_null(0) == 0)
            exprs.append((first & ~is_first_window).cast(pl.Int64).alias(FIRST[kind]))
        new_host = (pl.col(NEW_HOSTS).list.len() > 0) & ~is_first_window
        exprs.append(new_host.cast(pl.Int64).alias(FIRST["new_host"]))
        return out.with_columns(exprs).with_columns(
            pl.sum_horizontal(*FIRST.values()).cast(pl.Int64).alias("novel_kind_count")
        )


def peer_novelty(matrix: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
    """Keys, ``peer_rare_novelty`` and ``foreign_host_count`` per (user, window).

    ``matrix`` holds the keys and :class:`NoveltyFeatures`' info columns; ``groups``
    maps ``user_id`` to ``peer_group`` (peers.peer_groups). A second pass over small
    tables (one row per user and kind, per user and host), never over the events.

    ``peer_rare_novelty``: over the kinds the user shows for the first time that window,
    the sum of the share of the *other* group members who never showed that kind (1 =
    nobody else in my group ever did this; a user alone in a group counts 1).
    ``foreign_host_count``: hosts used for the first time that window whose main user
    (at least half of the host's user-days) is somebody else.

    >>> import datetime as dt
    >>> d = [dt.date(2026, 10, 5)] * 3
    >>> m = pl.DataFrame({"user_id": ["a", "b", "c"], "window": d,
    ...     "_nv_first_off_hours_login": [1, 0, 0], "_nv_first_usb": [0, 0, 0],
    ...     "_nv_first_new_host": [1, 0, 0], "_nv_hosts": [["PC-A", "PC-B"], ["PC-B"], ["PC-C"]],
    ...     "_nv_new_hosts": [["PC-B"], [], []], "_nv_new_families": [[], [], []]})
    >>> g = pl.DataFrame({"user_id": ["a", "b", "c"], "peer_group": ["x"] * 3})
    >>> peer_novelty(m, g).select("peer_rare_novelty", "foreign_host_count").row(0)
    (2.0, 1)
    """
    user = pl.col(USER_ID)
    foreign = _foreign_hosts(matrix)
    # the first window with somebody else's host is one more first-ever kind
    has_foreign = pl.col("foreign_host_count") > 0
    earlier = has_foreign.cast(pl.Int64).cum_sum().shift(1).over(user).fill_null(0)
    later_window = pl.col(WINDOW) > pl.col(WINDOW).min().over(user)
    base = (
        matrix.select(*KEYS, *FIRST.values())
        .join(foreign, on=list(KEYS), how="left", maintain_order="left")
        .sort(KEYS)
        .with_columns(pl.col("foreign_host_count").fill_null(0))
        .with_columns(
            (has_foreign & (earlier == 0) & later_window).cast(pl.Int64).alias(_FIRST_FOREIGN)
        )
    )
    firsts = [*FIRST.values(), _FIRST_FOREIGN]
    ever = (
        base.group_by(USER_ID)
        .agg(*[(pl.col(c).max() > 0).cast(pl.Int64) for c in firsts])
        .join(groups, on=USER_ID, how="left")
    )
    members = pl.len().over(PEER_GROUP) - 1
    shares = ever.select(
        USER_ID,
        *[
            pl.when(members > 0)
            .then((pl.col(c).sum().over(PEER_GROUP) - pl.col(c)) / members)
            .otherwise(0.0)
            .alias(f"{c}_share")
            for c in firsts
        ],
    )
    rare = pl.sum_horizontal(
        *[pl.col(c).cast(pl.Float64) * (1.0 - pl.col(f"{c}_share")) for c in firsts]
    )
    family_rarity = _family_rarity(matrix, groups)
    return (
        base.join(shares, on=USER_ID, how="left", maintain_order="left")
        .join(family_rarity, on=list(KEYS), how="left", maintain_order="left")
        .select(
            *KEYS,
            rare.alias("peer_rare_novelty"),
            "foreign_host_count",
            pl.col("peer_new_resource").fill_null(0.0),
        )
    )


def _foreign_hosts(matrix: pl.DataFrame) -> pl.DataFrame:
    """Keys and ``foreign_host_count`` of the windows with a first-time host that is
    somebody else's main host (they hold at least OWNER_SHARE of its user-days)."""
    owners = (
        matrix.select(USER_ID, HOSTS)
        .explode(HOSTS)
        .drop_nulls(HOSTS)
        .group_by(HOSTS, USER_ID)
        .agg(pl.len().alias("_n"))
        .filter(pl.col("_n") >= OWNER_SHARE * pl.col("_n").sum().over(HOSTS))
        .select(pl.col(HOSTS).alias(NEW_HOSTS), pl.col(USER_ID).alias("_owner"))
    )
    return (
        matrix.select(*KEYS, NEW_HOSTS)
        .explode(NEW_HOSTS)
        .join(owners, on=NEW_HOSTS, how="inner")
        .filter(pl.col("_owner") != pl.col(USER_ID))
        .group_by(KEYS)
        .agg(pl.len().cast(pl.Int64).alias("foreign_host_count"))
    )


def _family_rarity(matrix: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
    """Keys and ``peer_new_resource`` of the windows with a first-time sensitive family:
    per family, the share of the other group members who never used it, summed."""
    others = pl.len().over(PEER_GROUP) - 1
    sizes = groups.select(USER_ID, others.alias("_others"))
    used = (
        matrix.select(USER_ID, NEW_FAMILIES)
        .explode(NEW_FAMILIES)
        .drop_nulls(NEW_FAMILIES)
        .unique()
        .join(groups, on=USER_ID, how="left")
        .join(sizes, on=USER_ID, how="left")
        .with_columns(
            pl.when(pl.col("_others") > 0)
            .then((pl.len().over(PEER_GROUP, NEW_FAMILIES) - 1) / pl.col("_others"))
            .otherwise(0.0)
            .alias("_share")
        )
    )
    return (
        matrix.select(*KEYS, NEW_FAMILIES)
        .filter(pl.col(WINDOW) > pl.col(WINDOW).min().over(USER_ID))
        .explode(NEW_FAMILIES)
        .join(used.select(USER_ID, NEW_FAMILIES, "_share"), on=[USER_ID, NEW_FAMILIES])
        .group_by(KEYS)
        .agg((1.0 - pl.col("_share")).sum().alias("peer_new_resource"))
    )
