"""The FeatureSet contract, run over every feature set (River's ``checks`` idea).

A new feature set is checked by adding one line to ``FEATURE_SETS``;
``test_every_feature_set_is_in_the_suite`` fails until it is there.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import pkgutil
from collections.abc import Callable

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import auditlens.features
from auditlens.features.access import AccessFeatures
from auditlens.features.base import (
    KEYS,
    FeatureContext,
    FeatureSet,
    NotFitted,
    add_keys,
    prepare,
)
from auditlens.features.catalog import ResourceCatalog
from auditlens.features.novelty import NoveltyFeatures
from auditlens.features.resources import ResourceFeatures
from auditlens.features.sequences import SequenceFeatures
from auditlens.features.temporal import TemporalFeatures
from auditlens.features.watchlist import parse_pattern
from auditlens.sources.synthetic import GeneratorSpec, generate

#: One line per feature set: how to make a fresh (unfitted) instance.
FEATURE_SETS: dict[str, Callable[[], FeatureSet]] = {
    "temporal": TemporalFeatures,
    "resources": ResourceFeatures,
    "access": AccessFeatures,
    "novelty": NoveltyFeatures,
    "sequences": SequenceFeatures,
}


@pytest.fixture(scope="module")
def data() -> tuple[pl.DataFrame, pl.DataFrame, FeatureContext]:
    """Prepared events of a small organisation: the first 12 days (to fit on) and all
    18 days (with events the sets were not fitted on)."""
    org = generate(GeneratorSpec(users=30, days=18, seed=13, insider_rate=0.1))
    ctx = FeatureContext(
        catalog=ResourceCatalog.from_frame(org.catalog),
        watchlist=(parse_pattern("tamper", "view>edit>delete within 10m"),),
    )
    prepared = prepare(org.events, ctx)
    early = prepared.filter(pl.col("window") < pl.col("window").min() + dt.timedelta(days=12))
    return add_keys(early), add_keys(prepared), ctx


params = pytest.mark.parametrize("name", sorted(FEATURE_SETS))


def test_every_feature_set_is_in_the_suite() -> None:
    found: set[type] = set()
    for module in pkgutil.walk_packages(auditlens.features.__path__, "auditlens.features."):
        for _, cls in inspect.getmembers(importlib.import_module(module.name), inspect.isclass):
            if issubclass(cls, FeatureSet) and not inspect.isabstract(cls):
                found.add(cls)
    listed = {type(make()) for make in FEATURE_SETS.values()}
    assert found == listed, f"add {found - listed} to FEATURE_SETS"


@params
def test_fit_returns_the_set_itself(
    name: str, data: tuple[pl.DataFrame, pl.DataFrame, FeatureContext]
) -> None:
    fit, _, ctx = data
    feature_set = FEATURE_SETS[name]()
    assert feature_set.fit(fit, ctx) is feature_set


@params
def test_a_stateful_set_refuses_to_transform_before_fit(
    name: str, data: tuple[pl.DataFrame, pl.DataFrame, FeatureContext]
) -> None:
    fit, _, ctx = data
    feature_set = FEATURE_SETS[name]()
    if not feature_set.stateful:
        assert feature_set.transform(fit, ctx).height > 0  # needs nothing learned
        return
    with pytest.raises(NotFitted, match="not fitted: call fit"):
        feature_set.transform(fit, ctx)


@params
def test_one_row_per_user_and_window_keys_first(
    name: str, data: tuple[pl.DataFrame, pl.DataFrame, FeatureContext]
) -> None:
    fit, every, ctx = data
    feature_set = FEATURE_SETS[name]().fit(fit, ctx)
    for events in (fit, every):
        out = feature_set.transform(events, ctx)
        assert out.columns[:2] == list(KEYS)
        assert out.select(KEYS).is_duplicated().sum() == 0
        assert out.height > 0


@params
def test_deterministic_and_fit_transform_equals_fit_then_transform(
    name: str, data: tuple[pl.DataFrame, pl.DataFrame, FeatureContext]
) -> None:
    fit, every, ctx = data
    once = FEATURE_SETS[name]().fit_transform(fit, ctx)
    fitted = FEATURE_SETS[name]().fit(fit, ctx)
    assert_frame_equal(fitted.transform(fit, ctx), once)
    assert_frame_equal(
        fitted.transform(every, ctx), FEATURE_SETS[name]().fit(fit, ctx).transform(every, ctx)
    )


@params
def test_does_not_change_its_input(
    name: str, data: tuple[pl.DataFrame, pl.DataFrame, FeatureContext]
) -> None:
    fit, every, ctx = data
    before_fit, before_every = fit.clone(), every.clone()
    feature_set = FEATURE_SETS[name]()
    feature_set.fit_transform(fit, ctx)
    feature_set.transform(every, ctx)
    assert_frame_equal(fit, before_fit)
    assert_frame_equal(every, before_every)
