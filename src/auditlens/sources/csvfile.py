"""CSV exports: every value a string, every row's physical line number, broken lines alone.

Reading has three tiers so that the common case is fully vectorised:

1. no ``"`` and the comma count adds up: Polars parses the bytes directly, row *i* is
   line *first + i*;
2. otherwise the lines are checked with vectorised string operations (quote-aware field
   count, blank lines); ragged lines are rejected and the rest is parsed by Polars;
3. only lines holding an odd number of ``"`` (where a quoted field may span lines) go
   through Python's ``csv`` module, one record at a time from that line. A record that
   spans lines but does not come out with the header's number of fields is taken as an
   unclosed quote: only its first line is rejected and reading resumes on the next line,
   so one broken quote never swallows the rest of the file.

Empty values become null in every tier (CSV cannot tell an empty string from a missing
value). Blank lines are not rows: they are neither events nor rejected. A field may hold
up to :data:`~auditlens.sources.textfile.MAX_FIELD` bytes (16 MiB; Python's default is
128 KiB); a quoted field running past that is rejected with its first line.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import polars as pl

from auditlens import schema
from auditlens.errors import SourceError
from auditlens.sources.base import rejected_frame
from auditlens.sources.textfile import (
    MAX_FIELD,
    Bad,
    FileScan,
    clip,
    decode,
    not_decodable,
    raw_text,
)

__all__ = ["TRUNCATED", "csv_header", "lines_frame", "locations", "read_csv_file"]

TRUNCATED: Final = "truncated last line (file does not end with a newline)"
_END: Final = "\x01end"  # name of tier 2's sentinel column (never a real column name)


def csv_header(scan: FileScan, encoding: str = "utf-8") -> list[str]:
    """The column names in the first line of a CSV file (empty for an empty file)."""
    try:
        text = scan.header.decode(encoding)
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{scan.path}:1: header is not valid {encoding}: {clip(scan.header)!r}",
            hint="set the source's encoding (utf-8, cp949, euc-kr or auto)",
            ko=f"{scan.path}:1: 머리글이 올바른 {encoding} 텍스트가 아닙니다: "
            f"{clip(scan.header)!r}",
            ko_hint="소스의 encoding을 지정하십시오 (utf-8, cp949, euc-kr 또는 auto)",
        ) from exc
    if "\r" in text:
        raise SourceError(
            f"{scan.path}: lines end with a bare carriage return (old Mac format)",
            hint="save the file with Windows (CRLF) or Unix (LF) line endings",
            ko=f"{scan.path}: 줄 끝이 CR 하나입니다 (옛 Mac 형식)",
            ko_hint="Windows(CRLF) 또는 Unix(LF) 줄 끝으로 파일을 저장하십시오",
        )
    _allow_big_fields()
    return next(csv.reader([text]), []) if text else []


def _allow_big_fields() -> None:
    # The limit is process-wide in the csv module: only ever raise it, never lower it.
    if csv.field_size_limit() < MAX_FIELD:
        csv.field_size_limit(MAX_FIELD)


def read_csv_file(
    path: Path, scan: FileScan, columns: Sequence[str] | None = None, encoding: str = "utf-8"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read the lines ``scan`` holds, every value a string; returns ``(rows, rejected)``.

    ``rows`` has the header's columns (only ``columns`` when given) plus ``_location``
    (``path:line``, 1-based, the header is line 1). ``rejected`` holds ragged rows,
    undecodable lines and a final last line that is not a complete record, with a
    reason; rows + rejected = non-blank data lines (a record spanning lines counts once).
    A pending last line (``scan.pending``) is not read at all.
    """
    header = csv_header(scan, encoding)
    want = [c for c in header if columns is None or c in columns]
    empty = pl.DataFrame(schema=dict.fromkeys(want, pl.String()) | {schema.LOCATION: pl.String})
    lines = scan.lines + scan.tail_final
    if not header or not lines:
        return empty, rejected_frame([])
    frame = None
    tail = scan.tail if scan.tail_final else b""
    quotes, commas = scan.quotes + tail.count(b'"'), scan.commas + tail.count(b",")
    if encoding == "utf-8" and _plain(quotes, commas, lines, len(header)):
        # The file itself when it is read from the top: memory-mapped, wanted columns only.
        source = path if scan.from_top else scan.read_data()
        frame = _csv_direct(source, lines, header, want)
    bad: list[Bad] = []
    if frame is None:
        data, bad = decode(scan.read_data(), encoding, path, scan.first_line)
        plain = not bad and encoding != "utf-8"
        if plain and _plain(data.count(b'"'), data.count(b","), lines, len(header)):
            frame = _csv_direct(data, lines, header, want)
    if frame is None:
        text_header = ",".join(_quote(h) for h in header)
        frame, more = _csv_lines(path, data, scan.first_line, text_header, header, want)
        bad += more
        # Only a quoted "" reads as "" (tier 1 has no quotes): make it null like the rest.
        frame = frame.with_columns(pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in want)
        frame = frame.with_columns(locations(path, pl.col("_n"))).drop("_n")
    else:
        frame = frame.with_columns(locations(path, pl.int_range(pl.len()) + scan.first_line))
    if scan.tail_final:
        last = f"{path}:{scan.first_line + lines - 1}"
        bad = [Bad(b.location, f"{TRUNCATED}: {b.reason}", b.raw) if b.location == last else b
               for b in bad]  # fmt: skip
    return pl.concat([empty, frame]), rejected_frame([b.row() for b in bad])


