"""What people touch: sensitivity-weighted access, breadth, bulk and change actions.

Each resource's sensitivity comes from the resource catalog (exact id or glob); ids the
catalog does not know get its default level and are reported by the pipeline.
"""

from __future__ import annotations

import polars as pl

from auditlens.features.base import (
    BULK_ACTIONS,
    CHANGE_ACTIONS,
    FAMILY,
    KEYS,
    LEVEL,
    OFF_HOURS,
    OK,
    WEIGHT,
    WINDOW,
    FeatureContext,
    FeatureSet,
    baseline_ratio,
    first_seen,
)
from auditlens.features.catalog import SENSITIVE_RANK
from auditlens.schema import ACTION_TYPE, RESOURCE_ID, USER_ID


class ResourceFeatures(FeatureSet):
    """Columns: weighted_resource_score, sensitive_access_count, off_hours_sensitive_count,
    distinct_resources, new_sensitive_resource_count, bulk_action_count, bulk_vs_baseline,
    usb_connect_count, delete_count, delete_vs_baseline, sensitive_change_count,
    failed_access_count."""

    name = "resources"

    def transform(self, events: pl.DataFrame, ctx: FeatureContext) -> pl.DataFrame:
        """One row per (user, window) with the resource columns."""
        has_res = pl.col(RESOURCE_ID).is_not_null()
        sensitive = has_res & (pl.col(LEVEL) >= SENSITIVE_RANK)
        action = pl.col(ACTION_TYPE)
        daily = (
            events.lazy()
            .group_by(*KEYS)
            .agg(
                pl.col(WEIGHT).filter(has_res & pl.col(OK)).sum().alias("weighted_resource_score"),
                (sensitive & pl.col(OK)).sum().cast(pl.Int64).alias("sensitive_access_count"),
                (sensitive & pl.col(OFF_HOURS))
                .sum()
                .cast(pl.Int64)
                .alias("off_hours_sensitive_count"),
                pl.col(RESOURCE_ID)
                .drop_nulls()
                .n_unique()
                .cast(pl.Int64)
                .alias("distinct_resources"),
                action.is_in(BULK_ACTIONS).sum().cast(pl.Int64).alias("bulk_action_count"),
                (action == "usb_connect").sum().cast(pl.Int64).alias("usb_connect_count"),
                (action == "delete").sum().cast(pl.Int64).alias("delete_count"),
                (sensitive & action.is_in(CHANGE_ACTIONS))
                .sum()
                .cast(pl.Int64)
                .alias("sensitive_change_count"),
                (has_res & ~pl.col(OK)).sum().cast(pl.Int64).alias("failed_access_count"),
            )
            .collect()
        )
        # first use of a sensitive resource family (catalog pattern), not of a single record:
        # an agent opens new customer records every day, a new *kind* of data is the signal
        new = first_seen(events, FAMILY, valid=sensitive & pl.col(OK)).rename(
            {"n": "new_sensitive_resource_count"}
        )
        return (
            daily.join(new, on=list(KEYS), how="left")
            .sort(USER_ID, WINDOW)
            .with_columns(
                pl.col("new_sensitive_resource_count").fill_null(0),
                baseline_ratio("bulk_action_count", ctx).alias("bulk_vs_baseline"),
                baseline_ratio("delete_count", ctx).alias("delete_vs_baseline"),
            )
            .select(
                *KEYS,
                "weighted_resource_score",
                "sensitive_access_count",
                "off_hours_sensitive_count",
                "distinct_resources",
                "new_sensitive_resource_count",
                "bulk_action_count",
                "bulk_vs_baseline",
                "usb_connect_count",
                "delete_count",
                "delete_vs_baseline",
                "sensitive_change_count",
                "failed_access_count",
            )
        )
