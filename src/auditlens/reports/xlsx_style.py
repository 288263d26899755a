"""How the XLSX report looks: fonts, number formats, tables with frozen headers and
filters, severity colours, column widths that fit Korean text, landscape printing.

Korean (and other East Asian wide) characters take two columns of width, as Excel draws
them: :func:`display_width` counts them double, so a column of Korean names is as wide as
its text and no wider than :data:`MAX_WIDTH` (longer text wraps).

Example::

    >>> display_width("보고서 2026"), display_width("report 2026")
    (11, 11)
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import zoneinfo
from collections.abc import Iterable, Sequence
from typing import Any, Final

from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from auditlens.reports.labels import SEVERITIES, SEVERITY_COLOURS, severity_word

#: Widest a column grows (characters); longer text wraps.
MAX_WIDTH: Final = 60
MIN_WIDTH: Final = 6
#: Points one line of text takes (Excel's default row height).
LINE_HEIGHT: Final = 15.0
#: Number formats (Excel's codes).
COUNT: Final = "#,##0"
RISK: Final = "0.0"
RATE: Final = "0.0%"
HOURS: Final = "0.0"
DAY: Final = "yyyy-mm-dd"
MOMENT: Final = "yyyy-mm-dd hh:mm"
_HEADER_FILL: Final = PatternFill("solid", start_color="DDE3EA", end_color="DDE3EA")
_WHITE_ON: Final = frozenset({"high", "critical", "low"})


def font_name(lang: str) -> str:
    """The font cells are set in: Malgun Gothic, the Korean Office font, for Korean."""
    return "Malgun Gothic" if lang == "ko" else "Calibri"


def display_width(text: str) -> int:
    """Columns ``text`` takes: East Asian wide and full-width characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def zone_label(zone: str) -> str:
    """The zone's abbreviation as a header shows it: 'KST'."""
    return dt.datetime.now(zoneinfo.ZoneInfo(zone)).tzname() or zone


def local(moment: dt.datetime | None, zone: str) -> dt.datetime | None:
    """``moment`` as a naive local time (Excel keeps no zone: headers name it)."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
    return aware.astimezone(zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)


class Sheet:
    """A worksheet being written row by row in one language's font."""

    def __init__(self, ws: Worksheet, lang: str) -> None:
        self.ws = ws
        self.lang = lang
        self.font = Font(name=font_name(lang))
        self.bold = Font(name=font_name(lang), bold=True)
        self.row = 0

    def line(
        self,
        values: Sequence[Any],
        formats: Sequence[str | None] = (),
        *,
        bold: bool = False,
        size: int | None = None,
    ) -> int:
        """Write ``values`` on the next row (with number ``formats`` by column); its number."""
        self.row += 1
        font = self.bold if bold else self.font
        if size is not None:
            font = Font(name=font.name, bold=bold, size=size)
        for column, value in enumerate(values, 1):
            cell = self.ws.cell(row=self.row, column=column, value=value)
            cell.font = font
            fmt = formats[column - 1] if column - 1 < len(formats) else None
            if fmt is not None and value is not None:
                cell.number_format = fmt
        return self.row

    def header(self, titles: Sequence[str]) -> int:
        """A table's header row (bold, shaded); its number."""
        row = self.line(titles, bold=True)
        for column in range(1, len(titles) + 1):
            self.ws.cell(row=row, column=column).fill = _HEADER_FILL
        return row

    def skip(self, rows: int = 1) -> None:
        """Leave ``rows`` empty rows."""
        self.row += rows


def finish_table(ws: Worksheet, header: int, last: int, columns: int) -> None:
    """Freeze the header, filter the table, repeat the header on every printed page."""
    ws.freeze_panes = ws.cell(row=header + 1, column=1)
    end = max(last, header)
    ws.auto_filter.ref = f"A{header}:{get_column_letter(columns)}{end}"
    ws.print_title_rows = f"{header}:{header}"


def colour_severities(ws: Worksheet, column: int, first: int, last: int, lang: str) -> None:
    """Conditional formatting: each severity word in ``column`` in its colour."""
    if last < first:
        return
    letter = get_column_letter(column)
    cells = f"{letter}{first}:{letter}{last}"
    for severity in SEVERITIES:
        colour = SEVERITY_COLOURS[severity]
        ws.conditional_formatting.add(
            cells,
            CellIsRule(
                operator="equal",
                formula=[f'"{severity_word(severity, lang)}"'],
                fill=PatternFill("solid", start_color=colour, end_color=colour),
                font=Font(color="FFFFFF" if severity in _WHITE_ON else "000000", bold=True),
            ),
        )


def fit_columns(ws: Worksheet, wrap: Iterable[int] = ()) -> None:
    """Columns as wide as their widest value (Korean counted double), within limits;
    columns ``wrap`` (1-based) wrap their text at :data:`MAX_WIDTH`."""
    wrapped = set(wrap)
    widths: dict[int, int] = {}
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is None:
                continue
            width = display_width(_shown(cell.value))
            widths[cell.column] = max(widths.get(cell.column, 0), width)
            if cell.column in wrapped and width > MAX_WIDTH:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
                # viewers do not grow a row for wrapped text by themselves: say how high
                lines = -(-width // (MAX_WIDTH - 2))
                height = ws.row_dimensions[cell.row].height or LINE_HEIGHT
                ws.row_dimensions[cell.row].height = max(height, LINE_HEIGHT * lines)
    tall = {r for r, d in ws.row_dimensions.items() if d.height and d.height > LINE_HEIGHT}
    for row in ws.iter_rows(min_row=min(tall, default=1), max_row=max(tall, default=0)):
        for cell in row:
            if cell.row in tall and not cell.alignment.wrap_text:
                cell.alignment = Alignment(vertical="top")  # beside wrapped text: top too
    for column, width in widths.items():
        ws.column_dimensions[get_column_letter(column)].width = min(
            max(width + 2, MIN_WIDTH), MAX_WIDTH
        )


def _shown(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return "2026-09-08 10:00"
    if isinstance(value, dt.date):
        return "2026-09-08"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_landscape(ws: Worksheet) -> None:
    """Print landscape on A4, all columns on one page's width, as many pages down as needed."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
