"""Duplicate checks of random event ids (UUIDv4) against a lake of many parts: the parts'
id ranges (every part meets random ids: every stored id read at each check) against the
process's hash index (store/id_index.py: only parts holding an equal hash are read).

A store gets ``--parts`` committed batches of ``--rows`` random ids each. Then, in a new
Store (as a new process), a micro-batch of ``--batch`` ids is checked: all new, then with
``--repeats`` of them already stored (a redelivered micro-batch: ids of one stored part).
Each way prints wall and CPU seconds of one check (best of three) and the ratio, measured
in one run; the first check with the index also pays its build (reading every stored id
once).

    .venv/bin/python bench/bench_stored_ids.py                     # 10M ids, ~1 minute
    .venv/bin/python bench/bench_stored_ids.py --parts 100 --rows 10000
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src")]

import auditlens.store.events as events_module  # noqa: E402
from auditlens.config import Settings  # noqa: E402
from auditlens.schema import EVENT_DTYPES, EVENT_ID, LOCATION, Watermark  # noqa: E402
from auditlens.store.events import BatchRecord  # noqa: E402
from auditlens.store.repo import Store  # noqa: E402

T = TypeVar("T")
NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def uuids(rng: np.random.Generator, n: int) -> pl.Series:
    return pl.Series(EVENT_ID, [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)])


def timed(call: Callable[[], T]) -> tuple[T, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = call()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def best(call: Callable[[], T], times: int = 3) -> tuple[T, float, float]:
    runs = [timed(call) for _ in range(times)]
    return min(runs, key=lambda r: r[1])


def line(label: str, value: str) -> None:
    print(f"{label:<58} {value:>16}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=500)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=1_000)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    tmp = Path(tempfile.mkdtemp(prefix="bench-ids-"))
    settings = Settings(store_url=f"sqlite:///{tmp / 'store.db'}", data_dir=tmp / "var")  # type: ignore[arg-type]
    stored: list[pl.Series] = []
    started = time.perf_counter()
    with Store.open(settings, migrate=True) as store:
        for n in range(args.parts):
            ids = uuids(rng, args.rows)
            stored.append(ids)
            columns = {**EVENT_DTYPES, LOCATION: pl.String()}
            events = pl.select(
                ids, *(pl.lit(None, t).alias(c) for c, t in columns.items() if c != EVENT_ID)
            ).with_columns(pl.lit(NOW).cast(EVENT_DTYPES["timestamp"]).alias("timestamp"))
            record = BatchRecord(
                source="s",
                label=f"part {n}",
                started_at=NOW,
                ingested=args.rows,
                events=events,
                quarantined=pl.DataFrame(schema={"_location": pl.String, "reason": pl.String}),
                findings=pl.DataFrame(),
                watermark_before=None,
                watermark_after=Watermark(str(n)),
            )
            store.events.commit_batch(record, now=NOW)
    line("lake: parts x random ids", f"{args.parts:,} x {args.rows:,}")
    line("lake: written (s)", f"{time.perf_counter() - started:.1f}")
    new = uuids(rng, args.batch)
    # a redelivered micro-batch: ids of one stored part again
    again = stored[args.parts // 2].head(args.repeats)
    repeated = pl.concat([new.head(args.batch - again.len()), again])

    with Store.open(settings) as store:  # the ranges only: the index never built
        events_module.INDEX_FROM = sys.maxsize  # type: ignore[misc]
        found, wall_r, cpu_r = best(lambda: store.events.stored_ids(new))
        assert found.len() == 0
        dup, wall_rd, cpu_rd = best(lambda: store.events.stored_ids(repeated))
        assert dup.len() == again.len()
    with Store.open(settings) as store:  # a new process: the index is built at the 1st check
        events_module.INDEX_FROM = 1_000_000  # type: ignore[misc]
        found, wall_b, cpu_b = timed(lambda: store.events.stored_ids(new))
        assert found.len() == 0
        found, wall_i, cpu_i = best(lambda: store.events.stored_ids(new))
        assert found.len() == 0
        dup, wall_id, cpu_id = best(lambda: store.events.stored_ids(repeated))
        assert sorted(dup.to_list()) == sorted(again.to_list())
    line(f"check of {args.batch:,} new ids: ranges, wall / CPU s", f"{wall_r:.3f} / {cpu_r:.3f}")
    line("  index: first check (builds it), wall / CPU s", f"{wall_b:.3f} / {cpu_b:.3f}")
    line("  index: later checks, wall / CPU s", f"{wall_i:.3f} / {cpu_i:.3f}")
    line("  ratio ranges / index (wall)", f"{wall_r / wall_i:.0f}x")
    line(
        f"check with {args.repeats:,} stored: ranges, wall / CPU s", f"{wall_rd:.3f} / {cpu_rd:.3f}"
    )
    line("  index, wall / CPU s", f"{wall_id:.3f} / {cpu_id:.3f}")
    line("  ratio ranges / index (wall)", f"{wall_rd / wall_id:.1f}x")


if __name__ == "__main__":
    main()
