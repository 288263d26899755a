"""File sources: CSV, Parquet and JSON Lines exports given as a file, a directory or a glob.

Also the helpers every file-based source shares (``cert.py`` uses them): one streaming
pass per file for its SHA-256 digest and line statistics (:func:`scan_file`), a CSV
reader that keeps every value a string and every row's physical line number
(:func:`read_csv_file`), and the digest watermark (:func:`seen_files`,
:func:`files_watermark`).

Reading CSV has three tiers so that the common case is fully vectorised:

1. no ``"`` and the comma count adds up: Polars reads the file directly
   (memory-mapped, only the wanted columns), row *i* is line *i + 2*;
2. otherwise the lines are checked with vectorised string operations (quote-aware field
   count, blank lines); ragged lines are rejected and the rest is parsed by Polars;
3. a line with an odd number of ``"`` (a quoted field holding a line break) sends the file
   through Python's ``csv`` module, which gives each record the line it *starts* on.

Empty values become null in every tier (CSV cannot tell an empty string from a missing
value). Blank lines are not rows: they are neither events nor rejected. A quote left open
swallows the following lines into one rejected record whose raw text keeps them all.
"""

from __future__ import annotations

import csv
import functools
import glob
import hashlib
import io
import json
import operator
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import polars as pl

from auditlens import schema
from auditlens.errors import SourceError
from auditlens.sources.base import REJECTED_SCHEMA, Batch, Source, Watermark, rejected_frame
from auditlens.vocabulary import ValueRules

FileFormat = Literal["csv", "parquet", "jsonl", "auto"]

#: File extensions recognised by ``format="auto"`` (compare lower-cased).
EXTENSIONS: Final = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
TRUNCATED: Final = "truncated last line (file does not end with a newline)"
#: Columns kept with their type when a typed format (Parquet) provides them; every other
#: canonical column is cast to String so that an id never arrives as 1234 vs "1234".
TYPED_COLUMNS: Final = frozenset({schema.TIMESTAMP, schema.SUCCESS})
#: Row content a derived event id is computed from (never the file name: an event exported
#: twice in overlapping files gets the same id, so the store keeps it once).
ID_CONTENT: Final = (
    schema.USER_ID,
    schema.TIMESTAMP,
    schema.ACTION_TYPE,
    schema.RESOURCE_ID,
    schema.HOST,
)

_CHUNK: Final = 1 << 24
_JSON_BLOCK: Final = 10_000
_END: Final = "\x01end"  # name of tier 2's sentinel column (never a real column name)
_NULL: Final = "\x00"  # stands for null inside the derived-id content (never in real text)
_MAP_HINT: Final = (
    "rename your columns with the source's column_map option, "
    "e.g. column_map = {login_time = 'timestamp', emp_no = 'user_id'}"
)


@dataclass(frozen=True)
class FileScan:
    """What one streaming pass over a file learned (constant memory, any file size).

    ``lines`` counts newline-terminated lines; ``tail`` holds the bytes after the last
    newline (a truncated last line), ``b""`` when the file ends with a newline.
    ``quotes`` and ``commas`` are counted in the complete lines only.
    """

    path: Path
    digest: str
    size: int
    lines: int
    tail: bytes
    quotes: int
    commas: int
    first_line: bytes


def scan_file(path: Path) -> FileScan:
    """Read ``path`` once: SHA-256 digest, line count, truncated tail, quote/comma counts."""
    sha = hashlib.sha256()
    size = lines = quotes = commas = 0
    head = tail = b""
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                sha.update(chunk)
                size += len(chunk)
                newlines = chunk.count(b"\n")
                lines += newlines
                quotes += chunk.count(b'"')
                commas += chunk.count(b",")
                head = head or chunk
                tail = chunk[chunk.rfind(b"\n") + 1 :] if newlines else tail + chunk
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from exc
    first = head.split(b"\n", 1)[0] if lines else tail
    return FileScan(
        path=path,
        digest=sha.hexdigest(),
        size=size,
        lines=lines,
        tail=tail,
        quotes=quotes - tail.count(b'"'),
        commas=commas - tail.count(b","),
        first_line=first.removeprefix(b"\xef\xbb\xbf").removesuffix(b"\r"),
    )


