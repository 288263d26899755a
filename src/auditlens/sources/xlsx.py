"""Excel workbooks (``.xlsx``): each sheet's rows as text, located ``file.xlsx:Sheet:row N``.

Read with openpyxl (read-only, cached formula values). Row 1 of a sheet holds the column
names. Cells become text the way a person reads them: ``1001`` (a whole number, even if
Excel stored 1001.0), ``1.5``, ``true``/``false``, dates and times in ISO 8601
(``2026-09-01T09:05:00``); empty cells are null. A row with an Excel error (``#N/A``,
``#DIV/0!``...) in a column that is read is rejected with the cell named; an empty row is
not a row. Sheets are read in workbook order.
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from auditlens import schema
from auditlens.errors import SourceError, os_reason
from auditlens.sources.textfile import Bad, clip


@dataclass(frozen=True)
class Sheet:
    """One worksheet: its name, its header (row 1) and a way to read planned columns."""

    path: Path
    name: str
    header: list[str]
    _rows: Any

    def read(self, plan: Mapping[str, str]) -> tuple[pl.DataFrame, list[Bad]]:
        """The columns in ``plan`` (source name -> canonical) as text plus ``_location``."""
        index = {self.header.index(name): target for name, target in plan.items()}
        values: dict[str, list[str | None]] = {target: [] for target in index.values()}
        where: list[str] = []
        bad: list[Bad] = []
        for number, row in enumerate(self._rows, start=2):
            cells = {i: row[i] if i < len(row) else None for i in index}
            if all(c is None or c.value is None for c in cells.values()):
                continue  # an empty row is not a row
            location = f"{self.path}:{self.name}:row {number}"
            errors = [
                f"cell {c.column_letter}{number} ({index[i]}) holds the Excel error {c.value}"
                for i, c in cells.items()
                if c is not None and c.data_type == "e"
            ]
            if errors:
                raw = {index[i]: _text(c.value) if c else None for i, c in cells.items()}
                bad.append(Bad(location, "; ".join(errors), json.dumps(raw, ensure_ascii=False)))
                continue
            for i, target in index.items():
                cell = cells[i]
                values[target].append(_text(cell.value) if cell is not None else None)
            where.append(location)
        types = dict.fromkeys(values, pl.String())
        frame = pl.DataFrame(values, schema=types).with_columns(
            pl.Series(schema.LOCATION, where, dtype=pl.String)
        )
        return frame, bad


def read_sheets(path: Path) -> Iterator[Sheet]:
    """The non-empty worksheets of ``path``, in order. Raises SourceError if unreadable.

    Read each sheet (``Sheet.read``) before asking for the next: rows are streamed.
    """
    try:
        import openpyxl
    except ImportError as exc:  # pragma: no cover - a dependency of auditlens
        raise SourceError(
            "reading .xlsx needs the openpyxl package",
            ko=".xlsx 파일을 읽으려면 openpyxl 패키지가 필요합니다",
        ) from exc
    try:
        handle = path.open("rb")  # a file object: openpyxl would insist on the extension
    except OSError as exc:
        raise SourceError(
            f"cannot read {path}: {exc.strerror}",
            ko=f"파일을 읽을 수 없습니다: {path} ({os_reason(exc, 'ko')})",
        ) from exc
    with handle:
        try:
            book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise SourceError(
                f"{path} is not a readable .xlsx workbook: {clip(str(exc))}",
                hint="save it from Excel as 'Excel Workbook (*.xlsx)' (not .xls or .xlsb)",
                ko=f"읽을 수 있는 .xlsx 통합 문서가 아닙니다: {path} ({clip(str(exc))})",
                ko_hint="Excel에서 'Excel 통합 문서(*.xlsx)'로 저장하십시오 (.xls, .xlsb 제외)",
            ) from exc
        try:
            yield from _sheets(path, book)
        finally:
            book.close()


def _sheets(path: Path, book: Any) -> Iterator[Sheet]:
    for sheet in book.worksheets:
        rows = sheet.iter_rows()
        first = next(rows, None)
        if first is None:
            continue
        header = [_text(c.value) or "" for c in first]
        while header and not header[-1]:
            header.pop()
        if header:
            yield Sheet(path, sheet.title, header, (tuple(r) for r in rows))


def _text(value: object) -> str | None:
    """A cell value as the text a person reads in the cell."""
    if value is None or isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)
