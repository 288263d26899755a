"""The report formats and their writers: ``xlsx`` (workbook), ``pptx`` (deck), ``html``
(e-mail digest as a file).

A writer takes the :class:`~auditlens.reports.model.ReportData`, the output directory and
the settings, writes one file there (atomically: :func:`write_atomically`) and returns its
path. :data:`WRITERS` loads each writer's module on first use (openpyxl and python-pptx
cost time a command that writes neither should not pay); a format whose module this
installation lacks is a clear error, not a traceback.

Example::

    path = writer("xlsx")(data, Path("reports"), settings)
"""

from __future__ import annotations

import contextlib
import importlib
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

from auditlens.errors import AuditlensError
from auditlens.reports.period import kind_word

if TYPE_CHECKING:
    from auditlens.config import Settings
    from auditlens.reports.model import ReportData

Writer = Callable[["ReportData", Path, "Settings"], Path]

#: Each format's writer as ``module:function`` (in the order reports are written).
KNOWN: Final[Mapping[str, str]] = {
    "pptx": "auditlens.reports.pptx:write_pptx",
    "xlsx": "auditlens.reports.xlsx:write_xlsx",
    "html": "auditlens.reports.digest:write_digest",
}
#: What a report command writes when no --format is given.
DEFAULT_FORMATS: Final = ("pptx", "xlsx")


class FormatError(AuditlensError):
    """A report format that is unknown or not available in this installation (exit 2)."""

    exit_code = 2


class _Writers(Mapping[str, Writer]):
    """Format -> writer, each imported on first use."""

    def __init__(self, known: Mapping[str, str]) -> None:
        self._known = known
        self._loaded: dict[str, Writer] = {}

    def __getitem__(self, fmt: str) -> Writer:
        if fmt not in self._loaded:
            module, _, name = self._known[fmt].partition(":")
            try:
                loaded: Writer = getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError) as exc:
                raise KeyError(fmt) from exc
            self._loaded[fmt] = loaded
        return self._loaded[fmt]

    def __iter__(self) -> Iterator[str]:
        return iter(self._known)

    def __len__(self) -> int:
        return len(self._known)

    def available(self) -> list[str]:
        """The formats whose writer this installation has."""
        found = []
        for fmt in self._known:
            with contextlib.suppress(KeyError):
                self[fmt]
                found.append(fmt)
        return found


#: Format -> writer (lazily imported).
WRITERS: Final = _Writers(KNOWN)


def parse_formats(text: str) -> tuple[str, ...]:
    """``pptx,xlsx`` as a tuple of known formats (duplicates dropped, order kept).

    Raises:
        FormatError: an unknown format, or none given.
    """
    given = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",") if f.strip()))
    unknown = [f for f in given if f not in KNOWN]
    if unknown or not given:
        known = ",".join(KNOWN)
        raise FormatError(
            f"--format {text!r}: unknown format {unknown or text!r} (use some of {known})",
            ko=f"--format {text!r}: 알 수 없는 형식입니다 ({known} 중에서 고르십시오)",
        )
    return given


def writer(fmt: str) -> Writer:
    """The writer of ``fmt``.

    Raises:
        FormatError: unknown, or its module is not part of this installation.
    """
    if fmt not in KNOWN:
        parse_formats(fmt)
    try:
        return WRITERS[fmt]
    except KeyError:
        have = ", ".join(WRITERS.available()) or "-"
        raise FormatError(
            f"the {fmt} report format is not available in this installation (available: {have})",
            ko=f"이 설치본에서는 {fmt} 보고서 형식을 쓸 수 없습니다 (사용 가능: {have})",
            hint=f"leave {fmt} out of --format",
            ko_hint=f"--format에서 {fmt}을(를) 빼십시오",
        ) from None


def report_name(data: ReportData, extension: str) -> str:
    """The file name of a report: ``auditlens-monthly-2026-09-ko.xlsx``."""
    return f"auditlens-{data.period.kind}-{data.period.label}-{data.lang}.{extension}"


def report_title(data: ReportData) -> str:
    """A report's title in its language: '월간 위험 보고서 2026년 9월'."""
    kind = kind_word(data.period.kind, data.lang)
    if data.lang == "ko":
        return f"{kind} 내부자 위험 보고서 · {data.period.title('ko')}"
    return f"auditlens {kind} insider-risk report, {data.period.title('en')}"


def write_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """Write ``path`` through ``write(temporary)`` and rename it into place: a reader (or a
    crash) never sees half a file. The temporary file sits next to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path
