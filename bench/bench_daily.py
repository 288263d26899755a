"""Benchmark: the daily run — one new day on top of 60 days of history, continued from the
last run's history against a full recompute, in one process, same scores checked.

Generates ``--users`` x ``--days`` of synthetic events (default ~10M, as bench_batch.py)
in a child process and splits them by local day: the first ``days - 2`` days, the day
before the last, the last day. Then, on a fresh SQLite store (pipeline functions, as
``auditlens ingest`` and ``auditlens run`` call them, alerts off):

1. ingest the first days and fit the model (``run --refit``, not timed);
2. ingest the day before the last and run: a full run over every event that leaves its
   history (``data_dir/history``) — timed, the **full run**;
3. copy the whole deployment (store, lake, model, history) to a twin and delete the
   twin's history;
4. ingest the last day and run on both: the original continues from its history (the
   **daily increment**), the twin recomputes everything (a **full recompute** of the same
   data, timed in the same process a few seconds apart);
5. compare the two runs' stored rows (every column that carries a score, its evidence
   and its reasons) and the users' peaks: they must be equal, else the bench fails;
6. run the original once more with nothing new.

For each step it prints CPU-seconds (this process, all threads) and wall seconds, of which
the ingest, and the ratio full recompute / daily increment by both: of ingest + run (the
day's job as a whole) and of the run alone (the day's ingest is the same work either way:
what the increment saves is the run's), and the kernel's share of each side's
CPU-seconds (system time: page faults on fresh memory and its zeroing among it). Then
each side's CPU-seconds by the stages the run reports (``on_stage``), and the ratio an
increment would show if it cost only the day's ingest, the stages both sides do alike
(setup, storing the same rows, drift and the history after them) and its day's share of
the full recompute's other work: the ceiling those shared stages set.
On a loaded machine the wall figures drift; the CPU-seconds and the ratio of two runs
measured back to back much less.

    .venv/bin/python bench/bench_daily.py                 # ~10M events, ~6 min
    .venv/bin/python bench/bench_daily.py --users 800     # ~1.5M events, a minute
    .venv/bin/python bench/bench_daily.py --repeat 3      # three pairs, the median ratio

``--repeat N`` measures N pairs (increment, full recompute), each on fresh copies of the
deployment before the last day, and prints each pair and the median of their ratios: on
a noisy machine one pair's ratio can move by a tenth.

``--commands`` then does the last day once more on fresh copies as an operator's
scheduler does: the two commands ``auditlens ingest DIR`` and ``auditlens run
--no-alerts``, each a fresh process (CPU-seconds of the children, wall seconds), the
increment against a full recompute. Each process pays its start (imports, first calls),
which the in-process figures above leave out; the package is byte-compiled first, as an
installed one is (a checkout run with ``PYTHONDONTWRITEBYTECODE`` would compile it in
every process).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from polars.testing import assert_frame_equal

import auditlens
from auditlens.config import Settings
from auditlens.fitted import FittedPipeline
from auditlens.pipeline import ingest, run
from auditlens.pipeline.increments import history_path
from auditlens.pipeline.stages import Stage
from auditlens.sources.files import FileSource
from auditlens.store.repo import Store
from bench_batch import (
    StageClock,
    cpu_seconds,
    peak_rss_mib,
    settings_for,
    system_seconds,
    warm_up,
)
from bench_startup import byte_compile

BENCH = Path(__file__).resolve().parent
COMPARED = ["user_id", "window", "raw_score", "surprise", "risk", "decayed_risk", "severity",
            "feature_hash", "reasons", "model_sha256", "config_hash"]  # fmt: skip


def split_by_day(work: Path) -> dict[str, Path]:
    """The generated events split into ``history``, ``before`` (the day before the last)
    and ``last`` directories, by local day."""
    out = {name: work / name for name in ("history", "before", "last")}
    for path in out.values():
        path.mkdir()
    day = pl.col("timestamp").dt.convert_time_zone("Asia/Seoul").dt.date()
    files = sorted((work / "events").glob("*.parquet"))
    counts = pl.scan_parquet(files).group_by(day.alias("day")).len().collect()
    # the last full local day (the generator's last UTC day spills a few hours into the
    # next local day; those few events are left out)
    last = counts.filter(pl.col("len") >= pl.col("len").median() / 2)["day"].max()
    before = counts.filter(pl.col("day") < last)["day"].max()
    for i, source in enumerate(files):
        events = pl.read_parquet(source)
        events.filter(day < before).write_parquet(out["history"] / f"{i:02d}.parquet")
        events.filter(day == before).write_parquet(out["before"] / f"{i:02d}.parquet")
        events.filter(day == last).write_parquet(out["last"] / f"{i:02d}.parquet")
    return out


def ingest_dir(settings: Settings, directory: Path) -> int:
    """Ingest every Parquet file of ``directory``; the rows accepted."""
    accepted = 0
    with Store.open(settings, migrate=True) as store:
        for path in sorted(directory.glob("*.parquet")):
            report = ingest(FileSource(path, name=path.stem), settings, store=store)
            accepted += report.accepted
    return accepted


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """CPU-seconds, wall seconds and result of ``fn()``."""
    cpu0, wall0 = cpu_seconds(), time.perf_counter()
    result = fn()
    return cpu_seconds() - cpu0, time.perf_counter() - wall0, result


#: The run's stages as it reports them (pipeline/run.py), and the bench's name for the
#: time after the store's rows are committed (the "store" stage's count reaching its
#: rows): drift, the history written, the report.
STAGES = ("setup", "features and model", "score", "reasons", "store")
AFTER_STORE = "after storing"
#: The stages a full recompute and an increment do alike: the same rows stored, the
#: same new windows measured for drift, a history written (the run's own setup).
SHARED = ("setup", "store", AFTER_STORE)


class RunStages(StageClock):
    """CPU-seconds of each stage of a run (bench_batch.StageClock), with the time after
    the store's commit apart (:data:`AFTER_STORE`)."""

    def __call__(self, stage: Stage) -> None:
        if stage.name == "store" and stage.done:  # the rows are committed
            stage = Stage(AFTER_STORE)
        super().__call__(stage)


