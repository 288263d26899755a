"""The e-mail digest of a report: HTML tables and charts, a plain-text alternative, ko/en.

:func:`compose` lays out a :class:`~auditlens.reports.model.ReportData` once
(``reports/digest_sections.py`` says what each section holds, ``digest_charts.py`` draws
the charts) into a :class:`Digest`; both forms are built from it:

* the **e-mail** (:func:`digest_message`, sent by ``auditlens report send``):
  ``multipart/alternative`` of ``text/plain`` and ``multipart/related`` (``text/html`` +
  one ``image/png`` part per chart, each with a ``Content-ID`` the HTML refers to as
  ``<img src="cid:...">``) — not links, not ``data:`` URIs, which many mail clients drop;
* the **file** (the ``html`` report format, :func:`write_digest`): one self-contained
  ``.html`` whose charts are embedded as ``data:`` URIs, so the file alone is the report
  (its sha256 in the audit trail covers the charts too) and opens in any browser.

The HTML is what mail clients render reliably: nested tables, inline styles only, no
scripts, no style sheets, no web fonts, no external resources; every number sits in a row
marked ``data-key`` with the read-model field it shows.

Example::

    digest = compose(data)
    mail = digest_message(digest, sender="auditlens@bank.example", to=["ciso@bank.example"])
"""

from __future__ import annotations

import base64
import html
import struct
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Final

from matplotlib.figure import Figure

from auditlens.config import Settings
from auditlens.i18n import pick
from auditlens.reports.digest_charts import departments_figure, png, risk_figure, trend_figure
from auditlens.reports.digest_layout import NONE, Section, Table
from auditlens.reports.digest_sections import heading, sections
from auditlens.reports.formats import report_name, write_atomically
from auditlens.reports.model import ReportData

#: Width of the digest's column in pixels (charts are scaled to it).
COLUMN: Final = 632
_FONT: Final = "'Malgun Gothic','Apple SD Gothic Neo',NanumGothic,Arial,sans-serif"
_CHARTS: Final[dict[str, tuple[Callable[[ReportData], Figure], str, str]]] = {
    "trend": (trend_figure, "Alerts opened per day by severity", "심각도별 일별 신규 알림"),
    "departments": (
        departments_figure,
        "Alerts per department by severity",
        "부서별·심각도별 알림",
    ),
    "risk": (risk_figure, "Mean and highest risk per day", "일별 평균·최고 위험도"),
}


@dataclass(frozen=True)
class Image:
    """A chart as a PNG image, with the Content-ID the HTML refers to."""

    name: str
    cid: str
    png: bytes
    alt: str

    @property
    def size(self) -> tuple[int, int]:
        """Width and height in pixels (from the PNG header)."""
        width, height = struct.unpack(">II", self.png[16:24])
        return int(width), int(height)


@dataclass(frozen=True)
class Digest:
    """A composed digest: the subject, the HTML (charts as ``cid:``), the plain text and
    the chart images."""

    subject: str
    html: str
    text: str
    images: tuple[Image, ...]
    lang: str

    def file_html(self) -> str:
        """The HTML with each chart embedded (``data:image/png;base64``), for the file."""
        page = self.html
        for image in self.images:
            inline = "data:image/png;base64," + base64.b64encode(image.png).decode("ascii")
            page = page.replace(f'src="cid:{image.cid}"', f'src="{inline}"')
        return page


def compose(data: ReportData) -> Digest:
    """The digest of ``data`` in its language: every section, every chart drawn once."""
    parts = sections(data)
    images = tuple(_image(name, data) for part in parts for name in part.charts)
    title, under = heading(data)
    return Digest(
        subject=title,
        html=_html(title, under, parts, {i.name: i for i in images}, data.lang),
        text=_text(title, under, parts, {i.name: i for i in images}, data.lang),
        images=images,
        lang=data.lang,
    )


def _image(name: str, data: ReportData) -> Image:
    draw, en, ko = _CHARTS[name]
    return Image(
        name=name,
        cid=f"{name}.{data.footer.digest[:16]}.{data.lang}@auditlens",
        png=png(draw(data)),
        alt=pick(data.lang, en, ko),
    )


