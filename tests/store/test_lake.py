"""A lake belongs to exactly one store: binding, refusal, pending parts, part hashes."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select

from auditlens.config import Settings
from auditlens.pipeline import ingest
from auditlens.sources.files import FileSource
from auditlens.store.binding import LakeMismatch
from auditlens.store.db import lake_pending
from auditlens.store.repo import Store
from tests.conftest import _fresh_pg_database

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)


def _clock() -> dt.datetime:
    return NOW


def _csv(path: Path, first: int, n: int) -> Path:
    rows = [
        f"E{i},kim,2026-09-01T09:{i % 60:02d}:00+09:00,view,doc-{i}"
        for i in range(first, first + n)
    ]
    path.write_text(
        "event_id,user_id,timestamp,action_type,resource_id\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def other_url(settings: Settings, tmp_path: Path) -> Iterator[str]:
    """A second, empty store of the same kind (SQLite file or PostgreSQL database)."""
    if settings.store_url.get_secret_value().startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.db'}"
    else:
        yield from _fresh_pg_database()


def _ids(store: Store) -> list[str]:
    return sorted(store.events.ids().to_list())


def test_another_store_pointed_at_this_lake_is_refused_and_deletes_nothing(
    settings: Settings, other_url: str, tmp_path: Path
) -> None:
    """Issue 9.1: `AUDITLENS_STORE_URL=<other> auditlens ingest` in the same directory."""
    ours = Store.open(settings, migrate=True)
    ingest(FileSource(_csv(tmp_path / "a.csv", 0, 20)), settings, store=ours, clock=_clock)
    parts = ours.lake.part_files()
    assert len(parts) == 1

    other_settings = Settings(store_url=other_url, data_dir=settings.data_dir)  # type: ignore[arg-type]
    other = Store.open(other_settings, migrate=True)
    with pytest.raises(LakeMismatch) as refused:
        ingest(FileSource(_csv(tmp_path / "b.csv", 100, 5)), other_settings, store=other)
    message = str(refused.value)
    assert "belongs to another store" in message and "data_dir" in message
    with pytest.raises(LakeMismatch):  # reading is refused too (not a FileNotFoundError)
        other.events.ids()
    other.close()

    assert ours.lake.part_files() == parts  # nothing deleted
    assert _ids(ours) == sorted(f"E{i}" for i in range(20))
    ours.close()


@pytest.mark.postgres
def test_switching_from_the_default_sqlite_store_to_postgresql_is_refused(
    sqlite_settings: Settings, pg_url: str, tmp_path: Path
) -> None:
    ours = Store.open(sqlite_settings, migrate=True)
    ingest(FileSource(_csv(tmp_path / "a.csv", 0, 12)), sqlite_settings, store=ours)
    moved = Settings(store_url=pg_url, data_dir=sqlite_settings.data_dir)  # type: ignore[arg-type]
    other = Store.open(moved, migrate=True)
    with pytest.raises(LakeMismatch, match=r"belongs to another store \(sqlite:///"):
        ingest(FileSource(_csv(tmp_path / "b.csv", 100, 5)), moved, store=other)
    other.close()
    assert len(_ids(ours)) == 12 and ours.events.verify_lake().ok
    ours.close()


def test_an_unbound_lake_with_parts_another_store_wrote_is_refused(
    settings: Settings, other_url: str, tmp_path: Path
) -> None:
    """A lake from before binding existed: its parts are not the new store's to touch."""
    ours = Store.open(settings, migrate=True)
    ingest(FileSource(_csv(tmp_path / "a.csv", 0, 10)), settings, store=ours, clock=_clock)
    (ours.lake.root / ".store-id").unlink()  # as a lake written by an older auditlens
    other_settings = Settings(store_url=other_url, data_dir=settings.data_dir)  # type: ignore[arg-type]
    other = Store.open(other_settings, migrate=True)
    with pytest.raises(LakeMismatch, match="did not write"):
        ingest(FileSource(_csv(tmp_path / "b.csv", 100, 5)), other_settings, store=other)
    other.close()
    assert len(_ids(ours)) == 10
    ingest(FileSource(_csv(tmp_path / "c.csv", 50, 5)), settings, store=ours, clock=_clock)
    assert (ours.lake.root / ".store-id").exists()  # the owner binds it again
    assert len(_ids(ours)) == 15
    ours.close()


def test_second_directory_on_one_store_is_refused_naming_both_lakes(
    settings: Settings, tmp_path: Path
) -> None:
    """Issue 9.2: two working directories, one store: the second must not re-ingest."""
    export = _csv(tmp_path / "export.csv", 0, 30)
    first = Store.open(settings, migrate=True)
    assert ingest(FileSource(export), settings, store=first, clock=_clock).accepted == 30
    first.close()

    elsewhere = Settings(
        store_url=settings.store_url,
        data_dir=tmp_path / "second-workdir" / "var",
    )
    second = Store.open(elsewhere)
    with pytest.raises(LakeMismatch) as refused:
        ingest(FileSource(export), elsewhere, store=second, clock=_clock)
    message = str(refused.value)
    assert str(settings.lake_dir.resolve()) in message
    assert str(elsewhere.lake_dir.resolve()) in message
    assert second.events.counts()["accepted"] == 30  # nothing ingested twice
    assert list(elsewhere.lake_dir.glob("part-*.parquet")) == []
    second.close()