@dataclass(frozen=True)
class DayRun:
    """A day ingested, then run: CPU and wall seconds of each, and the run's report;
    ``system``: the kernel's share of the CPU-seconds of both (page faults on fresh
    memory, file writes, ``fsync``); ``stages``: the run's CPU-seconds by stage."""

    ingest_cpu: float
    ingest_wall: float
    run_cpu: float
    run_wall: float
    report: Any
    system: float
    stages: dict[str, float]

    @property
    def cpu(self) -> float:
        return self.ingest_cpu + self.run_cpu

    @property
    def wall(self) -> float:
        return self.ingest_wall + self.run_wall

    def line(self, name: str) -> str:
        """The table's row of this day: ``name``, CPU and wall seconds, the ingest's."""
        ingest = f"{self.ingest_cpu:.2f} / {self.ingest_wall:.2f}"
        return f"  {name:<44}{self.cpu:>9.2f}{self.wall:>9.2f}{ingest:>30}"


def day_run(settings: Settings, directory: Path) -> DayRun:
    """Ingest ``directory`` then run, each timed."""
    system = system_seconds()
    ingest_cpu, ingest_wall, _ = timed(lambda: ingest_dir(settings, directory))
    stages = RunStages()

    def staged() -> Any:
        stages.start()
        report = run(settings, alerts=False, on_stage=stages)
        stages.stop()
        return report

    run_cpu, run_wall, report = timed(staged)
    system = system_seconds() - system
    return DayRun(ingest_cpu, ingest_wall, run_cpu, run_wall, report, system, stages.cpu)


def stored(settings: Settings, run_id: int | None) -> pl.DataFrame:
    with Store.open(settings) as store:
        rows = store.scores.of_run(run_id or -1)
    return rows.select(COMPARED).sort("user_id", "window")


def copy_settings(settings: Settings, root: Path, budget: str) -> Settings:
    """``settings`` for the copy of its deployment under ``root``: its own store, lake,
    models and history; the same catalog and directory files (the same scoring settings)."""
    return settings_for(root, budget, 0).model_copy(
        update={
            "sources": {},
            "resource_catalog": settings.resource_catalog,
            "peer_directory": settings.peer_directory,
        }
    )


