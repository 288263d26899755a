"""A large Parquet file with event ids is read in slices, each its own committed batch:
memory set by the slice, a stopped run going on from the next slice, nothing read twice."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from auditlens import schema
from auditlens.config import FileSourceConfig, Settings
from auditlens.pipeline import ingest
from auditlens.sources.base import Batch
from auditlens.sources.files import FileSource
from auditlens.store.repo import Store
from tests.killing import kill_at

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
ROWS = 2_500


def export(path: Path, rows: int = ROWS, *, ids: bool = True, shift: int = 0) -> Path:
    """``rows`` events in row groups of 300 (``shift`` changes every user id)."""
    start = dt.datetime(2026, 9, 1, 9, 0)
    frame = pl.DataFrame(
        {
            "event_id": [f"EV{i}" for i in range(rows)],
            "timestamp": [start + dt.timedelta(seconds=i) for i in range(rows)],
            "user_id": [f"E{(i + shift) % 17}" for i in range(rows)],
            "action_type": ["view"] * rows,
            "resource_id": [f"/r/{i % 41}" for i in range(rows)],
        }
    )
    (frame if ids else frame.drop("event_id")).write_parquet(path, row_group_size=300)
    return path


def marks(batch: Batch) -> tuple[dict[str, str], dict[str, dict[str, object]]]:
    value = json.loads(batch.watermark.value)
    return value["files"], value.get("rows", {})


def test_a_large_file_comes_in_slices_with_their_own_rows_and_watermarks(tmp_path: Path) -> None:
    path = export(tmp_path / "big.parquet")
    batches = list(FileSource(path, parquet_batch_rows=1_000).read())
    assert [b.events.height for b in batches] == [1_000, 1_000, 500]
    assert [b.metadata["rows"] for b in batches] == [
        "0-1000 of 2500",
        "1000-2000 of 2500",
        "2000-2500 of 2500",
    ]
    locations = pl.concat([b.events.get_column(schema.LOCATION) for b in batches])
    assert locations.to_list() == [f"{path}#row={i}" for i in range(ROWS)]
    ids = pl.concat([b.events.get_column(schema.EVENT_ID) for b in batches])
    assert ids.to_list() == [f"EV{i}" for i in range(ROWS)]
    digest = batches[0].metadata["sha256"]
    # not read until the last slice; the next row kept in between
    assert marks(batches[0]) == ({}, {str(path): {"sha256": digest, "next": 1_000}})
    assert marks(batches[1]) == ({}, {str(path): {"sha256": digest, "next": 2_000}})
    assert marks(batches[2]) == ({digest: str(path)}, {})


def test_reading_goes_on_from_the_last_committed_slice(tmp_path: Path) -> None:
    path = export(tmp_path / "big.parquet")
    source = FileSource(path, parquet_batch_rows=1_000)
    first = next(iter(source.read()))  # stopped after the first slice was committed
    rest = list(source.read(first.watermark))
    assert [b.metadata["rows"] for b in rest] == ["1000-2000 of 2500", "2000-2500 of 2500"]
    assert rest[0].events[schema.EVENT_ID][0] == "EV1000"
    assert list(source.read(rest[-1].watermark)) == []


def test_a_file_rewritten_between_slices_is_read_again_from_the_top(tmp_path: Path) -> None:
    path = export(tmp_path / "big.parquet")
    source = FileSource(path, parquet_batch_rows=1_000)
    first = next(iter(source.read()))
    export(path, shift=1)  # another export under the same name
    again = list(source.read(first.watermark))
    assert [b.metadata["rows"] for b in again] == [
        "0-1000 of 2500",
        "1000-2000 of 2500",
        "2000-2500 of 2500",
    ]
    assert "changed since its first 1,000 rows were read" in again[0].metadata["notice"]
    assert "1,000행을 읽은 뒤 파일이 바뀌었습니다" in again[0].metadata["notice_ko"]
    assert "notice" not in again[1].metadata


def test_a_file_without_event_ids_or_within_the_slice_is_read_whole(tmp_path: Path) -> None:
    no_ids = export(tmp_path / "no_ids.parquet", ids=False)
    (batch,) = FileSource(no_ids, parquet_batch_rows=1_000).read()
    assert batch.events.height == ROWS  # derived ids count identical rows over the file
    assert "rows" not in batch.metadata
    small = export(tmp_path / "small.parquet", rows=900)
    (batch,) = FileSource(small, parquet_batch_rows=1_000).read()
    assert batch.events.height == 900 and "rows" not in batch.metadata


def test_ingest_stopped_between_slices_stores_every_event_once(
    settings: Settings, tmp_path: Path
) -> None:
    path = export(tmp_path / "big.parquet")
    source = FileSource(path, name="big", parquet_batch_rows=1_000)

    class Stop(Exception):
        pass

    def stop(_: object) -> None:
        raise Stop  # killed after the first slice's commit

    with Store.open(settings, migrate=True) as store:
        with pytest.raises(Stop):
            ingest(source, settings, store=store, clock=lambda: NOW, on_batch=stop)
        assert store.events.counts()["accepted"] == 1_000
        report = ingest(source, settings, store=store, clock=lambda: NOW)
        assert [b.accepted for b in report.batches] == [1_000, 500]
        assert store.events.counts()["accepted"] == ROWS
        assert store.events.counts()["quarantined"] == 0
        ids = store.events.scan().select(schema.EVENT_ID).collect()[schema.EVENT_ID]
        assert sorted(ids.to_list()) == sorted(f"EV{i}" for i in range(ROWS))
        assert ingest(source, settings, store=store, clock=lambda: NOW).batches == []


CHILD = textwrap.dedent(
    """
    import sys, time
    from auditlens.config import Settings
    from auditlens.pipeline import ingest
    from auditlens.sources.files import FileSource
    from auditlens.store import lake

    original = lake.EventLake.write_part
    parts = []
    def slow_write(self, events, *args, **kwargs):
        name = original(self, events, *args, **kwargs)
        parts.append(name)
        if len(parts) == 2:
            print("second part written", flush=True)
            time.sleep(30)  # killed here: the second slice on disk, not committed
        return name
    lake.EventLake.write_part = slow_write
    store_url, data_dir, path = sys.argv[1:4]
    source = FileSource(path, name="big", parquet_batch_rows=1_000)
    ingest(source, Settings(store_url=store_url, data_dir=data_dir))
    """
)


def test_killed_in_the_second_slice_loses_and_doubles_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    path = export(tmp_path / "big.parquet")
    Store.open(settings, migrate=True).close()
    url = settings.store_url.get_secret_value()
    kill_at(CHILD, [url, str(settings.data_dir), str(path)], "second part written")
    source = FileSource(path, name="big", parquet_batch_rows=1_000)
    with Store.open(settings) as store:
        assert store.events.counts()["accepted"] == 1_000  # the first slice only
        report = ingest(source, settings, store=store, clock=lambda: NOW)
        assert report.removed_orphans  # the second slice's part, never committed
        assert [b.accepted for b in report.batches] == [1_000, 500]
        assert store.events.counts()["accepted"] == ROWS
        assert store.events.counts()["quarantined"] == 0
        ids = store.events.scan().select(schema.EVENT_ID).collect()[schema.EVENT_ID]
        assert ids.n_unique() == ids.len() == ROWS


def test_the_slice_size_is_configured_per_source() -> None:
    assert FileSourceConfig(path="x").parquet_batch_rows == 2_000_000
    with pytest.raises(ValidationError, match="parquet_batch_rows"):
        FileSourceConfig(path="x", parquet_batch_rows=10)
    with pytest.raises(ValueError, match="at least 1"):
        FileSource("x", parquet_batch_rows=0)
