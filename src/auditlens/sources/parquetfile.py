"""Parquet exports: typed columns, checked so that no value silently changes on the way in.

Text and id columns arrive as strings. A column whose values cannot become text without
inventing something (a struct, a list, binary data) is refused with the column and its
type named. In a floating-point column, whole numbers become integer text (``1001.0`` ->
``"1001"``: pandas writes an integer column with gaps as floats) and a row holding NaN or
an infinity is rejected with a reason instead of being stored as the text ``"NaN"``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import polars as pl

from auditlens import schema
from auditlens.errors import SourceError
from auditlens.sources.base import rejected_frame
from auditlens.sources.csvfile import locations
from auditlens.sources.textfile import clip

#: Canonical columns kept with their Parquet type (everything else becomes text).
TYPED_COLUMNS: Final = frozenset({schema.TIMESTAMP, schema.SUCCESS})
_NOT_TEXT: Final = (pl.Struct, pl.List, pl.Array, pl.Object, pl.Binary)


def _unreadable(path: Path, exc: Exception) -> SourceError:
    """The error for a file Polars could not read as Parquet (``exc`` says why)."""
    return SourceError(
        f"{path} is not a readable Parquet file: {clip(str(exc))}",
        ko=f"읽을 수 있는 Parquet 파일이 아닙니다: {path} ({clip(str(exc))})",
    )


def parquet_columns(path: Path) -> list[str]:
    """The column names of a Parquet file (SourceError if it is not readable Parquet)."""
    try:
        return list(pl.read_parquet_schema(path))
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _unreadable(path, exc) from exc


def parquet_rows(path: Path) -> int:
    """How many rows a Parquet file holds (from its footer; SourceError if unreadable)."""
    try:
        return int(pl.scan_parquet(path).select(pl.len()).collect().item())
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _unreadable(path, exc) from exc


def read_parquet_file(
    path: Path, plan: Mapping[str, str], start: int = 0, rows: int | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read the planned columns plus ``_location`` = ``path#row=N`` (N from 0 at the
    file's first row), of ``rows`` rows from row ``start`` (None: to the end); only the
    row groups holding them are read.

    ``plan`` maps source column -> canonical column. Returns ``(rows, rejected)``: rows
    whose float id/text values are NaN or infinite are rejected with a reason. Raises
    SourceError for an unreadable file or a nested/binary column.
    """
    try:
        if start == 0 and rows is None:
            frame = pl.read_parquet(path, columns=list(plan))
        else:
            scan = pl.scan_parquet(path).select(list(plan))
            frame = scan.slice(start, rows).collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _unreadable(path, exc) from exc
    for name, target in plan.items():
        dtype = frame.schema[name]
        if isinstance(dtype, _NOT_TEXT):
            raise SourceError(
                f"{path}: column {name!r} ({target}) holds {dtype} values, which cannot be "
                "read as one text value per event",
                hint="export that column as text or integers",
                ko=f"{path}: {name!r} 열({target})에 {dtype} 값이 있어 이벤트마다 텍스트 값 "
                "하나로 읽을 수 없습니다",
                ko_hint="그 열을 텍스트나 정수로 내보내십시오",
            )
    frame = frame.with_columns(locations(path, pl.int_range(pl.len()) + start, "#row="))
    floats = [n for n, t in plan.items() if t not in TYPED_COLUMNS and frame.schema[n].is_float()]
    if not floats:
        return frame, rejected_frame([])
    broken = [(~pl.col(n).is_finite()).fill_null(False) for n in floats]
    bad = frame.filter(pl.any_horizontal(broken))
    rejected = [
        (
            row[schema.LOCATION],
            "; ".join(
                f"{plan[n]}: {row[n]} in a floating-point column (expected text or an integer)"
                for n in floats
                if row[n] is not None and not _finite(row[n])
            ),
            json.dumps({plan[n]: _json(row[n]) for n in plan}, ensure_ascii=False),
        )
        for row in bad.iter_rows(named=True)
    ]
    good = frame.filter(~pl.any_horizontal(broken))
    whole = [
        pl.when(pl.col(n) == pl.col(n).round())
        .then(pl.coalesce(pl.col(n).cast(pl.Int64, strict=False).cast(pl.String), _text(n)))
        .otherwise(_text(n))
        .alias(n)
        for n in floats
    ]
    return good.with_columns(whole), rejected_frame(rejected)


def _text(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.String)


def _finite(value: float) -> bool:
    return value - value == 0


def _json(value: object) -> object:
    if isinstance(value, float) and not _finite(value):
        return str(value)
    return value if isinstance(value, str | int | bool | type(None)) else str(value)