def write_digest(data: ReportData, out: Path, settings: Settings) -> Path:
    """Write the digest of ``data`` as one self-contained HTML file in ``out`` (the
    ``html`` report format) and return its path."""
    del settings  # the digest shows what ReportData holds; nothing else is configured
    page = compose(data).file_html()

    def write(temporary: Path) -> None:
        temporary.write_text(page, encoding="utf-8")

    return write_atomically(out / report_name(data, "html"), write)


def digest_message(digest: Digest, *, sender: str, to: Sequence[str]) -> EmailMessage:
    """The e-mail of ``digest``: ``multipart/alternative`` of the plain text and a
    ``multipart/related`` HTML part holding each chart as an ``image/png`` with its
    ``Content-ID``."""
    mail = EmailMessage()
    mail["Subject"] = digest.subject
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail.set_content(digest.text)
    mail.add_alternative(digest.html, subtype="html")
    rich = next(p for p in mail.iter_parts() if p.get_content_type() == "text/html")
    for image in digest.images:
        rich.add_related(
            image.png,
            maintype="image",
            subtype="png",
            cid=f"<{image.cid}>",
            filename=f"{image.name}.png",
            disposition="inline",
        )
    mail["Content-Language"] = digest.lang  # after the parts: set_content drops Content-*
    return mail


# --- HTML ------------------------------------------------------------------------------------


def _html(
    title: str, under: str, parts: Sequence[Section], images: dict[str, Image], lang: str
) -> str:
    esc = html.escape
    body = "".join(_section_html(part, images) for part in parts)
    return (
        "<!DOCTYPE html>"
        f'<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title></head>"
        '<body style="margin:0;padding:0;background-color:#f4f5f7">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        'style="background-color:#f4f5f7"><tr><td align="center" style="padding:16px 8px">'
        f'<table role="presentation" width="{COLUMN + 48}" cellpadding="0" cellspacing="0" '
        f'border="0" style="width:{COLUMN + 48}px;max-width:100%;background-color:#ffffff;'
        f'font-family:{_FONT};font-size:14px;line-height:1.5;color:#222222">'
        '<tr><td style="padding:24px 24px 8px 24px;border-top:4px solid #a1172f">'
        f'<h1 style="margin:0;font-size:20px;color:#222222">{esc(title)}</h1>'
        f'<p style="margin:4px 0 0 0;color:#555555;font-size:13px">{esc(under)}</p>'
        f"</td></tr>{body}</table></td></tr></table></body></html>"
    )


def _section_html(part: Section, images: dict[str, Image]) -> str:
    esc = html.escape
    out = [
        f'<tr><td data-section="{part.key}" style="padding:12px 24px">',
        f'<h2 style="margin:8px 0;font-size:16px;color:#222222">{esc(part.title)}</h2>',
    ]
    if part.note:
        out.append(f'<p style="margin:0 0 8px 0;color:#555555;font-size:12px">{esc(part.note)}</p>')
    for name in part.charts:
        image = images[name]
        width, height = image.size
        shown = min(width, COLUMN)
        out.append(
            f'<img src="cid:{image.cid}" alt="{esc(image.alt, quote=True)}" width="{shown}" '
            f'height="{round(height * shown / width)}" style="display:block;border:0;'
            f'max-width:100%;height:auto;margin:0 0 8px 0">'
        )
    out.extend(_table_html(table) for table in part.tables)
    out.append("</td></tr>")
    return "".join(out)


_CELL: Final = "padding:4px 6px;border-bottom:1px solid #e3e5e8;vertical-align:top"


