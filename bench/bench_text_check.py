"""The cheap "might cleaning change this text?" test of validate.py, over every code point.

Checks that it never says "no" for a value that stripping (and, for action types,
lower-casing) changes, for each of the 1.1 million code points alone, first and last;
prints how many values it flagged needlessly (a false "yes" only costs time). Not a test:
tests/test_validate.py checks a small sample of the same property.

    .venv/bin/python bench/bench_text_check.py
"""

from __future__ import annotations

import time

import polars as pl

from auditlens.validate import _cleaned, _maybe_unclean


def main() -> None:
    """Run the exhaustive check and print its figures."""
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    values = [*chars, *(c + "a" for c in chars), *("a" + c for c in chars), "", None]
    for name in ("host", "action_type"):
        frame = pl.DataFrame({name: values}, schema={name: pl.String})
        started = time.perf_counter()
        out = frame.select(
            _maybe_unclean(name).fill_null(False).alias("maybe"),
            _cleaned(name).ne_missing(pl.col(name)).alias("changes"),
        )
        seconds = time.perf_counter() - started
        missed = out.filter(pl.col("changes") & ~pl.col("maybe")).height
        changed = int(out.get_column("changes").sum())
        needless = out.filter(pl.col("maybe") & ~pl.col("changes")).height
        print(
            f"{name}: {frame.height:,} values in {seconds:.2f} s; {changed:,} change, "
            f"{missed} missed, {needless:,} flagged needlessly "
            f"({needless / frame.height:.1%} of all values)"
        )
        if missed:
            raise SystemExit(f"{name}: the cheap test missed {missed} changed values")


if __name__ == "__main__":
    main()
