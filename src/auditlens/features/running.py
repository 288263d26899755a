"""A window's values kept as its events arrive in pieces (the stream's micro-batches).

The aggregate sets' per-window aggregations are sums, counts, minima, maxima and ``any``:
the rows of two pieces of a window merge into the row of the whole
(:meth:`features.base.AggregateFeatureSet.merges`). Their extra columns are not sums:
distinct values, first-seen values, the hour histogram's entropy and failed-login
bursts. :class:`DayValues` keeps, per user, what those are computed from — each value
used today once (with whether it is new against the history), events per hour of day,
today's failed logins — so a set's :meth:`~features.base.AggregateFeatureSet.running_extras`
gives its extra columns of the whole day without today's events.

Its size grows with distinct values and failed logins, not with events. Merging a piece
costs the piece, a join with the day's distinct values so far and one with the values
the history had seen (is it new?), never the day's events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl

from auditlens.features.base import (
    FAMILY,
    LEVEL,
    LOCAL_HOUR,
    OK,
    SEEN_FAMILY,
    SEEN_HOST,
    SEEN_SRC_IP,
    Prior,
)
from auditlens.features.catalog import SENSITIVE_RANK
from auditlens.schema import ACTION_TYPE, HOST, RESOURCE_ID, SRC_IP, TIMESTAMP, USER_ID

#: Kind of value in :attr:`DayValues.pairs`: any resource id used (never "new").
RESOURCE: Final = "resource"
#: The hour of day (0..23) in :attr:`DayValues.hours`.
HOUR: Final = "_hour_of_day"
_PAIR = ("_what", USER_ID, "_value")
_UTC: Final = pl.Datetime("us", "UTC")
_PAIR_SCHEMA: Final = {"_what": pl.String, USER_ID: pl.String, "_value": pl.String}


def used_values(rows: pl.LazyFrame) -> pl.LazyFrame:
    """``_what, user_id, _value``: the values of the first-seen kinds (``Prior.seen``)
    each of the prepared ``rows`` uses — its host, its source IP and, for a successful
    access to a sensitive resource, the resource's family (nulls and repeats kept)."""
    sensitive = pl.col(RESOURCE_ID).is_not_null() & (pl.col(LEVEL) >= SENSITIVE_RANK)
    return pl.concat(
        [
            rows.select(pl.lit(SEEN_HOST).alias("_what"), USER_ID, pl.col(HOST).alias("_value")),
            rows.select(
                pl.lit(SEEN_SRC_IP).alias("_what"), USER_ID, pl.col(SRC_IP).alias("_value")
            ),
            rows.filter(sensitive & pl.col(OK)).select(
                pl.lit(SEEN_FAMILY).alias("_what"), USER_ID, pl.col(FAMILY).alias("_value")
            ),
        ]
    )


@dataclass(frozen=True)
class DayValues:
    """What one window's extra columns are computed from, for every user so far.

    ``pairs``: ``_what, user_id, _value, _new`` — each value of a kind a user used
    (hosts, source IPs, any resource id, sensitive families used successfully: the
    ``SEEN_*`` kinds and :data:`RESOURCE`), once, ``_new`` when the history had not seen
    it (every value on a user's first window); ``hours``: ``user_id, _hour_of_day, _n``,
    events per hour of day; ``failed``: ``user_id, timestamp, _tail``, the failed logins
    of the window and, ``_tail`` true, those of the history's last minutes (bursts
    across midnight) of the users with failed logins.
    """

    pairs: pl.DataFrame
    hours: pl.DataFrame
    failed: pl.DataFrame

    @staticmethod
    def empty() -> DayValues:
        """Before the window's first event."""
        return DayValues(
            pl.DataFrame(schema=_PAIR_SCHEMA | {"_new": pl.Boolean}),
            pl.DataFrame(schema={USER_ID: pl.String, HOUR: pl.Int64, "_n": pl.Int64}),
            pl.DataFrame(schema={USER_ID: pl.String, TIMESTAMP: _UTC, "_tail": pl.Boolean}),
        )

    def of(self, what: str) -> pl.DataFrame:
        """``user_id, _value, _new``: the values of kind ``what``."""
        return self.pairs.filter(pl.col("_what") == what).drop("_what")

    def added(self, prepared: pl.DataFrame, prior: Prior | None) -> DayValues:
        """These values and those of more of the window's events (``prepared``, all of
        one window); ``prior``: what the earlier windows left (None: the users' first
        window, every value is new)."""
        rows = prepared.lazy()
        resources = rows.select(
            pl.lit(RESOURCE).alias("_what"), USER_ID, pl.col(RESOURCE_ID).alias("_value")
        )
        kinds = [used_values(rows), resources]
        hour = pl.col(LOCAL_HOUR).floor().cast(pl.Int64).alias(HOUR)
        failed = (pl.col(ACTION_TYPE) == "login") & ~pl.col(OK)
        found, hours, tried = pl.collect_all(
            [
                pl.concat(kinds).drop_nulls().unique(),
                rows.group_by(USER_ID, hour).agg(pl.len().cast(pl.Int64).alias("_n")),
                rows.filter(failed).select(
                    USER_ID,
                    pl.col(TIMESTAMP).dt.convert_time_zone("UTC").cast(_UTC),
                    pl.lit(False).alias("_tail"),
                ),
            ]
        )
        fresh = found.join(self.pairs, on=list(_PAIR), how="anti")
        if prior is None:
            fresh = fresh.with_columns(pl.lit(True).alias("_new"))
        else:
            known = prior.seen.select(*_PAIR).with_columns(pl.lit(False).alias("_known"))
            fresh = fresh.join(known, on=list(_PAIR), how="left").select(
                *_PAIR, pl.col("_known").is_null().alias("_new")
            )
        merged_hours = (
            pl.concat([self.hours, hours])
            .group_by(USER_ID, HOUR)
            .agg(pl.col("_n").sum())
            .sort(USER_ID, HOUR)
        )
        return DayValues(
            pl.concat([self.pairs, fresh.cast(self.pairs.schema)]),
            merged_hours,
            self._with_failed(tried, prior),
        )

    def _with_failed(self, tried: pl.DataFrame, prior: Prior | None) -> pl.DataFrame:
        """``failed`` plus ``tried``, and the history's tail of users failing for the
        first time today."""
        if tried.height == 0:
            return self.failed
        parts = [self.failed, tried]
        if prior is not None and prior.tail.height:
            had = self.failed.select(USER_ID).unique()
            first = tried.select(USER_ID).unique().join(had, on=USER_ID, how="anti")
            tail = prior.tail.join(first, on=USER_ID, how="semi").select(
                USER_ID,
                pl.col(TIMESTAMP).cast(_UTC),
                pl.lit(True).alias("_tail"),
            )
            parts.append(tail)
        return pl.concat(parts)
