"""Compaction of small lake parts (store/compaction.py): the events of every batch range
read exactly as before, the evidence chain holds, and no failure loses or doubles an event."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import insert, select

import auditlens.store.compaction as compaction
from auditlens.config import Settings
from auditlens.pipeline import ingest
from auditlens.sources.files import FileSource
from auditlens.store.db import lake_pending, lake_retired
from auditlens.store.repo import Store

NOW = dt.datetime(2026, 12, 6, 3, 0, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parents[2]


def _load(settings: Settings, tmp_path: Path, name: str, first: int, n: int, source: str) -> None:
    rows = [
        f"{source}-{i},u{i % 7},2026-09-01T{9 + i % 8:02d}:{i % 60:02d}:00+09:00,view,doc-{i}"
        for i in range(first, first + n)
    ]
    path = tmp_path / f"{name}.csv"
    path.write_text(
        "event_id,user_id,timestamp,action_type,resource_id\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    ingest(FileSource(path, name=source), settings, clock=lambda: NOW)


def _lake(settings: Settings, tmp_path: Path, sizes: list[tuple[str, int]]) -> None:
    """One batch per (source, events), in order."""
    Store.open(settings, migrate=True).close()
    first = 0
    for n, (source, size) in enumerate(sizes):
        _load(settings, tmp_path, f"b{n}", first, size, source)
        first += size


def _every_range(store: Store) -> dict[tuple[int | None, int | None], pl.DataFrame]:
    """The events of every (after, upto) batch range, in the order read."""
    last = store.events.last_batch_id()
    out = {}
    for after in [None, *range(1, last + 1)]:
        for upto in range((after or 0) + 1, last + 1):
            out[after, upto] = store.events.between(after, upto).collect()
    out[None, None] = store.events.scan().collect()
    return out


SMALL = {"small_rows": 50, "min_parts": 4, "target_rows": 200}


def test_every_batch_range_reads_the_same_events_after_compaction(
    settings: Settings, tmp_path: Path
) -> None:
    # stream: 6 small batches, a large one, 2 small, then 5 small of another source mixed in
    sizes = [("s", 10 + n) for n in range(6)] + [("s", 80), ("s", 5), ("s", 7)]
    sizes += [("t", 3), ("s", 9), ("t", 4), ("t", 5), ("t", 6)]
    _lake(settings, tmp_path, sizes)
    with Store.open(settings) as store:
        before = _every_range(store)
        ingested = store.events.ingested_parts(99)
        files_before = store.events.parts()
        report = store.events.compact(now=NOW, **SMALL)
        # the 6 small ones (closed by the large batch); the 2 after it (closed by "t");
        # single batches stay; the newest run ("t", 3 batches < min_parts) waits
        assert [(c.source, c.batches, c.rows) for c in report.compacted] == [
            ("s", 6, 75),
            ("s", 2, 12),
        ]
        after = _every_range(store)
        assert after.keys() == before.keys()
        for key, frame in before.items():
            assert_frame_equal(after[key], frame, check_exact=True)
        assert len(store.events.parts()) == len(files_before) - 8 + 2
        assert store.events.ingested_parts(99) == ingested  # the ingestion record is kept
        check = store.events.verify_lake()
        assert check.ok and check.parts == len(store.events.parts())
        # whole files up to batch 6 (the compacted part ends there); none inside it
        assert store.events.parts_upto(6) == [report.compacted[0].part]
        assert store.events.parts_upto(3) is None
        found = store.events.stored_ids(pl.Series(["s-0", "s-74", "t-nope", "s-150"]))
        assert sorted(found.to_list()) == ["s-0", "s-150", "s-74"]


def test_large_groups_are_cut_and_a_second_compaction_finds_nothing_to_do(
    settings: Settings, tmp_path: Path
) -> None:
    _lake(settings, tmp_path, [("s", 40)] * 12)
    with Store.open(settings) as store:
        before = _every_range(store)
        first = store.events.compact(now=NOW, **SMALL)
        # groups of at most 200 events; the newest 2 batches (still growing) wait
        assert [(c.batches, c.rows) for c in first.compacted] == [(5, 200), (5, 200)]
        again = store.events.compact(now=NOW, **SMALL)
        assert again.compacted == [] and again.refused == []
        for key, frame in before.items():
            assert_frame_equal(store.events.between(*key).collect(), frame, check_exact=True)
    for n in range(2):  # two more: the newest run has 4 batches
        _load(settings, tmp_path, f"more{n}", 1000 + 40 * n, 40, "s")
    with Store.open(settings) as store:
        assert [c.batches for c in store.events.compact(now=NOW, **SMALL).compacted] == [4]
        assert len(store.events.parts()) == 3
        assert store.events.scan().select("event_id").collect().height == 560


def test_a_changed_or_missing_part_is_refused_and_still_reported(
    settings: Settings, tmp_path: Path
) -> None:
    _lake(settings, tmp_path, [("s", 10)] * 5 + [("s", 90)] + [("s", 10)] * 5)
    with Store.open(settings) as store:
        parts = store.events.parts()
        changed, missing = store.events.lake.root / parts[1], store.events.lake.root / parts[7]
        changed.write_bytes(changed.read_bytes()[:-1] + b"X")
        missing.unlink()
        report = store.events.compact(now=NOW, **{**SMALL, "min_parts": 2})
        assert report.refused == [parts[1], parts[7]]
        assert report.compacted == []  # each group holding one of them is left as it is
        check = store.events.verify_lake()
        assert check.changed == [parts[1]] and check.missing == [parts[7]]


def test_a_compacted_part_changed_later_is_named_by_verify_lake(
    settings: Settings, tmp_path: Path
) -> None:
    _lake(settings, tmp_path, [("s", 10)] * 4)
    with Store.open(settings) as store:
        part = store.events.compact(now=NOW, **SMALL).compacted[0].part
        assert store.events.verify_lake().ok
        path = store.events.lake.root / part
        path.write_bytes(path.read_bytes()[:-1] + b"X")
        assert store.events.verify_lake().changed == [part]


def test_retired_parts_are_deleted_after_the_grace_period_only(
    settings: Settings, tmp_path: Path
) -> None:
    _lake(settings, tmp_path, [("s", 10)] * 4)
    with Store.open(settings) as store:
        old = store.events.parts()
        report = store.events.compact(now=NOW, **SMALL)
        assert report.deleted == []
        assert all((store.events.lake.root / p).exists() for p in old)  # a reader may be on it
        later = store.events.compact(now=NOW + dt.timedelta(minutes=59), **SMALL)
        assert later.deleted == []
        late = store.events.compact(now=NOW + dt.timedelta(hours=1, seconds=1), **SMALL)
        assert sorted(late.deleted) == sorted(old)
        assert not any((store.events.lake.root / p).exists() for p in old)
        with store.engine.connect() as conn:
            assert conn.execute(select(lake_retired)).all() == []
        assert len(store.events.scan().collect()) == 40


@pytest.mark.parametrize("stage", ["write", "read back", "commit"])
def test_a_compaction_that_fails_at_any_stage_leaves_everything_as_it_was(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    _lake(settings, tmp_path, [("s", 10)] * 4)
    with Store.open(settings) as store:
        before = _every_range(store)
        files = sorted(p.name for p in store.events.lake.root.iterdir())
        lake = store.events.lake
        if stage == "write":
            monkeypatch.setattr(
                lake, "write_part", lambda *a: (_ for _ in ()).throw(OSError("disk"))
            )
        elif stage == "read back":
            real = lake.read_hashed

            def short(name: str) -> tuple[str, bytes] | None:
                found = real(name)
                if found is None or name in files:
                    return found
                return found[0], found[1][: len(found[1]) // 2]  # the new part reads back cut

            monkeypatch.setattr(lake, "read_hashed", short)
        else:
            monkeypatch.setattr(compaction, "lake_retired", None)  # the insert fails
        with pytest.raises(Exception):  # noqa: B017 - any failure
            store.events.compact(now=NOW, **SMALL)
        monkeypatch.undo()
        assert sorted(p.name for p in store.events.lake.root.iterdir()) == files
        with store.engine.connect() as conn:
            assert conn.execute(select(lake_pending)).all() == []
        for key, frame in before.items():
            assert_frame_equal(store.events.between(*key).collect(), frame, check_exact=True)
        assert [c.batches for c in store.events.compact(now=NOW, **SMALL).compacted] == [4]


def test_an_ingestion_leaves_a_running_compactions_part_alone(
    settings: Settings, tmp_path: Path
) -> None:
    _lake(settings, tmp_path, [("s", 10)] * 4)
    with Store.open(settings) as store:
        name = store.events.lake.new_part_name()
        with store.engine.begin() as conn:
            conn.execute(
                insert(lake_pending).values(part=name, source=compaction.COMPACTING, created_at=NOW)
            )
        (store.events.lake.root / name).write_bytes(b"being written")
        assert store.events.remove_orphans() == []
        assert (store.events.lake.root / name).exists()
        # a later compaction (it holds the lock: nobody else is writing) removes it
        store.events.compact(now=NOW, **SMALL)
        assert not (store.events.lake.root / name).exists()


KILLED = """
import datetime as dt, sys, time
from auditlens.config import Settings
from auditlens.store.repo import Store
settings = Settings(store_url=sys.argv[1], data_dir=sys.argv[2])
with Store.open(settings) as store:
    write = store.events.lake.write_part
    def slow(*args):  # a kill lands between writing a part and its commit more often
        name = write(*args)
        time.sleep(0.04)
        return name
    store.events.lake.write_part = slow
    print("ready", flush=True)
    store.events.compact(now=dt.datetime(2026, 12, 6, 3, tzinfo=dt.UTC),
                         small_rows=50, min_parts=2, target_rows=20)
