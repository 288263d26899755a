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
from typing import Final, Literal

from auditlens.errors import SourceError

Encoding = Literal["utf-8", "cp949", "euc-kr", "auto"]
ENCODINGS: Final = ("utf-8", "cp949", "euc-kr", "auto")
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
    """One read of a file: its digest and the complete lines after the mark.

    ``header`` is line 1 without BOM and line end (empty for an empty file). ``data``
    holds the complete lines from byte ``start`` (``first_line`` is the number of its
    first line; the header is never in ``data``). ``tail`` is what follows the last
    newline; ``tail_final`` says it is the last record (the file has settled) rather
    than a line still being written. ``end`` is where the next read starts.
    """

    path: Path
    digest: str
    size: int
    header: bytes
    start: int
    first_line: int
    data: bytes
    lines: int
    tail: bytes
    tail_final: bool
    end: int
    prefix: str
    restarted: bool = False

    @property
    def mark(self) -> FileMark:
        """The mark after this read."""
        return FileMark(self.end, self.first_line - 1 + self.lines + self.tail_final, self.prefix)

    @property
    def pending(self) -> bool:
        """A last line without a line end was left for a later read."""
        return bool(self.tail) and not self.tail_final


def scan_file(
    path: Path,
    since: FileMark | None = None,
    *,
    header: bool = True,
    settle_seconds: float = 0.0,
    clock: Callable[[], float] = time.time,
) -> FileScan:
    """Read ``path`` once and return what follows ``since`` (everything when None).

    ``header``: line 1 holds column names (CSV), so data starts on line 2. A last line
    without a line end is final when the file's modification time is at least
    ``settle_seconds`` before ``clock()``. Raises SourceError when the file cannot be
    read or (with ``header``) its first line is longer than :data:`MAX_FIELD`.
    """
    try:
        blob = path.read_bytes()
        mtime = path.stat().st_mtime
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from exc
    final = settle_seconds <= 0 or clock() - mtime >= settle_seconds
    newline = blob.find(b"\n")
    head = blob[:newline] if newline >= 0 else blob
    if header and len(head) > MAX_FIELD:
        raise SourceError(
            f"{path}:1: the first line is {len(head):,} bytes long, more than the "
            f"{MAX_FIELD >> 20} MiB a header may have; it starts {clip(head[:CLIP])!r}",
            hint="is this really a CSV export? check the file and the format option",
        )
    if header and newline < 0 and not final:
        head = b""  # the header itself is still being written
    start, first, restarted = _resume(blob, since)
    if header and start == 0:
        start, first = (newline + 1, 2) if newline >= 0 else (len(head), 2)
    cut = max(blob.rfind(b"\n") + 1, start)
    data, tail = blob[start:cut], blob[cut:]
    tail_final = bool(tail) and final
    end = len(blob) if tail_final else cut
    digest = hashlib.sha256(blob).hexdigest()
    return FileScan(
        path=path,
        digest=digest,
        size=len(blob),
        header=head.removeprefix(_BOM).removesuffix(b"\r"),
        start=start,
        first_line=first,
        data=data,
        lines=data.count(b"\n"),
        tail=tail,
        tail_final=tail_final,
        end=end,
        prefix=digest if end == len(blob) else _sha256(memoryview(blob)[:end]),
        restarted=restarted,
    )


def _resume(blob: bytes, since: FileMark | None) -> tuple[int, int, bool]:
    """(start offset, its line number, restarted) for a read after ``since``."""
    if since is None or since.offset == 0:
        return 0, 1, False
    if len(blob) >= since.offset:
        if _sha256(memoryview(blob)[: since.offset]) == since.prefix:
            return since.offset, since.line + 1, False
    return 0, 1, True


def _sha256(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


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
