"""Where and how people sign in: new hosts and source IPs, failed-login bursts."""

from __future__ import annotations

import polars as pl

from auditlens.features.base import KEYS, OK, WINDOW, FeatureContext, FeatureSet, first_seen
from auditlens.schema import ACTION_TYPE, HOST, SRC_IP, TIMESTAMP, USER_ID

#: Failed logins closer together than this count as one burst.
BURST_WINDOW = "10m"


class AccessFeatures(FeatureSet):
    """Columns: distinct_hosts, new_host_count, new_src_ip_count, failed_login_count,
    failed_login_burst."""

    name = "access"

    def transform(self, events: pl.DataFrame, ctx: FeatureContext) -> pl.DataFrame:
        """One row per (user, window) with the access-context columns."""
        failed_login = (pl.col(ACTION_TYPE) == "login") & ~pl.col(OK)
        daily = (
            events.lazy()
            .group_by(*KEYS)
            .agg(
                pl.col(HOST).drop_nulls().n_unique().cast(pl.Int64).alias("distinct_hosts"),
                failed_login.sum().cast(pl.Int64).alias("failed_login_count"),
            )
            .collect()
        )
        bursts = (
            events.lazy()
            .filter(failed_login)
            .select(USER_ID, WINDOW, TIMESTAMP)
            .sort(USER_ID, TIMESTAMP)
            .with_columns(
                pl.col(TIMESTAMP)
                .is_not_null()
                .cast(pl.Int64)
                .rolling_sum_by(TIMESTAMP, BURST_WINDOW)
                .over(USER_ID)
                .alias("_burst")
            )
            .group_by(*KEYS)
            .agg(pl.col("_burst").max().alias("failed_login_burst"))
            .collect()
        )
        new_host = first_seen(events, HOST).rename({"n": "new_host_count"})
        new_ip = first_seen(events, SRC_IP).rename({"n": "new_src_ip_count"})
        return (
            daily.join(new_host, on=list(KEYS), how="left")
            .join(new_ip, on=list(KEYS), how="left")
            .join(bursts, on=list(KEYS), how="left")
            .with_columns(
                pl.col("new_host_count", "new_src_ip_count", "failed_login_burst").fill_null(0)
            )
            .select(
                *KEYS,
                "distinct_hosts",
                "new_host_count",
                "new_src_ip_count",
                "failed_login_count",
                "failed_login_burst",
            )
            .sort(*KEYS)
        )
