"""File sources: CSV, JSON Lines, Parquet and Excel exports given as a file, a directory or a glob.

Each format has its own reader module (``csvfile``, ``jsonlfile``, ``parquetfile``,
``xlsx``; ``textfile`` holds what the text formats share). This module maps the columns
to canonical names, derives event ids and keeps the watermark.

Text files (CSV, JSON Lines) are read from where the last committed read stopped: the
watermark holds, per file, a :class:`~auditlens.sources.textfile.FileMark` (byte offset,
lines before it, SHA-256 of those bytes). A file that grows is read from its mark, so a
bad row is quarantined once; a file whose bytes before the mark changed (rewritten,
truncated, rotated) is read again from the top and the batch says so. Parquet and Excel
files are read once per content (SHA-256). A Parquet file of more than ``parquet_batch_rows``
rows that carries event ids is read that many rows at a time, each slice its own batch:
the watermark holds, per such file, its SHA-256 and the next row to read, so memory is
set by the slice, not the file, and a run stopped between slices goes on from the next
one. (Without event ids the file is read whole: a derived id counts identical rows over
the whole file.)
"""

# size: the source class, path/glob expansion and the watermark codec belong together; the
# errors a person hits here each carry their Korean text, which adds ~15 lines.

from __future__ import annotations

import glob
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import polars as pl

from auditlens import schema
from auditlens.errors import SourceError, os_reason
from auditlens.sources.base import Batch, Source, Watermark, rejected_frame, unreadable_batch
from auditlens.sources.columns import derive_event_ids, plan_columns, to_events
from auditlens.sources.csvfile import TRUNCATED, csv_header, read_csv_file
from auditlens.sources.jsonlfile import read_jsonl_file
from auditlens.sources.parquetfile import parquet_columns, parquet_rows, read_parquet_file
from auditlens.sources.textfile import (
    ENCODINGS,
    SETTLE_SECONDS,
    FileMark,
    FileScan,
    choose_encoding,
    clip,
    scan_file,
)
from auditlens.sources.xlsx import read_sheets
from auditlens.vocabulary import Encoding, FileFormat, ValueRules

__all__ = [
    "ENCODINGS",
    "EXTENSIONS",
    "TRUNCATED",
    "Encoding",
    "FileSource",
    "csv_header",
    "derive_event_ids",
    "files_watermark",
    "read_csv_file",
    "resolve_files",
    "scan_file",
    "seen_files",
]


#: File extensions recognised by ``format="auto"`` (compare lower-cased).
EXTENSIONS: Final = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "xlsx",
}
# --- watermark: digests of files read whole, marks of text files read so far ----------


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
        f"stored watermark {clip(since.value, 80)!r} is not a file watermark",
        hint='expected {"files": {"<sha256>": "<path>"}}; was the source renamed or retyped?',
        ko=f"저장된 워터마크가 파일 워터마크가 아닙니다: {clip(since.value, 80)!r}",
        ko_hint='{"files": {"<sha256>": "<path>"}} 형식이어야 합니다. 소스의 이름이나 종류를 '
        "바꾸지 않았는지 확인하십시오",
    )


def file_marks(since: Watermark | None) -> dict[str, FileMark]:
    """The ``{path: FileMark}`` of text files a file watermark has read parts of."""
    if since is None:
        return {}
    try:
        marks = json.loads(since.value).get("marks", {})
        return {
            str(path): FileMark(int(m["offset"]), int(m["line"]), str(m["prefix"]))
            for path, m in marks.items()
        }
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SourceError(
            f"stored watermark {clip(since.value, 80)!r} has unreadable file marks",
            hint='expected {"marks": {"<path>": {"offset": N, "line": N, "prefix": "<sha256>"}}}',
            ko=f"저장된 워터마크의 파일 위치 정보를 읽을 수 없습니다: {clip(since.value, 80)!r}",
            ko_hint='{"marks": {"<path>": {"offset": N, "line": N, "prefix": "<sha256>"}}} '
            "형식이어야 합니다",
        ) from exc


@dataclass(frozen=True)
class RowMark:
    """How far a Parquet file read in slices was read: its SHA-256 and the next row."""

    sha256: str
    next_row: int


