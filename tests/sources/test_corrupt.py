"""The damaged export: what is broken is counted, and "the future" comes from the clock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from auditlens.sources.corrupt import write_corrupted_csv
from auditlens.sources.synthetic import GeneratorSpec, generate


def test_future_timestamps_come_from_the_injected_clock(tmp_path: Path) -> None:
    events = generate(GeneratorSpec(users=20, days=7, seed=2)).events.head(200)
    now = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    damage = write_corrupted_csv(events, tmp_path / "c.csv", each=4, seed=1, clock=lambda: now)
    text = pl.read_csv(tmp_path / "c.csv", infer_schema=False, truncate_ragged_lines=True)
    future = (now + dt.timedelta(days=400)).isoformat()
    assert text.filter(pl.col("timestamp") == future).height == damage.future_timestamps == 4
    assert damage.rows == 200
    assert damage.damaged == 4 * 4 + 1
