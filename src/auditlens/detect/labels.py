"""Past audit findings as labels of (user, window) rows.

The rule, for each window (a local calendar day) of the feature matrix:

* **1** — the day overlaps the period of a *confirmed* finding of that user;
* **excluded** (null) — the user has a confirmed finding, but not on this day: the
  same person's other days are neither known clean (preparation, an undetected start)
  nor known bad, so they are left out of training and evaluation rather than guessed;
* **0** — every other window, including days inside a *dismissed* finding's period
  (looked into and cleared: the most useful negatives there are).
"""

from __future__ import annotations

from typing import Final

import polars as pl

from auditlens.features.base import KEYS, WINDOW
from auditlens.schema import USER_ID

LABEL = "label"

#: The one minimum-positives rule: with fewer labelled positive windows than this,
#: nothing supervised is learned — the stacked ensemble refuses to fit, and `auditlens
#: train`/`evaluate` keep to the unsupervised model and say so. Ten (the stricter of the
#: 5 and 10 once written apart): the stacker weighs its members on out-of-fold outputs
#: over five user folds, and fewer than two positives per fold is too little to weigh by.
MIN_POSITIVE_WINDOWS: Final = 10

#: The minimum of *people* with a confirmed finding in the data. Windows of one insider
#: are not independent evidence: a model can learn that person's habits, and every figure
#: moves in steps of one person. With fewer than ten, one person shifts a detection rate
#: or precision@k by more than ten points and the bootstrap intervals (over users) rest
#: on too few distinct people to mean much. `evaluate` warns below it; `train` registers
#: no supervised ensemble below it (the unsupervised model stays in use).
MIN_POSITIVE_USERS: Final = 10


def label_windows(keys: pl.DataFrame, findings: pl.DataFrame, timezone: str) -> pl.Series:
    """``label`` (Int8: 1, 0 or null) for each row of ``keys`` (user_id, window), in order.

    ``findings`` has ``user_id, start, end, positive`` (sources.labels.read_findings);
    times are UTC and the window is read as a local day in ``timezone``.
    """
    local_start = pl.col(WINDOW).cast(pl.Datetime("us")).dt.replace_time_zone(timezone)
    local_end = local_start.dt.offset_by("1d")
    rows = keys.select(*KEYS).with_row_index("_row")
    periods = findings.select(
        USER_ID,
        pl.col("start").dt.convert_time_zone(timezone).alias("_fs"),
        pl.col("end").dt.convert_time_zone(timezone).alias("_fe"),
        pl.col("positive"),
    )
    overlap = (
        rows.join(periods, on=USER_ID, how="inner")
        .filter((pl.col("_fs") < local_end) & (pl.col("_fe") > local_start))
        .group_by("_row")
        .agg(pl.col("positive").any().alias("_pos"), (~pl.col("positive")).any().alias("_neg"))
    )
    flagged_users = periods.filter(pl.col("positive")).select(USER_ID).unique()
    labelled = rows.join(overlap, on="_row", how="left").with_columns(
        pl.col(USER_ID).is_in(flagged_users.get_column(USER_ID).implode()).alias("_insider")
    )
    return (
        labelled.sort("_row")
        .select(
            pl.when(pl.col("_pos").fill_null(False))
            .then(1)
            .when(pl.col("_insider"))
            .then(None)
            .otherwise(0)
            .cast(pl.Int8)
            .alias(LABEL)
        )
        .get_column(LABEL)
    )


def positive_users(findings: pl.DataFrame) -> set[str]:
    """Users with at least one confirmed finding."""
    return set(findings.filter(pl.col("positive")).get_column(USER_ID).to_list())


def labelled_users(keys: pl.DataFrame, y: pl.Series) -> int:
    """How many distinct users of ``keys`` have at least one positive (1) window in ``y``."""
    return keys.get_column(USER_ID).filter(y.fill_null(0) == 1).n_unique()
