"""Excel (.xlsx) exports: rows as text, located by sheet and row, bad rows alone rejected."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import openpyxl

from auditlens import schema
from auditlens.sources.files import FileSource
from tests.sources.reading import read_one, unreadable

COLUMNS = ["timestamp", "user_id", "action_type", "resource_id", "memo"]


def workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_xlsx_rows_become_text_events_located_by_sheet_and_row(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "access.xlsx",
        {
            "Sheet1": [
                COLUMNS,
                [dt.datetime(2026, 9, 1, 9, 5), 1001, "view", "/hr/salary", "#N/A"],  # row 2
                ["2026-09-01T09:06:00", "E2", "download", None, None],  # row 3
                [],  # row 4: empty, not a row
                [dt.datetime(2026, 9, 1, 9, 7), 1003.0, True, 2.5, None],  # row 5
            ]
        },
    )
    batch = read_one(path)
    events = batch.events
    assert events.drop(schema.EVENT_ID, schema.LOCATION).rows() == [
        ("1001", "2026-09-01T09:05:00", "view", "/hr/salary"),
        ("E2", "2026-09-01T09:06:00", "download", None),
        ("1003", "2026-09-01T09:07:00", "true", "2.5"),
    ]
    assert events[schema.LOCATION].to_list() == [
        f"{path}:Sheet1:row 2",
        f"{path}:Sheet1:row 3",
        f"{path}:Sheet1:row 5",
    ]
    assert events[schema.EVENT_ID].str.starts_with("h:").all()
    assert batch.rejected is not None and batch.rejected.height == 0  # memo is not read
    assert batch.metadata["format"] == "xlsx"


def test_a_row_with_an_excel_error_is_rejected_not_the_sheet(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "err.xlsx",
        {
            "접속기록": [
                COLUMNS[:4],
                ["2026-09-01T09:00:00", "E1", "view", "/a"],
                ["#DIV/0!", "E2", "view", "/b"],  # row 3: a formula that failed
                ["2026-09-01T09:02:00", "E3", "view", "#REF!"],  # row 4
                ["2026-09-01T09:03:00", "E4", "view", "/d"],
            ]
        },
    )
    batch = read_one(path)
    assert batch.events[schema.USER_ID].to_list() == ["E1", "E4"]
    assert batch.rejected is not None
    rows = batch.rejected.rows()
    assert [r[0] for r in rows] == [f"{path}:접속기록:row 3", f"{path}:접속기록:row 4"]
    assert rows[0][1] == "cell A3 (timestamp) holds the Excel error #DIV/0!"
    assert rows[1][1] == "cell D4 (resource_id) holds the Excel error #REF!"
    assert '"user_id": "E2"' in rows[0][2]


def test_sheets_without_the_columns_are_skipped_with_a_notice(tmp_path: Path) -> None:
    path = workbook(
        tmp_path / "book.xlsx",
        {
            "notes": [["exported by", "HR"]],
            "events": [["login_time", "emp_no", "act"], ["2026-09-01 09:00", "K1", "login"]],
        },
    )
    mapping = {"login_time": "timestamp", "emp_no": "user_id", "act": "action_type"}
    batch = read_one(path, column_map=mapping)
    assert batch.events[schema.LOCATION].to_list() == [f"{path}:events:row 2"]
    assert "sheet 'notes' skipped" in batch.metadata["notice"]
    assert "건너뛰었습니다" in batch.metadata["notice_ko"]
    # no sheet has the columns without the mapping
    assert re.search(r"book\.xlsx:notes: required column", unreadable(path))


def test_format_xlsx_by_extension_and_by_option(tmp_path: Path) -> None:
    rows = [COLUMNS[:3], ["2026-09-01T09:00:00", "E1", "login"]]
    workbook(tmp_path / "a.xlsx", {"S": rows})
    workbook(tmp_path / "export.dat", {"S": rows})
    assert [Path(b.label).name for b in FileSource(tmp_path).read()] == ["a.xlsx"]
    batch = read_one(tmp_path / "export.dat", format="xlsx")
    assert batch.events[schema.LOCATION].to_list() == [f"{tmp_path / 'export.dat'}:S:row 2"]
    (tmp_path / "broken.xlsx").write_text("not a zip")
    reason = unreadable(tmp_path / "broken.xlsx")
    assert re.search(r"broken\.xlsx is not a readable \.xlsx workbook", reason)
