"""Benchmark: score ~10 million synthetic events end to end, stage by stage, vs pandas.

Generates ``--users`` x ``--days`` of synthetic events (default ~10M, as bench_generate.py)
and writes them to Parquet in a temporary directory (in a child process, so that the
peak RSS below is the pipeline's alone). Then times, in this process:

    read Parquet (polars) -> validate -> features (build_matrix) -> model fit + score
    (default unsupervised ensemble, windows with history_days >= 7) -> risk (RiskScale,
    score_windows, user_peaks) -> write the scores as CSV

and prints seconds and share of total per stage, events/s and peak RSS. Libraries a stage
would import on first use (pandera, gensim, scikit-learn: ~2.5 s) are imported before the
clock starts, on both sides, as pandas itself is (bench_batch.py's convention); the output
shows those imports apart. Then it times the
pandas reference features (bench/pandas_reference.py: the behavioural sets, and
bench/pandas_sequences.py: the action-sequence set) on the same events in another child
process and prints pandas/polars ratios: for the features alone, each against our same
sets built apart (outside the total), and end to end (the job with the reference's
features in place of our same sets, every other stage, our novelty sets included, as
measured). ``--pandas-rows N``
runs pandas on whole users adding up to about N events and extrapolates linearly; the
output says so (the Word2Vec fit, a fixed 20,000-session sample, is then overstated: the
default, all events, is the figure to quote). Last, both feature implementations are
compared on a small sample.

    .venv/bin/python bench/bench_score.py                        # ~10M events
    .venv/bin/python bench/bench_score.py --users 500 --days 30  # ~0.5M, seconds
    .venv/bin/python bench/bench_score.py --pandas-rows 2000000  # pandas on ~2M, scaled
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from auditlens.calendar import BusinessCalendar
from auditlens.detect.ensemble import default_unsupervised
from auditlens.features.access import AccessFeatures
from auditlens.features.base import KEYS, FeatureContext
from auditlens.features.catalog import ResourceCatalog
from auditlens.features.matrix import HISTORY_DAYS, build_matrix
from auditlens.features.resources import ResourceFeatures
from auditlens.features.sequences import SequenceFeatures
from auditlens.features.temporal import TemporalFeatures
from auditlens.schema import USER_ID
from auditlens.scoring import RiskScale, score_windows, user_peaks
from auditlens.sources.synthetic import GeneratorSpec, generate, write_sample
from auditlens.validate import validate
from bench_batch import warm_up

TIMEZONE = "Asia/Seoul"
FUTURE_TOLERANCE = dt.timedelta(seconds=300)
MIN_HISTORY_DAYS = 7
FEATURES = "features (build_matrix, incl. sequences)"
READ = "read parquet (polars)"
HERE = Path(__file__).resolve().parent


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def own_peak_rss_mib() -> float:
    """Peak RSS of this process's own memory, for child processes.

    A child's ru_maxrss starts at its parent's RSS at fork time (Linux carries the
    high-water mark across fork and exec), so a child forked by a parent holding a 10M
    matrix would report the parent's peak. VmHWM belongs to the current address space,
    which exec made fresh; fall back to ru_maxrss where /proc is missing.
    """
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return peak_rss_mib()
    for row in status.splitlines():
        if row.startswith("VmHWM:"):
            return int(row.split()[1]) / 1024  # kB
    return peak_rss_mib()


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """Seconds taken by ``fn(*args, **kwargs)`` and its result."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS; False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


class Stages:
    """Seconds and peak RSS of each timed stage of the pipeline, in order.

    Before each stage the process's RSS high-water mark is reset (Linux ``clear_refs``),
    so a stage's peak is its own; ``overall_peak_mib`` keeps the maximum over everything.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mib: dict[str, float] = {}
        self.overall_peak_mib = peak_rss_mib()
        self.per_stage = True

    def run(self, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Time ``fn(*args, **kwargs)`` as stage ``name``; return its result."""
        self.overall_peak_mib = max(self.overall_peak_mib, own_peak_rss_mib())
        self.per_stage = reset_peak_rss() and self.per_stage
        self.seconds[name], result = timed(fn, *args, **kwargs)
        self.peak_mib[name] = own_peak_rss_mib()
        self.overall_peak_mib = max(self.overall_peak_mib, self.peak_mib[name])
        return result

    def finish(self) -> None:
        """Fold in whatever ran after the last stage."""
        self.overall_peak_mib = max(self.overall_peak_mib, own_peak_rss_mib())

    @property
    def total(self) -> float:
        """Seconds over all stages."""
        return sum(self.seconds.values())


