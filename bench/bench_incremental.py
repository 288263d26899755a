"""Incremental change-log reads vs full reloads of a 1M-event customer database.

Builds a throw-away customer database (PostgreSQL, optionally SQLite too) with ``--rows``
events, reads it once to get a watermark, adds ``--new`` (a fraction) more events, then
times (a) the incremental read of the new rows from the watermark against (b) a full
reload of every row, both through ``SqlChangeLogSource``, plus a plain ``SELECT *`` for
scale. If ``auditlens.pipeline.ingest`` exists it also times ingestion end to end
(first full load, then the increment). Throw-away databases are dropped at the end.

    .venv/bin/python bench/bench_incremental.py               # 1M rows on PostgreSQL
    .venv/bin/python bench/bench_incremental.py --sqlite --rows 200000
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import SecretStr
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get(
    "AUDITLENS_BENCH_PG_URL",
    os.environ.get("AUDITLENS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)


def line(label: str, value: str) -> None:
    """Print one aligned result line."""
    print(f"{label:<52} {value:>10}")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds taken by ``fn()`` and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


@contextlib.contextmanager
def pg_database(prefix: str) -> Iterator[str]:
    """A throw-away PostgreSQL database on the local server, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def sqlite_database(prefix: str) -> Iterator[str]:
    """A throw-away SQLite file."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield f"sqlite:///{tmp}/customer.db"


def bench_backend(kind: str, url: str, args: argparse.Namespace) -> None:
    """Load, read, add the increment and compare incremental and full reads on one DB."""
    from tests.sources.customer_db import COLUMN_MAP, CustomerDb

    from auditlens.sources.sql import SqlChangeLogSource

    new_rows = max(1, round(args.rows * args.new))
    print(f"\n== {kind}: {args.rows:,} events + {new_rows:,} new, page_size {args.page_size:,}")
    engine = create_engine(url)
    db = CustomerDb.create(engine)
    load_s, _ = timed(lambda: db.insert_events(args.rows))
    line(f"load {args.rows:,} events + change log", f"{load_s:.2f} s")

    def source() -> SqlChangeLogSource:
        return SqlChangeLogSource(
            url, engine=engine, page_size=args.page_size, column_map=COLUMN_MAP
        )

    def read(since: Any = None) -> tuple[int, Any]:
        rows, mark = 0, since
        for batch in source().read(since):
            rows, mark = rows + batch.events.height, batch.watermark
        return rows, mark

    first_s, (first_n, mark) = timed(read)
    assert first_n == args.rows, first_n
    line(f"first read (all {first_n:,})", f"{first_s:.2f} s")
    add_s, _ = timed(lambda: db.insert_events(new_rows))
    line(f"add {new_rows:,} new events", f"{add_s:.2f} s")

    inc_s, (inc_n, _) = timed(lambda: read(mark))
    assert inc_n == new_rows, inc_n
    full_s, (full_n, _) = timed(read)
    assert full_n == args.rows + new_rows, full_n
    with engine.connect() as conn:
        scan_s, scan = timed(lambda: pl.read_database(text("SELECT * FROM access_events"), conn))
    line(f"(a) incremental read of {inc_n:,} via source", f"{inc_s:.3f} s")
    line(f"(b) full reload of {full_n:,} via source", f"{full_s:.2f} s")
    line(f"    plain SELECT * of {scan.height:,} into polars", f"{scan_s:.2f} s")
    line("ratio (b) / (a)", f"{full_s / inc_s:.1f} x")
    if not args.no_pipeline:
        bench_pipeline(kind, db, source, new_rows, args)
    engine.dispose()


def bench_pipeline(
    kind: str,
    db: Any,
    source: Callable[[], Any],
    new_rows: int,
    args: argparse.Namespace,
) -> None:
    """Ingest end to end through ``auditlens.pipeline.ingest`` if the lead's module exists."""
    try:
        from auditlens.config import Settings
        from auditlens.pipeline import ingest
        from auditlens.store.repo import Store
    except ImportError as exc:
        print(f"pipeline: not benchmarked ({exc}); the numbers above are the source alone")
        return
    store_db = pg_database("auditlens_bench_store") if kind == "postgresql" else None
    with tempfile.TemporaryDirectory(prefix="auditlens_bench_") as tmp:
        with store_db or contextlib.nullcontext(f"sqlite:///{tmp}/store.db") as store_url:
            settings = Settings(store_url=SecretStr(store_url), data_dir=Path(tmp) / "var")
            Store.open(settings, migrate=True).close()
            full_s, full = timed(lambda: ingest(source(), settings))
            line(f"pipeline ingest, first run ({full.accepted:,} accepted)", f"{full_s:.2f} s")
            db.insert_events(new_rows)
            inc_s, inc = timed(lambda: ingest(source(), settings))
            line(f"pipeline ingest, increment ({inc.accepted:,} accepted)", f"{inc_s:.3f} s")
            line(f"pipeline ratio first run / increment ({kind} store)", f"{full_s / inc_s:.1f} x")


def main() -> None:
    """Parse arguments and run the benchmark on each chosen backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="events in the base load")
    parser.add_argument("--new", type=float, default=0.01, help="fraction of new events")
    parser.add_argument("--page-size", type=int, default=50_000, help="change-log page size")
    parser.add_argument("--sqlite", action="store_true", help="also run on SQLite")
    parser.add_argument("--no-postgres", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--no-pipeline", action="store_true", help="skip pipeline.ingest")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))  # for tests.sources.customer_db
    if not args.no_postgres:
        with pg_database("auditlens_bench_customer") as url:
            bench_backend("postgresql", url, args)
    if args.sqlite:
        with sqlite_database("auditlens_bench_") as url:
            bench_backend("sqlite", url, args)


if __name__ == "__main__":
    main()
