"""Ingesting files end to end: nothing lost, nothing counted twice, growing files, crashes."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

from auditlens.config import Settings
from auditlens.pipeline import ingest
from auditlens.sources.files import FileSource
from auditlens.store.repo import Store
from tests.killing import kill_at

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
HEADER = "event_id,timestamp,user_id,action_type,resource_id,host"


def _clock() -> dt.datetime:
    return NOW


def good(i: int) -> str:
    return f"EV{i},2026-09-01T09:{i % 60:02d}:00,E{i % 13},view,/r/{i},pc-{i % 5}"


def bad(i: int) -> str:
    return f"EV{i},31/02/2026 25:61,E{i % 13},view,/r/{i},pc-1"  # quarantined by validate


def append(path: Path, lines: list[str]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))


def test_one_unclosed_quote_costs_one_row_and_the_file_is_not_skipped(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "export.csv"
    rows = [good(i) for i in range(1001)]
    rows[400] = 'EV400,2026-09-01T09:00:00,E1,view,"/r/unclosed,pc-1'
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    store = Store.open(sqlite_settings, migrate=True)
    report = ingest(FileSource(path), sqlite_settings, store=store, clock=_clock)
    assert (report.ingested, report.accepted, report.quarantined) == (1001, 1000, 1)
    quarantined = store.events.quarantined()
    assert quarantined["location"].to_list() == [f"{path}:402"]
    assert quarantined["raw"].to_list() == [rows[400]]
    store.close()


def test_a_growing_file_quarantines_each_bad_row_once(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "growing.csv"
    path.write_text(HEADER + "\n")
    store = Store.open(settings, migrate=True)
    source = FileSource(path, name="growing")
    n = 0
    for _ in range(10):
        append(path, [good(n + k) for k in range(50)] + [bad(n + 50)])
        n += 51
        report = ingest(source, settings, store=store, clock=_clock)
        assert len(report.batches) == 1
        assert (report.ingested, report.accepted, report.quarantined) == (51, 50, 1)
    counts = store.events.counts()
    assert (counts["accepted"], counts["quarantined"]) == (500, 10)
    assert counts["ingested"] == counts["accepted"] + counts["quarantined"] == 510
    assert ingest(source, settings, store=store, clock=_clock).batches == []
    locations = store.events.quarantined()["location"].to_list()
    assert sorted(locations) == sorted(f"{path}:{52 + 51 * k}" for k in range(10))
    store.close()


def test_a_pending_last_line_is_read_when_the_file_goes_on(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "live.csv"
    path.write_text(f"{HEADER}\n{good(1)}\n{good(2)[:20]}")  # line 3 is being written
    store = Store.open(sqlite_settings, migrate=True)
    source = FileSource(path, name="live", settle_seconds=60)
    first = ingest(source, sqlite_settings, store=store, clock=_clock)
    assert (first.ingested, first.accepted, first.quarantined) == (1, 1, 0)
    assert "next run" in first.batches[0].notices[0][0]
    append(path, [good(2)[20:], good(3)])
    second = ingest(source, sqlite_settings, store=store, clock=_clock)
    assert (second.ingested, second.accepted, second.quarantined) == (2, 2, 0)
    assert store.events.counts()["accepted"] == 3
    store.close()


def test_a_rewritten_file_is_read_again_from_the_top_and_says_so(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "rotated.csv"
    path.write_text("\n".join([HEADER, good(1), good(2)]) + "\n")
    store = Store.open(sqlite_settings, migrate=True)
    source = FileSource(path, name="rotated")
    ingest(source, sqlite_settings, store=store, clock=_clock)
    path.write_text("\n".join([HEADER, good(3)]) + "\n")  # log rotation: a new, shorter file
    report = ingest(source, sqlite_settings, store=store, clock=_clock)
    assert report.accepted == 1
    (english, korean) = report.batches[0].notices[0]
    assert "changed since the last read" in english and "처음부터 다시" in korean
    assert store.events.counts()["accepted"] == 3
    store.close()


CHILD = textwrap.dedent(
    """
    import sys, time
    from auditlens.config import Settings
    from auditlens.pipeline import ingest
    from auditlens.sources.files import FileSource
    from auditlens.store import lake

    original = lake.EventLake.write_part
    def slow_write(self, events, *args, **kwargs):
        name = original(self, events, *args, **kwargs)
        print("part written", flush=True)
        time.sleep(30)  # the parent kills us here: part on disk, batch not committed
        return name
    lake.EventLake.write_part = slow_write
    store_url, data_dir, path = sys.argv[1:4]
    ingest(FileSource(path, name="growing"), Settings(store_url=store_url, data_dir=data_dir))
    """
)


def test_killed_between_read_and_commit_loses_and_doubles_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "growing.csv"
    path.write_text("\n".join([HEADER, *(good(i) for i in range(100)), bad(100)]) + "\n")
    store = Store.open(settings, migrate=True)
    source = FileSource(path, name="growing")
    ingest(source, settings, store=store, clock=_clock)
    append(path, [*(good(i) for i in range(101, 201)), bad(201)])

    url = settings.store_url.get_secret_value()
    kill_at(CHILD, [url, str(settings.data_dir), str(path)], "part written")
    assert store.events.counts()["accepted"] == 100  # the second read was not committed

    report = ingest(source, settings, store=store, clock=_clock)
    assert report.removed_orphans
    assert (report.ingested, report.accepted, report.quarantined) == (101, 100, 1)
    ids = store.events.scan().select("event_id").collect()["event_id"].to_list()
    assert sorted(ids) == sorted(f"EV{i}" for i in [*range(100), *range(101, 201)])
    assert store.events.quarantined()["location"].to_list().count(f"{path}:102") == 1
    assert store.events.counts()["quarantined"] == 2
    store.close()


def test_an_all_broken_file_fails_with_a_short_message_and_is_read_again_later(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    from auditlens.errors import ValidationFailed

    path = tmp_path / "broken.csv"
    path.write_text(f'{HEADER}\nEV1,2026-09-01T09:00:00,E1,view,"{"x" * (20 << 20)},pc\n')
    store = Store.open(sqlite_settings, migrate=True)
    source = FileSource(path, name="broken")
    try:
        ingest(source, sqlite_settings, store=store, clock=_clock)
    except ValidationFailed as exc:
        message = str(exc)
    else:  # pragma: no cover - the assertion below reports it
        message = ""
    assert f"{path}:2" in message and "16777216" in message
    assert len(message) < 1000  # the 20 MB line is not quoted into the message
    assert store.events.watermark("broken") is None  # nothing of it counts as read
    path.write_text(f"{HEADER}\n{good(1)}\n")
    assert ingest(source, sqlite_settings, store=store, clock=_clock).accepted == 1
    store.close()
