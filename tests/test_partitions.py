"""Bounded memory: the matrix and scores built in user partitions equal the in-memory ones."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
from polars.testing import assert_frame_equal

from auditlens.config import EngineConfig, Settings, parse_bytes
from auditlens.errors import ConfigError
from auditlens.features.base import FeatureContext, prepare
from auditlens.features.catalog import ResourceCatalog
from auditlens.features.matrix import FeatureMatrix, MatrixBuilder
from auditlens.features.peers import peer_groups, population
from auditlens.pipeline import partitions, run
from auditlens.pipeline.detection import fit_and_score_matrix, score_matrix
from auditlens.pipeline.partitions import StoredEvents, partitions_for, user_partition
from auditlens.sources.synthetic import GeneratorSpec, SyntheticData, generate, write_sample
from tests.test_run import _ingest, _settings

SPEC = GeneratorSpec(users=150, days=30, seed=11, insider_rate=0.05)


@pytest.fixture(scope="module")
def data() -> SyntheticData:
    return generate(SPEC)


@pytest.fixture(scope="module")
def ctx(data: SyntheticData) -> FeatureContext:
    # min_peer_group 8: some department/role groups fall back, so group sizes matter
    return FeatureContext(catalog=ResourceCatalog.from_frame(data.catalog), min_peer_group=8)


def _same(a: FeatureMatrix, b: FeatureMatrix) -> None:
    # bit for bit: every float is summed in an order that does not depend on the partition
    assert_frame_equal(a.frame, b.frame, check_exact=True)
    assert_frame_equal(a.info, b.info, check_exact=True)
    assert a.unknown_resources == b.unknown_resources


def test_users_fall_into_every_partition_once(data: SyntheticData) -> None:
    bucket = data.events.select("user_id", user_partition(4).alias("p")).unique()
    assert bucket.get_column("user_id").is_unique().all()  # one partition per user
    assert sorted(bucket.get_column("p").unique().to_list()) == [0, 1, 2, 3]


def test_population_groups_equal_the_groups_of_everyone(
    data: SyntheticData, ctx: FeatureContext
) -> None:
    everyone = peer_groups(prepare(data.events, ctx), ctx)
    assert_frame_equal(population(data.events.lazy(), ctx).groups, everyone)
    # a partition alone would fall back differently (smaller groups); with the population
    # each keeps the group it has among everyone, day by day
    stored = StoredEvents(data.events.lazy(), data.events.height, 3, 1)
    with_population = stored.population(ctx)
    one = prepare(stored.partition(1), ctx)
    assert_frame_equal(peer_groups(one, with_population), everyone.join(
        one.select("user_id").unique(), on="user_id", how="semi"))  # fmt: skip
    assert not peer_groups(one, ctx).equals(peer_groups(one, with_population))


@pytest.mark.parametrize(("parts", "workers", "spill"), [(3, 1, False), (4, 2, True)])
def test_partitioned_matrix_and_scores_equal_in_memory(
    data: SyntheticData,
    ctx: FeatureContext,
    parts: int,
    workers: int,
    spill: bool,
    tmp_path: Path,
) -> None:
    features = MatrixBuilder()
    whole = features.fit_transform(data.events, ctx)
    # spill: the lake split into partition files first (as from SPILL_FROM partitions)
    with StoredEvents(
        data.events.lazy(), data.events.height, parts, workers,
        spill_dir=tmp_path, spill_from=2 if spill else 99,
    ) as stored:  # fmt: skip
        split = stored.matrix(features, ctx)
        assert len(list(tmp_path.glob(".partitions-*/_part=*/*.parquet"))) == parts * spill
    assert not list(tmp_path.iterdir())  # the partition files are gone
    _same(whole, split)
    settings = Settings()
    model, scoring = fit_and_score_matrix(features, whole, settings)
    again = score_matrix(split, model, settings)
    assert_frame_equal(scoring.windows, again.windows, check_exact=True)
    assert_frame_equal(scoring.users, again.users, check_exact=True)
    assert scoring.windows.get_column("risk").std() > 0


def test_fitting_in_partitions_fits_on_the_first_partition(
    data: SyntheticData, ctx: FeatureContext
) -> None:
    stored = StoredEvents(data.events.lazy(), data.events.height, 3, 2)
    features = MatrixBuilder()
    split = stored.fit_matrix(features, ctx)
    # the same as fitting on the first partition's users, then building everyone's matrix
    reference = MatrixBuilder()
    population = stored.population(ctx)
    reference.fit(stored.partition(0), population)
    _same(reference.transform(data.events, ctx), split)
    # and not the model fitted on everyone (the sample is a real sample)
    assert not MatrixBuilder().fit_transform(data.events, ctx).frame.equals(split.frame)


def test_budget_decides_the_partitions() -> None:
    assert partitions_for(1_000_000, 8 * 2**30, 2) == 1
    assert partitions_for(100_000_000, 8 * 2**30, 2) > partitions_for(100_000_000, 16 * 2**30, 2)
    assert partitions_for(100_000_000, 8 * 2**30, 2) > partitions_for(100_000_000, 8 * 2**30, 1)
    with pytest.raises(ConfigError, match="memory_budget"):
        partitions_for(100_000_000, 2**30, 2)
    assert parse_bytes("8GiB") == 8 * 2**30
    assert EngineConfig(memory_budget="512 MiB").budget_bytes == 512 * 2**20
    with pytest.raises(ValueError, match="not a size"):
        parse_bytes("eight gigs")
    with pytest.raises(ValueError, match="too small"):
        EngineConfig(memory_budget="1MiB")


def test_run_scores_alike_in_partitions(
    sqlite_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: SyntheticData
) -> None:
    write_sample(data, tmp_path)
    settings = _settings(sqlite_settings, tmp_path)
    _ingest(settings, tmp_path / "events.parquet")
    first = run(settings)  # in memory: fits and stores the model
    monkeypatch.setattr(partitions, "partitions_for", lambda *_: 3)
    # scored again although nothing is new (the run would otherwise not read the events)
    monkeypatch.setattr(importlib.import_module("auditlens.pipeline.run"), "_nothing_new",
                        lambda *_: None)  # fmt: skip
    again = run(settings)  # the stored model, the events in 3 partitions
    assert not again.refitted and again.model_sha256 == first.model_sha256
    assert again.windows_scored == first.windows_scored
    a, b = first.top.select("user_id", "risk_score"), again.top.select("user_id", "risk_score")
    assert_frame_equal(a, b, check_exact=True)
    assert np.isfinite(b.get_column("risk_score").to_numpy()).all()


def test_a_stored_model_builds_the_matrix_on_every_thread(
    data: SyntheticData, ctx: FeatureContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    features = MatrixBuilder()
    whole = features.fit_transform(data.events, ctx)
    monkeypatch.setattr(partitions, "PARALLEL_FROM", 1000)
    stored = StoredEvents(data.events.lazy(), data.events.height, 1, 2)
    _same(whole, stored.matrix(features, ctx))
    assert stored.partitions == stored.workers == 2  # fits at once, built in two
    few = StoredEvents(data.events.head(999).lazy(), 999, 1, 2)
    few.matrix(features, ctx)
    assert few.partitions == 1  # too few events for threads