def read_catalog(path: Path) -> ResourceCatalog:
    """The synthetic catalog as written by write_sample (= ``data.catalog``)."""
    frame = pl.read_csv(path, schema_overrides={"weight": pl.Float64})
    return ResourceCatalog.from_frame(frame)


# --- child processes ------------------------------------------------------------------


def child_generate(out_dir: Path, spec: GeneratorSpec) -> None:
    """Generate and write the sample; print one JSON line with what was written."""
    seconds, data = timed(lambda: generate(spec))
    write_seconds, paths = timed(lambda: write_sample(data, out_dir, "parquet"))
    print(
        json.dumps(
            {
                "events": data.events.height,
                "insiders": data.labels.height,
                "generate_s": seconds,
                "write_s": write_seconds,
                "paths": {k: str(v) for k, v in paths.items()},
            }
        )
    )


def child_pandas(work: Path, pandas_rows: int, seed: int) -> None:
    """Load the events into pandas and build the reference matrix; print one JSON line."""
    sys.path.insert(0, str(HERE))
    import pandas_reference as ref

    events_path = work / "events.parquet"
    catalog = read_catalog(work / "resource_catalog.csv")
    calendar = BusinessCalendar(timezone=TIMEZONE)
    total = pl.scan_parquet(events_path).select(pl.len()).collect().item()
    users_total = pl.scan_parquet(events_path).select(pl.col(USER_ID).n_unique()).collect().item()
    if 0 < pandas_rows < total:
        # whole users (all their days), drawn at random until about pandas_rows events
        per_user = (
            pl.scan_parquet(events_path)
            .group_by(USER_ID)
            .len()
            .collect()
            .sort(USER_ID)
            .sample(fraction=1.0, shuffle=True, seed=seed)
        )
        upto = per_user.filter(pl.col("len").cum_sum().shift(1, fill_value=0) < pandas_rows)
        chosen = upto.get_column(USER_ID).implode()

        def load() -> Any:
            subset = pl.scan_parquet(events_path).filter(pl.col(USER_ID).is_in(chosen))
            return ref.polars_to_pandas(subset.collect())

        engine = "polars.scan_parquet(user filter) + numpy -> pandas"
    else:

        def load() -> Any:
            return ref.read_events(events_path)

        engine = ref.parquet_engine()
    # gensim on first use, as ours (warm_up): one-off imports stay out of both sides' times
    imports_s, _ = timed(lambda: __import__("gensim.models"))
    load_s, events = timed(load)
    parts: dict[str, float] = {}
    all_s, matrix = timed(
        lambda: ref.build_matrix_pandas(events, catalog, calendar, sequences=True, timings=parts)
    )
    print(
        json.dumps(
            {
                "rows": len(events),
                "users": int(events[USER_ID].nunique()),
                "total_rows": total,
                "total_users": users_total,
                "engine": engine,
                "imports_s": imports_s,
                "load_s": load_s,
                "features_s": all_s - parts["sequences"],
                "sequences_s": parts["sequences"],
                "windows": len(matrix),
                "peak_rss_mib": own_peak_rss_mib(),
                "load_avg": os.getloadavg()[0],
            }
        )
    )


def run_child(args: list[str]) -> dict[str, Any]:
    """Run this script with ``args``; return the JSON of its last stdout line."""
    proc = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"child {' '.join(args[:2])} failed with exit code {proc.returncode}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# --- the polars pipeline ---------------------------------------------------------------