def test_ingestion_lock_lives_with_the_store_not_the_directory(
    settings: Settings, tmp_path: Path
) -> None:
    from auditlens.store.locks import LockTimeout

    first = Store.open(settings, migrate=True)
    elsewhere = Settings(store_url=settings.store_url, data_dir=tmp_path / "elsewhere")
    second = Store.open(elsewhere)
    with (
        first.events.ingest_lock(),
        pytest.raises(LockTimeout),
        second.events.ingest_lock(timeout=0.3),
    ):
        pass
    first.close()
    second.close()


def test_verify_names_a_part_rewritten_without_some_events(
    settings: Settings, tmp_path: Path
) -> None:
    """Issue 10 item 8b: deleting 14 events from a lake part is caught."""
    store = Store.open(settings, migrate=True)
    ingest(FileSource(_csv(tmp_path / "a.csv", 0, 40)), settings, store=store, clock=_clock)
    ingest(FileSource(_csv(tmp_path / "b.csv", 100, 10)), settings, store=store, clock=_clock)
    assert store.events.verify_lake().ok
    part = store.events.parts()[0]
    path = store.lake.root / part
    kept = pl.read_parquet(path).slice(14)
    kept.write_parquet(path, compression="zstd", statistics=True)
    check = store.events.verify_lake()
    assert not check.ok and check.changed == [part] and check.missing == []
    assert part in check.problem
    assert check.problem_text("ko") == f"수집 후 바뀐 레이크 파일: {part}"
    store.close()


CHILD = textwrap.dedent(
    """
    import sys, time
    from auditlens.config import Settings
    from auditlens.pipeline import ingest
    from auditlens.sources.files import FileSource
    from auditlens.store import lake

    def stuck_write(self, events, name=None):
        self.root.mkdir(parents=True, exist_ok=True)
        events.write_parquet(self.root / f".tmp-{name}")
        print("writing", name, flush=True)
        time.sleep(30)  # the parent kills us here: pending recorded, half-written part
    lake.EventLake.write_part = stuck_write
    store_url, data_dir, path = sys.argv[1:4]
    ingest(FileSource(path), Settings(store_url=store_url, data_dir=data_dir))
    """
)


def test_kill_9_while_writing_leaves_a_pending_part_that_cleanup_removes_alone(
    settings: Settings, tmp_path: Path
) -> None:
    store = Store.open(settings, migrate=True)
    ingest(FileSource(_csv(tmp_path / "a.csv", 0, 10)), settings, store=store, clock=_clock)
    export = _csv(tmp_path / "b.csv", 100, 25)
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            settings.store_url.get_secret_value(),
            str(settings.data_dir),
            str(export),
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.startswith("writing"), line
    pending = line.split()[1]
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL

    with store.engine.connect() as conn:
        assert [r[0] for r in conn.execute(select(lake_pending.c.part))] == [pending]
    assert (store.lake.root / f".tmp-{pending}").exists()
    # a file someone else put there: never deleted by cleanup
    stray = store.lake.root / "part-20260101T000000-0123456789ab.parquet"
    stray.write_bytes(b"not ours")

    report = ingest(FileSource(export), settings, store=store, clock=_clock)
    assert report.removed_orphans == [pending] and report.accepted == 25
    assert not (store.lake.root / f".tmp-{pending}").exists()
    assert stray.exists()
    with store.engine.connect() as conn:
        assert conn.execute(select(lake_pending.c.part)).all() == []
    ids = store.events.ids().to_list()
    assert len(ids) == len(set(ids)) == 35
    store.close()


def test_stored_ids_are_the_given_ids_some_part_of_any_source_holds(
    settings: Settings, tmp_path: Path
) -> None:
    Store.open(settings, migrate=True).close()
    # two sources, several parts; ids of both sources interleave in the sort order
    ingest(FileSource(_csv(tmp_path / "a.csv", 100, 50), name="a"), settings, clock=_clock)
    ingest(FileSource(_csv(tmp_path / "b.csv", 300, 50), name="b"), settings, clock=_clock)
    ingest(FileSource(_csv(tmp_path / "a2.csv", 1000, 20), name="a"), settings, clock=_clock)
    asked = pl.Series(
        ["E120", "E120", "E325", "E1019", "E99", "E2000", "E150", None, "E1005"], dtype=pl.String
    )
    with Store.open(settings) as store:
        everything = set(store.events.ids().to_list())
        found = store.events.stored_ids(asked)
        assert sorted(found.to_list()) == sorted({i for i in asked if i in everything})
        assert sorted(found.to_list()) == ["E1005", "E1019", "E120", "E325"]
        assert store.events.stored_ids(pl.Series([None, "E1"], dtype=pl.String)).len() == 0


def test_a_redelivered_file_is_stored_once_across_parts(settings: Settings, tmp_path: Path) -> None:
    Store.open(settings, migrate=True).close()
    first = _csv(tmp_path / "day1.csv", 0, 40)
    ingest(FileSource(first), settings, clock=_clock)
    ingest(FileSource(_csv(tmp_path / "day2.csv", 40, 40)), settings, clock=_clock)
    both = tmp_path / "again" / "both.csv"
    both.parent.mkdir()
    lines = (
        first.read_text().splitlines()
        + _csv(tmp_path / "day3.csv", 60, 30).read_text(encoding="utf-8").splitlines()[1:]
    )
    both.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = ingest(FileSource(both), settings, clock=_clock)
    # day 1 again (40) and 20 of day 2 are already stored; 10 events are new
    assert (report.accepted, report.quarantined) == (10, 60)
    with Store.open(settings) as store:
        ids = store.events.ids()
        assert ids.len() == ids.n_unique() == 90