# --- watermark: the digests of files already read ------------------------------------


def seen_files(since: Watermark | None) -> dict[str, str]:
    """The ``{sha256: path}`` of files a file watermark says were read (empty for None).

    Raises SourceError when ``since`` is not a file watermark.
    """
    if since is None:
        return {}
    try:
        files = json.loads(since.value)["files"]
        if isinstance(files, dict) and all(isinstance(v, str) for v in files.values()):
            return {str(k): v for k, v in files.items()}
    except (ValueError, TypeError, KeyError):
        pass
    raise SourceError(
        f"stored watermark {since.value[:80]!r} is not a file watermark",
        hint='expected {"files": {"<sha256>": "<path>"}}; was the source renamed or retyped?',
    )


def files_watermark(seen: Mapping[str, str]) -> Watermark:
    """The watermark recording every file in ``seen`` (``{sha256: path}``) as read."""
    return Watermark(json.dumps({"files": dict(seen)}, sort_keys=True))


# --- CSV ---------------------------------------------------------------------------


def csv_header(scan: FileScan) -> list[str]:
    """The column names in the first line of a CSV file (empty for an empty file)."""
    try:
        text = scan.first_line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{scan.path}:1: header is not UTF-8", hint="save the file as UTF-8"
        ) from exc
    if "\r" in text:
        raise SourceError(
            f"{scan.path}: lines end with a bare carriage return (old Mac format)",
            hint="save the file with Windows (CRLF) or Unix (LF) line endings",
        )
    return next(csv.reader([text]), []) if text else []