def row_marks(since: Watermark | None) -> dict[str, RowMark]:
    """The ``{path: RowMark}`` of Parquet files a file watermark has read slices of."""
    if since is None:
        return {}
    try:
        rows = json.loads(since.value).get("rows", {})
        return {str(path): RowMark(str(m["sha256"]), int(m["next"])) for path, m in rows.items()}
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SourceError(
            f"stored watermark {clip(since.value, 80)!r} has unreadable row marks",
            hint='expected {"rows": {"<path>": {"sha256": "<sha256>", "next": N}}}',
            ko=f"저장된 워터마크의 행 위치 정보를 읽을 수 없습니다: {clip(since.value, 80)!r}",
            ko_hint='{"rows": {"<path>": {"sha256": "<sha256>", "next": N}}} 형식이어야 합니다',
        ) from exc


def files_watermark(
    seen: Mapping[str, str],
    marks: Mapping[str, FileMark] | None = None,
    rows: Mapping[str, RowMark] | None = None,
) -> Watermark:
    """The watermark recording the files in ``seen`` as read, the ``marks`` of text files
    and the ``rows`` marks of Parquet files read in part."""
    value: dict[str, object] = {"files": dict(seen)}
    if marks:
        value["marks"] = {path: mark.as_json() for path, mark in marks.items()}
    if rows:
        value["rows"] = {p: {"sha256": m.sha256, "next": m.next_row} for p, m in rows.items()}
    return Watermark(json.dumps(value, sort_keys=True))


# --- the source ----------------------------------------------------------------------

#: Rows per batch of a Parquet file with event ids read in slices (one 10M-row file: an
#: ingest peak of 1.0 GiB instead of 3.5).
PARQUET_BATCH_ROWS: Final = 2_000_000


@dataclass(frozen=True)
class _Read:
    """What a watermark records: files read (``{sha256: path}``), text files' marks and
    Parquet files' row marks."""

    seen: dict[str, str]
    marks: dict[str, FileMark]
    rows: dict[str, RowMark]

    @classmethod
    def of(cls, since: Watermark | None) -> _Read:
        return cls(seen_files(since), file_marks(since), row_marks(since))

    @property
    def watermark(self) -> Watermark:
        return files_watermark(self.seen, self.marks, self.rows)


#: What reading one file (or slice) returns: the batch and what is read after it.
_Found = tuple[Batch, _Read]


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
                ko=f"디렉터리가 아닙니다: {base} (glob {path}의 고정 부분)",
                ko_hint="소스의 path를 있는 파일, 디렉터리 또는 glob으로 지정하십시오",
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
            ko=f"파일이 없습니다: {path}",
            ko_hint="소스의 path를 있는 파일, 디렉터리 또는 glob으로 지정하십시오 "
            "(예: /data/exports/*.csv)",
        )
    return [(p, fmt if fmt != "auto" else _format_of(p)) for p in files]


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in EXTENSIONS:
        raise SourceError(
            f"{path}: cannot tell the file format from the extension {suffix or '(none)'!r}",
            hint=f"use one of {sorted(EXTENSIONS)} or set the source's format option "
            "to 'csv', 'jsonl', 'parquet' or 'xlsx'",
            ko=f"{path}: 확장자로 파일 형식을 알 수 없습니다 ({suffix or '(없음)'!r})",
            ko_hint=f"확장자를 {sorted(EXTENSIONS)} 중 하나로 하거나 소스의 format 옵션을 "
            "'csv', 'jsonl', 'parquet', 'xlsx' 중 하나로 지정하십시오",
        )
    return EXTENSIONS[suffix]