def _table_html(table: Table) -> str:
    """A table of the digest; a lines column (a person's reasons) becomes a list in a
    full-width row under its row, so the short columns keep their width."""
    esc = html.escape
    kept = [i for i in range(len(table.columns)) if i != table.lines_column]
    head = "".join(
        f'<th align="{_align(table, i)}" style="{_CELL};border-bottom:2px solid #c9ccd1;'
        f'font-size:12px;color:#555555;white-space:nowrap">{esc(table.columns[i])}</th>'
        for i in kept
    )
    rows = []
    for index, row in enumerate(table.rows):
        key = esc(table.keys[index] if index < len(table.keys) else "", quote=True)
        plain = table.lines_column is None
        tone = _TONES.get(table.tones.get(table.keys[index] if table.keys else "", ""), "")
        cells = "".join(
            f'<td align="{_align(table, i)}" style="{_CELL if plain else _CELL_ABOVE}'
            f"{';white-space:nowrap' if i in table.numeric or not plain else ''}"
            f'{tone if i == kept[-1] else ""}{_CODE if i in table.code else ""}">'
            f"{esc(row[i])}</td>"
            for i in kept
        )
        rows.append(f'<tr data-key="{key}">{cells}</tr>')
        if table.lines_column is not None:
            rows.append(
                f'<tr data-lines="{key}"><td style="{_CELL}"></td>'
                f'<td colspan="{len(kept) - 1}" style="{_CELL};font-size:12px;color:#333333">'
                f"{_lines(row[table.lines_column])}</td></tr>"
            )
    if not table.rows:
        rows.append(f'<tr><td colspan="{len(kept)}" style="{_CELL};color:#777777">{NONE}</td></tr>')
    return (
        f'<table data-table="{table.key}" width="100%" cellpadding="0" cellspacing="0" '
        'border="0" style="border-collapse:collapse;font-size:13px;margin:0 0 12px 0">'
        f"<tr>{head}</tr>{''.join(rows)}</table>"
    )


#: Hashes and watermarks: monospaced, small, broken anywhere.
_CODE: Final = ";font-family:Consolas,Menlo,monospace;font-size:11px;word-break:break-all"
#: The colour of a change that is bad or good news.
_TONES: Final = {"bad": ";color:#b00020", "good": ";color:#1e7e34"}
#: A row whose lines follow under it: no rule between the two.
_CELL_ABOVE: Final = "padding:6px 6px 0 6px;vertical-align:top;font-weight:bold"


def _align(table: Table, column: int) -> str:
    return "right" if column in table.numeric else "left"


def _lines(value: str) -> str:
    if value == NONE:
        return NONE
    items = "".join(
        f'<li style="margin:0 0 2px 0">{html.escape(line)}</li>' for line in value.split("\n")
    )
    return f'<ul style="margin:0;padding:0 0 0 16px">{items}</ul>'


# --- plain text ------------------------------------------------------------------------------


def _width(text: str) -> int:
    """Columns ``text`` takes in a monospaced font (Hangul and other wide letters: two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap


def _text(
    title: str, under: str, parts: Sequence[Section], images: dict[str, Image], lang: str
) -> str:
    lines = [title, under, ""]
    for part in parts:
        lines += [part.title, "=" * _width(part.title)]
        if part.note:
            lines.append(part.note)
        lines += [
            pick(
                lang,
                f"[chart in the HTML version: {images[n].alt}]",
                f"[그림은 HTML 본문에 있습니다: {images[n].alt}]",
            )
            for n in part.charts
        ]
        for table in part.tables:
            lines += [*_table_text(table), ""]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _table_text(table: Table) -> list[str]:
    """The table as aligned columns; the lines column (if any) as indented lines under
    each row."""
    kept = [i for i in range(len(table.columns)) if i != table.lines_column]
    grid = [table.columns, *table.rows]
    widths = {i: max(_width(row[i]) for row in grid) for i in kept}
    shown = []
    for n, row in enumerate(grid):
        cells = [_pad(row[i], widths[i], i in table.numeric and n > 0) for i in kept]
        shown.append("  ".join(cells).rstrip())
        if n == 0:
            shown.append("  ".join("-" * widths[i] for i in kept))
        elif table.lines_column is not None:
            shown += [f"    - {line}" for line in row[table.lines_column].split("\n")]
    if not table.rows:
        shown.append(NONE)
    return shown