def read_csv_file(
    path: Path, scan: FileScan, columns: Sequence[str] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read a CSV file with every value a string; returns ``(rows, rejected)``.

    ``rows`` has the header's columns (only ``columns`` when given) plus ``_location``
    (``path:line``, 1-based, the header is line 1). ``rejected`` holds the truncated last
    line, ragged rows and non-UTF-8 lines with a reason; rows + rejected = data lines.
    """
    header = csv_header(scan)
    want = [c for c in header if columns is None or c in columns]
    rejected: list[tuple[str, str, str]] = []
    if scan.tail and scan.lines:
        line = f"{path}:{scan.lines + 1}"
        rejected.append((line, TRUNCATED, scan.tail.decode("utf-8", "replace")))
    frame = _csv_direct(path, scan, len(header), want) if scan.lines > 1 else None
    more = pl.DataFrame(schema=REJECTED_SCHEMA)
    if frame is None and scan.lines > 1:
        lines, bad_text = _lines_frame(path, scan)
        rejected.extend(bad_text)
        found = _csv_from_lines(path, lines, len(header), want)
        frame, more = found if found else _csv_python(path, lines, header, want)
        # Only a quoted "" reads as "" (tier 1 has no quotes): make it null like the rest.
        frame = frame.with_columns(pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in want)
    if frame is None:
        frame = pl.DataFrame(schema=dict.fromkeys(want, pl.String()) | {schema.LOCATION: pl.String})
    return frame, pl.concat([rejected_frame(rejected), more])


def _csv_direct(path: Path, scan: FileScan, ncols: int, want: list[str]) -> pl.DataFrame | None:
    """Tier 1: read straight from the file when the counts prove every line is a plain row."""
    # Polars fails on a line with too many fields, so with the total right no line has too
    # few either (a blank line has too few): every line is a plain row of ncols fields.
    if scan.quotes or ncols < 2 or scan.commas != (ncols - 1) * scan.lines:
        return None
    rows = scan.lines - 1
    try:
        # n_rows stops before a truncated last line; columns= keeps big unused text out.
        frame = pl.read_csv(path, infer_schema=False, n_rows=rows, columns=want)
    except pl.exceptions.PolarsError:
        return None  # e.g. invalid UTF-8: the slower tiers say which line
    if frame.height != rows:
        return None
    return frame.with_columns(_location(path, pl.int_range(2, rows + 2)))


def _lines_frame(path: Path, scan: FileScan) -> tuple[pl.DataFrame, list[tuple[str, str, str]]]:
    """The complete lines as ``n`` (1-based) and ``line``; non-UTF-8 lines rejected, blanked."""
    try:
        lines = pl.read_lines(path, n_rows=scan.lines, name="line")
        if lines.height == scan.lines:
            numbered = lines.with_row_index("n", offset=1).cast({"n": pl.Int64})
            first = pl.when(pl.col("n") == 1).then(pl.col("line").str.strip_prefix("\ufeff"))
            return numbered.with_columns(first.otherwise(pl.col("line")).alias("line")), []
    except pl.exceptions.PolarsError:
        pass
    # Decode line by line so that one bad byte costs one line, not the whole file.
    with path.open("rb") as fh:
        data = fh.read(scan.size - len(scan.tail))
    texts: list[str] = []
    rejected: list[tuple[str, str, str]] = []
    for n, raw in enumerate(data.split(b"\n")[: scan.lines], start=1):
        raw = raw.removesuffix(b"\r")
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            reason = f"not valid UTF-8 (byte {exc.start + 1} of the line); save the file as UTF-8"
            rejected.append((f"{path}:{n}", reason, raw.decode("utf-8", "replace")))
            texts.append("")
    return _numbered(texts), rejected


def _numbered(texts: list[str]) -> pl.DataFrame:
    if texts:
        texts[0] = texts[0].removeprefix("\ufeff")
    return pl.DataFrame(
        {"n": pl.int_range(1, len(texts) + 1, eager=True), "line": texts},
        schema={"n": pl.Int64, "line": pl.String},
    )


def _csv_from_lines(
    path: Path, lines: pl.DataFrame, ncols: int, want: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """Tier 2: parse the lines with Polars, rejecting ragged ones, all vectorised.

    Returns None when some line holds an odd number of quotes (a field spanning lines).
    """
    data = lines.filter(pl.col("n") > 1, pl.col("line").str.strip_chars() != "")
    if (data["line"].str.count_matches('"', literal=True) % 2 == 1).any():
        return None
    # Polars pads a short row with nulls and (told to) cuts a long one, so mark every line
    # with a sentinel field: it lands in the extra last column only if the count is right.
    buf = io.BytesIO()
    buf.write(f"{lines['line'][0]},{_END}\n".encode())
    data.select(pl.col("line") + ",\x01").write_csv(buf, include_header=False, quote_style="never")
    try:
        frame = pl.read_csv(
            buf.getvalue(), infer_schema=False, columns=[*want, _END], truncate_ragged_lines=True
        )
    except pl.exceptions.PolarsError:
        return None
    if frame.height != data.height:
        return None
    ok = (frame[_END] == "\x01").fill_null(False)
    # Quoted sections cannot hold a separator that counts: drop them, then count commas.
    fields = pl.col("line").str.replace_all(r'"[^"]*"', "").str.count_matches(",", literal=True)
    bad = data.filter(~ok).select(
        _location(path, pl.col("n")),
        reason=pl.format(f"expected {ncols} fields, found {{}}", fields + 1),
        raw=pl.col("line"),
    )
    good = frame.filter(ok).drop(_END)
    return good.with_columns(_location(path, data["n"].filter(ok))), bad


def _csv_python(
    path: Path, lines: pl.DataFrame, header: list[str], want: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Tier 3: Python's csv module, exact for quoted fields that span lines."""
    texts: list[str] = lines["line"].to_list()
    index = {name: header.index(name) for name in want}
    values: dict[str, list[str]] = {name: [] for name in want}
    starts: list[int] = []
    rejected: list[tuple[str, str, str]] = []
    reader = csv.reader(t + "\n" for t in texts[1:])
    end = 1
    while True:
        start = end + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # the rest of the file cannot be parsed reliably
            rest = "\n".join(texts[start - 1 :])
            rejected.append((f"{path}:{start}", f"unparseable CSV: {exc}", rest))
            break
        end = reader.line_num + 1
        if len(record) <= 1 and not "".join(record).strip():
            continue  # a blank line is not a row
        if len(record) != len(header):
            reason = f"expected {len(header)} fields, found {len(record)}"
            rejected.append((f"{path}:{start}", reason, "\n".join(texts[start - 1 : end])))
            continue
        starts.append(start)
        for name, i in index.items():
            values[name].append(record[i])
    frame = pl.DataFrame(values, schema=dict.fromkeys(want, pl.String()))
    return frame.with_columns(_location(path, pl.Series(starts, dtype=pl.Int64))), rejected_frame(
        rejected
    )


def _location(path: Path, line: pl.Expr | pl.Series, sep: str = ":") -> pl.Expr:
    """``path:line`` (or ``path#row=N`` with ``sep="#row="``) for every row."""
    number = line if isinstance(line, pl.Expr) else pl.lit(line)
    return pl.concat_str([pl.lit(f"{path}{sep}"), number.cast(pl.String)]).alias(schema.LOCATION)


# --- JSON Lines and Parquet ----------------------------------------------------------


def read_jsonl_file(
    path: Path, scan: FileScan, keys: Sequence[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read a JSON Lines file, the values of ``keys`` as strings; returns ``(rows, rejected)``.

    JSON scalars keep their JSON text (``1`` -> ``"1"``, ``true`` -> ``"true"``), nested
    values become JSON text, an absent key is null, other keys are ignored. A line that is
    not a JSON object is rejected with the parser's message; blank lines are not rows.
    """
    types: dict[str, pl.DataType] = dict.fromkeys(keys, pl.String())
    rejected: list[tuple[str, str, str]] = []
    if scan.tail:
        line = f"{path}:{scan.lines + 1}"
        rejected.append((line, TRUNCATED, scan.tail.decode("utf-8", "replace")))
    if not scan.lines:
        empty = pl.DataFrame(schema=types | {schema.LOCATION: pl.String()})
        return empty, rejected_frame(rejected)
    if not scan.tail:  # fast path: every line parses, so row i is line i + 1
        try:
            direct = pl.read_ndjson(path, schema=types)
        except pl.exceptions.PolarsError:
            direct = None
        if direct is not None and direct.height == scan.lines:  # Polars skips blank lines
            located = direct.with_columns(_location(path, pl.int_range(1, scan.lines + 1)))
            return located, rejected_frame(rejected)
    lines, bad_text = _lines_frame(path, scan)
    rejected.extend(bad_text)
    data = lines.filter(pl.col("line").str.strip_chars() != "")
    frame = _ndjson(path, data, types)
    if frame is None:  # find the bad lines block by block; only failing blocks go line by line
        parts = []
        for block in data.iter_slices(_JSON_BLOCK):
            part = _ndjson(path, block, types)
            if part is None:
                part, bad = _ndjson_by_line(path, block, types)
                rejected.extend(bad)
            parts.append(part)
        frame = pl.concat(parts)
    return frame, rejected_frame(rejected)


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
    return frame.with_columns(_location(path, lines["n"]))


_JSON_TYPES: Final = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}


def _ndjson_by_line(
    path: Path, lines: pl.DataFrame, types: dict[str, pl.DataType]
) -> tuple[pl.DataFrame, list[tuple[str, str, str]]]:
    """Classify lines one by one with ``json`` (for its messages), then parse the good ones."""
    rejected: list[tuple[str, str, str]] = []
    good: list[int] = []
    for i, (n, line) in enumerate(lines.iter_rows()):
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            reason = f"invalid JSON: {exc.msg} (column {exc.colno})"
            rejected.append((f"{path}:{n}", reason, line))
            continue
        if not isinstance(value, dict):
            found = _JSON_TYPES.get(type(value), "a number")
            rejected.append((f"{path}:{n}", f"not a JSON object (found {found})", line))
            continue
        good.append(i)
    frame = _ndjson(path, lines[good], types)
    if frame is not None:
        return frame, rejected
    parts = []  # Polars is stricter than json (e.g. NaN): last resort, one line at a time
    for i in good:
        part = _ndjson(path, lines[i : i + 1], types)
        if part is None:
            n, line = lines.row(i)
            rejected.append((f"{path}:{n}", "invalid JSON (rejected by the JSON parser)", line))
        else:
            parts.append(part)
    empty = pl.DataFrame(schema=types | {schema.LOCATION: pl.String()})
    return pl.concat([empty, *parts]), rejected


def parquet_columns(path: Path) -> list[str]:
    """The column names of a Parquet file (SourceError if it is not readable Parquet)."""
    try:
        return list(pl.read_parquet_schema(path))
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SourceError(f"{path} is not a readable Parquet file: {exc}") from exc


def read_parquet_file(path: Path, columns: Sequence[str]) -> pl.DataFrame:
    """Read ``columns`` of a Parquet file plus ``_location`` = ``path#row=N`` (N from 0)."""
    try:
        frame = pl.read_parquet(path, columns=list(columns))
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SourceError(f"{path} is not a readable Parquet file: {exc}") from exc
    return frame.with_columns(_location(path, pl.int_range(pl.len()), "#row="))


# --- canonical columns and derived ids -----------------------------------------------


def plan_columns(
    present: Sequence[str], column_map: Mapping[str, str], path: Path
) -> dict[str, str]:
    """Map each kept source column to its canonical name (``column_map`` applied first).

    Columns that are not canonical after mapping are left out. Raises SourceError when
    ``column_map`` names an unknown target, two columns become the same canonical column,
    or a required column (other than ``event_id``, which can be derived) is missing.
    """
    unknown = sorted(set(column_map.values()) - set(schema.EVENT_COLUMNS))
    if unknown:
        raise SourceError(
            f"column_map maps to unknown column(s) {unknown}",
            hint=f"map to the canonical columns {list(schema.EVENT_COLUMNS)}",
        )
    plan: dict[str, str] = {}
    source_of: dict[str, str] = {}
    for name in present:
        target = column_map.get(name.strip(), name.strip())
        if target not in schema.EVENT_COLUMNS:
            continue
        if target in source_of:
            raise SourceError(
                f"{path}: columns {source_of[target]!r} and {name!r} both become {target!r}",
                hint="keep one of them (drop it from column_map or from the export)",
            )
        source_of[target] = name
        plan[name] = target
    missing = [c for c in schema.REQUIRED_COLUMNS if c != schema.EVENT_ID and c not in source_of]
    if missing:
        mapped = f" after column_map {dict(column_map)}" if column_map else ""
        raise SourceError(
            f"{path}: required column(s) {missing} missing{mapped}; "
            f"columns present: {list(present)}",
            hint=_MAP_HINT,
        )
    return plan


def to_events(frame: pl.DataFrame, plan: Mapping[str, str], path: Path) -> pl.DataFrame:
    """Rename planned columns to canonical names, cast ids and text to String, add ids.

    The result has the canonical columns in ``schema.EVENT_COLUMNS`` order, then
    ``_location``; ``event_id`` is derived (:func:`derive_event_ids`) when absent.
    """
    out = frame.select(*(pl.col(s).alias(t) for s, t in plan.items()), pl.col(schema.LOCATION))
    for name in [c for c in plan.values() if c not in TYPED_COLUMNS]:
        if out.schema[name] != pl.String:
            try:
                out = out.with_columns(pl.col(name).cast(pl.String))
            except pl.exceptions.PolarsError as exc:
                raise SourceError(
                    f"{path}: column {name!r} of type {out.schema[name]} cannot be read as text"
                ) from exc
    if schema.EVENT_ID not in out.columns:
        out = out.with_columns(derive_event_ids(out))
    return out.select(*(c for c in schema.EVENT_COLUMNS if c in out.columns), schema.LOCATION)


def derive_event_ids(events: pl.DataFrame) -> pl.Series:
    """Deterministic ids ``h:<16 hex>`` for events that have none.

    The id is BLAKE2b (8 bytes) of user_id, timestamp, action_type, resource_id and host
    as raw text (null distinct from empty); the k-th repeat (k >= 1) of an identical row
    in ``events`` also hashes k. So two identical rows in one file are two events, while
    the same row in two overlapping exports gets one id (the store keeps it once), on any
    machine and Polars version. Values are hashed as given:
    ``2026-09-01T09:00:00`` and ``2026-09-01 09:00:00`` give different ids. Hashing is
    the one per-row Python step (about 0.5 µs a row).
    """
    parts = [
        pl.col(c).cast(pl.String).fill_null(_NULL) if c in events.columns else pl.lit(_NULL)
        for c in ID_CONTENT
    ]
    content = events.select(pl.concat_str(parts, separator="\x1f")).to_series()
    twins = content.is_duplicated()
    if twins.any():  # counting repeats is a group-by: do it only for rows that have a twin
        where = twins.arg_true()
        same = content.gather(where)
        repeat = same.to_frame("c").select(pl.int_range(pl.len()).over("c")).to_series()
        later = repeat > 0
        tagged = same.filter(later) + "\x1e" + repeat.filter(later).cast(pl.String)
        content = content.scatter(where.filter(later), tagged)
    hashes = map(_HEX, map(_BLAKE2B_64, content.cast(pl.Binary).to_list()))
    return ("h:" + pl.Series(list(hashes), dtype=pl.String)).alias(schema.EVENT_ID)


_BLAKE2B_64: Final = functools.partial(hashlib.blake2b, digest_size=8)
_HEX: Final = operator.methodcaller("hexdigest")


# --- the source ----------------------------------------------------------------------


def resolve_files(path: str | Path, fmt: FileFormat) -> list[tuple[Path, str]]:
    """The files ``path`` names (a file, a directory or a glob), sorted, with their format.

    A directory yields its files with a known extension (any non-hidden file when
    ``fmt`` is explicit); a glob or directory matching nothing yields nothing.
    Raises SourceError for a missing path or an unknown extension under ``auto``.
    """
    given = Path(path)
    if any(ch in str(path) for ch in "*?["):
        parts = given.parts
        fixed = next(i for i, p in enumerate(parts) if any(ch in p for ch in "*?["))
        base = Path(*parts[:fixed]) if fixed else Path()
        if not base.is_dir():
            raise SourceError(
                f"{base} (the fixed part of the glob {path}) is not a directory",
                hint="set the source's path to an existing file, directory or glob",
            )
        found = sorted(Path(p) for p in glob.glob(str(path), recursive=True))
        files = [p for p in found if p.is_file()]
    elif given.is_dir():
        names = sorted(p for p in given.iterdir() if p.is_file() and not p.name.startswith("."))
        files = [p for p in names if fmt != "auto" or p.suffix.lower() in EXTENSIONS]
    elif given.is_file():
        files = [given]
    else:
        raise SourceError(
            f"{path} does not exist",
            hint="set the source's path to an existing file, directory or glob "
            "(e.g. /data/exports/*.csv)",
        )
    return [(p, fmt if fmt != "auto" else _format_of(p)) for p in files]


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in EXTENSIONS:
        raise SourceError(
            f"{path}: cannot tell the file format from the extension {suffix or '(none)'!r}",
            hint=f"use one of {sorted(EXTENSIONS)} or set the source's format option "
            "to 'csv', 'parquet' or 'jsonl'",
        )
    return EXTENSIONS[suffix]


class FileSource(Source):
    """Events from CSV, Parquet or JSON Lines files: a file, a directory or a glob.

    ``column_map`` renames customer columns to canonical ones (``{"emp_no": "user_id"}``);
    other non-canonical columns are dropped. Values stay raw (CSV and JSON Lines: all
    strings; Parquet: timestamp and success keep their type, other columns become
    strings) for ``validate.py``. Each row carries ``_location``: ``path:line`` for CSV and
    JSON Lines (1-based physical line; for a quoted CSV field spanning lines, the line the
    record starts on), ``path#row=N`` for Parquet (N counts from 0). Rows that cannot be
    read (truncated last line, wrong field count, bad JSON) are in ``Batch.rejected``.

    One batch per file, in sorted order; ``label`` is the file path. The watermark is the
    set of SHA-256 digests of files read, so a file is read once however it is renamed,
    and read again in full if its content changes (derived ids then dedupe old rows).

    ``encoding`` is the text encoding of CSV and JSON Lines files; ``rules`` (value map,
    unknown actions, date order, DST) go with the batches to ``validate.py``.

    Raises SourceError (from ``read``) for a missing path, an unknown extension, a
    required column missing after ``column_map``, or an unreadable file.
    """

    def __init__(
        self,
        path: str | Path,
        format: FileFormat = "auto",
        column_map: Mapping[str, str] | None = None,
        name: str | None = None,
        *,
        encoding: str = "utf-8",
        rules: ValueRules | None = None,
    ) -> None:
        self.path = path
        self.format = format
        self.column_map = dict(column_map or {})
        self.name = name or f"files:{path}"
        self.encoding = encoding
        self.rules = rules or ValueRules()

    def read(self, since: Watermark | None = None) -> Iterator[Batch]:
        """Yield one batch per file not yet read according to ``since``."""
        seen = seen_files(since)
        for path, fmt in resolve_files(self.path, self.format):
            scan = scan_file(path)
            if scan.digest in seen:
                continue
            events, rejected = self._read_file(path, fmt, scan)
            seen = {**seen, scan.digest: str(path)}
            yield Batch(
                events=events,
                watermark=files_watermark(seen),
                label=str(path),
                rejected=rejected,
                metadata={"sha256": scan.digest, "format": fmt},
            )

    def _read_file(self, path: Path, fmt: str, scan: FileScan) -> tuple[pl.DataFrame, pl.DataFrame]:
        if fmt == "parquet":
            plan = plan_columns(parquet_columns(path), self.column_map, path)
            frame = read_parquet_file(path, list(plan))
            return to_events(frame, plan, path), rejected_frame([])
        if fmt == "jsonl":
            keys = sorted(set(self.column_map) | set(schema.EVENT_COLUMNS))
            frame, rejected = read_jsonl_file(path, scan, keys)
            if frame.height == 0:
                return frame.select(schema.LOCATION), rejected
            # JSON has no header: a key that no line has a value for counts as missing.
            present = [k for k in keys if frame[k].null_count() < frame.height]
            plan = plan_columns(present, self.column_map, path)
            return to_events(frame, plan, path), rejected
        header = csv_header(scan)
        if not header:  # an empty file (e.g. still being created) has no rows yet
            return pl.DataFrame(schema={schema.LOCATION: pl.String()}), rejected_frame([])
        plan = plan_columns(header, self.column_map, path)
        frame, rejected = read_csv_file(path, scan, list(plan))
        return to_events(frame, plan, path), rejected
