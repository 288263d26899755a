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

Bounded memory (``[engine] memory_budget``, ``--memory-budget``): with more events than
fit the budget the run reads the lake in user partitions, ``--threads`` at once
(pipeline/partitions.py); the bench prints how many, and the peak RSS against the
budget. Samples over ``--chunk-users`` users are generated chunk by chunk (each chunk a
separate organisation of that many people, ids prefixed, one Parquet file each, so the
generator's memory stays that of one chunk) into a directory the run ingests file by file.

    .venv/bin/python bench/bench_batch.py                        # ~10M events
    .venv/bin/python bench/bench_batch.py --users 800 --days 61  # ~1.5M, a minute
    .venv/bin/python bench/bench_batch.py --users 800 --again
    .venv/bin/python bench/bench_batch.py --users 10500 --memory-budget 4GiB   # ~20M, 2 chunks
    nice .venv/bin/python bench/bench_batch.py --users 52500 --memory-budget 8GiB  # ~100M
    .venv/bin/python bench/bench_batch.py --users 52500 --sample /tmp/s100  # generated once
    .venv/bin/python bench/bench_batch.py --users 52500 --sample /tmp/s100 --one-file

``--one-file`` concatenates the sample's files into one before the timing starts, so the
run ingests one large file (in slices of ``parquet_batch_rows`` rows, each its own batch).
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

from auditlens.config import EngineConfig, FileSourceConfig, Settings
from auditlens.pipeline import run
from auditlens.pipeline.partitions import partitions_for
from auditlens.pipeline.stages import DONE, Stage


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    """User + system CPU-seconds of this process so far (every thread), or of ``who``
    (``resource.RUSAGE_CHILDREN``: its finished children)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def system_seconds() -> float:
    """System (kernel) CPU-seconds of this process so far, every thread."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class StageClock:
    """CPU and wall seconds of each stage a job reports through ``on_stage``."""

    cpu: dict[str, float] = field(default_factory=dict)
    wall: dict[str, float] = field(default_factory=dict)
    rss: dict[str, float] = field(default_factory=dict)  # process peak RSS at its end, MiB
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
            self.rss[self._name] = peak_rss_mib()
        self._cpu0, self._wall0 = cpu, wall

    def report(self, title: str, events: int) -> None:
        """Print the stages, their shares and events/s."""
        total_cpu, total_wall = sum(self.cpu.values()), sum(self.wall.values())
        print(f"\n{title}")
        print(
            f"  {'stage':<28}{'CPU s':>9}{'wall s':>9}{'CPU/wall':>10}{'CPU share':>11}"
            f"{'peak RSS MiB':>14}"
        )
        for name in self.cpu:
            cpu, wall = self.cpu[name], self.wall[name]
            print(
                f"  {name:<28}{cpu:>9.2f}{wall:>9.2f}{cpu / max(wall, 1e-9):>10.2f}"
                f"{cpu / max(total_cpu, 1e-9):>10.0%}{self.rss[name]:>14,.0f}"
            )
        print(f"  {'total':<28}{total_cpu:>9.2f}{total_wall:>9.2f}")
        print(
            f"  events/s: {events / max(total_wall, 1e-9):,.0f} by wall, "
            f"{events / max(total_cpu, 1e-9):,.0f} per CPU-second"
        )
        # what no scheduling can beat: this much CPU work on this many cores, all busy
        cores = os.cpu_count() or 1
        print(
            f"  ceiling at this CPU work: {events * cores / max(total_cpu, 1e-9):,.0f} "
            f"events/s by wall ({cores} cores busy from start to end)"
        )


def child_generate(out_dir: Path, users: int, days: int, seed: int, chunk: int) -> None:
    """Generate the sample into ``out_dir`` (``events/`` holds its Parquet files), chunk
    by chunk of ``chunk`` users; print one JSON line with its size."""
    import polars as pl

    from auditlens.sources.synthetic import GeneratorSpec, generate, write_sample

    (out_dir / "events").mkdir()
    total, directories = 0, []
    for i, start in enumerate(range(0, users, chunk)):
        data = generate(GeneratorSpec(users=min(chunk, users - start), days=days, seed=seed + i))
        events, directory = data.events, pl.read_csv(write_sample(data, out_dir)["directory"])
        if users > chunk:  # another organisation: its people and events get their own ids
            prefix = pl.lit(f"C{i:02d}-")
            events = events.with_columns(
                (prefix + pl.col("user_id")).alias("user_id"),
                (prefix + pl.col("event_id")).alias("event_id"),
            )
            directory = directory.with_columns((prefix + pl.col("user_id")).alias("user_id"))
        events.write_parquet(out_dir / "events" / f"events-{i:02d}.parquet")
        directories.append(directory)
        total += events.height
        del data, events
    (out_dir / "events.parquet").unlink()
    pl.concat(directories).write_csv(out_dir / "directory.csv")
    print(json.dumps({"events": total}))


def warm_up() -> None:
    """Import what the stages would import on first use (scikit-learn, gensim, pandera),
    so each stage's figures are its work, not a one-off import."""
    import gensim.models
    import pandera.polars
    import sklearn.ensemble

    del gensim, pandera, sklearn


def settings_for(
    work: Path, budget: str, threads: int, sample: Path | None = None, files: Path | None = None
) -> Settings:
    """A fresh SQLite store in ``work`` with the sample's Parquet files as its one source
    (the sample generated into ``work``, or kept in ``sample``; ``files``: another
    directory of its events)."""
    sample = sample or work
    files = files or sample / "events"
    return Settings(
        engine=EngineConfig(memory_budget=budget, threads=threads),
        store_url=f"sqlite:///{work / 'store.db'}",  # type: ignore[arg-type]
        data_dir=work / "var",
        resource_catalog=sample / "resource_catalog.csv",
        peer_directory=sample / "directory.csv",
        sources={"events": FileSourceConfig(path=str(files), settle_seconds=0)},
    )


def one_file(events: Path, out: Path) -> Path:
    """The sample's Parquet files as one file in ``out`` (streamed, in file order)."""
    import polars as pl

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    scans = [pl.scan_parquet(path) for path in sorted(events.glob("*.parquet"))]
    pl.concat(scans).sink_parquet(out / "events.parquet")
    size = (out / "events.parquet").stat().st_size / 2**30
    print(f"one file        {size:.2f} GiB written in {time.perf_counter() - started:.1f} s")
    return out


def sample_in(work: Path, args: argparse.Namespace) -> tuple[Path, int]:
    """The sample's directory and its event count: generated into ``work`` in a child
    process, or into ``--sample`` once and read from there on later runs."""
    out = args.sample or work
    known = out / "events.json"
    if args.sample is not None and known.exists():
        print(f"sample          {out} (generated earlier)")
        return out, int(json.loads(known.read_text())["events"])
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [sys.executable, __file__, "--users", str(args.users), "--days", str(args.days),
         "--seed", str(args.seed), "--chunk-users", str(args.chunk_users),
         "--child-generate", str(out)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    line = result.stdout.strip().splitlines()[-1]
    known.write_text(line)
    print(f"generated in    {time.perf_counter() - started:.1f} s (child process)")
    return out, int(json.loads(line)["events"])


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
    parser.add_argument(
        "--memory-budget", default="8GiB", help="[engine] memory_budget of the run (e.g. 8GiB)"
    )
    parser.add_argument(
        "--threads", type=int, default=0, help="[engine] threads (0 = one per CPU core)"
    )
    parser.add_argument(
        "--chunk-users", type=int, default=5250, help="people generated per chunk (memory)"
    )
    parser.add_argument(
        "--sample",
        type=Path,
        help="generate the sample into this directory once and reuse it on later runs "
        "(with the same --users/--days/--seed; a run's store still starts empty)",
    )
    parser.add_argument(
        "--one-file",
        action="store_true",
        help="ingest the sample as one Parquet file (the chunks concatenated before timing), "
        "read in slices of parquet_batch_rows",
    )
    parser.add_argument("--child-generate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_generate is not None:
        child_generate(args.child_generate, args.users, args.days, args.seed, args.chunk_users)
        return 0

    with tempfile.TemporaryDirectory(prefix="auditlens-batch-") as tmp:
        work = Path(tmp)
        sample, events = sample_in(work, args)
        print(f"events          {events:,} ({args.users} users x {args.days} days)")
        print(f"load average    {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        warm_up()
        print(
            f"libraries      {cpu_seconds() - cpu0:.2f} CPU s, "
            f"{time.perf_counter() - wall0:.2f} s imported before timing (once per process)"
        )
        files = one_file(sample / "events", work / "one") if args.one_file else None
        settings = settings_for(work, args.memory_budget, args.threads, sample, files)
        engine = settings.engine
        parts = partitions_for(events, engine.budget_bytes, engine.workers)
        print(
            f"engine          memory_budget {engine.memory_budget}, {engine.workers} threads: "
            f"{parts} user partition{'s' * (parts > 1)}"
        )
        clock, report = timed_run(settings, refit=True)
        clock.report("full batch (auditlens run: ingest, fit, score, store)", events)
        print(f"  windows scored {report.windows_scored:,}, stored {report.rows_stored:,}")
        rss = peak_rss_mib()
        print(
            f"  peak RSS {rss:,.0f} MiB = {rss / 1024:.2f} GiB, "
            f"{rss / (engine.budget_bytes / 2**20):.0%} of the budget; "
            f"{rss / (events / 1e6):,.0f} MiB per million events"
        )
        if args.again:
            # nothing new to ingest: the stored model scores the same events again
            clock, report = timed_run(settings)
            clock.report("again with nothing new (stored model, no new events)", events)
            print(f"  windows scored {report.windows_scored:,}, stored {report.rows_stored:,}")
            print(f"  peak RSS {peak_rss_mib():,.0f} MiB (the process's, over both runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
