"""Text files read in parts: one pass per file, the part not yet read, encodings, raw text.

A text source (CSV, JSON Lines) remembers per file how far it has read: a
:class:`FileMark` holds the byte offset after the last record accounted for, the number
of lines before it and the SHA-256 of those bytes. :func:`scan_file` reads the file once
and returns what lies after the mark (:class:`FileScan`); when the bytes before the mark
changed (the file was rewritten or truncated) it says so and starts again from the top.

Bytes after the last newline (a last line without a line end) are *pending* while the
file is still changing — they are neither read nor quarantined, and the mark stops before
them — and *final* once the file has not been modified for ``settle_seconds``: then they
are the file's last record.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, get_args

from auditlens.errors import SourceError, os_reason
from auditlens.vocabulary import Encoding

ENCODINGS: Final = get_args(Encoding)
#: The longest CSV field or header line read (Python's csv module stops at 128 KiB).
MAX_FIELD: Final = 16 * 1024 * 1024
#: Characters of input an error message or reason quotes at most.
CLIP: Final = 200
#: Prefix of a quarantined ``raw`` value holding the line's original bytes in base64
#: (used when the bytes cannot be decoded, so nothing is lost to U+FFFD).
RAW_BASE64: Final = "base64:"
#: Seconds a file must be unchanged before a last line without a line end is read.
SETTLE_SECONDS: Final = 5.0
_BOM: Final = b"\xef\xbb\xbf"
_CHUNK: Final = 1 << 24


def clip(text: str | bytes, limit: int = CLIP) -> str:
    """``text`` cut to ``limit`` characters plus ``… (N bytes)`` when it is longer.

    >>> clip("x" * 300, 5)
    'xxxxx… (300 bytes)'
    """
    if isinstance(text, bytes):
        size = len(text)
        text = text[: limit * 4].decode("utf-8", "replace")
    else:
        if len(text) <= limit:
            return text
        size = len(text.encode("utf-8", "surrogatepass"))
    return text if len(text) <= limit else f"{text[:limit]}… ({size:,} bytes)"


def raw_text(line: bytes) -> str:
    """``line`` as UTF-8 text, or ``base64:<its bytes>`` when it is not valid UTF-8."""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return RAW_BASE64 + base64.b64encode(line).decode("ascii")


def raw_bytes(raw: str) -> bytes:
    """The original bytes of a quarantined ``raw`` value (inverse of :func:`raw_text`)."""
    if raw.startswith(RAW_BASE64):
        return base64.b64decode(raw[len(RAW_BASE64) :])
    return raw.encode("utf-8")


@dataclass(frozen=True)
class FileMark:
    """How far a text file has been read: every record before ``offset`` is accounted for."""

    offset: int
    line: int
    prefix: str

    def as_json(self) -> dict[str, int | str]:
        """The mark as stored in a watermark."""
        return {"offset": self.offset, "line": self.line, "prefix": self.prefix}


@dataclass(frozen=True)
class FileScan:
    """One streaming pass over a file: its digest and where the unread complete lines are.

    ``header`` is line 1 without BOM and line end (empty for an empty file). The unread
    complete lines are bytes ``start`` to ``cut`` (``first_line`` is the number of the
    first; the header is never among them): ``lines`` lines holding ``quotes`` ``"`` and
    ``commas`` ``,``. ``tail`` is what follows (no line end); ``tail_final`` says it is
    the last record (the file has settled) rather than a line still being written.
    ``end`` is where the next read starts; ``from_top`` says the read starts at the
    first data line (no mark, or the file changed before it). Only the header and the
    tail are kept in memory: :meth:`read_data` reads the lines when a reader needs them.
    """

    path: Path
    digest: str
    size: int
    header: bytes
    start: int
    cut: int
    first_line: int
    lines: int
    quotes: int
    commas: int
    tail: bytes
    tail_final: bool
    end: int
    prefix: str
    from_top: bool = True
    restarted: bool = False

    @property
    def mark(self) -> FileMark:
        """The mark after this read."""
        return FileMark(self.end, self.first_line - 1 + self.lines + self.tail_final, self.prefix)

    @property
    def pending(self) -> bool:
        """A last line without a line end was left for a later read."""
        return bool(self.tail) and not self.tail_final

    def read_data(self) -> bytes:
        """The unread complete lines, plus a final tail with a line end added."""
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.start)
                data = fh.read(self.cut - self.start)
        except OSError as exc:
            raise SourceError(
                f"cannot read {self.path}: {exc.strerror}",
                ko=f"파일을 읽을 수 없습니다: {self.path} ({os_reason(exc, 'ko')})",
            ) from exc
        if len(data) != self.cut - self.start:
            raise SourceError(
                f"{self.path} shrank while it was being read",
                hint="run again",
                ko=f"읽는 동안 파일이 작아졌습니다: {self.path}",
                ko_hint="다시 실행하십시오",
            )
        return data + self.tail + b"\n" if self.tail_final else data


@dataclass
class _Counts:
    lines: int = 0
    quotes: int = 0
    commas: int = 0

    def add(self, data: bytes | bytearray | memoryview) -> None:
        if isinstance(data, memoryview):
            data = data.tobytes()
        self.lines += data.count(b"\n")
        self.quotes += data.count(b'"')
        self.commas += data.count(b",")


class _Hasher:
    """SHA-256 of a stream that also remembers the digest of its first ``at`` bytes."""

    def __init__(self, at: int | None) -> None:
        self.sha = hashlib.sha256()
        self.pos = 0
        self.at = at
        self.at_digest: str | None = None
        self.before_at = _Counts()

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if self.at is not None and self.at_digest is None and self.pos + len(data) >= self.at:
            k = self.at - self.pos
            self.sha.update(data[:k])
            self.before_at.add(data[:k])
            self.at_digest = self.sha.hexdigest()
            self.sha.update(data[k:])
        else:
            self.sha.update(data)
            if self.at is not None and self.at_digest is None:
                self.before_at.add(data)
        self.pos += len(data)


def scan_file(
    path: Path,
    since: FileMark | None = None,
    *,
    header: bool = True,
    settle_seconds: float = 0.0,
    clock: Callable[[], float] = time.time,
) -> FileScan:
    """Read ``path`` once, in chunks, and say what follows ``since`` (everything when None).

    ``header``: line 1 holds column names (CSV), so data starts on line 2. A last line
    without a line end is final when the file's modification time is at least
    ``settle_seconds`` before ``clock()``. Raises SourceError when the file cannot be
    read or (with ``header``) its first line is longer than :data:`MAX_FIELD`.
    """
    at = since.offset if since is not None and since.offset > 0 else None
    hasher = _Hasher(at)
    total = _Counts()
    head, header_end, pending, mtime = _read_through(path, hasher, total, header=header)
    final = settle_seconds <= 0 or clock() - mtime >= settle_seconds
    cut_all = hasher.pos  # after the last newline
    complete = hasher.sha.hexdigest()
    hasher.update(pending)
    digest = hasher.sha.hexdigest()
    size = hasher.pos
    restarted = at is not None and (size < at or hasher.at_digest != since.prefix)  # type: ignore[union-attr]
    if at is not None and not restarted:
        start, first, before = at, since.line + 1, hasher.before_at  # type: ignore[union-attr]
    elif header:
        if header_end < 0 and not final:
            head = bytearray()  # the header itself is still being written
        start = header_end if header_end >= 0 else len(head)
        first, before = 2, _Counts(1 if header_end >= 0 else 0, head.count(b'"'), head.count(b","))
    else:
        start, first, before = 0, 1, _Counts()
    cut = max(cut_all, start)
    tail = bytes(pending[len(pending) - (size - cut) :]) if size > cut else b""
    in_tail = _Counts()
    in_tail.add(tail)
    tail_final = bool(tail) and final
    end = size if tail_final else cut
    if cut == start:
        region = _Counts()
    else:
        region = _Counts(
            total.lines - before.lines,
            total.quotes - before.quotes - in_tail.quotes,
            total.commas - before.commas - in_tail.commas,
        )
    return FileScan(
        path=path,
        digest=digest,
        size=size,
        header=bytes(head).removeprefix(_BOM).removesuffix(b"\r") if header else b"",
        start=start,
        cut=cut,
        first_line=first,
        lines=region.lines,
        quotes=region.quotes,
        commas=region.commas,
        tail=tail,
        tail_final=tail_final,
        end=end,
        prefix=digest if end == size else complete if end == cut_all else _prefix(path, end),
        from_top=at is None or restarted,
        restarted=restarted,
    )


def _read_through(
    path: Path, hasher: _Hasher, total: _Counts, *, header: bool
) -> tuple[bytearray, int, bytearray, float]:
    """Read the whole file in chunks, feeding ``hasher`` (complete lines only) and
    ``total``; return the header line's bytes, where it ends (-1: no line end yet), the
    bytes after the last newline and the file's modification time."""
    head = bytearray()
    header_end = -1
    pending = bytearray()  # the bytes after the last newline
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                if header and header_end < 0:
                    i = chunk.find(b"\n")
                    head += chunk[: i if i >= 0 else MAX_FIELD + 1]
                    header_end = hasher.pos + len(pending) + i + 1 if i >= 0 else -1
                    if len(head) > MAX_FIELD:
                        raise _too_long(path, bytes(head))
                total.add(chunk)
                p = chunk.rfind(b"\n")
                if p < 0:
                    pending += chunk
                    continue
                hasher.update(pending)
                hasher.update(memoryview(chunk)[: p + 1])  # no copy of the chunk
                pending = bytearray(chunk[p + 1 :])
        return head, header_end, pending, path.stat().st_mtime
    except OSError as exc:
        raise SourceError(
            f"cannot read {path}: {exc.strerror}",
            ko=f"파일을 읽을 수 없습니다: {path} ({os_reason(exc, 'ko')})",
        ) from exc


