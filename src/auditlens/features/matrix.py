"""Join every FeatureSet into one matrix keyed by (user_id, window).

Example::

    >>> from auditlens.sources.synthetic import GeneratorSpec, generate
    >>> events = generate(GeneratorSpec(users=20, days=10)).events
    >>> fm = build_matrix(events, FeatureContext())
    >>> fm.frame.columns[:2]
    ['user_id', 'window']
    >>> from auditlens.features.docs import FEATURE_DOCS
    >>> {c.removeprefix("peer_z_") for c in fm.feature_columns} <= set(FEATURE_DOCS)
    True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

from auditlens.features.access import AccessFeatures
from auditlens.features.base import (
    KEYS,
    WINDOW,
    AggregateFeatureSet,
    FeatureContext,
    FeatureSet,
    add_keys,
    aggregate,
    prepare,
    trailing_mean,
)
from auditlens.features.peers import PEER_COLUMNS, PEER_GROUP, peer_deviation, peer_groups
from auditlens.features.resources import ResourceFeatures
from auditlens.features.sequences import SequenceFeatures, SequenceModel
from auditlens.features.temporal import TemporalFeatures
from auditlens.schema import USER_ID

HISTORY_DAYS: Final = "history_days"


def default_sets() -> tuple[FeatureSet, ...]:
    """Fresh instances of the feature sets of the default matrix, in column order."""
    return (TemporalFeatures(), ResourceFeatures(), AccessFeatures(), SequenceFeatures())


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
    #: The sequence model the sequence features were scored with (fitted here or given).
    sequence_model: SequenceModel | None = None

    @property
    def feature_columns(self) -> list[str]:
        """Names of the feature columns, in order."""
        return [c for c in self.frame.columns if c not in KEYS]


def build_matrix(
    events: pl.DataFrame, ctx: FeatureContext, sets: Sequence[FeatureSet] | None = None
) -> FeatureMatrix:
    """Compute every feature set on ``events`` (canonical, validated) and join them.

    Every (user, window) with at least one event gets a row; feature nulls become 0.
    Columns starting with ``_`` that a set returns (e.g. the most surprising session's
    tokens) go to ``info``, not to the model's input.
    """
    sets = default_sets() if sets is None else sets
    # integer (user, window) keys once, for every set and the peer groups
    prepared = add_keys(prepare(events, ctx))
    # peer groups are needed by several sets: resolve them once
    groups = peer_groups(prepared, ctx)
    ctx = dataclasses.replace(ctx, resolved_groups=groups)
    # the aggregations of every AggregateFeatureSet run in one pass over the events; it
    # has a row for every (user, window), so it is the frame the other sets join onto
    combined = [s for s in sets if isinstance(s, AggregateFeatureSet)]
    if combined:
        frame = aggregate(combined, prepared, ctx)
    else:
        frame = prepared.lazy().select(*KEYS).unique().sort(*KEYS).collect(engine="streaming")
    order: list[str] = list(KEYS)
    for feature_set in sets:
        if isinstance(feature_set, AggregateFeatureSet):
            order += feature_set.columns
            continue
        part = feature_set.transform(prepared, ctx)
        order += [c for c in part.columns if c not in KEYS]
        frame = frame.join(part, on=list(KEYS), how="left")
    frame = frame.select(order)
    extra = frame.select(*KEYS, pl.selectors.starts_with("_"))
    frame = frame.select(pl.exclude("^_.*$"))
    sequence_model = next(
        (s.fitted_ for s in sets if isinstance(s, SequenceFeatures) and hasattr(s, "fitted_")),
        None,
    )
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
            *[trailing_mean(c, ctx).alias(f"_own_{c}") for c in base],
        )
        .join(peers.select(*KEYS, PEER_GROUP, pl.selectors.starts_with("_peer_")), on=list(KEYS))
        .select(*KEYS, HISTORY_DAYS, PEER_GROUP, pl.selectors.starts_with("_own_", "_peer_"))
        .join(extra, on=list(KEYS), how="left")
        .sort(*KEYS)
    )
    return FeatureMatrix(frame=frame, info=info, sequence_model=sequence_model)