#: What a batch tells the person running the ingestion, in English and Korean.
NOTICES: Final = {
    "cp949": (
        "{path}: not valid UTF-8, read as CP949 (encoding = 'auto')",
        "{path}: UTF-8이 아니어서 CP949로 읽었습니다 (encoding = 'auto')",
    ),
    "restarted": (
        "{path}: the first {offset:,} bytes changed since the last read (file rewritten or "
        "truncated): read again from the start; stored events are recognised by their id",
        "{path}: 지난번에 읽은 앞부분 {offset:,}바이트가 바뀌었습니다 (파일을 다시 쓰거나 "
        "잘라냄): 처음부터 다시 읽습니다; 이미 저장된 이벤트는 id로 걸러집니다",
    ),
    "restarted_rows": (
        "{path}: the file changed since its first {row:,} rows were read (rewritten): read "
        "again from the first row; stored events are recognised by their id",
        "{path}: 앞의 {row:,}행을 읽은 뒤 파일이 바뀌었습니다 (다시 씀): 첫 행부터 다시 "
        "읽습니다; 이미 저장된 이벤트는 id로 걸러집니다",
    ),
    "pending": (
        "{path}: the last line has no line end and the file changed less than {seconds:g} s "
        "ago: it is left for the next run",
        "{path}: 마지막 줄에 줄바꿈이 없고 파일이 {seconds:g}초 안에 바뀌었습니다: "
        "다음 실행에서 읽습니다",
    ),
    "sheet": (
        "{path}: sheet {sheet!r} skipped ({reason})",
        "{path}: 시트 {sheet!r}는 건너뛰었습니다 ({reason})",
    ),
}


def notice(kind: str, **values: object) -> dict[str, str]:
    """Batch metadata carrying notice ``kind`` in English (``notice``) and Korean."""
    english, korean = NOTICES[kind]
    return {"notice": english.format(**values), "notice_ko": korean.format(**values)}


def _joined(notes: list[dict[str, str]]) -> dict[str, str]:
    return (
        {key: "\n".join(n[key] for n in notes) for key in ("notice", "notice_ko")} if notes else {}
    )


