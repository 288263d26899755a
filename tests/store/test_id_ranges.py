"""Duplicate checks open only the lake parts whose event-id range meets the ids checked
(store/id_ranges.py), and never miss a stored id for it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

import polars as pl
import pytest

from auditlens.config import Settings
from auditlens.pipeline import ingest
from auditlens.sources.files import FileSource
from auditlens.store.id_ranges import EMPTY, UNKNOWN, IdRanges
from auditlens.store.repo import Store

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)


def _csv(path: Path, ids: Iterable[str]) -> Path:
    rows = [f"{i},kim,2026-09-01T09:{n % 60:02d}:00+09:00,view,doc-{n}" for n, i in enumerate(ids)]
    path.write_text(
        "event_id,user_id,timestamp,action_type,resource_id\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    return path


def _load(settings: Settings, tmp_path: Path, name: str, ids: Iterable[str]) -> None:
    ingest(FileSource(_csv(tmp_path / f"{name}.csv", ids), name=name), settings, clock=lambda: NOW)


def _spy(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The parts each lake scan was given."""
    scans: list[list[str]] = []
    scan = store.events.lake.scan

    def spy(parts: Iterable[str]) -> pl.LazyFrame:
        scans.append(list(parts))
        return scan(scans[-1])

    monkeypatch.setattr(store.events.lake, "scan", spy)
    return scans


def test_a_check_reads_only_the_parts_whose_ids_it_could_meet(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store.open(settings, migrate=True).close()
    _load(settings, tmp_path, "a", [f"A{i:04d}" for i in range(50)])
    _load(settings, tmp_path, "b", [f"B{i:04d}" for i in range(50)])
    _load(settings, tmp_path, "c", [f"C{i:04d}" for i in range(0, 100, 2)])
    with Store.open(settings) as store:  # a new process: ranges from the parts' footers
        a, b, c = store.events.parts()
        scans = _spy(store, monkeypatch)
        found = store.events.stored_ids(pl.Series(["B0007", "B0049", "B0050", "B9"]))
        assert sorted(found.to_list()) == ["B0007", "B0049"]
        assert scans == [[b]]
        # ids between two parts' ranges, or beyond all of them: nothing is read
        assert store.events.stored_ids(pl.Series(["A9999", "Azz"])).len() == 0
        assert store.events.stored_ids(pl.Series(["D0001"])).len() == 0
        assert scans == [[b]]
        # an id of a part inside a wide range: both parts that could hold it are read
        found = store.events.stored_ids(pl.Series(["A0003", "C0010", "C0011"]))
        assert sorted(found.to_list()) == ["A0003", "C0010"]
        assert scans[-1] == [a, b, c]
        # the footer's range is the range of the ids written
        written = store.events.scan().select("event_id").collect().get_column("event_id")
        assert IdRanges(store.events.lake).meeting([a, b, c], "B0000", "B0049") == [b]
        assert store.events.id_ranges._ranges[c] == ("C0000", "C0098")
        assert written.len() == 150


def test_a_part_written_in_this_process_is_checked_from_the_ids_it_was_written_with(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store.open(settings, migrate=True) as store:
        for name, first in (("a", 100), ("b", 500)):
            ids = [f"E{i}" for i in range(first, first + 30)]
            ingest(FileSource(_csv(tmp_path / f"{name}.csv", ids), name=name), settings,
                   store=store, clock=lambda: NOW)  # fmt: skip
        _, second_part = store.events.parts()
        assert store.events.id_ranges._ranges[second_part] == ("E500", "E529")
        scans = _spy(store, monkeypatch)
        assert store.events.stored_ids(pl.Series(["E510", "E600"])).to_list() == ["E510"]
        assert scans == [[second_part]]
        # a repeat of stored events is still caught as a repeat, not stored twice
        again = _csv(tmp_path / "again.csv", [f"E{i}" for i in range(100, 130)])
        report = ingest(FileSource(again, name="a2"), settings, store=store, clock=lambda: NOW)
        assert report.accepted == 0
        assert store.events.ids().len() == 60


def test_a_part_without_statistics_is_always_read_and_one_without_ids_never(
    tmp_path: Path, sqlite_settings: Settings
) -> None:
    with Store.open(sqlite_settings, migrate=True) as store:
        lake = store.events.lake
        lake.root.mkdir(parents=True, exist_ok=True)
        bare = pl.DataFrame({"event_id": ["X1", "X2"], "user_id": ["kim", "lee"]})
        bare.write_parquet(lake.root / "bare.parquet", statistics=False)
        pl.DataFrame({"event_id": [None, None]}, schema={"event_id": pl.String}).write_parquet(
            lake.root / "nulls.parquet"
        )
        pl.DataFrame({"user_id": ["kim"]}).write_parquet(lake.root / "no-id.parquet")
        ranges = IdRanges(lake)
        parts = ["bare.parquet", "nulls.parquet", "no-id.parquet", "gone.parquet"]
        # no statistics, no id column, or no file: it cannot be ruled out
        assert ranges.meeting(parts, "A", "B") == ["bare.parquet", "no-id.parquet", "gone.parquet"]
        assert ranges._ranges["bare.parquet"] == UNKNOWN
        assert ranges._ranges["nulls.parquet"] == EMPTY
        ranges.add("new.parquet", pl.Series([None, "M5", "M1"]))
        ranges.add("none.parquet", pl.Series([None], dtype=pl.String))
        assert ranges.meeting(["new.parquet", "none.parquet"], "M1", "M1") == ["new.parquet"]
        assert ranges.meeting(["new.parquet"], "M6", "M9") == []