def _too_long(path: Path, head: bytes) -> SourceError:
    return SourceError(
        f"{path}:1: the first line is longer than the {MAX_FIELD >> 20} MiB a header may "
        f"have; it starts {clip(head[:CLIP])!r}",
        hint="is this really a CSV export? check the file and the format option",
        ko=f"{path}:1: 첫 줄이 머리글 한도 {MAX_FIELD >> 20} MiB보다 깁니다. 시작 부분: "
        f"{clip(head[:CLIP])!r}",
        ko_hint="CSV로 내보낸 파일이 맞는지 파일과 format 옵션을 확인하십시오",
    )


def _prefix(path: Path, end: int) -> str:
    """SHA-256 of the first ``end`` bytes (rare: a read that ends inside a last line)."""
    sha = hashlib.sha256()
    with path.open("rb") as fh:
        while end > 0 and (chunk := fh.read(min(_CHUNK, end))):
            sha.update(chunk)
            end -= len(chunk)
    return sha.hexdigest()


def decode(data: bytes, encoding: str, path: Path, first_line: int) -> tuple[bytes, list[Bad]]:
    """``data`` (complete lines) re-encoded as UTF-8; lines that cannot be decoded are blank.

    Returns the UTF-8 bytes (same number of lines) and one :class:`Bad` per line that is
    not valid ``encoding``, its raw bytes kept losslessly (:func:`raw_text`).
    """
    if encoding == "utf-8":
        return data, []
    try:
        return data.decode(encoding).encode("utf-8"), []
    except UnicodeDecodeError:
        pass
    out: list[bytes] = []
    bad: list[Bad] = []
    for n, line in enumerate(data.split(b"\n")[: data.count(b"\n")], start=first_line):
        try:
            out.append(line.decode(encoding).encode("utf-8"))
        except UnicodeDecodeError as exc:
            bad.append(Bad(f"{path}:{n}", not_decodable(encoding, exc), raw_text(line)))
            out.append(b"")
    return b"\n".join(out) + b"\n" if out else b"", bad


def not_decodable(encoding: str, exc: UnicodeDecodeError) -> str:
    """The quarantine reason for a line that is not valid ``encoding``."""
    label = {"utf-8": "UTF-8", "cp949": "CP949", "euc-kr": "EUC-KR"}.get(encoding, encoding)
    return (
        f"not valid {label} (byte {exc.start + 1} of the line); raw keeps the bytes "
        f"(base64 when not UTF-8); set the source's encoding (utf-8, cp949, euc-kr, auto)"
    )


def choose_encoding(encoding: str, *parts: bytes) -> tuple[str, bool]:
    """The encoding to read ``parts`` with and whether ``auto`` fell back to CP949."""
    if encoding != "auto":
        return encoding, False
    try:
        for part in parts:
            part.decode("utf-8")
    except UnicodeDecodeError:
        return "cp949", True
    return "utf-8", False


@dataclass(frozen=True)
class Bad:
    """A line or record that could not be read: location, reason, raw text."""

    location: str
    reason: str
    raw: str

    def row(self) -> tuple[str, str, str]:
        """The ``(location, reason, raw)`` tuple of ``Batch.rejected``."""
        return self.location, self.reason, self.raw