print("done", flush=True)
"""


def test_killed_at_random_points_a_compaction_loses_and_doubles_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    _lake(settings, tmp_path, [("s", 10)] * 24)
    with Store.open(settings) as store:
        before = _every_range(store)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    url = settings.store_url.get_secret_value()
    for delay in (0.05, 0.15, 0.3, 0.5, 0.8):
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED, url, str(settings.data_dir)],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert child.stdout is not None and child.stdout.readline().startswith(b"ready")
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        with Store.open(settings) as store:
            for key, frame in before.items():
                assert_frame_equal(store.events.between(*key).collect(), frame, check_exact=True)
            assert store.events.verify_lake().ok
    with Store.open(settings) as store:  # a last one finishes; nothing pending is left
        store.events.compact(now=NOW, small_rows=50, min_parts=2, target_rows=20)
        assert len(store.events.parts()) == 12
        with store.engine.connect() as conn:
            assert conn.execute(select(lake_pending)).all() == []
        for key, frame in before.items():
            assert_frame_equal(store.events.between(*key).collect(), frame, check_exact=True)


def test_a_trainings_data_fingerprint_names_where_each_batch_is_now(
    settings: Settings, tmp_path: Path
) -> None:
    from auditlens.pipeline.registration import data_fingerprint

    _lake(settings, tmp_path, [("s", 10)] * 4)
    labels = tmp_path / "labels.csv"
    labels.write_text("user_id,label\nu1,1\n", encoding="utf-8")
    with Store.open(settings) as store:
        ingested = store.events.ingested_parts(4)
        part = store.events.compact(now=NOW, **SMALL).compacted[0].part
        found = data_fingerprint(store, settings, 3, labels)["batches"]
        digest = store.events.lake.sha256(part)
    assert [b["lake_part"] for b in found] == [part] * 3
    assert [b["sha256"] for b in found] == [digest] * 3
    assert [b["rows"] for b in found] == [[0, 10], [10, 10], [20, 10]]
    assert [b["ingested_part"] for b in found] == ingested[:3]