class FileSource(Source):
    """Events from CSV, JSON Lines, Parquet or Excel files: a file, a directory or a glob.

    ``column_map`` renames customer columns to canonical ones (``{"emp_no": "user_id"}``);
    other non-canonical columns are dropped. Values stay raw (CSV, JSON Lines, Excel: all
    strings; Parquet: timestamp and success keep their type, other columns become
    strings) for ``validate.py``. Each row carries ``_location``: ``path:line`` for CSV and
    JSON Lines (1-based physical line; for a quoted CSV field spanning lines, the line the
    record starts on), ``path#row=N`` for Parquet (N counts from 0), ``path:Sheet:row N``
    for Excel. Rows that cannot be read (wrong field count, bad JSON, undecodable bytes,
    Excel errors) are in ``Batch.rejected``.

    ``encoding`` (CSV and JSON Lines): ``utf-8``, ``cp949``, ``euc-kr`` or ``auto`` (UTF-8
    when the bytes are valid UTF-8, else CP949, with a notice in the batch metadata).
    ``settle_seconds``: a last line without a line end is read once the file has not
    changed for that long (0: at once); until then it is left for a later read.

    One batch per file with something new, in sorted order; ``label`` is the file path.
    Text files are read on from the watermark's mark for the file (see the module
    docstring); Parquet and Excel files are read once per content (SHA-256).

    Raises SourceError (from ``read``) for a missing path, an unknown extension or an
    unknown encoding. A file that cannot be read (not readable, a required column missing
    after ``column_map``, undecodable header, broken Parquet or Excel) becomes an
    :func:`~auditlens.sources.base.unreadable_batch` and the other files are still read.

    ``rules`` (value map, unknown actions, date order, DST) go with the batches to
    ``validate.py``. ``parquet_batch_rows``: a Parquet file with an event_id column and
    more rows than this is read in slices of this many rows, one batch each (see the
    module docstring).
    """

    def __init__(
        self,
        path: str | Path,
        format: FileFormat = "auto",
        column_map: Mapping[str, str] | None = None,
        name: str | None = None,
        id_scope: Literal["source", "file"] = "source",
        *,
        encoding: str = "utf-8",
        settle_seconds: float = SETTLE_SECONDS,
        clock: Callable[[], float] = time.time,
        rules: ValueRules | None = None,
        parquet_batch_rows: int = PARQUET_BATCH_ROWS,
    ) -> None:
        if parquet_batch_rows < 1:
            raise ValueError(f"parquet_batch_rows must be at least 1, got {parquet_batch_rows}")
        self.parquet_batch_rows = parquet_batch_rows
        self.path = path
        self.format = format
        self.column_map = dict(column_map or {})
        self.name = name or f"files:{path}"
        self.id_scope = id_scope
        self.encoding = encoding
        self.settle_seconds = settle_seconds
        self.clock = clock
        self.rules = rules or ValueRules()

    def read(self, since: Watermark | None = None) -> Iterator[Batch]:
        """Yield one batch per file with rows not yet read according to ``since``."""
        if self.encoding not in ENCODINGS:
            raise SourceError(
                f"unknown encoding {self.encoding!r}",
                hint=f"use one of {', '.join(ENCODINGS)}",
                ko=f"알 수 없는 인코딩입니다: {self.encoding!r}",
                ko_hint=f"{', '.join(ENCODINGS)} 중 하나를 쓰십시오",
            )
        read = _Read.of(since)
        known = _Digests()
        for path, fmt in resolve_files(self.path, self.format):
            # One unreadable file must not stop the others: it becomes a quarantined entry
            # and stays unread (the watermark does not cover it), so it is tried again.
            while True:  # once, or a Parquet file's slices one after the other
                try:
                    if fmt in ("csv", "jsonl"):
                        found = self._read_text(path, fmt, read)
                    elif fmt == "parquet":
                        found = self._read_parquet(path, known.digest(path), read)
                    else:
                        found = self._read_whole(path, fmt, read)
                except SourceError as exc:
                    yield unreadable_batch(str(path), str(exc), read.watermark)
                    break
                if found is None:
                    break
                batch, read = found
                del found  # the consumer holds the batch; none of it stays here
                more = fmt == "parquet" and str(path) in read.rows
                yield batch
                del batch  # nor while the next file (or slice) is read
                if not more:
                    break

    def _read_text(self, path: Path, fmt: str, read: _Read) -> _Found | None:
        key = str(path)
        seen, mark = read.seen, read.marks.get(key)
        scan = scan_file(
            path, mark, header=fmt == "csv", settle_seconds=self.settle_seconds, clock=self.clock
        )
        if mark is None and scan.digest in seen:
            return None  # the same bytes were read in full (under this or another name)
        if mark is not None and not scan.restarted and scan.end == mark.offset:
            return None  # nothing new (a pending last line waits for a later read)
        data = scan.read_data() if self.encoding == "auto" else b""
        encoding, fell_back = choose_encoding(self.encoding, scan.header, data)
        events, rejected = self._text_events(path, fmt, scan, encoding)
        notes = [notice("cp949", path=path)] if fell_back else []
        if scan.restarted and mark is not None:
            notes.append(notice("restarted", path=path, offset=mark.offset))
        if scan.pending:
            notes.append(notice("pending", path=path, seconds=self.settle_seconds))
        seen = {d: p for d, p in seen.items() if p != key}
        if scan.end == scan.size:
            seen[scan.digest] = key
        read = _Read(seen, {**read.marks, key: scan.mark}, read.rows)
        batch = Batch(
            events=events,
            watermark=read.watermark,
            label=key,
            rejected=rejected,
            metadata={
                "sha256": scan.digest,
                "format": fmt,
                "encoding": encoding,
                "bytes": f"{scan.start}-{scan.end}",
                **_joined(notes),
            },
        )
        return batch, read

    def _text_events(
        self, path: Path, fmt: str, scan: FileScan, encoding: str
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        if fmt == "jsonl":
            keys = sorted(set(self.column_map) | set(schema.EVENT_COLUMNS))
            frame, rejected = read_jsonl_file(path, scan, keys, encoding)
            if frame.height == 0:
                return frame.select(schema.LOCATION), rejected
            # JSON has no header: a key that no line has a value for counts as missing.
            present = [k for k in keys if frame[k].null_count() < frame.height]
            plan = plan_columns(present, self.column_map, path)
            return to_events(frame, plan, path), rejected
        header = csv_header(scan, encoding)
        if not header:  # an empty file (e.g. still being created) has no rows yet
            return pl.DataFrame(schema={schema.LOCATION: pl.String()}), rejected_frame([])
        plan = plan_columns(header, self.column_map, path)
        frame, rejected = read_csv_file(path, scan, list(plan), encoding)
        return to_events(frame, plan, path), rejected

    def _read_whole(self, path: Path, fmt: str, read: _Read) -> _Found | None:
        """An Excel file, whole, once per content."""
        digest = file_digest(path)
        if digest in read.seen:
            return None
        events, rejected, notes = self._read_xlsx(path)
        read = _Read({**read.seen, digest: str(path)}, read.marks, read.rows)
        batch = Batch(
            events=events,
            watermark=read.watermark,
            label=str(path),
            rejected=rejected,
            metadata={"sha256": digest, "format": fmt, **_joined(notes)},
        )
        return batch, read

    def _read_parquet(self, path: Path, digest: str, read: _Read) -> _Found | None:
        """A Parquet file's next part (``digest``: its SHA-256): the whole file, or with
        event ids and more than ``parquet_batch_rows`` rows the next slice of that many
        (from its row mark when the file is the one the mark was taken of, else from the
        top, said in a note)."""
        key = str(path)
        if digest in read.seen:
            return None
        plan = plan_columns(parquet_columns(path), self.column_map, path)
        total = parquet_rows(path)
        mark = read.rows.get(key)
        notes: list[dict[str, str]] = []
        start = 0
        if mark is not None and mark.sha256 == digest:
            start = mark.next_row
        elif mark is not None:  # another file under that name since the last slice
            notes.append(notice("restarted_rows", path=path, row=mark.next_row))
        sliced = schema.EVENT_ID in plan.values() and total > self.parquet_batch_rows
        count = min(self.parquet_batch_rows, total - start) if sliced else None
        frame, rejected = read_parquet_file(path, plan, start, count)
        events = to_events(frame, plan, path)
        end = total if count is None else start + count
        rows = {p: m for p, m in read.rows.items() if p != key}
        seen = read.seen
        if end < total:
            rows[key] = RowMark(digest, end)
        else:
            seen = {**seen, digest: key}
        read = _Read(seen, read.marks, rows)
        metadata = {"sha256": digest, "format": "parquet", **_joined(notes)}
        if sliced:
            metadata["rows"] = f"{start}-{end} of {total}"
        batch = Batch(
            events=events,
            watermark=read.watermark,
            label=key,
            rejected=rejected,
            metadata=metadata,
        )
        return batch, read

    def _read_xlsx(self, path: Path) -> tuple[pl.DataFrame, pl.DataFrame, list[dict[str, str]]]:
        frames: list[pl.DataFrame] = []
        bad: list[tuple[str, str, str]] = []
        notes: list[dict[str, str]] = []
        refused: SourceError | None = None
        for sheet in read_sheets(path):
            try:
                plan = plan_columns(sheet.header, self.column_map, Path(f"{path}:{sheet.name}"))
            except SourceError as exc:
                refused = refused or exc
                notes.append(notice("sheet", path=path, sheet=sheet.name, reason=str(exc)))
                continue
            frame, rejected = sheet.read(plan)
            frames.append(frame)
            bad.extend(b.row() for b in rejected)
        if not frames:
            if refused is not None:
                raise refused
            return pl.DataFrame(schema={schema.LOCATION: pl.String()}), rejected_frame(bad), notes
        events = pl.concat(frames, how="diagonal")
        present = [c for c in events.columns if c != schema.LOCATION]
        return to_events(events, {c: c for c in present}, path), rejected_frame(bad), notes


class _Digests:
    """SHA-256 of files, worked out again only when a file's size or modification time
    changed since (a Parquet file read in slices is hashed once, not once per slice)."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[tuple[int, int], str]] = {}

    def digest(self, path: Path) -> str:
        try:
            info = path.stat()
        except OSError:
            return file_digest(path)  # which says why it cannot be read
        stamp = (info.st_size, info.st_mtime_ns)
        found = self._known.get(str(path))
        if found is not None and found[0] == stamp:
            return found[1]
        digest = file_digest(path)
        self._known[str(path)] = (stamp, digest)
        return digest


def file_digest(path: Path) -> str:
    """The SHA-256 of a file, read in chunks (constant memory)."""
    sha = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 24):
                sha.update(chunk)
    except OSError as exc:
        raise SourceError(
            f"cannot read {path}: {exc.strerror}",
            ko=f"파일을 읽을 수 없습니다: {path} ({os_reason(exc, 'ko')})",
        ) from exc
    return sha.hexdigest()
