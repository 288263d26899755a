"""JSON Lines exports: one JSON object per line, the wanted keys as text."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import polars as pl

from auditlens import schema
from auditlens.sources.base import rejected_frame
from auditlens.sources.csvfile import TRUNCATED, lines_frame, locations
from auditlens.sources.textfile import Bad, FileScan, decode

_JSON_BLOCK: Final = 10_000
_JSON_TYPES: Final = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


def read_jsonl_file(
    path: Path, scan: FileScan, keys: Sequence[str], encoding: str = "utf-8"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read the lines ``scan`` holds, the values of ``keys`` as strings; ``(rows, rejected)``.

    JSON scalars keep their JSON text (``1`` -> ``"1"``, ``true`` -> ``"true"``), nested
    values become JSON text, an absent key is null, other keys are ignored. A line that is
    not a JSON object is rejected with the parser's message; blank lines are not rows. A
    final last line without a line end is read like any other (rejected as truncated
    when it is not a JSON object); a pending one is not read.
    """
    types: dict[str, pl.DataType] = dict.fromkeys(keys, pl.String())
    empty = pl.DataFrame(schema=types | {schema.LOCATION: pl.String()})
    lines = scan.lines + scan.tail_final
    if not lines:
        return empty, rejected_frame([])
    frame = None
    if encoding == "utf-8" and scan.from_top and not scan.pending:
        frame = _ndjson_direct(path, path, lines, scan.first_line, types)  # memory-mapped
    rejected: list[Bad] = []
    if frame is None:
        data, rejected = decode(scan.read_data(), encoding, path, scan.first_line)
        if scan.first_line == 1:
            data = data.removeprefix(b"\xef\xbb\xbf")
        if not rejected:
            frame = _ndjson_direct(path, data, lines, scan.first_line, types)
    if frame is None:
        frame, more = _jsonl_slow(path, data, scan.first_line, types)
        rejected += more
    if scan.tail_final:
        last = f"{path}:{scan.first_line + lines - 1}"
        rejected = [
            Bad(b.location, f"{TRUNCATED}: {b.reason}", b.raw) if b.location == last else b
            for b in rejected
        ]
    return pl.concat([empty, frame]), rejected_frame([b.row() for b in rejected])


def _ndjson_direct(
    path: Path, source: Path | bytes, lines: int, first: int, types: dict[str, pl.DataType]
) -> pl.DataFrame | None:
    """Fast path: every line parses, so row i is line first + i (None otherwise)."""
    try:
        direct = pl.read_ndjson(source if isinstance(source, Path) else io.BytesIO(source),
                                schema=types)  # fmt: skip
    except pl.exceptions.PolarsError:
        return None
    if direct.height != lines:  # Polars skips blank lines: then the numbering is off
        return None
    return direct.with_columns(locations(path, pl.int_range(pl.len()) + first))


def _jsonl_slow(
    path: Path, data: bytes, first: int, types: dict[str, pl.DataType]
) -> tuple[pl.DataFrame, list[Bad]]:
    """Find the bad lines block by block; only failing blocks go line by line."""
    lines, rejected = lines_frame(path, data, first)
    lines = lines.filter(pl.col("line").str.strip_chars() != "")
    parts = [pl.DataFrame(schema=types | {schema.LOCATION: pl.String()})]
    for block in lines.iter_slices(_JSON_BLOCK):
        part = _ndjson(path, block, types)
        if part is None:
            part, bad = _ndjson_by_line(path, block, types)
            rejected.extend(bad)
        parts.append(part)
    return pl.concat(parts), rejected


def _ndjson(path: Path, lines: pl.DataFrame, types: dict[str, pl.DataType]) -> pl.DataFrame | None:
    """Parse numbered lines with Polars; None when any line fails."""
    buf = io.BytesIO()
    lines.select("line").write_csv(buf, include_header=False, quote_style="never")
    try:
        frame = pl.read_ndjson(buf.getvalue(), schema=types)
    except pl.exceptions.PolarsError:
        return None
    if frame.height != lines.height:
        return None
    return frame.with_columns(locations(path, lines["n"]))


def _ndjson_by_line(
    path: Path, lines: pl.DataFrame, types: dict[str, pl.DataType]
) -> tuple[pl.DataFrame, list[Bad]]:
    """Classify lines one by one with ``json`` (for its messages), then parse the good ones."""
    rejected: list[Bad] = []
    good: list[int] = []
    for i, (n, line) in enumerate(lines.iter_rows()):
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            reason = f"invalid JSON: {exc.msg} (column {exc.colno})"
            rejected.append(Bad(f"{path}:{n}", reason, line))
            continue
        if not isinstance(value, dict):
            found = _JSON_TYPES.get(type(value), "a number")
            rejected.append(Bad(f"{path}:{n}", f"not a JSON object (found {found})", line))
            continue
        good.append(i)
    frame = _ndjson(path, lines[good], types)
    if frame is not None:
        return frame, rejected
    parts = [pl.DataFrame(schema=types | {schema.LOCATION: pl.String()})]
    for i in good:  # Polars is stricter than json (e.g. NaN): last resort, one line at a time
        part = _ndjson(path, lines[i : i + 1], types)
        if part is None:
            n, line = lines.row(i)
            rejected.append(Bad(f"{path}:{n}", "invalid JSON (rejected by the JSON parser)", line))
        else:
            parts.append(part)
    return pl.concat(parts), rejected
