"""The layout vocabulary of the e-mail digest: tables of text in titled sections, and
how a number is written in them.

The HTML body and the plain-text alternative are both rendered from :class:`Section`
objects (``reports/digest.py``), so the two never disagree. Every number is formatted
here only: thousands separators, percentages with one decimal, durations in minutes,
hours or days, changes with an arrow. Each table row carries a ``key`` (the read-model
field it shows) that the HTML writes as ``data-key``, so a test or a script finds a
number without reading the words around it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from auditlens.i18n import pick

#: What a missing number is shown as.
NONE: Final = "—"


@dataclass(frozen=True)
class Table:
    """A table: column headers and rows of text; ``keys`` names each row (data-key)."""

    key: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    keys: tuple[str, ...] = ()
    #: Columns holding numbers (right-aligned).
    numeric: frozenset[int] = frozenset()
    #: Columns of hashes and watermarks: monospaced, broken anywhere to fit the column.
    code: frozenset[int] = frozenset()
    #: Row key -> "bad" or "good" news of its change (a rise of alerts is bad, a fall
    #: good): the HTML colours the row's last cell red or green; others stay as they are.
    tones: dict[str, str] = field(default_factory=dict)
    #: A column of several lines (``\n``-separated): a list in the HTML cell, indented
    #: lines under the row in the plain text.
    lines_column: int | None = None


@dataclass(frozen=True)
class Section:
    """A titled part of the digest: a note, a chart (by name) and tables."""

    key: str
    title: str
    tables: tuple[Table, ...] = ()
    note: str = ""
    charts: tuple[str, ...] = field(default_factory=tuple)


# --- formatting ------------------------------------------------------------------------------


def count(n: int | None, lang: str = "en", unit: str = "") -> str:
    """``1,234``; in Korean with its ``unit`` when given (``1,234건``, ``60명``:
    docs/style-ko.md). Both languages group thousands with a comma."""
    if n is None:
        return NONE
    return f"{n:,}{unit}" if lang == "ko" else f"{n:,}"


def percent(share: float | None) -> str:
    """A fraction 0-1 as ``12.5%``."""
    return NONE if share is None else f"{share * 100:.1f}%"


def duration(seconds: float | None, lang: str) -> str:
    """Minutes under an hour, hours under two days, then days: ``45분`` / ``3.2 h``."""
    if seconds is None:
        return NONE
    size = abs(seconds)
    if size < 3600:
        shown = f"{seconds / 60:.0f}"
        return pick(lang, f"{shown} min", f"{shown}분")
    if size < 48 * 3600:
        shown = f"{seconds / 3600:.1f}"
        return pick(lang, f"{shown} h", f"{shown}시간")
    shown = f"{seconds / 86400:.1f}"
    return pick(lang, f"{shown} days", f"{shown}일")


def risk(value: float) -> str:
    """A risk 0-100 with one decimal, as the dashboard shows it."""
    return f"{value:.1f}"


def arrow(delta: float) -> str:
    """▲ for a rise, ▼ for a fall, = for no change."""
    return "▲" if delta > 0 else ("▼" if delta < 0 else "=")


def change(now: float | None, before: float | None, kind: str, lang: str, unit: str = "") -> str:
    """The change from the previous period with its arrow: ``▲ +3`` (``▲ +3건``), ``▼
    -2.5%p`` (a rate), ``▲ +1.5`` (hours); ``= 0`` for none, ``—`` when either side is
    missing."""
    if now is None or before is None:
        return NONE
    delta = now - before
    if delta == 0:
        return "= 0"
    if kind == "rate":
        return f"{arrow(delta)} {delta * 100:+.1f}%p"
    if kind == "hours":
        return f"{arrow(delta)} {delta:+,.1f}"
    return f"{arrow(delta)} {delta:+,.0f}{unit if lang == 'ko' else ''}"