def _plain(quotes: int, commas: int, lines: int, ncols: int) -> bool:
    """No quotes and exactly ``ncols - 1`` commas a line on average: tier 1 can take it."""
    return ncols >= 2 and not quotes and commas == (ncols - 1) * lines


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"' if any(ch in name for ch in ',"\n') else name


def _csv_direct(
    source: Path | bytes, lines: int, names: list[str], want: list[str]
) -> pl.DataFrame | None:
    """Tier 1: parse every line at once (a Path has the header, bytes have not).

    Polars fails on a line with too many fields, so with the comma total right
    (:func:`_plain`) no line has too few either (a blank line has too few): every line
    is a plain row. None when Polars refuses (e.g. invalid UTF-8: later tiers say where).
    """
    try:
        if isinstance(source, Path):  # n_rows stops before a line still being written
            frame = pl.read_csv(source, infer_schema=False, n_rows=lines, columns=want)
        else:
            index = [names.index(c) for c in want]
            frame = pl.read_csv(source, has_header=False, infer_schema=False, columns=index)
            frame = frame.rename(dict(zip(frame.columns, want, strict=True)))
    except pl.exceptions.PolarsError:
        return None
    return frame if frame.height == lines else None


def lines_frame(path: Path, data: bytes, first: int) -> tuple[pl.DataFrame, list[Bad]]:
    """The lines as ``n`` (line number) and ``line``; non-UTF-8 lines rejected and blanked."""
    count = data.count(b"\n")
    try:
        lines = pl.read_lines(io.BytesIO(data), name="line")
        if lines.height == count:
            return lines.with_row_index("n", offset=first).cast({"n": pl.Int64}), []
    except pl.exceptions.PolarsError:
        pass
    # Decode line by line so that one bad byte costs one line, not the whole file.
    texts: list[str] = []
    rejected: list[Bad] = []
    for n, raw in enumerate(data.split(b"\n")[:count], start=first):
        raw = raw.removesuffix(b"\r")
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            rejected.append(Bad(f"{path}:{n}", not_decodable("utf-8", exc), raw_text(raw)))
            texts.append("")
    frame = pl.DataFrame(
        {"n": pl.int_range(first, first + len(texts), eager=True), "line": texts},
        schema={"n": pl.Int64, "line": pl.String},
    )
    return frame, rejected


def _csv_lines(
    path: Path, data: bytes, first: int, header: str, names: list[str], want: list[str]
) -> tuple[pl.DataFrame, list[Bad]]:
    """Tiers 2 and 3: rows with column ``_n`` (their first line), and the rejected lines."""
    lines, rejected = lines_frame(path, data, first)
    odd = (lines["line"].str.count_matches('"', literal=True) % 2 == 1).arg_true().to_list()
    texts: list[str] = lines["line"].to_list() if odd else []
    parsed = _python_records(texts, len(names), odd)
    position = pl.int_range(pl.len())
    rest = lines.filter(
        ~position.is_in(sorted(parsed.taken)), pl.col("line").str.strip_chars() != ""
    )
    found = _csv_from_lines(path, rest, header, len(names), want)
    if found is None:  # Polars refused: the remaining lines through Python (slow, exact)
        texts = texts or lines["line"].to_list()
        starts = sorted(lines.with_row_index("_i").join(rest, on="n", how="semi")["_i"])
        more = _python_records(texts, len(names), starts, parsed.taken)
        found = _frame_of(more, lines["n"], names, want), _bad_of(path, more, lines["n"], texts)
    frames = [found[0], _frame_of(parsed, lines["n"], names, want)]
    rejected += found[1] + _bad_of(path, parsed, lines["n"], texts)
    return pl.concat(frames).sort("_n"), rejected