def as_commands(settings: Settings, directory: Path) -> tuple[float, float]:
    """``auditlens ingest directory`` then ``auditlens run --no-alerts`` on the deployment
    of ``settings``, each a fresh process: CPU-seconds (children) and wall seconds."""
    root = settings.data_dir.parent
    config = root / "auditlens.toml"
    config.write_text(
        "".join(
            f"{key} = {json.dumps(str(value))}\n"
            for key, value in (
                ("store_url", settings.store_url.get_secret_value()),
                ("data_dir", settings.data_dir),
                ("resource_catalog", settings.resource_catalog),
                ("peer_directory", settings.peer_directory),
            )
        ),
        encoding="utf-8",
    )
    env = os.environ | {"AUDITLENS_CONFIG": str(config)}
    cpu0, wall0 = cpu_seconds(resource.RUSAGE_CHILDREN), time.perf_counter()
    for args in (["ingest", str(directory)], ["run", "--no-alerts"]):
        done = subprocess.run(
            [sys.executable, "-m", "auditlens.cli", *args],
            cwd=root, env=env, capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"auditlens {args[0]} failed ({done.returncode}): {done.stderr}")
    return cpu_seconds(resource.RUSAGE_CHILDREN) - cpu0, time.perf_counter() - wall0


def copies(
    settings: Settings,
    base: Path,
    dirs: tuple[Path, Path],
    args: argparse.Namespace,
    sha: str,
) -> tuple[Settings, Settings]:
    """Two fresh copies of the deployment ``base`` in ``dirs``: one that continues from
    its history (the daily increment) and a twin without it (a full recompute); the
    settings of each. ``sha``: the model the history was left with."""
    for directory in dirs:
        shutil.copytree(base, directory)
    mine, twin = (copy_settings(settings, d, args.memory_budget) for d in dirs)
    for old in history_path(twin, sha).parent.iterdir():
        old.unlink()  # the twin never continues from a history
    return mine, twin


def commands_pair(
    settings: Settings, base: Path, tmp: Path, last: Path, args: argparse.Namespace, sha: str
) -> None:
    """Print the last day as two commands on fresh copies of ``base``: the increment
    against a full recompute (a twin without history)."""
    mine, twin = copies(settings, base, (tmp / "cli-daily", tmp / "cli-twin"), args, sha)
    # as an installed package is: ~0.4 CPU-s of the two commands where a checkout runs
    # with PYTHONDONTWRITEBYTECODE set (bench_startup.byte_compile)
    byte_compile(Path(auditlens.__file__).resolve().parent)
    inc_cpu, inc_wall = as_commands(mine, last)
    all_cpu, all_wall = as_commands(twin, last)
    recompute = f"full recompute of {args.days} days"
    print("\n  the last day as two commands (auditlens ingest DIR, auditlens run), each a fresh")
    print("  process, the package byte-compiled first (as an installed one is)")
    print(f"  {'':<44}{'CPU s':>9}{'wall s':>9}")
    print(f"  {recompute:<44}{all_cpu:>9.2f}{all_wall:>9.2f}")
    print(f"  {'daily increment':<44}{inc_cpu:>9.2f}{inc_wall:>9.2f}")
    print(
        f"  full recompute / daily increment: {all_cpu / inc_cpu:.1f}x CPU, "
        f"{all_wall / inc_wall:.1f}x wall (each command's start included)"
    )


def print_model_load(settings: Settings, sha: str, loads: int = 9) -> None:
    """The model file every run loads: its size and the median of ``loads`` loads
    (read, sha256 checked, unpickled) in this warm process."""
    with Store.open(settings) as store:
        record = store.models.by_sha(sha)
    assert record is not None, "the run's model is not in the store"
    path = Path(record.path)
    seconds = []
    for _ in range(loads):
        started = time.perf_counter()
        FittedPipeline.load(path, sha)
        seconds.append(time.perf_counter() - started)
    print(
        f"  the model file: {path.stat().st_size / 2**20:.1f} MiB, a load "
        f"{statistics.median(seconds) * 1000:.0f} ms (median of {loads}, this process)"
    )


