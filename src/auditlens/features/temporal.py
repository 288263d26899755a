"""When people work: off-hours logins and activity, first/last hour, hour entropy.

Off-hours means outside the configured business hours, on a weekly day off, or on a
Korean public or company holiday, all in the configured time zone (see calendar.py).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from auditlens.features.base import (
    KEY,
    LOCAL_HOUR,
    OFF_HOURS,
    OK,
    AggregateFeatureSet,
    FeatureContext,
    Prior,
    safe_ratio,
)
from auditlens.features.running import HOUR, DayValues
from auditlens.schema import ACTION_TYPE, USER_ID

_LOGIN = "_t_login"  # successful login
_OFF_LOGIN = "_t_off_login"
_HOUR_KEY = "_t_hour_key"  # KEY * 24 + hour of day: one integer per (user, window, hour)


def _entropy(runs: pl.DataFrame) -> pl.DataFrame:
    """``KEY, hour_entropy`` from the runs (``value`` = KEY * 24 + hour, ``len`` events)
    of the sorted hour keys: -sum p log2 p over each window's hours.

    Each window's terms are summed on their own, in hour order (numpy's reduceat over
    that window's slice): the same bits whichever rows, partitions or threads the other
    windows came from. A group_by's sum depends on how the engine chunked the column.
    """
    value = runs.get_column("value").to_numpy()
    n = runs.get_column("len").to_numpy().astype(np.float64)
    if value.size == 0:
        return pl.DataFrame(schema={KEY: pl.Int64, "hour_entropy": pl.Float64})
    key = value // 24
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    sizes = np.diff(np.r_[starts, key.size])
    p = n / np.repeat(np.add.reduceat(n, starts), sizes)  # integer totals: exact
    bits = np.add.reduceat(-p * np.log2(p), starts) + 0.0  # one hour: 0.0, not -0.0
    return pl.DataFrame({KEY: key[starts].astype(np.int64), "hour_entropy": bits})


class TemporalFeatures(AggregateFeatureSet):
    """Columns: login_count, off_hours_login_ratio, off_hours_action_ratio,
    off_hours_action_count, first_activity_hour, last_activity_hour, hour_entropy.

    (How far logon hours stray from the person's habit is novelty.py's
    ``login_hours_beyond_range``: against every earlier logon, not a 28-day mean.)"""

    name = "temporal"
    looks_back = ()  # its finish reads each row alone (and the _h_ user columns)
    columns = (
        "login_count",
        "off_hours_login_ratio",
        "off_hours_action_ratio",
        "off_hours_action_count",
        "first_activity_hour",
        "last_activity_hour",
        "hour_entropy",
    )

    def helpers(self, ctx: FeatureContext) -> dict[str, pl.Expr]:
        """Successful logins and off-hours ones."""
        login = (pl.col(ACTION_TYPE) == "login") & pl.col(OK)
        return {
            _LOGIN: login,
            _OFF_LOGIN: login & pl.col(OFF_HOURS),
        }

    def aggregations(self, ctx: FeatureContext) -> list[pl.Expr]:
        """Counts and first/last hour per window."""
        return [
            pl.col(_LOGIN).sum().cast(pl.Int64).alias("login_count"),
            pl.col(_OFF_LOGIN).sum().cast(pl.Int64).alias("_t_off_logins"),
            pl.len().cast(pl.Int64).alias("_t_actions"),
            pl.col(OFF_HOURS).sum().cast(pl.Int64).alias("off_hours_action_count"),
            pl.col(LOCAL_HOUR).min().alias("first_activity_hour"),
            pl.col(LOCAL_HOUR).max().alias("last_activity_hour"),
        ]

    def extras(
        self, keyed: pl.LazyFrame, ctx: FeatureContext, prior: Prior | None = None
    ) -> list[pl.LazyFrame]:
        """Shannon entropy of the hour-of-day histogram (events per hour, bits)."""
        # _hour is in [0, 24): its floor is the hour of day. Events per (window, hour) as
        # runs of the sorted integers: a sort is cheaper than hashing ~2M groups
        hour_key = pl.col(KEY) * 24 + pl.col(LOCAL_HOUR).floor().cast(pl.Int64)
        entropy = (
            keyed.select(hour_key.alias(_HOUR_KEY))
            .sort(_HOUR_KEY)
            .select(pl.col(_HOUR_KEY).rle())
            .unnest(_HOUR_KEY)
            .map_batches(_entropy, schema={KEY: pl.Int64, "hour_entropy": pl.Float64})
        )
        return [entropy]

    def merges(self) -> list[pl.Expr]:
        """Counts add up; the first hour is the least, the last the greatest."""
        counts = ("login_count", "_t_off_logins", "_t_actions", "off_hours_action_count")
        return [
            *(pl.col(c).sum() for c in counts),
            pl.col("first_activity_hour").min(),
            pl.col("last_activity_hour").max(),
        ]

    def running_extras(self, values: DayValues, ctx: FeatureContext) -> list[pl.DataFrame]:
        """The hour entropy from the window's events per hour (the same sums)."""
        hours = values.hours  # sorted by user and hour
        users = hours.get_column(USER_ID).unique(maintain_order=True)
        code = hours.get_column(USER_ID).rle_id().cast(pl.Int64)
        runs = pl.DataFrame({"value": code * 24 + hours.get_column(HOUR), "len": hours["_n"]})
        entropy = _entropy(runs)
        return [entropy.select(users.gather(entropy.get_column(KEY)), "hour_entropy")]

    def finish(self, daily: pl.LazyFrame, ctx: FeatureContext) -> pl.LazyFrame:
        """Ratios of off-hours logins and actions."""
        return daily.with_columns(
            safe_ratio(pl.col("_t_off_logins"), pl.col("login_count")).alias(
                "off_hours_login_ratio"
            ),
            safe_ratio(pl.col("off_hours_action_count"), pl.col("_t_actions")).alias(
                "off_hours_action_ratio"
            ),
        )
