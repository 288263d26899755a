"""When people work: off-hours logins and activity, first/last hour, hour entropy.

Off-hours means outside the configured business hours, on a weekly day off, or on a
Korean public or company holiday, all in the configured time zone (see calendar.py).
"""

from __future__ import annotations

import polars as pl

from auditlens.features.base import (
    KEYS,
    LOCAL_HOUR,
    OFF_HOURS,
    OK,
    WINDOW,
    FeatureContext,
    FeatureSet,
    safe_ratio,
    trailing_mean,
    trailing_std,
)
from auditlens.schema import ACTION_TYPE, USER_ID


class TemporalFeatures(FeatureSet):
    """Columns: login_count, off_hours_login_ratio, off_hours_action_ratio,
    off_hours_action_count, first_activity_hour, last_activity_hour, hour_entropy,
    login_hour_deviation."""

    name = "temporal"

    def transform(self, events: pl.DataFrame, ctx: FeatureContext) -> pl.DataFrame:
        """One row per (user, window) with the temporal columns."""
        login = (pl.col(ACTION_TYPE) == "login") & pl.col(OK)
        daily = (
            events.lazy()
            .group_by(*KEYS)
            .agg(
                login.sum().cast(pl.Int64).alias("login_count"),
                (login & pl.col(OFF_HOURS)).sum().cast(pl.Int64).alias("_off_logins"),
                pl.len().cast(pl.Int64).alias("_actions"),
                pl.col(OFF_HOURS).sum().cast(pl.Int64).alias("off_hours_action_count"),
                pl.col(LOCAL_HOUR).min().alias("first_activity_hour"),
                pl.col(LOCAL_HOUR).max().alias("last_activity_hour"),
                pl.col(LOCAL_HOUR).filter(login).mean().alias("_login_hour"),
            )
        )
        entropy = (
            events.lazy()
            .group_by(*KEYS, pl.col(LOCAL_HOUR).floor().alias("_h"))
            .agg(pl.len().alias("_n"))
            .group_by(*KEYS)
            .agg(pl.col("_n").entropy(base=2).alias("hour_entropy"))
        )
        own_mean = trailing_mean("_login_hour", ctx)
        own_std = trailing_std("_login_hour", ctx).fill_null(0.0)
        return (
            daily.join(entropy, on=list(KEYS), how="left")
            .sort(USER_ID, WINDOW)
            .with_columns(
                safe_ratio(pl.col("_off_logins"), pl.col("login_count")).alias(
                    "off_hours_login_ratio"
                ),
                safe_ratio(pl.col("off_hours_action_count"), pl.col("_actions")).alias(
                    "off_hours_action_ratio"
                ),
                # hours away from the user's usual login time, in units of their own spread
                ((pl.col("_login_hour") - own_mean).abs() / (own_std + 0.5))
                .fill_null(0.0)
                .alias("login_hour_deviation"),
            )
            .select(
                *KEYS,
                "login_count",
                "off_hours_login_ratio",
                "off_hours_action_ratio",
                "off_hours_action_count",
                "first_activity_hour",
                "last_activity_hour",
                "hour_entropy",
                "login_hour_deviation",
            )
            .collect()
        )
