"""Time FileSource on a 1M-row CSV: clean, and with one unclosed quote in the middle.

Run: PYTHONPATH=src python bench/bench_read_csv.py [rows]   (best of 5 per file)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from auditlens.sources.files import FileSource


def write(path: Path, n: int, broken: bool) -> None:
    frame = pl.DataFrame(
        {
            "timestamp": [
                f"2026-09-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00" for i in range(n)
            ],
            "user_id": [f"E{i % 997}" for i in range(n)],
            "action_type": [("view", "edit", "download", "login")[i % 4] for i in range(n)],
            "resource_id": [f"/r/{i % 5003}" for i in range(n)],
            "host": [f"pc-{i % 101}" for i in range(n)],
        }
    )
    text = frame.write_csv()
    if broken:
        middle = text.index("\n", len(text) // 2) + 1
        text = text[:middle] + '2026-09-01T09:00:00,E1,view,"/unclosed,pc-1\n' + text[middle:]
    path.write_text(text)


def best_of(path: Path, runs: int = 5) -> tuple[float, float, int, int]:
    """Best wall-clock and best CPU seconds (all threads) over ``runs`` reads."""
    wall = cpu = float("inf")
    for _ in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        (batch,) = list(FileSource(path).read())
        wall = min(wall, time.perf_counter() - began)
        cpu = min(cpu, time.process_time() - began_cpu)
    rejected = batch.rejected.height if batch.rejected is not None else 0
    return wall, cpu, batch.events.height, rejected


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        for name, broken in (("clean", False), ("one unclosed quote", True)):
            path = Path(tmp) / f"{name.replace(' ', '_')}.csv"
            write(path, n, broken)
            wall, cpu, rows, rejected = best_of(path)
            print(
                f"{name:>20}: {rows:,} rows + {rejected} rejected in {wall:.2f} s "
                f"(CPU {cpu:.2f} s; {rows / wall / 1e6:.2f} M rows/s)"
            )


if __name__ == "__main__":
    main()