def run_pipeline(work: Path, now: dt.datetime) -> tuple[Stages, dict[str, Any]]:
    """Time each stage of read -> validate -> features -> model -> risk -> write."""
    stages = Stages()
    facts: dict[str, Any] = {}
    facts["imports_s"], _ = timed(warm_up)  # one-off imports, outside every stage

    raw = stages.run(READ, pl.read_parquet, work / "events.parquet")
    result = stages.run(
        "validate",
        validate,
        raw,
        timezone=TIMEZONE,
        now=now,
        future_tolerance=FUTURE_TOLERANCE,
        known_ids=None,
    )
    facts["accepted"], facts["rejected"] = result.accepted, result.rejected
    del raw

    ctx = FeatureContext(
        calendar=BusinessCalendar(timezone=TIMEZONE),
        catalog=read_catalog(work / "resource_catalog.csv"),
    )
    valid = result.valid
    del result
    fm = stages.run(FEATURES, build_matrix, valid, ctx)
    facts["windows"], facts["features"] = fm.frame.height, len(fm.feature_columns)
    # the pandas reference has the behavioural and the sequence sets, not the novelty
    # ones: time ours of the same sets alone for the ratios (outside the pipeline total)
    behavioural = (TemporalFeatures(), ResourceFeatures(), AccessFeatures())
    started = time.perf_counter()
    build_matrix(valid, ctx, behavioural)
    facts["base_features_s"] = time.perf_counter() - started
    started = time.perf_counter()
    build_matrix(valid, ctx, (*behavioural, SequenceFeatures()))
    facts["same_features_s"] = time.perf_counter() - started
    del valid

    history = fm.info.select(*KEYS, HISTORY_DAYS)
    train = (
        fm.frame.join(history, on=list(KEYS))
        .filter(pl.col(HISTORY_DAYS) >= MIN_HISTORY_DAYS)
        .drop(HISTORY_DAYS)
    )
    facts["scored_windows"] = train.height
    model = default_unsupervised()
    # as the pipeline does (pipeline/detection.py): fitting scores the training rows to
    # calibrate, and those are the scores (each member scores the matrix once)
    scores = stages.run("model fit + score (IsolationForest + tail)", model.fit_score, train)

    def risk() -> tuple[pl.DataFrame, pl.DataFrame]:
        scale = RiskScale().fit(scores)
        windows = score_windows(train.select(*KEYS), scale.surprise(scores))
        return windows, user_peaks(windows)

    windows, users = stages.run("risk (RiskScale, score_windows, user_peaks)", risk)

    def write() -> int:
        windows.write_csv(work / "window_scores.csv")
        users.drop("peak_windows").write_csv(work / "user_risk.csv")
        return (work / "window_scores.csv").stat().st_size + (work / "user_risk.csv").stat().st_size

    facts["csv_bytes"] = stages.run("write scores CSV", write)
    stages.finish()
    facts["users"] = users.height
    facts["severity"] = dict(users.group_by("severity").len().sort("severity").iter_rows())
    return stages, facts