def _csv_from_lines(
    path: Path, lines: pl.DataFrame, header: str, ncols: int, want: list[str]
) -> tuple[pl.DataFrame, list[Bad]] | None:
    """Tier 2: parse the lines with Polars, rejecting ragged ones, all vectorised.

    The lines hold no odd number of quotes; None when Polars cannot parse them.
    """
    # Polars pads a short row with nulls and (told to) cuts a long one, so mark every line
    # with a sentinel field: it lands in the extra last column only if the count is right.
    buf = io.BytesIO()
    buf.write(f"{header},{_END}\n".encode())
    lines.select(pl.col("line") + ",\x01").write_csv(buf, include_header=False, quote_style="never")
    try:
        frame = pl.read_csv(
            buf.getvalue(), infer_schema=False, columns=[*want, _END], truncate_ragged_lines=True
        )
    except pl.exceptions.PolarsError:
        return None
    if frame.height != lines.height:
        return None
    ok = (frame[_END] == "\x01").fill_null(False)
    # Quoted sections cannot hold a separator that counts: drop them, then count commas.
    fields = pl.col("line").str.replace_all(r'"[^"]*"', "").str.count_matches(",", literal=True)
    bad = lines.filter(~ok).select(
        pl.col("n"),
        reason=pl.format(f"expected {ncols} fields, found {{}}", fields + 1),
        raw=pl.col("line"),
    )
    good = frame.filter(ok).drop(_END).with_columns(lines["n"].filter(ok).alias("_n"))
    return good, [Bad(f"{path}:{n}", reason, raw) for n, reason, raw in bad.iter_rows()]


@dataclass
class _Parsed:
    """Records Python's csv module read: good ones, rejected first lines, lines used."""

    good: list[tuple[int, list[str]]] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)
    taken: set[int] = field(default_factory=set)


def _python_records(
    texts: list[str], ncols: int, starts: list[int], taken: set[int] | None = None
) -> _Parsed:
    """Tier 3: parse the records that begin at ``starts`` (indices into ``texts``).

    A record is read with Python's csv module from its first line on; one that spans
    lines without giving ``ncols`` fields (an unclosed quote, or a field over 16 MiB)
    costs only its first line, which is rejected, and the next line is read afresh.
    """
    _allow_big_fields()
    parsed = _Parsed(taken=set(taken or ()))
    todo = iter(starts)
    i = next(todo, None)
    while i is not None:
        # strict: a closing quote must be followed by a separator, which stops an unclosed
        # quote from pairing with the first quote of a later line
        reader = csv.reader((t + "\n" for t in itertools.islice(texts, i, None)), strict=True)
        used = 0
        while i is not None:
            try:
                record: list[str] | None = next(reader)
                error = ""
            except StopIteration:
                return parsed
            except csv.Error as exc:
                record, error = None, str(exc)
            span = max(reader.line_num - used, 1)
            used = reader.line_num
            if record is None and span == 1:  # e.g. "ab"c on one line: read it leniently
                record = _lenient(texts[i])
            resync = span > 1 and (record is None or len(record) != ncols)
            _classify(parsed, i, span, record, ncols, error)
            after = i + span
            i = _next_start(todo, parsed.taken)
            if resync or error or i != after:
                break  # the next start is elsewhere: a new reader from there
    return parsed


def _lenient(line: str) -> list[str] | None:
    try:
        return next(csv.reader([line]), [])
    except csv.Error:  # e.g. a field over the size limit
        return None


def _classify(
    parsed: _Parsed, i: int, span: int, record: list[str] | None, ncols: int, error: str
) -> None:
    """File the record read from line ``i`` as a row, a rejected line or a blank line."""
    if record is not None and span == 1 and not "".join(record).strip():
        parsed.taken.add(i)  # a blank line is not a row
    elif record is not None and len(record) == ncols:
        parsed.good.append((i, record))
        parsed.taken.update(range(i, i + span))
    elif span == 1 and record is not None:
        parsed.bad.append((i, f"expected {ncols} fields, found {len(record)}"))
        parsed.taken.add(i)
    else:
        if record is None:
            reason = f"unparseable CSV from this line on ({clip(error)}; an unclosed quote?)"
        else:
            found = f"found {len(record)} fields"
            reason = f"a quoted field opened here does not close ({found}; an unclosed quote?)"
        parsed.bad.append((i, f"{reason}; {_ALONE}"))
        parsed.taken.add(i)


_ALONE: Final = "only this line is quarantined; reading resumed on the next line"


def _next_start(todo: Iterator[int], taken: set[int]) -> int | None:
    return next((i for i in todo if i not in taken), None)


def _frame_of(
    parsed: _Parsed, numbers: pl.Series, names: list[str], want: list[str]
) -> pl.DataFrame:
    index = {name: names.index(name) for name in want}
    values = {name: [record[i] for _, record in parsed.good] for name, i in index.items()}
    frame = pl.DataFrame(values, schema=dict.fromkeys(want, pl.String()))
    return frame.with_columns(numbers.gather([i for i, _ in parsed.good]).alias("_n"))


def _bad_of(path: Path, parsed: _Parsed, numbers: pl.Series, texts: list[str]) -> list[Bad]:
    return [Bad(f"{path}:{numbers[i]}", reason, texts[i]) for i, reason in parsed.bad]


def locations(path: Path, line: pl.Expr | pl.Series, sep: str = ":") -> pl.Expr:
    """``path:line`` (or ``path#row=N`` with ``sep="#row="``) for every row."""
    number = line if isinstance(line, pl.Expr) else pl.lit(line)
    return pl.concat_str([pl.lit(f"{path}{sep}"), number.cast(pl.String)]).alias(schema.LOCATION)
