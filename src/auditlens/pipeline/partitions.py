"""Bounded memory: a batch run's events read from the lake in user partitions.

A run holds every stored event in memory only when they fit ``[engine] memory_budget``
(one partition: the in-memory path, unchanged). Otherwise the users are hashed into
partitions; each partition's events are read from the lake (a streaming scan that keeps
only its users' rows and the event columns) and turned into its users' feature columns
(:meth:`MatrixBuilder.transform_part`), ``[engine] threads`` partitions at once (polars
and numpy release the GIL). What compares users with each other is computed apart:

* peer groups: one streaming pass over three columns of the lake (events per user,
  department and role), grouped over everyone, given to every partition through
  ``FeatureContext.population``;
* peer deviation and the rest of the matrix: :func:`features.matrix.combine` over the
  parts (the matrix has a row per user-day, tens of times smaller than the events);
* reading: with few partitions each one is a streaming scan of the lake that keeps its
  users' rows (every scan decodes the whole lake, ~0.45 CPU-s per 10M events); from
  ``SPILL_FROM`` partitions on, one streaming pass writes every partition's rows to its
  own temporary file under ``data_dir`` first (~4 CPU-s per 10M events, whatever the
  number of partitions), removed when the run ends (bench/bench_batch.py measures both);
* fitting: the stateful feature sets (the sequence model) are fitted on the first
  partition's users, a seeded hash sample sized by the budget; the detector on the whole
  matrix.

A stored model gives the same matrix and scores however many partitions there are
(tests/pipeline/test_partitions.py).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Final

import polars as pl

from auditlens.config import Settings
from auditlens.errors import ConfigError
from auditlens.features.base import FeatureContext
from auditlens.features.history import FeatureHistory, advance
from auditlens.features.matrix import FeatureMatrix, MatrixBuilder, MatrixPart
from auditlens.features.peers import population
from auditlens.schema import EVENT_COLUMNS, USER_ID

#: Peak memory of the in-memory path per event held (measured, issue 17: peak RSS
#: ≈ 0.4 GiB + 346 MiB per million events of `auditlens run` at 10M events).
BYTES_PER_EVENT: Final = 346 * 2**20 / 1_000_000
#: The process before any event: libraries, store, model.
BASE_BYTES: Final = int(0.4 * 2**30)
#: What stays per event however partitioned: the combined matrix and its scores (one
#: row per user-day, ~30 events each) and the rows stored.
MATRIX_BYTES_PER_EVENT: Final = 40.0
#: From this many partitions on, the lake is split into partition files in one pass
#: rather than scanned once per partition.
SPILL_FROM: Final = 8
#: From this many events on, a stored model's matrix is built in one partition per
#: thread even when the events fit in memory at once.
PARALLEL_FROM: Final = 1_000_000
#: Seed of the user hash (a user's partition is the same for every scan of a run).
_SEED: Final = 0x5EED
_PART: Final = "_part"


def partitions_for(events: int, budget: int, workers: int) -> int:
    """How many user partitions keep a run over ``events`` events under ``budget`` bytes
    with ``workers`` partitions in memory at once (1: everything fits at once).

    >>> partitions_for(1_000_000, 8 * 2**30, 2), partitions_for(100_000_000, 8 * 2**30, 2)
    (1, 18)

    Raises:
        ConfigError: even the matrix of ``events`` does not fit in ``budget``.
    """
    if BASE_BYTES + events * BYTES_PER_EVENT <= budget:
        return 1
    free = budget - BASE_BYTES - events * MATRIX_BYTES_PER_EVENT
    per_partition = free / max(workers, 1)
    if per_partition < 64 * 2**20:
        need = BASE_BYTES + events * MATRIX_BYTES_PER_EVENT + 64 * 2**20 * max(workers, 1)
        raise ConfigError(
            f"[engine] memory_budget {budget / 2**30:.1f} GiB is too small for a run over "
            f"{events:,} events (the feature matrix alone needs about {need / 2**30:.1f} GiB)",
            hint="raise [engine] memory_budget or lower [engine] threads",
            ko=f"[engine] memory_budget {budget / 2**30:.1f} GiB는 이벤트 {events:,}건을 "
            f"처리하기에 너무 작습니다 (특성 행렬에만 약 {need / 2**30:.1f} GiB 필요)",
            ko_hint="[engine] memory_budget을 늘리거나 [engine] threads를 줄이십시오",
        )
    return max(2, math.ceil(events * BYTES_PER_EVENT / per_partition))


def user_partition(n: int) -> pl.Expr:
    """The partition (0..n-1) of each row's user: a seeded hash of ``user_id``."""
    return (pl.col(USER_ID).hash(seed=_SEED) % n).cast(pl.Int64)