def print_pairs(pairs: list[tuple[DayRun, DayRun]], days: int) -> None:
    """Each pair's full recompute and daily increment: ingest + run, and the ingest."""
    recompute = f"last day: full recompute of {days} days"
    for i, (whole, daily) in enumerate(pairs):
        pair = f" (pair {i + 1})" if len(pairs) > 1 else ""
        for name, one in ((recompute + pair, whole), ("last day: daily increment" + pair, daily)):
            print(one.line(name))


def print_ratios(pairs: list[tuple[DayRun, DayRun]]) -> None:
    """Full recompute / daily increment, ingest + run (the day's run as a whole) and the
    run alone (the day's ingest, the same work in both, left out), by CPU and wall; over
    several pairs each pair's ratio, then their median."""

    def ratios(of: Callable[[DayRun], float]) -> str:
        found = sorted(of(whole) / of(daily) for whole, daily in pairs)
        if len(found) == 1:
            return f"{found[0]:.1f}x"
        spread = f" (range {found[0]:.1f}-{found[-1]:.1f})"
        return f"median {statistics.median(found):.1f}x{spread}"

    print(
        "  full recompute / daily increment"
        + (f", over {len(pairs)} pairs" if len(pairs) > 1 else "")
        + ":"
    )
    print(f"    ingest + run: {ratios(lambda r: r.cpu)} CPU, {ratios(lambda r: r.wall)} wall")
    print(
        f"    the run alone (the day's ingest, the same in both, left out): "
        f"{ratios(lambda r: r.run_cpu)} CPU, {ratios(lambda r: r.run_wall)} wall"
    )
    for name, pick in (("full recompute", 0), ("daily increment", 1)):
        runs = [pair[pick] for pair in pairs]
        system = statistics.median(r.system for r in runs)
        share = statistics.median(r.system / r.cpu for r in runs)
        print(
            f"  of a {name}'s CPU-seconds, the kernel's (system time): {system:.2f} s, "
            f"{share:.0%}" + (" (medians)" if len(runs) > 1 else "")
        )


