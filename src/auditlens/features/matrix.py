"""Join every FeatureSet into one matrix keyed by (user_id, window).

Example::

    >>> fm = build_matrix(events, FeatureContext())
    >>> fm.frame.columns[:2]
    ['user_id', 'window']
    >>> set(fm.feature_columns) <= set(FEATURE_DOCS)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

from auditlens.features.access import AccessFeatures
from auditlens.features.base import KEYS, WINDOW, FeatureContext, FeatureSet, prepare
from auditlens.features.peers import PEER_COLUMNS, PEER_GROUP, peer_deviation, peer_groups
from auditlens.features.resources import ResourceFeatures
from auditlens.features.temporal import TemporalFeatures
from auditlens.schema import USER_ID

HISTORY_DAYS: Final = "history_days"

#: The feature sets of the default matrix, in column order.
DEFAULT_SETS: Final[tuple[FeatureSet, ...]] = (
    TemporalFeatures(),
    ResourceFeatures(),
    AccessFeatures(),
)


@dataclass(frozen=True)
class FeatureMatrix:
    """The matrix and what explains it.

    ``frame``: keys + feature columns (model input). ``info``: keys, ``history_days``
    (days since the user's first window: warm-up windows have little history),
    ``peer_group``, and for each explained feature the user's own trailing mean
    ``_own_<c>`` and the peer mean ``_peer_<c>``.
    """

    frame: pl.DataFrame
    info: pl.DataFrame

    @property
    def feature_columns(self) -> list[str]:
        """Names of the feature columns, in order."""
        return [c for c in self.frame.columns if c not in KEYS]


def build_matrix(
    events: pl.DataFrame, ctx: FeatureContext, sets: Sequence[FeatureSet] = DEFAULT_SETS
) -> FeatureMatrix:
    """Compute every feature set on ``events`` (canonical, validated) and join them.

    Every (user, window) with at least one event gets a row; feature nulls become 0.
    """
    prepared = prepare(events, ctx)
    frame = prepared.select(*KEYS).unique().sort(*KEYS)
    for feature_set in sets:
        part = feature_set.transform(prepared, ctx)
        frame = frame.join(part, on=list(KEYS), how="left")
    groups = peer_groups(prepared, ctx)
    base = [c for c in frame.columns if c not in KEYS]
    # peer means of every feature explain reasons; z-scores of PEER_COLUMNS feed the model
    peers = peer_deviation(frame, groups, base)
    frame = frame.join(peers.select(*KEYS, *[f"peer_z_{c}" for c in PEER_COLUMNS]), on=list(KEYS))
    features = [c for c in frame.columns if c not in KEYS]
    frame = frame.with_columns(pl.col(features).fill_null(0).fill_nan(0)).sort(*KEYS)
    info = (
        frame.select(*KEYS, *base)
        .with_columns(
            (pl.col(WINDOW) - pl.col(WINDOW).min().over(USER_ID))
            .dt.total_days()
            .cast(pl.Int64)
            .alias(HISTORY_DAYS),
            *[
                pl.col(c)
                .rolling_mean_by(WINDOW, ctx.profile, closed="left")
                .over(USER_ID)
                .alias(f"_own_{c}")
                for c in base
            ],
        )
        .join(peers.select(*KEYS, PEER_GROUP, pl.selectors.starts_with("_peer_")), on=list(KEYS))
        .select(*KEYS, HISTORY_DAYS, PEER_GROUP, pl.selectors.starts_with("_own_", "_peer_"))
        .sort(*KEYS)
    )
    return FeatureMatrix(frame=frame, info=info)
