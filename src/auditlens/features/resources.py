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
    LEVEL,
    OFF_HOURS,
    OK,
    RESOURCE_CODE,
    SEEN_FAMILY,
    WEIGHT,
    AggregateFeatureSet,
    FeatureContext,
    Prior,
    baseline_ratio,
    distinct_count,
    first_seen_keyed,
)
from auditlens.features.catalog import SENSITIVE_RANK
from auditlens.features.running import RESOURCE, DayValues
from auditlens.schema import ACTION_TYPE, RESOURCE_ID, USER_ID

_SENSITIVE_OK = "_r_sensitive_ok"  # successful access to a high/critical resource
_SENSITIVE_OFF = "_r_sensitive_off"
_OK_WEIGHT = "_r_ok_weight"  # sensitivity weight of a successful resource access, else null
_BULK = "_r_bulk"
_USB = "_r_usb"
_DELETE = "_r_delete"
_SENSITIVE_CHANGE = "_r_sensitive_change"
_FAILED = "_r_failed"


#: Flags counted per window, and the count's column.
_COUNTS = {
    _SENSITIVE_OK: "sensitive_access_count",
    _SENSITIVE_OFF: "off_hours_sensitive_count",
    _BULK: "bulk_action_count",
    _USB: "usb_connect_count",
    _DELETE: "delete_count",
    _SENSITIVE_CHANGE: "sensitive_change_count",
    _FAILED: "failed_access_count",
}
_SUMS = ("weighted_resource_score", *_COUNTS.values())


class ResourceFeatures(AggregateFeatureSet):
    """Columns: weighted_resource_score, sensitive_access_count, off_hours_sensitive_count,
    distinct_resources, new_sensitive_resource_count, bulk_action_count, bulk_vs_baseline,
    usb_connect_count, delete_count, delete_vs_baseline, sensitive_change_count,
    failed_access_count."""

    name = "resources"
    #: its finish compares with the user's trailing means of these (baseline_ratio)
    looks_back = ("bulk_action_count", "delete_count")
    columns = (
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

    def helpers(self, ctx: FeatureContext) -> dict[str, pl.Expr]:
        """Per-event flags: sensitive, bulk, change and failed accesses."""
        has_res = pl.col(RESOURCE_ID).is_not_null()
        sensitive = has_res & (pl.col(LEVEL) >= SENSITIVE_RANK)
        action = pl.col(ACTION_TYPE)
        return {
            _OK_WEIGHT: pl.when(has_res & pl.col(OK)).then(pl.col(WEIGHT)),
            _SENSITIVE_OK: sensitive & pl.col(OK),
            _SENSITIVE_OFF: sensitive & pl.col(OFF_HOURS),
            _BULK: action.is_in(BULK_ACTIONS),
            _USB: action == "usb_connect",
            _DELETE: action == "delete",
            _SENSITIVE_CHANGE: sensitive & action.is_in(CHANGE_ACTIONS),
            _FAILED: has_res & ~pl.col(OK),
        }

    def aggregations(self, ctx: FeatureContext) -> list[pl.Expr]:
        """Weighted score and counts per window."""
        return [
            pl.col(_OK_WEIGHT).sum().alias("weighted_resource_score"),
            *(pl.col(flag).sum().cast(pl.Int64).alias(name) for flag, name in _COUNTS.items()),
        ]

    def extras(
        self, keyed: pl.LazyFrame, ctx: FeatureContext, prior: Prior | None = None
    ) -> list[pl.LazyFrame]:
        """Distinct resources, and sensitive resource families used for the first time."""
        # prepare() numbers the resource ids: counting integers is cheaper than strings
        resource_code = RESOURCE_CODE if RESOURCE_CODE in keyed.collect_schema() else None
        return [
            distinct_count(keyed, RESOURCE_ID, "distinct_resources", code=resource_code),
            # first use of a sensitive resource family (catalog pattern), not of a single
            # record: an agent opens new customer records every day, a new *kind* of data
            # is the signal
            first_seen_keyed(
                keyed,
                FAMILY,
                "new_sensitive_resource_count",
                valid=pl.col(_SENSITIVE_OK),
                seen=None if prior is None else prior.seen_of(SEEN_FAMILY, FAMILY),
            ),
        ]

    def merges(self) -> list[pl.Expr]:
        """Every aggregation is a sum (the weighted score a float sum: the same bits as
        one pass while the catalog's weights add exactly, as the defaults do)."""
        return [pl.col(c).sum() for c in _SUMS]

    def running_extras(self, values: DayValues, ctx: FeatureContext) -> list[pl.DataFrame]:
        """Distinct resources and first-time sensitive families of the window so far."""
        count = pl.len().cast(pl.Int64)
        new_families = values.of(SEEN_FAMILY).filter(pl.col("_new"))
        return [
            values.of(RESOURCE).group_by(USER_ID).agg(count.alias("distinct_resources")),
            new_families.group_by(USER_ID).agg(count.alias("new_sensitive_resource_count")),
        ]

    def finish(self, daily: pl.LazyFrame, ctx: FeatureContext) -> pl.LazyFrame:
        """Fill windows without new families or resources; ratios to the own baseline."""
        return daily.with_columns(
            pl.col("new_sensitive_resource_count", "distinct_resources").fill_null(0),
            baseline_ratio("bulk_action_count", ctx).alias("bulk_vs_baseline"),
            baseline_ratio("delete_count", ctx).alias("delete_vs_baseline"),
        )