def line(label: str, value: str) -> None:
    """Print one aligned result line."""
    print(f"{label:<46} {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=5250, help="people in the organisation")
    parser.add_argument("--days", type=int, default=61, help="calendar days from 2026-09-01")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--pandas-rows",
        type=int,
        default=0,
        help="run the pandas reference on whole users adding up to ~N events and "
        "extrapolate linearly (0 = all events)",
    )
    parser.add_argument("--no-pandas", action="store_true", help="skip the pandas reference")
    parser.add_argument("--no-check", action="store_true", help="skip the agreement check")
    parser.add_argument("--check-users", type=int, default=50)
    parser.add_argument("--check-days", type=int, default=30)
    parser.add_argument("--workdir", type=Path, help="keep the files here instead of a temp dir")
    parser.add_argument("--generate-into", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pandas-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    spec = GeneratorSpec(users=args.users, days=args.days, seed=args.seed)

    if args.generate_into:
        child_generate(args.generate_into, spec)
        return 0
    if args.pandas_child:
        child_pandas(args.pandas_child, args.pandas_rows, args.seed)
        return 0

    with tempfile.TemporaryDirectory(prefix="auditlens-bench-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        return bench(args, spec, work)


def bench(args: argparse.Namespace, spec: GeneratorSpec, work: Path) -> int:
    """Generate, run and time the pipeline, then the pandas reference; print everything."""
    gen = run_child(
        [
            "--generate-into",
            str(work),
            "--users",
            str(spec.users),
            "--days",
            str(spec.days),
            "--seed",
            str(spec.seed),
        ]
    )
    events = int(gen["events"])
    parquet_mib = (work / "events.parquet").stat().st_size / 2**20
    print(f"== data: users={spec.users} days={spec.days} seed={spec.seed}")
    line("events", f"{events:,} ({parquet_mib:,.0f} MiB Parquet)")
    generated = f"{gen['generate_s']:.1f} s + {gen['write_s']:.1f} s"
    line("generate + write Parquet (child, not in total)", generated)

    now = dt.datetime.combine(
        spec.start + dt.timedelta(days=spec.days + 1), dt.time(0), tzinfo=dt.UTC
    )
    load_before = os.getloadavg()[0]
    stages, facts = run_pipeline(work, now)
    total = stages.total

    print(f"\n== polars pipeline (now={now.isoformat()}, tz={TIMEZONE})")
    rss_label = "peak RSS in stage" if stages.per_stage else "peak RSS so far"
    line("stage", f"{'seconds':>10}  {'share':>6}  {rss_label}")
    for name, seconds in stages.seconds.items():
        share = 100 * seconds / total
        line(name, f"{seconds:8.2f} s  {share:5.1f} %  {stages.peak_mib[name]:8,.0f} MiB")
    line("total", f"{total:8.2f} s")
    line("events/s end to end", f"{events / total:,.0f}")
    line("one-off imports before the clock (not in total)", f"{facts['imports_s']:8.2f} s")
    line("peak RSS (pipeline process)", f"{stages.overall_peak_mib:,.0f} MiB")
    line("accepted / rejected by validate", f"{facts['accepted']:,} / {facts['rejected']:,}")
    line("feature matrix", f"{facts['windows']:,} windows x {facts['features']} features")
    line(f"scored windows (history_days >= {MIN_HISTORY_DAYS})", f"{facts['scored_windows']:,}")
    severity = ", ".join(f"{k} {v}" for k, v in facts["severity"].items())
    line("users by severity", f"{facts['users']:,}: {severity}")
    line("scores CSV written", f"{facts['csv_bytes'] / 2**20:,.1f} MiB")
    line(
        "1-min load average before / after (2+ = contention)",
        f"{load_before:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs",
    )

    ok = True
    if not args.no_pandas:
        ok = compare_pandas(args, work, stages, facts)
    if not args.no_check:
        sys.path.insert(0, str(HERE))
        import pandas_reference as ref

        print(f"\n== agreement check (polars vs pandas features, small sample, seed {spec.seed})")
        ok = ref.check(args.check_users, args.check_days, spec.seed, sequences=True) and ok
    return 0 if ok else 1


def compare_pandas(
    args: argparse.Namespace, work: Path, stages: Stages, facts: dict[str, Any]
) -> bool:
    """Time the pandas reference features in a child process and print the ratios."""
    child_args = ["--pandas-child", str(work), "--pandas-rows", str(args.pandas_rows)]
    pd_run = run_child([*child_args, "--seed", str(args.seed)])
    scale = pd_run["total_rows"] / pd_run["rows"]
    load_s = pd_run["load_s"] * scale
    features_s = pd_run["features_s"] * scale
    sequences_s = pd_run["sequences_s"] * scale
    total = stages.total
    polars_features = facts["base_features_s"]  # the behavioural sets alone
    same_features = facts["same_features_s"]  # the sets the reference implements
    other = total - same_features
    print("\n== pandas reference (bench/pandas_reference.py, child process)")
    if scale > 1.0:
        print(
            f"   !! measured on a subset: {pd_run['rows']:,} of {pd_run['total_rows']:,} events "
            f"({pd_run['users']:,} of {pd_run['total_users']:,} whole users); times below are "
            f"EXTRAPOLATED LINEARLY x{scale:.2f} to all events (the sequence reference's "
            "Word2Vec fit draws 20,000 sessions whatever the subset: scaling overstates it)"
        )
        line("load, measured on subset", f"{pd_run['load_s']:8.2f} s")
        line("features, measured on subset", f"{pd_run['features_s']:8.2f} s")
        line("sequence features, measured on subset", f"{pd_run['sequences_s']:8.2f} s")
    tag = " (extrapolated)" if scale > 1.0 else ""
    print(f"   load = {pd_run['engine']}")
    line("one-off import of gensim before the clock", f"{pd_run['imports_s']:8.2f} s")
    line(f"load{tag}", f"{load_s:8.2f} s")
    line(f"behavioural features (build_matrix_pandas){tag}", f"{features_s:8.2f} s")
    line(f"sequence features (pandas_sequences){tag}", f"{sequences_s:8.2f} s")
    measured = "on the subset, not scaled" if scale > 1.0 else "measured"
    line(f"peak RSS (pandas process, {measured})", f"{pd_run['peak_rss_mib']:,.0f} MiB")
    line(f"windows (pandas matrix, {measured})", f"{pd_run['windows']:,}")
    line("1-min load average after", f"{pd_run['load_avg']:.2f}")
    print("\n== ratios (pandas / polars)")
    line("our behavioural sets (no sequences), timed apart", f"{polars_features:8.2f} s")
    line("behavioural features: pandas / polars", f"{features_s / polars_features:8.2f} x{tag}")
    line("our behavioural + sequence sets, timed apart", f"{same_features:8.2f} s")
    both = features_s + sequences_s
    line("behavioural + sequence: pandas / polars", f"{both / same_features:8.2f} x{tag}")
    pandas_e2e = other + both
    line("end to end, pandas features + our other stages", f"{pandas_e2e:8.2f} s{tag}")
    line("end to end: that / ours", f"{pandas_e2e / total:8.2f} x{tag}")
    read_s = stages.seconds[READ]
    with_load = pandas_e2e - read_s + load_s
    line("end to end incl. pandas load instead of read", f"{with_load:8.2f} s{tag}")
    line("end to end incl. load: that / ours", f"{with_load / total:8.2f} x{tag}")
    return True


if __name__ == "__main__":
    sys.exit(main())
