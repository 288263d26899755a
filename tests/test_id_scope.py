"""Event ids are scoped by source (or file); a reused id with other content is a finding."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from auditlens.config import Settings
from auditlens.pipeline import ingest
from auditlens.sources.files import FileSource
from auditlens.store.repo import Store

HEADER = "event_id,user_id,timestamp,action_type,resource_id"


def _day(path: Path, day: int, users: tuple[str, ...] = ("kim", "lee", "park")) -> Path:
    """A daily export whose ids restart at 1."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        f"{i + 1},{user},2026-09-{day:02d}T09:{i:02d}:00+09:00,view,doc-{day}-{i}"
        for i, user in enumerate(users)
    ]
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_ids_restarting_every_file_are_new_events_with_id_scope_file(
    settings: Settings, tmp_path: Path
) -> None:
    """Issue 9.4: nothing is quarantined for being a later day."""
    for day in (1, 2, 3):
        _day(tmp_path / "daily" / f"day{day}.csv", day)
    store = Store.open(settings, migrate=True)
    source = FileSource(tmp_path / "daily", name="daily", id_scope="file")
    report = ingest(source, settings, store=store)
    assert (report.ingested, report.accepted, report.quarantined) == (9, 9, 0)
    assert report.findings == 0
    # an identical re-delivery of one day is still a plain duplicate
    resent = _day(tmp_path / "daily" / "day2-resent.csv", 2)
    resent.write_text(resent.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # new digest
    again = ingest(source, settings, store=store)
    assert (again.accepted, again.quarantined, again.findings) == (0, 3, 0)
    reasons = store.events.quarantined().get_column("reason").to_list()
    assert all("(already ingested)" in r for r in reasons)
    store.close()


def test_id_scope_file_holds_for_excel_workbooks(settings: Settings, tmp_path: Path) -> None:
    """Excel rows are located as ``path:Sheet:row N``: the scope is still the file."""
    import openpyxl

    for day in (1, 2):
        book = openpyxl.Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = "Sheet1"
        sheet.append(HEADER.split(","))
        for i, user in enumerate(("kim", "lee")):
            sheet.append([str(i + 1), user, f"2026-09-0{day}T09:0{i}:00+09:00", "view", "doc"])
        if day == 2:  # id 1 again in the same workbook, with other content: a reuse
            sheet.append(["1", "park", "2026-09-02T09:09:00+09:00", "delete", "doc"])
        (tmp_path / "books").mkdir(exist_ok=True)
        book.save(tmp_path / "books" / f"day{day}.xlsx")
    store = Store.open(settings, migrate=True)
    report = ingest(FileSource(tmp_path / "books", name="books", id_scope="file"), settings)
    assert (report.ingested, report.accepted, report.quarantined) == (5, 4, 1)
    assert report.findings == 1
    store.close()


def test_a_reused_id_with_other_content_is_a_tampering_finding_not_a_duplicate(
    settings: Settings, tmp_path: Path
) -> None:
    _day(tmp_path / "daily" / "day1.csv", 1)
    store = Store.open(settings, migrate=True)
    source = FileSource(tmp_path / "daily", name="daily")  # ids unique across the source
    ingest(source, settings, store=store)
    _day(tmp_path / "daily" / "day2.csv", 2, users=("kim", "lee", "park"))
    report = ingest(source, settings, store=store)
    assert (report.accepted, report.quarantined, report.findings) == (0, 3, 3)
    rows = store.events.quarantined()
    assert rows.get_column("reason").str.contains("already ingested with different content").all()
    assert not rows.get_column("reason").str.starts_with("duplicate").any()
    assert rows.get_column("reason").str.contains("id_scope = 'file'").all()  # what to do
    findings = store.events.findings()
    assert findings.get_column("kind").to_list() == ["event_id_reused"] * 3
    first = findings.sort("event_id").row(0, named=True)
    assert first["event_id"] == "1"
    assert first["row_key"].endswith("day2.csv:2")
    assert json.loads(first["stored_copy"])["resource_id"] == "doc-1-0"
    assert json.loads(first["current_row"])["resource_id"] == "doc-2-0"
    # the stored copy is kept as it was
    kept = store.events.scan().filter(pl.col("event_id") == "1").collect()
    assert kept.get_column("resource_id").to_list() == ["doc-1-0"]
    store.close()


def test_ids_of_another_source_are_its_own(settings: Settings, tmp_path: Path) -> None:
    _day(tmp_path / "hr" / "e.csv", 1)
    _day(tmp_path / "vpn" / "e.csv", 5, users=("choi", "jung", "kang"))
    store = Store.open(settings, migrate=True)
    ingest(FileSource(tmp_path / "hr", name="hr"), settings, store=store)
    other = ingest(FileSource(tmp_path / "vpn", name="vpn"), settings, store=store)
    assert (other.accepted, other.quarantined, other.findings) == (3, 0, 0)
    # the same export delivered again under another path is still one event
    resent = tmp_path / "copy" / "again.csv"
    resent.parent.mkdir()
    resent.write_bytes((tmp_path / "hr" / "e.csv").read_bytes())
    copy = ingest(FileSource(resent), settings, store=store)
    assert (copy.accepted, copy.quarantined, copy.findings) == (0, 3, 0)
    assert store.events.counts()["accepted"] == 6
    store.close()