def print_stages(pairs: list[tuple[DayRun, DayRun]], day_events: int, events: int) -> None:
    """Each side's CPU-seconds by stage (medians over the pairs); then what an increment
    would measure if it cost only the day's ingest, the stages both sides share
    (:data:`SHARED`, as the increment pays them) and its day's share of the full
    recompute's other stages (the same work per event): the ratio's ceiling on this day
    while the shared stages and the work per event cost what they cost."""
    wholes, dailies = [pair[0] for pair in pairs], [pair[1] for pair in pairs]

    def median(runs: list[DayRun], of: Callable[[DayRun], float]) -> float:
        return statistics.median(of(r) for r in runs)

    def shared(r: DayRun) -> float:
        return r.ingest_cpu + sum(r.stages.get(name, 0.0) for name in SHARED)

    rows: list[tuple[str, Callable[[DayRun], float]]] = [
        ("ingest (the day's events)", lambda r: r.ingest_cpu)
    ]
    rows += [(name, lambda r, n=name: r.stages.get(n, 0.0)) for name in (*STAGES, AFTER_STORE)]
    medians = " (medians)" if len(pairs) > 1 else ""
    print(f"\n  {'CPU-seconds by stage' + medians:<44}{'full':>9}{'increment':>11}")
    for label, of in rows:
        print(f"    {label:<42}{median(wholes, of):>9.2f}{median(dailies, of):>11.2f}")
    print(
        "    (an increment scores its windows within 'features and model'; 'after storing':\n"
        "    drift, the history written, the report)"
    )
    share = day_events / events
    full = median(wholes, lambda r: r.cpu)
    rest = median(wholes, lambda r: r.cpu - shared(r))
    floor = median(dailies, shared)
    print(
        f"  the day holds {share:.1%} of the events; an increment costing only the ingest and "
        f"the shared stages\n  ({', '.join(SHARED)}: {floor:.2f} CPU-s) plus {share:.1%} of "
        f"the full recompute's other stages ({rest:.2f}) would measure\n  "
        f"{full / (floor + share * rest):.1f}x: the ratio's ceiling on this day while the shared "
        "stages and the work per event cost what they cost"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=5250)
    parser.add_argument("--days", type=int, default=61)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--memory-budget", default="8GiB")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="pairs of (daily increment, full recompute), each on fresh copies of the same "
        "deployment; prints each pair and the median ratio (a noisy machine)",
    )
    parser.add_argument(
        "--commands",
        action="store_true",
        help="also the last day as two commands (auditlens ingest, auditlens run), each a "
        "fresh process, increment against full recompute",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="auditlens-daily-") as tmp:
        work = Path(tmp) / "one"
        work.mkdir()
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, str(BENCH / "bench_batch.py"), "--users", str(args.users),
             "--days", str(args.days), "--seed", str(args.seed), "--child-generate", str(work)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        events = int(json.loads(out.stdout.strip().splitlines()[-1])["events"])
        days = split_by_day(work)
        print(f"events          {events:,} ({args.users} users x {args.days} days)")
        print(f"generated in    {time.perf_counter() - started:.1f} s (child process)")
        print(f"load average    {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        warm_up()
        settings = settings_for(work, args.memory_budget, 0).model_copy(update={"sources": {}})
        ingest_dir(settings, days["history"])
        run(settings, alerts=False, refit=True)
        full = day_run(settings, days["before"])
        first = full.report
        assert history_path(settings, first.model_sha256).exists(), "no history written"
        base = Path(tmp) / "base"  # the deployment before the last day, copied per pair
        inputs = {"events", "history", "before", "last"}  # (the generated and split events)
        shutil.copytree(
            work, base, ignore=lambda d, names: inputs & set(names) if d == str(work) else []
        )
        pairs: list[tuple[DayRun, DayRun]] = []  # (full recompute, daily increment)
        for i in range(args.repeat):
            mine_dir, twin_dir = Path(tmp) / f"daily-{i}", Path(tmp) / f"twin-{i}"
            mine_settings, twin = copies(
                settings, base, (mine_dir, twin_dir), args, first.model_sha256
            )
            daily = day_run(mine_settings, days["last"])
            whole = day_run(twin, days["last"])
            mine = stored(mine_settings, daily.report.run_id)
            assert_frame_equal(mine, stored(twin, whole.report.run_id), check_exact=True)
            shown = ["user_id", "risk_score", "peak_window", "peak_windows", "reasons"]
            assert_frame_equal(daily.report.peaks.select(shown), whole.report.peaks.select(shown))
            pairs.append((whole, daily))
            if i + 1 < args.repeat:
                shutil.rmtree(twin_dir)
                shutil.rmtree(mine_dir)
        settings = mine_settings  # the last pair's deployment runs once more below
        none_cpu, none_wall, _ = timed(lambda: run(settings, alerts=False))
        last_events = sum(pl.scan_parquet(p).select(pl.len()).collect().item()
                          for p in days["last"].glob("*.parquet"))  # fmt: skip
        print(
            f"\n  {'ingest + run':<44}{'CPU s':>9}{'wall s':>9}{'of which ingest, CPU / wall':>30}"
        )
        history = f"full run, {args.days - 1} days (leaves a history)"
        print(full.line(history))
        print_pairs(pairs, args.days)
        print(f"  {'nothing new':<44}{none_cpu:>9.2f}{none_wall:>9.2f}")
        whole, daily = pairs[-1]
        print(
            f"\n  the last day: {last_events:,} events; increment stored "
            f"{daily.report.rows_stored:,} rows, scored {daily.report.windows_scored:,} windows "
            f"(full: {whole.report.windows_scored:,}); the stored rows and peaks are equal"
        )
        print_ratios(pairs)
        print_stages(pairs, last_events, daily.report.events)
        print(f"  peak RSS {peak_rss_mib():,.0f} MiB (this process, every step)")
        print_model_load(settings, first.model_sha256)
        if args.commands:
            commands_pair(settings, base, Path(tmp), days["last"], args, first.model_sha256)
    return 0


if __name__ == "__main__":
    sys.exit(main())
