"""Where and how people sign in: new hosts and source IPs, failed-login bursts."""

from __future__ import annotations

import polars as pl

from auditlens.features.base import (
    KEY,
    OK,
    SEEN_HOST,
    SEEN_SRC_IP,
    USER_CODE,
    AggregateFeatureSet,
    FeatureContext,
    Prior,
    distinct_count,
    first_keys,
    first_seen_keyed,
)
from auditlens.features.running import DayValues
from auditlens.schema import ACTION_TYPE, HOST, SRC_IP, TIMESTAMP, USER_ID

#: Failed logins closer together than this count as one burst.
BURST_WINDOW = "10m"

_FAILED_LOGIN = "_a_failed_login"
#: Info column: the source IPs the user used for the first time that window, sorted.
NEW_SRC_IPS = "_new_src_ips"


class AccessFeatures(AggregateFeatureSet):
    """Columns: distinct_hosts, new_host_count, new_src_ip_count, failed_login_count,
    failed_login_burst; and ``_new_src_ips`` (info for reasons, not a model input)."""

    name = "access"
    looks_back = ()  # its finish reads each row alone (and the _h_ user columns)
    columns = (
        "distinct_hosts",
        "new_host_count",
        "new_src_ip_count",
        "failed_login_count",
        "failed_login_burst",
        NEW_SRC_IPS,
    )

    def helpers(self, ctx: FeatureContext) -> dict[str, pl.Expr]:
        """Failed logins."""
        return {_FAILED_LOGIN: (pl.col(ACTION_TYPE) == "login") & ~pl.col(OK)}

    def aggregations(self, ctx: FeatureContext) -> list[pl.Expr]:
        """Failed logins per window."""
        return [pl.col(_FAILED_LOGIN).sum().cast(pl.Int64).alias("failed_login_count")]

    def extras(
        self, keyed: pl.LazyFrame, ctx: FeatureContext, prior: Prior | None = None
    ) -> list[pl.LazyFrame]:
        """Distinct hosts, first-time hosts and IPs, the largest failed-login burst."""
        failed = keyed.filter(pl.col(_FAILED_LOGIN)).select(USER_CODE, KEY, TIMESTAMP)
        if prior is not None:  # the failed logins just before: a burst across midnight
            codes = keyed.select(USER_ID, USER_CODE).unique()
            tail = (
                prior.tail.lazy()
                .join(codes, on=USER_ID)
                .select(USER_CODE, pl.lit(None, pl.Int64).alias(KEY), TIMESTAMP)
            )
            failed = pl.concat([tail, failed], how="vertical_relaxed")
        bursts = _bursts(failed, USER_CODE).group_by(KEY).agg(_BURST)
        # a user works from few hosts and IPs a day: one pass down to the distinct
        # (user, window, host, IP), and the three counts from that small table
        who = [USER_CODE] if prior is None else [USER_CODE, USER_ID]  # prior: by user id
        seen = keyed.group_by(*who, KEY, HOST, SRC_IP).agg()
        seen = seen.collect(engine="streaming").lazy()
        hosts = None if prior is None else prior.seen_of(SEEN_HOST, HOST)
        ips = None if prior is None else prior.seen_of(SEEN_SRC_IP, SRC_IP)
        return [
            distinct_count(seen, HOST, "distinct_hosts"),
            first_seen_keyed(seen, HOST, "new_host_count", seen=hosts),
            first_seen_keyed(seen, SRC_IP, "new_src_ip_count", seen=ips),
            bursts.filter(pl.col(KEY).is_not_null()),
            _new_ips(seen, ips),
        ]

    def merges(self) -> list[pl.Expr]:
        """Failed logins add up."""
        return [pl.col("failed_login_count").sum()]

    def running_extras(self, values: DayValues, ctx: FeatureContext) -> list[pl.DataFrame]:
        """:meth:`extras` from the window's distinct hosts and IPs and failed logins."""
        count = pl.len().cast(pl.Int64)
        hosts, ips = values.of(SEEN_HOST), values.of(SEEN_SRC_IP)
        new_ips = ips.filter(pl.col("_new"))
        bursts = _bursts(values.failed.lazy(), USER_ID).filter(~pl.col("_tail"))
        return [
            hosts.group_by(USER_ID).agg(count.alias("distinct_hosts")),
            hosts.filter(pl.col("_new")).group_by(USER_ID).agg(count.alias("new_host_count")),
            new_ips.group_by(USER_ID).agg(count.alias("new_src_ip_count")),
            bursts.group_by(USER_ID).agg(_BURST).collect(),
            new_ips.group_by(USER_ID).agg(
                pl.col("_value").sort().str.join(", ").alias(NEW_SRC_IPS)
            ),
        ]

    def finish(self, daily: pl.LazyFrame, ctx: FeatureContext) -> pl.LazyFrame:
        """Windows without hosts, new values or failed logins get 0."""
        return daily.with_columns(
            pl.col(
                "distinct_hosts", "new_host_count", "new_src_ip_count", "failed_login_burst"
            ).fill_null(0)
        )


#: The largest burst of a window.
_BURST = pl.col("_a_burst").max().alias("failed_login_burst")


def _bursts(failed: pl.LazyFrame, user: str) -> pl.LazyFrame:
    """``failed`` (failed logins: ``user``, ``TIMESTAMP``) with ``_a_burst``: the failed
    logins of the same user within ``BURST_WINDOW`` up to each."""
    return failed.sort(user, TIMESTAMP).with_columns(
        pl.col(TIMESTAMP)
        .is_not_null()
        .cast(pl.Int64)
        .rolling_sum_by(TIMESTAMP, BURST_WINDOW)
        .over(user)
        .alias("_a_burst")
    )


def _new_ips(seen: pl.LazyFrame, before: pl.LazyFrame | None) -> pl.LazyFrame:
    """Per window (``KEY``): the source IPs the user used there for the first time."""
    return (
        first_keys(seen, SRC_IP, seen=before)
        .group_by(KEY)
        .agg(pl.col(SRC_IP).sort().str.join(", ").alias(NEW_SRC_IPS))
    )
