"""Benchmark: the incremental sequence features — one new day from a carried history
against one transform over every day (issue 17).

Run: ``.venv/bin/python bench/bench_sequence_history.py [--users N] [--days D]``.
On generated events (default 5,000 users x 61 days, ~10M events, ~165k a day): fit on
all days, the history of the first D-1 days (one transform_after from the empty
history), then ``transform_after`` of the last day from that history (median of
``--repeat`` runs), with and without a watch list; the full transform for comparison;
the day's columns are checked equal, bit for bit, to the full transform's.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import time

import polars as pl
from polars.testing import assert_frame_equal

from auditlens.features.base import FeatureContext, prepare
from auditlens.features.catalog import ResourceCatalog
from auditlens.features.peers import peer_groups
from auditlens.features.sequences import SequenceFeatures, SequenceHistory
from auditlens.features.watchlist import parse_pattern
from auditlens.sources.synthetic import GeneratorSpec, generate

WATCH = (
    parse_pattern("usb-then-upload", "usb_connect>upload"),
    parse_pattern("tamper", "view>edit>delete within 10m on sensitivity>=high"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--days", type=int, default=61)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    data = generate(GeneratorSpec(users=args.users, days=args.days, seed=7))
    catalog = ResourceCatalog.from_frame(data.catalog)
    prepared = prepare(data.events, FeatureContext(catalog=catalog))
    counts = prepared.group_by("window").len().sort("window")
    busy = counts.filter(pl.col("len") >= 0.8 * pl.col("len").max())
    last = busy.get_column("window").max()  # the last full working day
    head = prepared.filter(pl.col("window") < last)
    day = prepared.filter(pl.col("window") == last)
    users = day["user_id"].n_unique()
    print(f"events {prepared.height:,}; last working day {day.height:,} events, "
          f"{users:,} users; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    for watch in ((), WATCH):
        ctx = FeatureContext(catalog=catalog, watchlist=watch)
        groups = peer_groups(prepared, ctx)
        features = SequenceFeatures().fit(prepared, ctx)
        started = time.perf_counter()
        full = features.transform(prepared, ctx)
        whole = time.perf_counter() - started
        _, history = features.transform_after(head, ctx, SequenceHistory.empty(), groups)
        runs = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            frame, _ = features.transform_after(day, ctx, history, groups)
            runs.append(time.perf_counter() - started)
        assert_frame_equal(frame, full.filter(pl.col("window") == last), check_exact=True)
        size = len(pickle.dumps(history)) / 2**20
        print(f"watch list of {len(watch)}: transform_after one day "
              f"{statistics.median(runs):.3f} s (median of {args.repeat}, min {min(runs):.3f}); "
              f"full transform {whole:.2f} s; history {history.step_user.size:,} steps, "
              f"{size:.1f} MiB pickled; columns equal bit for bit")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