class StoredEvents:
    """The events a run scores: a lazy scan of the lake, read whole or in partitions.

    ``height`` events; ``partitions`` as :func:`partitions_for` decides for the budget
    (or as given); ``workers`` partitions are built at once.
    """

    def __init__(
        self,
        scan: pl.LazyFrame,
        height: int,
        partitions: int,
        workers: int,
        *,
        spill_dir: Path | None = None,
        spill_from: int = SPILL_FROM,
    ) -> None:
        self.scan = scan.select(EVENT_COLUMNS)
        self.height = height
        self.partitions = partitions
        self.threads = max(1, workers)
        self.workers = max(1, min(workers, partitions))
        self.spill_dir = spill_dir
        self.spill_from = spill_from
        self._frame: pl.DataFrame | None = None
        self._spill: Path | None = None
        #: Build an in-memory matrix with its feature history (features/history.py), for
        #: the next run to continue from, rather than one partition per thread.
        self.keep_history = False
        #: The feature history of the matrix built (None: built without one).
        self.history: FeatureHistory | None = None

    @classmethod
    def planned(cls, scan: pl.LazyFrame, settings: Settings) -> StoredEvents:
        """The scan's events, partitioned to stay under ``settings.engine``'s budget
        (counting rows reads the Parquet footers only); partition files, if any, go
        under ``data_dir``."""
        height = int(scan.select(pl.len()).collect().item())
        workers = settings.engine.workers
        parts = partitions_for(height, settings.engine.budget_bytes, workers)
        return cls(scan, height, parts, workers, spill_dir=settings.data_dir)

    def __enter__(self) -> StoredEvents:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the partition files (if the events were split into them)."""
        if self._spill is not None:
            shutil.rmtree(self._spill, ignore_errors=True)
            self._spill = None

    def _split(self) -> None:
        """Write each partition's rows to its own file in one streaming pass (once;
        called before partitions are read, never from the threads reading them)."""
        if self._spill is not None or self.partitions < self.spill_from or not self.spill_dir:
            return
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        self._spill = Path(tempfile.mkdtemp(prefix=".partitions-", dir=self.spill_dir))
        # one file per partition (no size split), rows in lake order: the same frame
        # as the partition's filtered scan
        target = pl.PartitionBy(
            self._spill,
            key={_PART: user_partition(self.partitions)},
            include_key=False,
            approximate_bytes_per_file=2**62,
        )
        self.scan.sink_parquet(target, compression="lz4", statistics=False, mkdir=True)

    def frame(self) -> pl.DataFrame:
        """Every event in memory (read once; what the in-memory path scores)."""
        if self._frame is None:
            self._frame = self.scan.collect()
        return self._frame

    def partition(self, i: int) -> pl.DataFrame:
        """The events of partition ``i``'s users (all of each user's events)."""
        if self.partitions == 1:
            return self.frame()
        if self._spill is not None:
            files = sorted((self._spill / f"{_PART}={i}").glob("*.parquet"))
            if not files:  # no user hashed here
                return self.scan.head(0).collect()
            return pl.read_parquet(files).select(EVENT_COLUMNS)
        keep = user_partition(self.partitions) == i
        return self.scan.filter(keep).collect(engine="streaming")

    def population(self, ctx: FeatureContext) -> FeatureContext:
        """``ctx`` with every user's peer group (one pass over three columns of the lake)."""
        if self.partitions == 1:
            return ctx
        return replace(ctx, population=population(self.scan, ctx))

    def matrix(self, features: MatrixBuilder, ctx: FeatureContext) -> FeatureMatrix:
        """The matrix of every event built with fitted ``features``, partition by partition.

        Events that fit at once are still built in one partition per thread from
        ``PARALLEL_FROM`` events on: the same matrix (nothing is fitted here), on every
        core.
        """
        if self.partitions == 1 and self.keep_history:
            matrix, self.history = advance(features, self.frame(), ctx)
            return matrix
        if self.partitions == 1 and self.threads > 1 and self.height >= PARALLEL_FROM:
            self.partitions = self.workers = self.threads
        if self.partitions == 1:
            return features.transform(self.frame(), ctx)
        ctx = self.population(ctx)
        self._split()
        parts = self._parts(features.transform_part, ctx, range(self.partitions))
        return features.combine(parts, ctx)

    def fit_matrix(self, features: MatrixBuilder, ctx: FeatureContext) -> FeatureMatrix:
        """Fit ``features`` on the first partition's users, then build the matrix of
        every event with them (one partition: fitted on every event, as in memory)."""
        if self.partitions == 1:
            return features.fit_transform(self.frame(), ctx)
        ctx = self.population(ctx)
        self._split()
        parts = [features.fit_part(self.partition(0), ctx)]
        parts += self._parts(features.transform_part, ctx, range(1, self.partitions))
        return features.combine(parts, ctx)  # (which lets go of the parts once joined)

    def _parts(
        self,
        build: Callable[[pl.DataFrame, FeatureContext], MatrixPart],
        ctx: FeatureContext,
        which: range,
    ) -> list[MatrixPart]:
        def one(i: int) -> MatrixPart:
            return build(self.partition(i), ctx)

        if self.workers == 1:
            return [one(i) for i in which]
        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(one, which))
