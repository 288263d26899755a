"""The FeatureSet plug-in point and what every feature set is given.

Events reach a FeatureSet *prepared* once by :func:`prepare`: local time, the window
(local calendar day), the off-hours flag and the resource's sensitivity are already
columns, so each set is one ``group_by`` over the same frame.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import polars as pl

from auditlens.calendar import BusinessCalendar
from auditlens.features.catalog import ResourceCatalog
from auditlens.schema import RESOURCE_ID, SUCCESS, TIMESTAMP, USER_ID

if TYPE_CHECKING:
    from auditlens.features.sequences import SequenceModel
    from auditlens.features.watchlist import WatchPattern

#: Key columns of every feature frame and of the matrix.
WINDOW: Final = "window"
KEYS: Final = (USER_ID, WINDOW)

# columns ``prepare`` adds (leading underscore: helpers, never features)
LOCAL_HOUR: Final = "_hour"  # local hour of day as a float, 13.5 = 13:30
OFF_HOURS: Final = "_off_hours"
LEVEL: Final = "_level"  # sensitivity rank 0..3 (low..critical); null for resourceless rows
WEIGHT: Final = "_weight"
FAMILY: Final = "_family"  # catalog pattern matched, else the resource id itself
OK: Final = "_ok"  # success, null read as success
_LOCAL: Final = "_local"

BULK_ACTIONS: Final = ("download", "export", "print", "copy", "usb_connect")
CHANGE_ACTIONS: Final = ("edit", "delete")


@dataclass(frozen=True)
class FeatureContext:
    """What feature sets need besides the events.

    ``profile_days`` is the length of the rolling personal baseline (the window's own day
    excluded). ``peer_groups`` maps ``user_id`` to a peer-group name (department/role);
    when absent, groups come from the events' ``department`` and ``role``.
    ``sequence_model`` is a fitted SequenceModel to reuse (None: fit on the events);
    ``watchlist`` holds the watch-list patterns that always raise a reason.
    """

    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    catalog: ResourceCatalog = field(default_factory=ResourceCatalog)
    profile_days: int = 28
    min_peer_group: int = 5
    peer_groups: pl.DataFrame | None = None
    #: A fitted sequence model to score with; None = fit one on the events given.
    sequence_model: SequenceModel | None = None
    watchlist: tuple[WatchPattern, ...] = ()
    seed: int = 7
    session_gap_minutes: float = 30.0
    #: ``user_id, peer_group`` once resolved for these events (build_matrix sets it).
    resolved_groups: pl.DataFrame | None = None

    @property
    def profile(self) -> str:
        """The baseline length as a polars duration string."""
        return f"{self.profile_days}d"


class FeatureSet(ABC):
    """Computes named feature columns per (user_id, window) from prepared events."""

    #: Short name, used in docs and error messages.
    name: str

    @abstractmethod
    def transform(self, events: pl.DataFrame, ctx: FeatureContext) -> pl.DataFrame:
        """Return one row per (user_id, window) the events cover, keys first."""


def prepare(events: pl.DataFrame, ctx: FeatureContext) -> pl.DataFrame:
    """Add the shared helper columns to canonical events (one pass, done once).

    Raises nothing for unknown resources: they get the catalog's default level.
    """
    cal = ctx.calendar
    years = _years(events)
    lookup = ctx.catalog.lookup(events.get_column(RESOURCE_ID))
    local = pl.col(_LOCAL)
    # no sort: every feature set aggregates per group; those needing order sort their rows
    return (
        events.lazy()
        .with_columns(cal.local_expr(TIMESTAMP).alias(_LOCAL))
        .with_columns(
            local.dt.date().alias(WINDOW),
            (
                local.dt.hour().cast(pl.Float64)
                + local.dt.minute().cast(pl.Float64) / 60.0
                + local.dt.second().cast(pl.Float64) / 3600.0
            ).alias(LOCAL_HOUR),
            cal.off_hours_expr(_LOCAL, years, already_local=True).alias(OFF_HOURS),
            pl.col(SUCCESS).fill_null(True).alias(OK),
        )
        .drop(_LOCAL)
        .join(
            lookup.lazy().select(
                RESOURCE_ID,
                pl.col("level").alias(LEVEL),
                pl.col("weight").alias(WEIGHT),
                pl.coalesce("pattern", RESOURCE_ID).alias(FAMILY),
            ),
            on=RESOURCE_ID,
            how="left",
        )
        .collect()
    )


def _years(events: pl.DataFrame) -> list[int]:
    if events.height == 0:
        return [dt.date.today().year]
    lo, hi = events.select(
        pl.col(TIMESTAMP).min().alias("lo"), pl.col(TIMESTAMP).max().alias("hi")
    ).row(0)
    return list(range(lo.year - 1, hi.year + 2))


def first_seen(events: pl.DataFrame, column: str, valid: pl.Expr | None = None) -> pl.DataFrame:
    """Per (user, window): how many distinct ``column`` values the user had never used before.

    A value's first window is the earliest window the user used it in; on the user's own
    first window everything is new, so warm-up windows must not be scored (scoring.py
    skips them).
    """
    rows = events.lazy()
    if valid is not None:
        rows = rows.filter(valid)
    firsts = (
        rows.filter(pl.col(column).is_not_null())
        .group_by(USER_ID, column)
        .agg(pl.col(WINDOW).min())
        .group_by(*KEYS)
        .agg(pl.len().cast(pl.Int64).alias("n"))
    )
    return firsts.collect()


def trailing_mean(column: str, ctx: FeatureContext) -> pl.Expr:
    """The user's own mean of ``column`` over the previous ``profile_days`` (today excluded).

    Frames must be sorted by user and window. Null when the user has no history yet.
    """
    return pl.col(column).rolling_mean_by(WINDOW, ctx.profile, closed="left").over(USER_ID)


def trailing_std(column: str, ctx: FeatureContext) -> pl.Expr:
    """The user's own standard deviation of ``column`` over the previous ``profile_days``."""
    return pl.col(column).rolling_std_by(WINDOW, ctx.profile, closed="left").over(USER_ID)


def safe_ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """num / den, 0 where den is 0."""
    return pl.when(den > 0).then(num.cast(pl.Float64) / den).otherwise(0.0)


def baseline_ratio(column: str, ctx: FeatureContext) -> pl.Expr:
    """(today + 1) / (own trailing mean + 1): 1 = as usual, 5 = five times the usual."""
    own = trailing_mean(column, ctx).fill_null(0.0)
    return (pl.col(column).cast(pl.Float64) + 1.0) / (own + 1.0)
