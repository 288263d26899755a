"""Benchmark: ingest one Parquet file into a fresh SQLite store — wall, CPU and peak RSS.

Runs ``pipeline.ingest`` (as ``auditlens ingest`` does) on ``FILE`` with the file source's
``parquet_batch_rows`` set to ``--batch-rows``, in this process, and prints how many
batches it took, wall and CPU seconds and this process's peak RSS (VmHWM): the memory a
file read in slices needs against the same file read whole (``--batch-rows`` above its
rows). One setting per run, so that each peak is its own.

    .venv/bin/python bench/bench_batch.py --sample /tmp/s10       # generates the 10M sample
    .venv/bin/python bench/bench_ingest_file.py /tmp/s10/events/events-00.parquet
    .venv/bin/python bench/bench_ingest_file.py FILE --batch-rows 200000000   # read whole
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from auditlens.config import Settings
from auditlens.pipeline import ingest
from auditlens.sources.files import PARQUET_BATCH_ROWS, FileSource
from bench_batch import cpu_seconds
from bench_score import own_peak_rss_mib


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path, help="a Parquet file of events")
    parser.add_argument("--batch-rows", type=int, default=PARQUET_BATCH_ROWS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="auditlens-ingest-") as tmp:
        root = Path(tmp)
        settings = Settings(
            store_url=f"sqlite:///{root / 'store.db'}",  # type: ignore[arg-type]
            data_dir=root / "var",
        )
        source = FileSource(args.file, name="file", parquet_batch_rows=args.batch_rows)
        cpu0, wall0 = cpu_seconds(), time.perf_counter()
        report = ingest(source, settings)
        wall, cpu = time.perf_counter() - wall0, cpu_seconds() - cpu0
    print(
        f"parquet_batch_rows {args.batch_rows:,}: {len(report.batches)} batches, "
        f"{report.accepted:,} events accepted, {wall:.1f} s wall, {cpu:.1f} CPU s, "
        f"peak RSS {own_peak_rss_mib() / 1024:.2f} GiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
