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

from auditlens.features import runs
from auditlens.features.base import (
    FAMILY,
    KEY,
    LEVEL,
    LOCAL_HOUR,
    OFF_HOURS,
    OK,
    SEEN_FAMILY,
    SEEN_HOST,
    USER_CODE,
    WINDOW,
    AggregateFeatureSet,
    FeatureContext,
    Prior,
    first_keys,
)
from auditlens.features.catalog import SENSITIVE_RANK
from auditlens.features.running import DayValues
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
    looks_back = ()  # its finish reads each row alone (and the _h_ user columns)
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

    def extras(
        self, keyed: pl.LazyFrame, ctx: FeatureContext, prior: Prior | None = None
    ) -> list[pl.LazyFrame]:
        """The hosts of each window, and those the person had never used before."""
        who = [USER_CODE] if prior is None else [USER_CODE, USER_ID]  # prior: by user id
        seen = keyed.filter(pl.col(HOST).is_not_null()).group_by(*who, KEY, HOST).agg()
        hosts = seen.group_by(KEY).agg(pl.col(HOST).sort().alias(HOSTS))
        before_hosts = None if prior is None else prior.seen_of(SEEN_HOST, HOST)
        new = (
            first_keys(seen, HOST, seen=before_hosts)
            .group_by(KEY)
            .agg(pl.col(HOST).sort().alias(NEW_HOSTS))
        )
        sensitive = pl.col(RESOURCE_ID).is_not_null() & (pl.col(LEVEL) >= SENSITIVE_RANK)
        before_families = None if prior is None else prior.seen_of(SEEN_FAMILY, FAMILY)
        families = (
            first_keys(keyed, FAMILY, sensitive & pl.col(OK), before_families)
            .group_by(KEY)
            .agg(pl.col(FAMILY).sort().alias(NEW_FAMILIES))
        )
        return [hosts, new, families]

    def merges(self) -> list[pl.Expr]:
        """Any of the pieces; the least and the greatest logon hour."""
        return [
            pl.col("_nv_off").any(),
            pl.col("_nv_usb_day").any(),
            pl.col("_nv_lo").min(),
            pl.col("_nv_hi").max(),
        ]

    def running_extras(self, values: DayValues, ctx: FeatureContext) -> list[pl.DataFrame]:
        """The window's hosts, new hosts and new sensitive families so far."""
        hosts = values.of(SEEN_HOST)
        families = values.of(SEEN_FAMILY).filter(pl.col("_new"))
        return [
            hosts.group_by(USER_ID).agg(pl.col("_value").sort().alias(HOSTS)),
            hosts.filter(pl.col("_new"))
            .group_by(USER_ID)
            .agg(pl.col("_value").sort().alias(NEW_HOSTS)),
            families.group_by(USER_ID).agg(pl.col("_value").sort().alias(NEW_FAMILIES)),
        ]

    def finish(self, daily: pl.LazyFrame, ctx: FeatureContext) -> pl.LazyFrame:
        """Gaps since the last occurrence, the range of earlier logon hours, first kinds.

        Earlier windows not in ``daily`` count through the ``_h_`` columns of a prior
        (:meth:`summary` of them); without those columns the rows start at each user's
        beginning. The rows are sorted by user and window: each user's rows are one run
        of features/runs.py.
        """
        user = pl.col(USER_ID)
        names = daily.collect_schema().names()
        out = daily.with_columns(
            *[pl.col(c).fill_null(pl.lit([], pl.List(pl.String))) for c in LISTS],
            *[pl.lit(None, dtype).alias(c) for c, dtype in _SUMMARY.items() if c not in names],
        )
        first_window = pl.min_horizontal(pl.col(WINDOW).min().over(user), "_h_first_window")
        is_first_window = pl.col(WINDOW) == first_window
        exprs: list[pl.Expr] = []
        for flag, name, before in (
            ("_nv_off", "off_hours_login_gap_days", "_h_last_off"),
            ("_nv_usb_day", "usb_gap_days", "_h_last_usb"),
        ):
            last = runs.last_before(pl.when(pl.col(flag)).then(pl.col(WINDOW)), USER_ID)
            since = pl.coalesce(last, before, first_window - pl.duration(days=1))
            gap = (pl.col(WINDOW) - since).dt.total_days().cast(pl.Float64)
            exprs.append(pl.when(pl.col(flag)).then(gap).otherwise(0.0).alias(name))
        lo = runs.previous(runs.running_min(pl.col("_nv_lo"), USER_ID), USER_ID)
        hi = runs.previous(runs.running_max(pl.col("_nv_hi"), USER_ID), USER_ID)
        lo, hi = pl.min_horizontal(lo, "_h_lo"), pl.max_horizontal(hi, "_h_hi")
        beyond = pl.max_horizontal(lo - pl.col("_nv_lo"), pl.col("_nv_hi") - hi, pl.lit(0.0))
        exprs.append(beyond.fill_null(0.0).alias("login_hours_beyond_range"))
        # first ever: the flag today and never on an earlier window (nothing counts as
        # new on the person's own first window: everything is)
        for kind, flag, before in (
            ("off_hours_login", "_nv_off", "_h_last_off"),
            ("usb", "_nv_usb_day", "_h_last_usb"),
        ):
            earlier = runs.previous(runs.running_sum(pl.col(flag), USER_ID), USER_ID).fill_null(0)
            never = (earlier == 0) & pl.col(before).is_null()
            first = pl.col(flag).fill_null(False) & never
            exprs.append((first & ~is_first_window).cast(pl.Int64).alias(FIRST[kind]))
        new_host = (pl.col(NEW_HOSTS).list.len() > 0) & ~is_first_window
        exprs.append(new_host.cast(pl.Int64).alias(FIRST["new_host"]))
        return out.with_columns(exprs).with_columns(
            pl.sum_horizontal(*FIRST.values()).cast(pl.Int64).alias("novel_kind_count")
        )

    def summary(self) -> list[pl.Expr]:
        """Per user over the finished rows and any earlier summary: the first window, the
        last window with an off-hours logon and with a USB connect, the logon-hour range."""
        window = pl.col(WINDOW)
        return [
            pl.min_horizontal(window.min(), pl.col("_h_first_window").min()).alias(
                "_h_first_window"
            ),
            pl.max_horizontal(
                window.filter(pl.col("_nv_off").fill_null(False)).max(),
                pl.col("_h_last_off").max(),
            ).alias("_h_last_off"),
            pl.max_horizontal(
                window.filter(pl.col("_nv_usb_day").fill_null(False)).max(),
                pl.col("_h_last_usb").max(),
            ).alias("_h_last_usb"),
            pl.min_horizontal(pl.col("_nv_lo").min(), pl.col("_h_lo").min()).alias("_h_lo"),
            pl.max_horizontal(pl.col("_nv_hi").max(), pl.col("_h_hi").max()).alias("_h_hi"),
        ]


#: The per-user summary columns NoveltyFeatures continues from, and their types.
_SUMMARY: Final = {
    "_h_first_window": pl.Date,
    "_h_last_off": pl.Date,
    "_h_last_usb": pl.Date,
    "_h_lo": pl.Float64,
    "_h_hi": pl.Float64,
}
