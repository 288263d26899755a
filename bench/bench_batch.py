"""Benchmark: one full batch of ``auditlens run`` — CPU-seconds and wall time per stage.

Generates ``--users`` x ``--days`` of synthetic events (default ~10M, as
bench_generate.py) into a temporary directory, in a child process so that this
process's peak RSS is the job's alone. Then runs the batch job exactly as ``auditlens
run`` does (``pipeline.run``: a fresh SQLite store, the Parquet file as the one
configured source, a new model fitted, every window stored, no alerts) and times each of
its stages as the job reports them (``on_stage``): ingest (read, validate, duplicate
checks, lake write), features and model, score, reasons, store.

For each stage it prints CPU-seconds (this process, all threads: ``resource.getrusage``)
and wall seconds, and for the whole batch events/s by both. On a loaded machine the wall
figures drift with the load, the CPU-seconds much less; the CPU/wall ratio shows how much
of the batch used more than one core. ``--again`` then runs once more with nothing new
to ingest (the stored model scores the stored events again, as a daily run that found
nothing new does today).

    .venv/bin/python bench/bench_batch.py                        # ~10M events
    .venv/bin/python bench/bench_batch.py --users 800 --days 61  # ~1.5M, a minute
    .venv/bin/python bench/bench_batch.py --users 800 --again
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from auditlens.config import FileSourceConfig, Settings
from auditlens.pipeline import run
from auditlens.pipeline.stages import DONE, Stage


def cpu_seconds() -> float:
    """User + system CPU-seconds of this process so far (every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class StageClock:
    """CPU and wall seconds of each stage a job reports through ``on_stage``."""

    cpu: dict[str, float] = field(default_factory=dict)
    wall: dict[str, float] = field(default_factory=dict)
    _name: str = ""
    _cpu0: float = 0.0
    _wall0: float = 0.0

    def start(self) -> None:
        """Start the clock before calling the job (time before its first stage is 'setup')."""
        self._name, self._cpu0, self._wall0 = "setup", cpu_seconds(), time.perf_counter()

    def __call__(self, stage: Stage) -> None:
        if stage.name == self._name:  # progress within the stage
            return
        self.stop()
        self._name = stage.name

    def stop(self) -> None:
        """Close the current stage (call once after the job returns)."""
        cpu, wall = cpu_seconds(), time.perf_counter()
        if self._name and self._name != DONE:
            self.cpu[self._name] = self.cpu.get(self._name, 0.0) + cpu - self._cpu0
            self.wall[self._name] = self.wall.get(self._name, 0.0) + wall - self._wall0
        self._cpu0, self._wall0 = cpu, wall

    def report(self, title: str, events: int) -> None:
        """Print the stages, their shares and events/s."""
        total_cpu, total_wall = sum(self.cpu.values()), sum(self.wall.values())
        print(f"\n{title}")
        print(f"  {'stage':<28}{'CPU s':>9}{'wall s':>9}{'CPU/wall':>10}{'CPU share':>11}")
        for name in self.cpu:
            cpu, wall = self.cpu[name], self.wall[name]
            print(
                f"  {name:<28}{cpu:>9.2f}{wall:>9.2f}{cpu / max(wall, 1e-9):>10.2f}"
                f"{cpu / max(total_cpu, 1e-9):>10.0%}"
            )
        print(f"  {'total':<28}{total_cpu:>9.2f}{total_wall:>9.2f}")
        print(
            f"  events/s: {events / max(total_wall, 1e-9):,.0f} by wall, "
            f"{events / max(total_cpu, 1e-9):,.0f} per CPU-second"
        )


def child_generate(out_dir: Path, users: int, days: int, seed: int) -> None:
    """Generate the sample into ``out_dir``; print one JSON line with its size."""
    from auditlens.sources.synthetic import GeneratorSpec, generate, write_sample

    data = generate(GeneratorSpec(users=users, days=days, seed=seed))
    write_sample(data, out_dir, "parquet")
    print(json.dumps({"events": data.events.height}))


def warm_up() -> None:
    """Import what the stages would import on first use (scikit-learn, gensim, pandera),
    so each stage's figures are its work, not a one-off import."""
    import gensim.models
    import pandera.polars
    import sklearn.ensemble

    del gensim, pandera, sklearn


def settings_for(work: Path) -> Settings:
    """A fresh SQLite store in ``work`` with the sample's Parquet file as its one source."""
    return Settings(
        store_url=f"sqlite:///{work / 'store.db'}",  # type: ignore[arg-type]
        data_dir=work / "var",
        resource_catalog=work / "resource_catalog.csv",
        peer_directory=work / "directory.csv",
        sources={"events": FileSourceConfig(path=str(work / "events.parquet"), settle_seconds=0)},
    )


def timed_run(settings: Settings, **kwargs: Any) -> tuple[StageClock, Any]:
    """``pipeline.run`` with every stage timed."""
    clock = StageClock()
    clock.start()
    report = run(settings, alerts=False, on_stage=clock, **kwargs)
    clock.stop()
    return clock, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=5250, help="people in the organisation")
    parser.add_argument("--days", type=int, default=61, help="calendar days from 2026-09-01")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--again", action="store_true", help="then run again with nothing new to ingest"
    )
    parser.add_argument("--child-generate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_generate is not None:
        child_generate(args.child_generate, args.users, args.days, args.seed)
        return 0

    with tempfile.TemporaryDirectory(prefix="auditlens-batch-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--users", str(args.users), "--days", str(args.days),
             "--seed", str(args.seed), "--child-generate", str(work)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        events = int(json.loads(out.stdout.strip().splitlines()[-1])["events"])
        print(f"events          {events:,} ({args.users} users x {args.days} days)")
        print(f"generated in    {time.perf_counter() - started:.1f} s (child process)")
        print(f"load average    {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        warm_up()
        print(
            f"libraries      {cpu_seconds() - cpu0:.2f} CPU s, "
            f"{time.perf_counter() - wall0:.2f} s imported before timing (once per process)"
        )
        settings = settings_for(work)
        clock, report = timed_run(settings, refit=True)
        clock.report("full batch (auditlens run: ingest, fit, score, store)", events)
        print(f"  windows scored {report.windows_scored:,}, stored {report.rows_stored:,}")
        print(f"  peak RSS {peak_rss_mib():,.0f} MiB")
        if args.again:
            # nothing new to ingest: the stored model scores the same events again
            clock, report = timed_run(settings)
            clock.report("again with nothing new (stored model, no new events)", events)
            print(f"  windows scored {report.windows_scored:,}, stored {report.rows_stored:,}")
            print(f"  peak RSS {peak_rss_mib():,.0f} MiB (the process's, over both runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
