"""`auditlens stream` from a real Kafka-protocol broker (Tansu): sustained throughput and
event-to-alert latency.

1. Throughput: the last ``--live-days`` days of a synthetic organisation are produced to
   a topic first (the days before are ingested and a model fitted), then the stream
   reads them through validate → lake + offsets → online scoring (model in force +
   River) → alerts. Events/s = live events / wall time until the lake holds them all.
2. Latency: events produced at ``--rate`` events/s for ``--seconds`` while the stream
   runs (small micro-batches); each message's latency is its Kafka timestamp → its
   window scored and its alerts raised (p50/p99 over every message).

Goals (2-core box): ≥ 100k events/s sustained; p99 < 1 s at 10k events/s.

    .venv/bin/python bench/bench_stream.py                       # ~2 minutes
    .venv/bin/python bench/bench_stream.py --users 500 --seconds 10
    .venv/bin/python bench/bench_stream.py --users 1000 --ingest-only   # no scoring
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.kafka_broker import Broker  # noqa: E402

from auditlens.config import KafkaSourceConfig, Settings  # noqa: E402
from auditlens.pipeline import ingest, run  # noqa: E402
from auditlens.pipeline.stream_job import StreamControl, StreamReport, stream  # noqa: E402
from auditlens.pipeline.stream_state import DayState, local_windows  # noqa: E402
from auditlens.schema import EVENT_COLUMNS, TIMESTAMP  # noqa: E402
from auditlens.sources.files import FileSource  # noqa: E402
from auditlens.sources.kafka_producer import produce  # noqa: E402
from auditlens.sources.synthetic import GeneratorSpec, generate  # noqa: E402
from auditlens.store.repo import Store  # noqa: E402


def line(label: str, value: str) -> None:
    """Print one aligned result line."""
    print(f"{label:<56} {value:>14}")


def cpu() -> float:
    """CPU seconds of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_stream(
    settings: Settings,
    source: str,
    done: threading.Event,
    before: float = 0.0,
    marks: list[tuple[float, int]] | None = None,
) -> tuple[StreamReport, float]:
    """Stream ``source`` until ``done`` is set and the lake has caught up; wall seconds.
    ``marks`` gets (time, events so far) after each scoring."""
    seen = marks if marks is not None else []
    control = StreamControl(on_batch=lambda r: seen.append((time.perf_counter(), r.events)))
    out: list[StreamReport] = []
    thread = threading.Thread(
        target=lambda: out.append(stream(settings, source=source, control=control))
    )
    started = time.perf_counter()
    thread.start()
    done.wait()
    thread_seconds = time.perf_counter() - started
    control.stop()
    thread.join()
    return out[0], thread_seconds - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1500)
    parser.add_argument("--days", type=int, default=12)
    parser.add_argument("--live-days", type=int, default=3)
    parser.add_argument("--copies", type=int, default=16)
    parser.add_argument("--batch", type=int, default=100_000, help="max_records, throughput")
    parser.add_argument("--rate", type=float, default=10_000.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--ingest-only",
        action="store_true",
        help="score nothing (read, validate, commit only): the ingest path's own bound",
    )
    args = parser.parse_args()
    if args.ingest_only:  # the stream's state neither loads nor scores anything
        DayState.start = lambda self, warm=True: None  # type: ignore[method-assign]
        DayState.update = lambda self, events: []  # type: ignore[method-assign]

    broker = Broker.start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    try:
        events = generate(GeneratorSpec(users=args.users, days=args.days, seed=3)).events
        tz = "Asia/Seoul"
        window = local_windows(pl.col(TIMESTAMP), tz)
        days = events.select(window.unique().sort()).to_series()
        cut = days[-args.live_days]
        before, live = events.filter(window < cut), events.filter(window >= cut).sort(TIMESTAMP)
        bulk, timed = broker.topic(partitions=4), broker.topic(partitions=4)
        sources = {
            name: KafkaSourceConfig(
                bootstrap_servers=broker.bootstrap,
                topics=[topic],
                max_records=records,
                max_seconds=seconds,
            )
            for name, topic, records, seconds in (
                ("bulk", bulk, args.batch, 5.0),
                ("timed", timed, 20_000, 0.25),
            )
        }
        settings = Settings(
            store_url=f"sqlite:///{tmp / 'store.db'}",  # type: ignore[arg-type]
            data_dir=tmp / "var",
            min_history_days=3,
            sources=sources,  # type: ignore[arg-type]
        )
        path = tmp / "before.parquet"
        before.write_parquet(path)
        with Store.open(settings, migrate=True) as store:
            ingest(FileSource(path, settle_seconds=0), settings, store=store)
        t = time.perf_counter()
        run(settings.model_copy(update={"sources": {}}), alerts=False)
        line("setup: events before / live", f"{before.height:,} / {live.height:,}")
        line("setup: model fitted (s)", f"{time.perf_counter() - t:.1f}")

        # the live days --copies times (other ids): enough micro-batches for a steady state
        bulk_events = pl.concat(
            [
                live.with_columns((pl.col("event_id") + f"-c{i}").alias("event_id"))
                for i in range(args.copies)
            ]
        ).sort(TIMESTAMP)
        messages = bulk_events.select(EVENT_COLUMNS).write_ndjson().encode().splitlines()
        produce(broker.bootstrap, bulk, iter(messages))
        # 1. throughput: every live event through the stream
        with Store.open(settings) as store:
            target = store.events.counts()["accepted"] + bulk_events.height
        done = threading.Event()
        first_commit: list[float] = []

        def watch() -> None:
            with Store.open(settings) as store:
                start = store.events.counts()["accepted"]
                while (count := store.events.counts()["accepted"]) < target:
                    if count > start and not first_commit:
                        first_commit.append(time.perf_counter())
                    time.sleep(0.02)
            done.set()

        c0 = cpu()
        threading.Thread(target=watch, daemon=True).start()
        marks: list[tuple[float, int]] = []
        report, seconds = run_stream(settings, "bulk", done, marks=marks)
        used = cpu() - c0
        total = bulk_events.height
        scored = [t for t, events in marks if events >= total]
        # from the first micro-batch in the store to the last event scored (start-up, i.e.
        # loading the history and warming River, and the stop's closing scoring left out)
        span = (scored[0] - first_commit[0]) if scored and first_commit else float("nan")
        line("throughput: events streamed", f"{report.events:,}")
        line(
            "throughput: micro-batches / scorings / windows scored",
            f"{report.batches} / {report.runs} / {report.windows:,}",
        )
        line("throughput: wall seconds (incl. start: River warm-up)", f"{seconds:.2f}")
        line("throughput: events/s overall (incl. start)", f"{total / seconds:,.0f}")
        line("throughput: events/s sustained (first commit to all scored)", f"{total / span:,.0f}")
        line("throughput: goal 100k events/s, ratio (sustained)", f"{total / span / 1e5:.2f}x")
        line("throughput: CPU s / per 100k events", f"{used:.1f} / {used / total * 1e5:.2f}")
        line("throughput: alerts opened", f"{report.alerts}")

        # 2. latency: a new day (the last day again, a day later, repeated to fill
        # --seconds at --rate events/s), so one day rolls at its start, as at midnight
        n = int(args.rate * args.seconds)
        last = live.filter(window == days[-1])
        shifted = (
            pl.concat([last] * (n // last.height + 1))
            .head(n)
            .with_columns(
                (pl.col(TIMESTAMP) + dt.timedelta(days=1)).alias(TIMESTAMP),
                (pl.col("event_id") + "-L" + pl.int_range(pl.len()).cast(pl.String)).alias(
                    "event_id"
                ),
            )
            .sort(TIMESTAMP)
        )
        timed_file = tmp / "timed.parquet"
        shifted.select(EVENT_COLUMNS).write_parquet(timed_file)
        with Store.open(settings) as store:
            target = store.events.counts()["accepted"] + n
        done = threading.Event()
        c0 = cpu()

        def producer() -> None:
            # its own process, as producers are: a paced producer thread in this process
            # would take the GIL from the stream hundreds of times a second
            time.sleep(1.0)  # the stream is starting (River warm-up, catch-up)
            command = [sys.executable, "-m", "auditlens.cli", "stream", "produce"]
            command += ["--from", str(timed_file), "--topic", timed]
            command += ["--rate", str(args.rate), "--bootstrap", broker.bootstrap]
            env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
            subprocess.run(command, check=True, env=env, cwd=tmp, stdout=subprocess.DEVNULL)
            with Store.open(settings) as store:
                while store.events.counts()["accepted"] < target:
                    time.sleep(0.05)
            done.set()

        threading.Thread(target=producer, daemon=True).start()
        report, seconds = run_stream(settings, "timed", done)
        used = cpu() - c0
        lat = np.asarray(report.latencies)
        line(f"latency: events at {args.rate:,.0f}/s for {args.seconds:g} s", f"{n:,}")
        line("latency: micro-batches", f"{report.batches}")
        line(
            "latency: p50 / p99 / max event-to-alert (s)",
            f"{np.percentile(lat, 50):.3f} / {np.percentile(lat, 99):.3f} / {lat.max():.3f}",
        )
        line("latency: goal p99 < 1 s, ratio", f"{np.percentile(lat, 99):.2f}x")
        stored = np.asarray(report.stored)
        line(
            "latency: of which event-to-stored p50 / p99 (s)",
            f"{np.percentile(stored, 50):.3f} / {np.percentile(stored, 99):.3f}",
        )
        line("latency: CPU s (stream, not producer) / wall s", f"{used:.1f} / {seconds:.1f}")
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
