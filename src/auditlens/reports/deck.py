"""A slide deck on the team's template (or a clean built-in one): native charts and
tables, Korean that renders.

:class:`Deck` wraps a python-pptx presentation opened by
:func:`~auditlens.reports.template.open_template`: the cover uses the template's layout
holding a title and a subtitle, every other slide its layout holding a title and one
content placeholder; the content placeholder's place on the page is where a chart, a
table or text goes. Slides and shapes are named by stable keys (``slide.name``,
``shape.name``) so a program reading the deck finds them in either language.

Korean text needs an East Asian font on every run (``a:ea``): the template theme's when
it names one, else NanumGothic, marked Hangul (charset 129) so PowerPoint substitutes a
Korean font (맑은 고딕) where NanumGothic is not installed. :meth:`Deck.save` sets it on
every run, table cell and chart text.

Example::

    deck = Deck(None, "ko")
    deck.cover("월간 보고서", "2026-09")
    slide, area = deck.content("trend", "일별 알림")
    deck.chart(slide, area, ChartSpec("bar", ["09-01"], {"높음": [3]}), "trend_chart")
    deck.save(Path("report.pptx"))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, cast

from pptx.chart.chart import Chart
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.oxml.ns import qn
from pptx.oxml.xmlchemy import BaseOxmlElement, OxmlElement
from pptx.slide import Slide, SlideLayout
from pptx.table import Table
from pptx.util import Emu, Pt

from auditlens.reports.template import (
    CONTENT,
    TITLES,
    TemplateError,
    find_layout,
    open_template,
    theme_east_asian,
)

#: The East Asian font when the template names none (Debian/Ubuntu: fonts-nanum).
EAST_ASIAN_FONT: Final = "NanumGothic"
#: The Windows character set of Hangul (129) as DrawingML writes it (signed byte).
HANGUL_CHARSET: Final = "-127"
#: Excel number format of counts (charts and their data sheets).
COUNT: Final = "#,##0"
#: A table row's height before its text makes it taller (0.32 inch), in EMU.
ROW_HEIGHT: Final = 292608
#: A table cell's top and bottom margin (0.025 inch), in EMU: long tables stay on the page.
CELL_MARGIN: Final = 22860
#: What follows ``a:ea`` inside a run's properties (DrawingML's element order).
_AFTER_EA: Final = ("a:cs", "a:sym", "a:hlinkClick", "a:hlinkMouseOver", "a:rtl", "a:extLst")
_KINDS: Final = {
    "bar": XL_CHART_TYPE.BAR_CLUSTERED,
    "stacked_bar": XL_CHART_TYPE.BAR_STACKED,
    "column": XL_CHART_TYPE.COLUMN_CLUSTERED,
    "stacked_column": XL_CHART_TYPE.COLUMN_STACKED,
    "line": XL_CHART_TYPE.LINE_MARKERS,
}

ChartKind = Literal["bar", "stacked_bar", "column", "stacked_column", "line"]


@dataclass(frozen=True)
class Area:
    """A rectangle on a slide, in EMU."""

    left: int
    top: int
    width: int
    height: int

    @property
    def emu(self) -> tuple[Emu, Emu, Emu, Emu]:
        """Left, top, width, height as python-pptx takes them."""
        return Emu(self.left), Emu(self.top), Emu(self.width), Emu(self.height)

    def split(self, parts: int, gap: int = 228600) -> list[Area]:
        """``parts`` side-by-side areas with ``gap`` between them."""
        width = (self.width - gap * (parts - 1)) // parts
        return [
            Area(self.left + i * (width + gap), self.top, width, self.height) for i in range(parts)
        ]

    def below(self, share: float, gap: int = 114300) -> tuple[Area, Area]:
        """The top ``share`` of the area and what is left under it."""
        upper = int(self.height * share)
        return (
            Area(self.left, self.top, self.width, upper - gap // 2),
            Area(self.left, self.top + upper + gap // 2, self.width, self.height - upper - gap),
        )


@dataclass(frozen=True)
class ChartSpec:
    """A native chart: categories, one series per name, and optional colours per series
    (``#rrggbb``)."""

    kind: ChartKind
    categories: Sequence[str]
    series: Mapping[str, Sequence[float | None]]
    colours: Mapping[str, str] = field(default_factory=dict)
    title: str | None = None
    number_format: str = COUNT
    maximum: float | None = None  # the value axis's top (None: the data's)


class Deck:
    """A presentation being built (see the module docstring)."""

    def __init__(self, template: Path | None, lang: str) -> None:
        self.lang = lang
        self.presentation = open_template(template)
        self.font = theme_east_asian(self.presentation) or EAST_ASIAN_FONT
        #: Western text: the template's own font; the built-in deck uses the Korean font
        #: for both, so digits and Hangul match.
        self.latin = None if template is not None else self.font
        self._cover = find_layout(self.presentation, cover=True)
        self._content = find_layout(self.presentation, cover=False)

    @property
    def layouts(self) -> tuple[SlideLayout, SlideLayout]:
        """The layouts used: the cover's and every other slide's."""
        return self._cover, self._content

    def cover(self, title: str, subtitle: str) -> Slide:
        """The title slide."""
        slide: Slide = self.presentation.slides.add_slide(self._cover)
        slide.name = "cover"
        _title_of(slide).text_frame.text = title
        body = _content_of(slide, PP_PLACEHOLDER.SUBTITLE)
        if body is not None:
            body.text_frame.text = subtitle
        return slide

    def content(self, name: str, title: str, *, keep_body: bool = False) -> tuple[Slide, Area]:
        """A slide named ``name`` (a stable key, whatever the language) with ``title``, and
        the area of its content placeholder (the placeholder itself removed unless
        ``keep_body``, for text)."""
        slide: Slide = self.presentation.slides.add_slide(self._content)
        slide.name = name
        heading = _title_of(slide)
        heading.text_frame.text = title
        body = _content_of(slide)
        if body is None:  # a title-only layout: the page under the title
            top = int(heading.top or 0) + int(heading.height or 0)
            width, height = self.size
            margin = int(heading.left or 0)
            return slide, Area(margin, top, width - 2 * margin, height - top - margin)
        area = Area(int(body.left or 0), int(body.top or 0), int(body.width), int(body.height))
        if not keep_body:
            body.element.getparent().remove(body.element)
        return slide, area

    @property
    def size(self) -> tuple[int, int]:
        """The slide's width and height in EMU."""
        return int(self.presentation.slide_width or 0), int(self.presentation.slide_height or 0)

    def body(self, slide: Slide, area: Area, lines: Sequence[str], size: int = 16) -> None:
        """Fill the slide's content placeholder with ``lines``, one paragraph each (a text
        box named ``body`` at ``area`` when its layout has none)."""
        placeholder = _content_of(slide)
        if placeholder is None:
            self.text(slide, area, lines, "body", size)
            return
        frame = placeholder.text_frame
        frame.text = lines[0] if lines else ""
        for line in lines[1:]:
            frame.add_paragraph().text = line
        for paragraph in frame.paragraphs:
            paragraph.font.size = Pt(size)

    def text(
        self, slide: Slide, area: Area, lines: Sequence[str], name: str, size: int = 12
    ) -> None:
        """A text box at ``area`` (named ``name``) holding ``lines``."""
        box = slide.shapes.add_textbox(*area.emu)
        box.name = name
        frame = box.text_frame
        frame.word_wrap = True
        frame.text = lines[0] if lines else ""
        for line in lines[1:]:
            frame.add_paragraph().text = line
        for paragraph in frame.paragraphs:
            paragraph.font.size = Pt(size)

    def chart(self, slide: Slide, area: Area, spec: ChartSpec, name: str) -> Chart:
        """A native (editable) chart of ``spec`` at ``area``, its shape named ``name``."""
        data: Any = CategoryChartData(number_format=spec.number_format)  # type: ignore[no-untyped-call]
        data.categories = list(spec.categories)
        for called, values in spec.series.items():
            data.add_series(called, list(values))
        shapes: Any = slide.shapes
        frame = shapes.add_chart(_KINDS[spec.kind], *area.emu, data)
        frame.name = name
        chart: Chart = frame.chart
        chart.font.size = Pt(11)
        chart.has_legend = len(spec.series) > 1
        if chart.has_legend:
            chart.legend.position = XL_LEGEND_POSITION.BOTTOM
            chart.legend.include_in_layout = False
        if spec.title is not None:
            chart.has_title = True
            chart.chart_title.text_frame.text = spec.title
            chart.chart_title.text_frame.paragraphs[0].font.size = Pt(13)
        else:
            chart.has_title = False
        for plotted, called in zip(chart.plots[0].series, spec.series, strict=True):
            colour = spec.colours.get(called)
            if colour is not None:
                fill = plotted.format.fill if spec.kind != "line" else plotted.format.line.fill
                fill.solid()
                fill.fore_color.rgb = _rgb(colour)
        if spec.kind in ("bar", "stacked_bar"):  # the first category on top, as one reads
            chart.category_axis.reverse_order = True
            crossing = cast(Any, chart.value_axis)._element.find(qn("c:crosses"))
            if crossing is not None:  # the value axis crosses at the last category: below
                crossing.set("val", "max")
        if spec.maximum is not None:
            chart.value_axis.maximum_scale = spec.maximum
            chart.value_axis.minimum_scale = 0
        stacked = spec.kind in ("stacked_bar", "stacked_column")
        if stacked:
            chart.plots[0].overlap = 100
        if spec.number_format == COUNT:  # whole numbers: no 0.5 ticks on small counts
            rows = zip(*spec.series.values(), strict=True)
            totals = [
                sum(v or 0 for v in row) if stacked else max(v or 0 for v in row) for row in rows
            ]
            if max(totals, default=0) <= 10:
                chart.value_axis.major_unit = 1
        return chart

    def table(
        self,
        slide: Slide,
        area: Area,
        rows: Sequence[Sequence[str]],
        name: str,
        *,
        size: int = 11,
        widths: Sequence[float] | None = None,
    ) -> Table:
        """A native table at ``area`` (its shape named ``name``): the first row is the
        header."""
        frame = slide.shapes.add_table(
            len(rows),
            len(rows[0]),
            Emu(area.left),
            Emu(area.top),
            Emu(area.width),
            Emu(min(area.height, ROW_HEIGHT * len(rows))),
        )
        frame.name = name
        table = frame.table
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                cell = table.cell(i, j)
                cell.margin_top = cell.margin_bottom = Emu(CELL_MARGIN)
                cell.text = value
                for paragraph in cell.text_frame.paragraphs:
                    paragraph.font.size = Pt(size)
        if widths is not None:
            total = sum(widths)
            columns: Any = table.columns
            for column, share in zip(columns, widths, strict=True):
                column.width = Emu(int(area.width * share / total))
        return table

    def save(self, path: Path) -> None:
        """Mark every text East Asian (:data:`EAST_ASIAN_FONT` or the theme's) and write
        the file."""
        for slide in self.presentation.slides:
            _east_asian(slide.element, self.font, self.lang, self.latin)
            for shape in slide.shapes:
                if shape.has_chart:
                    space = cast(Any, shape.chart)._chartSpace
                    _east_asian(space, self.font, self.lang, self.latin)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.presentation.save(str(path))


def tint(table: Table, row: int, column: int, colour: str, *, bold: bool = False) -> None:
    """Colour (``#rrggbb``) the text of one table cell."""
    for paragraph in table.cell(row, column).text_frame.paragraphs:
        for run in paragraph.runs:
            run.font.color.rgb = _rgb(colour)
            run.font.bold = bold


def _rgb(colour: str) -> RGBColor:
    return RGBColor.from_string(colour.lstrip("#"))  # type: ignore[no-untyped-call,no-any-return]


def _title_of(slide: Slide) -> Any:
    for placeholder in cast(Any, slide.placeholders):
        if placeholder.placeholder_format.type in TITLES:
            return placeholder
    raise TemplateError("a slide has no title", ko="슬라이드에 제목 개체 틀이 없습니다")


def _content_of(slide: Slide, kind: PP_PLACEHOLDER | None = None) -> Any:
    wanted = (kind,) if kind is not None else CONTENT
    for placeholder in cast(Any, slide.placeholders):
        if placeholder.placeholder_format.type in wanted:
            return placeholder
    return None


def _east_asian(root: BaseOxmlElement, font: str, lang: str, latin: str | None) -> None:
    """Give every run, paragraph end and default text of ``root`` the East Asian
    ``font`` (and the ``latin`` one when given; Korean runs the Korean language tag)."""
    for run in list(root.iter(qn("a:r"))):  # a run without properties gets some
        if run.find(qn("a:rPr")) is None:
            run.insert(0, OxmlElement("a:rPr"))
    for properties in list(root.iter(qn("a:rPr"), qn("a:endParaRPr"), qn("a:defRPr"))):
        if lang == "ko" and properties.tag != qn("a:defRPr"):
            properties.set("lang", "ko-KR")
        ea = properties.find(qn("a:ea"))
        if ea is None:
            ea = properties.insert_element_before(OxmlElement("a:ea"), *_AFTER_EA)
        ea.set("typeface", font)
        ea.set("charset", HANGUL_CHARSET)
        if latin is not None:
            western = properties.find(qn("a:latin"))
            if western is None:
                western = properties.insert_element_before(OxmlElement("a:latin"), "a:ea")
            western.set("typeface", latin)
