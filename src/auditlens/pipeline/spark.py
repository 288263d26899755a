"""The Spark engine (``[engine] kind = "spark"``): the lake read by Spark, the features
computed by the same Polars code on its executors, one user partition per task.

No feature is written twice. :class:`SparkEvents` is :class:`StoredEvents` with the
feature stage moved onto Spark:

* Spark reads the lake's Parquet parts (with each row's place in the lake: file and row
  index), and joins every row to its user's partition — the Polars engine's own hash
  (``user_partition``), computed on the list of users, so both engines split alike;
* each partition's rows, put back in lake order, go to ``MatrixBuilder.transform_part``
  on an executor (``groupBy(...).applyInArrow``): the part (its feature columns, its
  users' peer groups, its unknown resources) travels back as Arrow IPC;
* what compares users — peer groups (the per-user role counts are a Spark aggregation),
  then peer deviation over everyone (:func:`combine`) — and fitting run on the driver:
  the stateful feature sets are fitted on every event when they fit the memory budget,
  else on the first partition's users, exactly as the Polars engine decides; the
  detector is fitted and scores on the combined matrix (a row per user-day, tens of
  times smaller than the events), in row blocks over the driver's cores.

The result equals the Polars engine's on the same lake (tests/test_spark.py). Spark
pays off once the events outgrow one machine: its session alone takes 10-30 s here
(bench/bench_spark.py). Session settings: ``[spark]``; the executors' Python is the one
running auditlens (``PYSPARK_PYTHON``) unless the environment names another (on a
cluster: the same image).
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Final

import polars as pl
import pyarrow as pa

from auditlens.config import Settings
from auditlens.features.base import FeatureContext
from auditlens.features.matrix import FeatureMatrix, MatrixBuilder, MatrixPart
from auditlens.features.peers import population
from auditlens.pipeline.partitions import StoredEvents, user_partition
from auditlens.schema import EVENT_COLUMNS, USER_ID

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from auditlens.config import SparkConfig

#: Columns Spark adds while it works: the user's task, the fitting partition, the row's
#: place in the lake.
PARTITION: Final = "_partition"
FIT_PARTITION: Final = "_fit_partition"
_FILE: Final = "_file"
_ROW: Final = "_row"
#: What one task sends back: the part's frames as Arrow IPC, its unknown resources.
_PART_ARROW: Final = pa.schema(
    [
        ("frame", pa.binary()),
        ("groups", pa.binary()),
        ("unknown", pa.list_(pa.field("element", pa.string()))),
    ]
)


def spark_session(config: SparkConfig, *, app_name: str = "auditlens") -> SparkSession:
    """A Spark session as ``config`` describes (Spark reuses one already running).

    Times travel in UTC (the lake's), Arrow carries every batch, the web UI is off unless
    ``config.conf`` turns it on.
    """
    from pyspark.sql import SparkSession

    # the executors run this interpreter, with the packages auditlens runs with
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings = {
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        # no progress bars on the terminal: they write over auditlens' own lines
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": config.driver_memory,
        "spark.sql.shuffle.partitions": str(config.partitions),
        **config.conf,
    }
    builder = SparkSession.builder.appName(app_name)
    if config.master:  # else Spark's own: spark-defaults.conf, spark-submit, local[*]
        builder = builder.master(config.master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(config.log_level)
    return session


class SparkEvents(StoredEvents):
    """The events a run scores, their features computed on Spark (see the module).

    ``paths``: the lake's committed part files, oldest first (the lake order);
    ``scan``: the same parts scanned by Polars (what :meth:`frame` reads, e.g. for
    shadow scoring); ``partitions``: the Polars engine's partitions for the budget
    (which users the feature sets are fitted on); ``tasks``: user partitions on Spark.
    """

    def __init__(
        self,
        spark: SparkSession,
        paths: list[Path],
        scan: pl.LazyFrame,
        height: int,
        partitions: int,
        tasks: int,
    ) -> None:
        super().__init__(scan, height, partitions, workers=1)
        self.spark = spark
        self.paths = paths
        self.tasks = tasks
        self._rows: DataFrame | None = None

    @classmethod
    def read(cls, scan: pl.LazyFrame, paths: list[Path], settings: Settings) -> SparkEvents:
        """The events of the lake parts ``paths`` (``scan``: the same parts as the store
        scans them) on the Spark ``settings.spark`` names, fitted on the partitions the
        Polars engine would plan for them (:meth:`StoredEvents.planned`)."""
        planned = StoredEvents.planned(scan, settings)
        return cls(
            spark_session(settings.spark), paths, scan, planned.height, planned.partitions,
            settings.spark.partitions,
        )  # fmt: skip

    def rows(self) -> DataFrame:
        """Every event on Spark with its user's task and fitting partition and its place
        in the lake (read once)."""
        if self._rows is None:
            from pyspark.sql import functions as F

            order = {p.name: i for i, p in enumerate(self.paths)}
            files = self.spark.createDataFrame(
                [(name, i) for name, i in order.items()], f"_name string, {_FILE} int"
            )
            raw = self.spark.read.parquet(*[str(p) for p in self.paths]).select(
                *EVENT_COLUMNS,
                F.element_at(F.split(F.col("_metadata.file_path"), "/"), -1).alias("_name"),
                F.col("_metadata.row_index").alias(_ROW),
            )
            users = collect(raw.select(USER_ID).distinct()).with_columns(
                user_partition(self.tasks).alias(PARTITION),
                user_partition(self.partitions).alias(FIT_PARTITION),
            )
            placed = self.spark.createDataFrame(users.to_arrow())
            self._rows = (
                raw.join(F.broadcast(files), on="_name")
                .drop("_name")
                .join(F.broadcast(placed), on=USER_ID)
            )
        return self._rows

    def population(self, ctx: FeatureContext) -> FeatureContext:
        """``ctx`` with every user's peer group day by day (one streaming pass over four
        columns of the lake on the driver)."""
        return replace(ctx, population=population(self.scan, ctx))

    def matrix(self, features: MatrixBuilder, ctx: FeatureContext) -> FeatureMatrix:
        """The matrix of every event built with fitted ``features``, one Spark task per
        user partition."""
        ctx = self.population(ctx)
        return features.combine(self._spark_parts(features, ctx), ctx)

    def fit_matrix(self, features: MatrixBuilder, ctx: FeatureContext) -> FeatureMatrix:
        """Fit ``features`` on the driver (every event when they fit the budget, else the
        first partition's users, as the Polars engine), then build the matrix on Spark."""
        if self.partitions == 1:
            features.fit(self.frame(), ctx)
            return self.matrix(features, ctx)
        ctx = self.population(ctx)
        sample = self.rows().where(f"{FIT_PARTITION} = 0")
        features.fit_part(_in_lake_order(collect(sample)), ctx)
        return features.combine(self._spark_parts(features, ctx), ctx)

    def _spark_parts(self, features: MatrixBuilder, ctx: FeatureContext) -> list[MatrixPart]:
        from pyspark.sql.pandas.types import from_arrow_schema

        def build(table: pa.Table) -> pa.Table:
            events = pl.from_arrow(table)
            assert isinstance(events, pl.DataFrame)  # noqa: S101 - a Table gives a frame
            part = features.transform_part(_in_lake_order(events), ctx)
            return pa.table(
                {
                    "frame": [_ipc(part.frame)],
                    "groups": [_ipc(part.groups)],
                    "unknown": [list(part.unknown_resources)],
                },
                schema=_PART_ARROW,
            )

        rows = self.rows().drop(FIT_PARTITION)
        returned = from_arrow_schema(_PART_ARROW)
        sent = collect(rows.groupBy(PARTITION).applyInArrow(build, returned))
        return [
            MatrixPart(pl.read_ipc(frame), pl.read_ipc(groups), tuple(unknown or ()))
            for frame, groups, unknown in sent.iter_rows()
        ]


def collect(frame: DataFrame) -> pl.DataFrame:
    """A Spark frame on the driver, as Polars (through Arrow)."""
    result = pl.from_arrow(frame.toArrow())
    assert isinstance(result, pl.DataFrame)  # noqa: S101 - a Table gives a frame
    return result


def _in_lake_order(rows: pl.DataFrame) -> pl.DataFrame:
    """A task's rows as the Polars engine reads them: in lake order, event columns only
    (the order of a user's events at one instant is the lake's)."""
    return rows.sort(_FILE, _ROW).select(EVENT_COLUMNS)


def _ipc(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_ipc(buffer, compression="lz4")
    return buffer.getvalue()
