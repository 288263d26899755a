"""Benchmark: generate ~10 million synthetic events; print wall time, events/s, peak RSS.

Run: ``.venv/bin/python bench/bench_generate.py [--users N] [--days D] [--seed S]``.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

from auditlens.sources.synthetic import GeneratorSpec, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=5250, help="people in the organisation")
    parser.add_argument("--days", type=int, default=61, help="calendar days from 2026-09-01")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    spec = GeneratorSpec(users=args.users, days=args.days, seed=args.seed)

    started = time.perf_counter()
    data = generate(spec)
    wall = time.perf_counter() - started

    rows = data.events.height
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"spec            users={spec.users} days={spec.days} seed={spec.seed}")
    print(f"events          {rows:,}")
    scenarios = ", ".join(sorted(set(data.labels["scenario"])))
    print(f"insiders        {data.labels.height} ({scenarios})")
    print(f"wall time       {wall:.2f} s")
    print(f"events/s        {rows / wall:,.0f}")
    print(f"peak RSS        {peak_mib:,.0f} MiB")
    print(f"bytes/event     {data.events.estimated_size() / rows:.0f} (in-memory frame)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
