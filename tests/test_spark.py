"""The Spark engine: the same matrix, scores and reasons as the Polars engine on the same
lake (pyspark local[2], a real Spark session)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from pydantic import SecretStr

from auditlens.config import EngineConfig, Settings, SparkConfig
from auditlens.features.base import FeatureContext
from auditlens.features.matrix import FeatureMatrix, MatrixBuilder
from auditlens.pipeline import run
from auditlens.pipeline.detection import feature_context
from auditlens.pipeline.partitions import StoredEvents
from auditlens.sources.synthetic import GeneratorSpec, SyntheticData, generate, write_sample
from auditlens.store.repo import Store
from tests.test_run import _ingest, _settings

pytest.importorskip("pyspark")

from auditlens.pipeline.spark import SparkEvents, spark_session

SPEC = GeneratorSpec(users=120, days=30, seed=23, insider_rate=0.05)
SPARK = SparkConfig(master="local[2]", driver_memory="1g", partitions=3)


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    session = spark_session(SPARK, app_name="auditlens-tests")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def data() -> SyntheticData:
    return generate(SPEC)


@pytest.fixture
def lake(sqlite_settings: Settings, tmp_path: Path, data: SyntheticData) -> Settings:
    """A store whose lake holds the organisation's events, ingested as two batches."""
    write_sample(data, tmp_path)
    settings = _settings(sqlite_settings, tmp_path)
    days = data.events.get_column("timestamp").dt.date()
    middle = days.min() + (days.max() - days.min()) / 2  # type: ignore[operator]
    data.events.filter(days <= middle).write_parquet(tmp_path / "first.parquet")
    data.events.filter(days > middle).write_parquet(tmp_path / "second.parquet")
    _ingest(settings, tmp_path / "first.parquet")
    _ingest(settings, tmp_path / "second.parquet")
    return settings.model_copy(update={"spark": SPARK})


def _events(settings: Settings, spark_engine: bool, partitions: int) -> StoredEvents:
    store = Store.open(settings)
    try:
        batch = store.events.last_batch_id()
        parts = store.events.parts_upto(batch)
        scan = store.events.upto(batch)
        root = store.events.lake.root
    finally:
        store.close()
    height = int(scan.select(pl.len()).collect().item())
    if not spark_engine:
        return StoredEvents(scan, height, partitions, workers=2)
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    assert session is not None
    return SparkEvents(session, [root / p for p in parts], scan, height, partitions, tasks=3)


def _same(a: FeatureMatrix, b: FeatureMatrix) -> None:
    assert_frame_equal(a.frame, b.frame, check_exact=True)
    assert_frame_equal(a.info, b.info, check_exact=True)
    assert a.unknown_resources == b.unknown_resources


@pytest.mark.parametrize("partitions", [1, 3])
def test_spark_builds_the_polars_matrix(lake: Settings, spark: object, partitions: int) -> None:
    ctx: FeatureContext = feature_context(lake)
    polars_features, spark_features = MatrixBuilder(), MatrixBuilder()
    expected = _events(lake, False, partitions).fit_matrix(polars_features, ctx)
    got = _events(lake, True, partitions).fit_matrix(spark_features, ctx)
    _same(expected, got)
    assert expected.frame.height > 1000 and len(expected.feature_columns) > 20
    # a stored model's matrix (no fitting) too
    _same(
        _events(lake, False, partitions).matrix(polars_features, ctx),
        _events(lake, True, partitions).matrix(polars_features, ctx),
    )


def test_a_run_on_spark_stores_the_polars_scores_and_reasons(
    lake: Settings, spark: object, tmp_path: Path
) -> None:
    # a second store with the same two ingests, its run's features computed on Spark
    twin = lake.model_copy(
        update={
            "store_url": SecretStr(f"sqlite:///{tmp_path / 'twin.db'}"),
            "data_dir": tmp_path / "twin",
            "engine": EngineConfig(kind="spark"),
        }
    )
    _ingest(twin, tmp_path / "first.parquet")
    _ingest(twin, tmp_path / "second.parquet")
    on_polars, on_spark = run(lake), run(twin)
    assert on_polars.refitted and on_spark.refitted
    assert on_spark.windows_scored == on_polars.windows_scored
    keys = ["user_id", "window"]
    rows = []
    for settings, report in ((lake, on_polars), (twin, on_spark)):
        store = Store.open(settings)
        try:
            stored = store.scores.of_run(report.run_id or -1)
        finally:
            store.close()
        rows.append(stored.sort(keys).select(*keys, "raw_score", "risk", "severity", "reasons"))
    a, b = rows
    assert a.height == b.height > 0
    assert_frame_equal(a.drop("reasons"), b.drop("reasons"), check_exact=True)
    assert [json.loads(r) for r in a["reasons"]] == [json.loads(r) for r in b["reasons"]]
    assert_frame_equal(on_polars.top.drop("reasons"), on_spark.top.drop("reasons"),
                       check_exact=True)  # fmt: skip
