"""Benchmark: the feature stage on Spark local[1] and local[2] beside the Polars engine.

Generates ``--users`` x ``--days`` of synthetic events (default ~10M, as bench_batch.py,
in a child process), ingests them into a fresh SQLite store, fits the feature sets once
(Polars, every event), then builds the whole feature matrix with the fitted sets three
ways on the same lake:

* the Polars engine (``StoredEvents``: in memory when the events fit ``--memory-budget``,
  else in user partitions, ``--threads`` at once);
* Spark ``local[1]`` and ``local[2]`` (``SparkEvents``: the same ``transform_part`` per
  user partition on the executors, ``--tasks`` partitions), each in a fresh session.

For each it prints wall seconds and the CPU-seconds of this process and of every process
it started (Spark's JVM and its Python workers: /proc), the session's start-up apart, and
the ratios measured in this one run: local[2] vs local[1] (what a second core buys Spark)
and Spark vs Polars. It also checks the three matrices are equal. On a loaded machine wall
figures drift with the load; read the ratios and CPU-seconds.

    .venv/bin/python bench/bench_spark.py                        # ~10M events
    .venv/bin/python bench/bench_spark.py --users 800 --days 61  # ~1.5M, a few minutes
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from polars import LazyFrame
from polars.testing import assert_frame_equal

from auditlens.config import Settings, SparkConfig
from auditlens.features.matrix import FeatureMatrix, MatrixBuilder
from auditlens.pipeline import ingest
from auditlens.pipeline.detection import feature_context
from auditlens.pipeline.partitions import StoredEvents
from auditlens.sources.files import FileSource
from auditlens.store.repo import Store
from bench_batch import settings_for

BENCH = Path(__file__).resolve().parent
_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu() -> dict[int, float]:
    """CPU-seconds (user + system, all threads) of this process and of every live process
    below it (Spark's JVM and its Python workers), by pid."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / _TICKS
    mine = {os.getpid()}
    changed = True
    while changed:
        changed = False
        for pid, parent in parents.items():
            if parent in mine and pid not in mine:
                mine.add(pid)
                changed = True
    return {pid: cpu.get(pid, 0.0) for pid in mine}


def spent(before: dict[int, float]) -> float:
    """CPU-seconds the process tree spent since ``before`` (processes that ended in
    between are not counted: a lower bound)."""
    return sum(now - before.get(pid, 0.0) for pid, now in tree_cpu().items())


def timed(label: str, work: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``work``; print and return (result, wall s, CPU s of the process tree)."""
    cpu0, wall0 = tree_cpu(), time.perf_counter()
    result = work()
    wall, cpu = time.perf_counter() - wall0, spent(cpu0)
    print(f"  {label:<36}{wall:>9.1f} s wall{cpu:>9.1f} CPU-s{cpu / max(wall, 1e-9):>7.2f} cores")
    return result, wall, cpu


def on_spark(
    cores: int, settings: Settings, scan: LazyFrame, paths: list[Path], features: MatrixBuilder
) -> tuple[FeatureMatrix, float, float, float]:
    """The matrix built on a fresh ``local[cores]`` session: (matrix, start s, wall, CPU)."""
    from auditlens.pipeline.spark import SparkEvents, spark_session

    config = settings.spark.model_copy(update={"master": f"local[{cores}]"})
    session, start, _ = timed(f"local[{cores}] session start", lambda: spark_session(config))
    try:
        spark_settings = settings.model_copy(update={"spark": config})
        events = SparkEvents.read(scan, paths, spark_settings)
        ctx = feature_context(settings)
        matrix, wall, cpu = timed(
            f"local[{cores}] features ({settings.spark.partitions} tasks)",
            lambda: events.matrix(features, ctx),
        )
    finally:
        session.stop()
    return matrix, start, wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=5250, help="people in the organisation")
    parser.add_argument("--days", type=int, default=61, help="calendar days from 2026-09-01")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--memory-budget", default="8GiB", help="the Polars engine's budget")
    parser.add_argument("--threads", type=int, default=0, help="the Polars engine's threads")
    parser.add_argument("--tasks", type=int, default=8, help="user partitions on Spark")
    parser.add_argument("--chunk-users", type=int, default=5250, help="people per chunk")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="auditlens-spark-") as tmp:
        work = Path(tmp)
        out = subprocess.run(
            [sys.executable, str(BENCH / "bench_batch.py"), "--users", str(args.users),
             "--days", str(args.days), "--seed", str(args.seed),
             "--chunk-users", str(args.chunk_users), "--child-generate", str(work)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        n = int(json.loads(out.stdout.strip().splitlines()[-1])["events"])
        print(f"events          {n:,} ({args.users} users x {args.days} days)")
        print(f"load average    {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        # bench_batch's store for the sample, with the Spark sessions' settings
        spark = SparkConfig(master="local[1]", driver_memory="6g", partitions=args.tasks)
        settings = settings_for(work, args.memory_budget, args.threads).model_copy(
            update={"spark": spark}
        )
        with Store.open(settings, migrate=True) as store:
            ingest(FileSource(work / "events", name="events"), settings, store=store)
            batch = store.events.last_batch_id()
            paths = [store.events.lake.root / p for p in store.events.parts_upto(batch)]
            scan = store.events.upto(batch)
        ctx = feature_context(settings)
        features = MatrixBuilder()
        print("feature matrix of every event, with feature sets fitted once:")
        stored = StoredEvents.planned(scan, settings)
        timed("fit (Polars, not compared)", lambda: stored.fit_matrix(features, ctx))
        stored = StoredEvents.planned(scan, settings)
        polars_matrix, polars_wall, polars_cpu = timed(
            f"Polars ({stored.partitions} partition(s), {stored.workers} thread(s))",
            lambda: stored.matrix(features, ctx),
        )
        one, start1, wall1, cpu1 = on_spark(1, settings, scan, paths, features)
        two, start2, wall2, cpu2 = on_spark(2, settings, scan, paths, features)
        for got in (one, two):
            assert_frame_equal(polars_matrix.frame, got.frame, check_exact=True)
        print("the three matrices are equal, bit for bit")
        print(
            f"local[2] vs local[1]: {wall1 / wall2:.2f}x faster by wall "
            f"({n / wall1:,.0f} -> {n / wall2:,.0f} events/s), CPU-s {cpu1:.1f} -> {cpu2:.1f}"
        )
        print(
            f"Polars vs Spark local[2]: Polars {wall2 / polars_wall:.2f}x faster by wall "
            f"({n / polars_wall:,.0f} vs {n / wall2:,.0f} events/s), "
            f"{cpu2 / max(polars_cpu, 1e-9):.2f}x less CPU; Spark's session start "
            f"{(start1 + start2) / 2:.1f} s on top"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
