"""Duplicate checks of random ids (UUIDs) read only the parts that may hold one of them
(store/id_index.py): a hash index of every stored id, never the answer on its own."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import auditlens.store.events as events_module
import auditlens.store.id_index as index_module
from auditlens.config import Settings
from auditlens.pipeline import ingest
from auditlens.sources.files import FileSource
from auditlens.store.id_index import IdIndex
from auditlens.store.repo import Store
from tests.store.test_id_ranges import _spy

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)


def _uuids(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)]


def _load(settings: Settings, tmp_path: Path, name: str, ids: Iterable[str]) -> None:
    rows = [f"{i},kim,2026-09-01T09:{n % 60:02d}:00+09:00,view,doc-{n}" for n, i in enumerate(ids)]
    path = tmp_path / f"{name}.csv"
    path.write_text(
        "event_id,user_id,timestamp,action_type,resource_id\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    ingest(FileSource(path, name=name), settings, clock=lambda: NOW)


@pytest.fixture
def low_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    """The index is built from 100 ids (not a million): small lakes take the same path."""
    monkeypatch.setattr(events_module, "INDEX_FROM", 100)


@pytest.mark.usefixtures("low_bar")
def test_random_ids_read_only_the_parts_that_hold_one_of_them(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store.open(settings, migrate=True).close()
    batches = {name: _uuids(60, seed) for seed, name in enumerate("abcd")}
    for name, ids in batches.items():
        _load(settings, tmp_path, name, ids)
    with Store.open(settings) as store:  # a new process: the index is built from the lake
        a, b, c, d = store.events.parts()
        scans = _spy(store, monkeypatch)
        # without the index, every part's range meets random ids: all four would be read
        assert store.events.id_ranges.meeting([a, b, c, d], "0", "g") == [a, b, c, d]
        new = _uuids(200, 99)
        assert store.events.stored_ids(pl.Series(new)).len() == 0
        assert scans == []  # new ids: nothing read
        asked = [batches["b"][3], batches["d"][59], *new[:5], batches["b"][7]]
        found = store.events.stored_ids(pl.Series(asked))
        assert sorted(found.to_list()) == sorted(
            [batches["b"][3], batches["b"][7], batches["d"][59]]
        )
        assert scans == [[b, d]]
        assert len(store.events.id_index or []) == 240


@pytest.mark.usefixtures("low_bar")
def test_parts_committed_after_the_index_are_in_it_whoever_wrote_them(
    settings: Settings, tmp_path: Path
) -> None:
    Store.open(settings, migrate=True).close()
    _load(settings, tmp_path, "a", _uuids(150, 1))
    with Store.open(settings) as store:
        assert store.events.stored_ids(pl.Series(_uuids(3, 2))).len() == 0  # index built
        index = store.events.id_index
        assert index is not None and len(index) == 150
        later = _uuids(80, 3)
        _load(settings, tmp_path, "b", later)  # another Store (another process's commit)
        found = store.events.stored_ids(pl.Series([later[0], later[79], "nope"]))
        assert sorted(found.to_list()) == sorted([later[0], later[79]])
        assert len(index) == 230


@pytest.mark.usefixtures("low_bar")
def test_a_batch_repeating_stored_uuids_is_quarantined_as_duplicates(
    settings: Settings, tmp_path: Path
) -> None:
    Store.open(settings, migrate=True).close()
    first = _uuids(150, 5)
    _load(settings, tmp_path, "a", first)
    _load(settings, tmp_path, "b", _uuids(150, 6))  # this ingestion builds the index
    again = tmp_path / "again"
    again.mkdir()
    _load(settings, again, "a", first[:40] + _uuids(10, 7))  # 40 redelivered, 10 new
    with Store.open(settings) as store:
        counts = store.events.counts()
        ids = store.events.ids()
    assert counts["accepted"] == 310
    assert ids.len() == ids.n_unique() == 310


def test_equal_hashes_are_candidates_confirmed_by_reading(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a hash with 4 values: almost every id shares its hash with stored ones
    monkeypatch.setattr(
        index_module, "id_hashes", lambda ids: (ids.cast(pl.String).str.len_bytes() % 4).to_numpy()
    )
    monkeypatch.setattr(events_module, "INDEX_FROM", 1)
    Store.open(settings, migrate=True).close()
    stored = [f"id-{'x' * n}" for n in range(12)]
    _load(settings, tmp_path, "a", stored[:6])
    _load(settings, tmp_path, "b", stored[6:])
    with Store.open(settings) as store:
        asked = ["id-", "id-xxxxxxxxxxx", "id-y", "id-yyyy", "zz"]
        assert sorted(store.events.stored_ids(pl.Series(asked)).to_list()) == sorted(
            ["id-", "id-xxxxxxxxxxx"]
        )


def test_an_id_in_two_parts_names_both_and_runs_stay_few(tmp_path: Path) -> None:
    from auditlens.store.lake import EventLake

    index = IdIndex(EventLake(tmp_path))
    every: dict[str, set[str]] = {}
    total = 0
    rng = np.random.default_rng(0)
    for n in range(300):  # parts of growing and shrinking size
        ids = [f"E{int(i)}" for i in rng.integers(0, 5000, size=int(rng.integers(1, 200)))]
        index.add(f"part-{n}", pl.Series(ids))
        total += len(ids)
        for i in ids:
            every.setdefault(i, set()).add(f"part-{n}")
    assert len(index) == total
    assert index.runs <= 2 * int(np.log2(len(index))) + 1
    asked = pl.Series(["E17", "E4999", "E-none", *rng.choice(list(every), 50).tolist()])
    parts, maybe = index.candidates(asked)
    wanted = set(asked.to_list()) & set(every)
    assert set(maybe.to_list()) >= wanted
    assert set(parts) == set().union(*(every[i] for i in wanted))
    index.add("part-0", pl.Series(["E-none"]))  # a part is indexed once
    assert "E-none" not in index.candidates(pl.Series(["E-none"]))[1].to_list()


def test_a_part_no_longer_committed_leaves_the_index(tmp_path: Path) -> None:
    from auditlens.store.lake import EventLake

    lake = EventLake(tmp_path)
    names = []
    for ids in (["A1", "A2"], ["B1"], ["C1", None]):
        frame = pl.DataFrame({"event_id": ids}, schema={"event_id": pl.String})
        names.append(lake.write_part(frame))
    index = IdIndex(lake)
    index.sync(names)
    assert len(index) == 4 and sorted(index.candidates(pl.Series(["B1", "C1"]))[0]) == sorted(
        names[1:]
    )
    index.sync([names[0], names[2]])  # the part of B1 is gone (rewritten elsewhere)
    assert len(index) == 3
    assert index.candidates(pl.Series(["B1"]))[0] == []
    moved = lake.write_part(pl.DataFrame({"event_id": ["A1", "A2", "B1"]}))
    index.sync([names[2], moved])  # another process compacted A1, A2 and B1 into one part
    assert len(index) == 4
    found = index.candidates(pl.Series(["A2", "B1", "C1", "Z"]))
    assert sorted(found[0]) == sorted([moved, names[2]]) and found[1].to_list() == [
        "A2",
        "B1",
        "C1",
    ]
    index.rename([names[2]], "part-c")  # this process compacted it: nothing read
    assert index.candidates(pl.Series(["C1"]))[0] == ["part-c"] and len(index) == 4
