"""The stream's running day (features/today.py) against computing today's matrix again
with ``advance`` over all of today's events, as the day grows.

A synthetic organisation's busiest day is repeated until today holds ``--events`` events
(a compressed day: every user acts in every piece), and added ``--piece`` events at a
time. At each checkpoint one more piece is added and today's matrix computed three ways:

* ``advance``: over all of today's events (what each scoring cost before the running day);
* running day, the piece holding events of every user (the compressed day of the stream
  bench: everyone acts in every micro-batch);
* running day, the piece holding the events of ``--active`` of the users only (a real
  day: many people, a few events each per micro-batch).

The three matrices must be equal (the bench stops otherwise). Figures are wall and CPU
seconds of one call each, measured in one run.

    .venv/bin/python bench/bench_today.py                  # ~1 minute
    .venv/bin/python bench/bench_today.py --users 3000 --events 1200000
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import polars as pl
from polars.testing import assert_frame_equal

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src")]

from auditlens.features.base import FeatureContext  # noqa: E402
from auditlens.features.history import advance  # noqa: E402
from auditlens.features.matrix import FeatureMatrix, MatrixBuilder  # noqa: E402
from auditlens.features.today import RunningDay  # noqa: E402
from auditlens.pipeline.stream_state import local_windows  # noqa: E402
from auditlens.schema import EVENT_COLUMNS, TIMESTAMP, USER_ID  # noqa: E402
from auditlens.sources.synthetic import GeneratorSpec, generate  # noqa: E402

T = TypeVar("T")
TZ = "Asia/Seoul"


def timed(call: Callable[[], T]) -> tuple[T, float, float]:
    """``call()``, its wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = call()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--days", type=int, default=12)
    parser.add_argument("--events", type=int, default=600_000)
    parser.add_argument("--piece", type=int, default=3_000)
    parser.add_argument("--checkpoints", type=int, default=4)
    parser.add_argument("--active", type=float, default=0.1, help="share of users in a piece")
    args = parser.parse_args()

    ctx = FeatureContext()
    events = generate(GeneratorSpec(users=args.users, days=args.days, seed=3)).events
    events = events.select(EVENT_COLUMNS)
    window = local_windows(pl.col(TIMESTAMP), TZ)
    days = events.select(window.unique().sort()).to_series()
    before = events.filter(window < days[-1])
    busiest = events.group_by(window.alias("d")).len().sort("len").get_column("d")[-1]
    weeks = (days[-1] - busiest).days // 7 + 1  # the same weekday, after the last day
    one = events.filter(window == busiest)
    today = (
        pl.concat([one] * (args.events // one.height + 1))
        .head(args.events)
        .with_columns(
            (pl.col(TIMESTAMP) + dt.timedelta(days=7 * weeks)).alias(TIMESTAMP),
            (pl.col("event_id") + "-" + pl.int_range(pl.len()).cast(pl.String)).alias("event_id"),
        )
        .sort(TIMESTAMP)
    )
    day = busiest + dt.timedelta(days=7 * weeks)
    builder = MatrixBuilder().fit(before, ctx)
    _, history = advance(builder, before, ctx)
    users = today.get_column(USER_ID).unique().sort()
    few = users.sample(fraction=args.active, seed=1)
    print(
        f"history: {before.height:,} events; today: {today.height:,} events, {users.len():,} users"
    )
    print(f"pieces of {args.piece:,} events; the 'few' piece: {few.len()} users' next events")
    running = RunningDay(builder, ctx, history, day)
    every = args.events // args.checkpoints
    header = ("events today", "advance", "running, everyone", "running, few", "vs advance")
    print(
        f"{header[0]:>12} | {header[1]:>15} | {header[2]:>19} | {header[3]:>15} | {header[4]:>12}"
    )
    added, rest = 0, today
    for checkpoint in range(every, args.events + 1, every):
        while added < checkpoint - args.piece:
            running.add(rest.head(args.piece))
            rest, added = rest.slice(args.piece), added + args.piece
        running.matrix()  # every user's rows up to date: what a scoring leaves
        # a piece of the few users' next events only
        ahead = rest.with_row_index("_at").filter(pl.col(USER_ID).is_in(few.implode()))
        small = ahead.head(max(1, int(args.piece * args.active)))
        rest = rest.with_row_index("_at").join(small.select("_at"), on="_at", how="anti")
        rest = rest.drop("_at")
        running.add(small.drop("_at"))
        few_m, few_w, few_c = timed(running.matrix)
        _same(few_m, advance(builder, running.events, ctx, history, keep=False)[0])
        # a piece of everyone's next events
        running.add(rest.head(args.piece))
        rest, added = rest.slice(args.piece), added + small.height + args.piece
        all_m, all_w, all_c = timed(running.matrix)
        so_far = running.events
        want, adv_w, adv_c = timed(partial(advance, builder, so_far, ctx, history, keep=False))
        want = want[0]
        _same(all_m, want)
        print(
            f"{so_far.height:>12,} | {adv_w:6.3f} / {adv_c:6.3f} | {all_w:8.3f} / {all_c:8.3f} "
            f"| {few_w:6.3f} / {few_c:6.3f} | {adv_w / all_w:4.1f}x / {adv_w / few_w:4.1f}x"
        )
    print("(wall / CPU seconds of one matrix; ratios: advance's wall over each running one)")


def _same(got: FeatureMatrix, want: FeatureMatrix) -> None:
    assert_frame_equal(got.frame, want.frame, check_exact=True)
    assert_frame_equal(got.info.select(want.info.columns), want.info, check_exact=True)


if __name__ == "__main__":
    main()
