"""Tables that never cut a word, and the labels their cells share (severity, yes/no).

Rich shrinks the widest column of a table that is too wide for the terminal down to the
next widest, whatever its words, and cuts them ("본인 평 … 대비"). :func:`print_table`
instead sizes the text columns (reasons) itself: each at least as wide as its longest
word, the other columns on one line; when the terminal is too narrow even for that, the
text columns become numbers ``[1]`` and the texts follow the table as a numbered list,
wrapped at word boundaries; on a terminal too narrow for even the other columns, each
row becomes a block of ``header: value`` lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

from auditlens.features.docs import FEATURE_DOCS, PEER_PREFIX, doc_for
from auditlens.i18n import pick, say

#: A text column is never made narrower than this (unless its longest word is wider).
MIN_TEXT = 16
#: What an alert's scenario is when its detection had no reason.
UNEXPLAINED = "unexplained"


@dataclass(frozen=True)
class Column:
    """A column: its header, and whether it holds running text that may wrap."""

    header: str
    text: bool = False
    justify: JustifyMethod = "left"


def yes_no(value: bool, lang: str) -> str:
    """'예'/'아니요' or 'yes'/'no'."""
    return pick(lang, "yes", "예") if value else pick(lang, "no", "아니요")


def feature_label(feature: str, lang: str) -> str:
    """A feature id (``peer_z_delete_count``) as people read it ('삭제 건수 (동료 그룹
    대비)' / 'deletions (vs peer group)'); an unknown id stays as it is."""
    if feature == UNEXPLAINED:
        return pick(lang, "no reason given", "사유 없음")
    if feature.removeprefix(PEER_PREFIX) not in FEATURE_DOCS:
        return feature
    doc = doc_for(feature)
    return doc.ko if lang == "ko" else doc.en


def _words(text: str) -> int:
    return max((cell_len(w) for w in text.split()), default=0)


def _lines(text: str) -> int:
    return max((cell_len(line) for line in text.splitlines()), default=0)


def _text_widths(
    lows: list[int], highs: list[int], room: int, floor: int = MIN_TEXT
) -> list[int] | None:
    """Widths for the text columns within ``room`` cells, each at least its longest word
    (``lows``) and at most its widest line (``highs``); None when they cannot fit."""
    widths = [max(lo, min(floor, hi)) for lo, hi in zip(lows, highs, strict=True)]
    if sum(widths) > room:
        return None
    spare = room - sum(widths)
    while spare > 0:
        short = [i for i, w in enumerate(widths) if w < highs[i]]
        if not short:
            break
        share = max(spare // len(short), 1)
        for i in short:
            give = min(share, highs[i] - widths[i], spare)
            widths[i] += give
            spare -= give
    return widths


def _layout(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int
) -> tuple[dict[int, int], list[int], bool]:
    """Widths of the text columns that stay in the table, the text columns moved below it
    (widest first) when the terminal is too narrow for their longest words, and whether
    even the other columns must wrap (a terminal narrower than them on one line)."""
    overhead = 3 * len(columns) + 1  # borders and one space of padding each side
    fixed = sum(
        max(_lines(c.header), *(_lines(r[i]) for r in rows))
        for i, c in enumerate(columns)
        if not c.text
    )
    texts = [i for i, c in enumerate(columns) if c.text]
    lows = {i: max(_words(columns[i].header), *(_words(r[i]) for r in rows)) for i in texts}
    highs = {i: max(_lines(columns[i].header), *(_lines(r[i]) for r in rows)) for i in texts}
    moved: list[int] = []
    while True:
        kept = [i for i in texts if i not in moved]
        room = width - overhead - fixed - 5 * len(moved)  # a moved column shows "[12]"
        for floor in (MIN_TEXT, 0):
            widths = _text_widths([lows[i] for i in kept], [highs[i] for i in kept], room, floor)
            if widths is not None:
                return dict(zip(kept, widths, strict=True)), moved, False
        if not kept:
            return {}, moved, room < 0
        moved.append(max(kept, key=lambda i: highs[i]))


def print_table(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    lang: str = "ko",
) -> None:
    """Print ``rows`` under ``columns`` on ``console`` without cutting a word (see the
    module docstring); cells are plain text (no markup)."""
    widths, moved, squeeze = _layout(columns, rows, console.width) if rows else ({}, [], False)
    if squeeze:
        _print_records(console, columns, rows, title)
        return
    table = Table(title=title)
    for i, column in enumerate(columns):
        if i in widths:
            table.add_column(column.header, width=widths[i], overflow="fold")
        else:
            table.add_column(column.header, no_wrap=True, justify=column.justify)
    below: list[str] = []
    for row in rows:
        cells: list[Text] = []
        for i, cell in enumerate(row):
            if i in moved and cell.strip() not in ("", "-"):
                below.append(f"{columns[i].header}: {cell}" if len(moved) > 1 else cell)
                cells.append(Text(f"[{len(below)}]"))
            else:
                cells.append(Text(cell))
        table.add_row(*cells)
    console.print(table)
    if below:
        what = " / ".join(columns[i].header for i in sorted(moved))
        console.print(say(lang, "render.listed_below", column=what), highlight=False)
        for n, text in enumerate(below, 1):
            console.print(Text(f"[{n}] {text}"), highlight=False)


def _print_records(
    console: Console, columns: Sequence[Column], rows: Sequence[Sequence[str]], title: str | None
) -> None:
    """Rows as blocks of ``header: value`` lines, for a terminal narrower than the table's
    columns on one line each: nothing is cut, long values wrap at word boundaries."""
    if title:
        console.print(Text(title, style="bold"))
    for row in rows:
        console.print(Text(f"{columns[0].header}: {row[0]}", style="bold"))
        for column, cell in zip(columns[1:], row[1:], strict=True):
            console.print(Text(f"  {column.header}: {cell}"))
