"""A slide deck on the team's template (or a clean built-in one): layouts found by their
placeholders, native charts and tables, Korean that renders.

:class:`Deck` wraps a python-pptx presentation. With a template (``report_template``)
its slides are dropped and its layouts used: the cover is the layout holding a title and
a subtitle, every other slide the layout holding a title and one content placeholder
(the largest such), found by placeholder *type*, never by index or name, so a template
with its own layouts and languages works. The content placeholder's place on the page is
where a chart, a table or text goes. Without a template the deck is python-pptx's own,
widened to 16:9.

Korean text needs an East Asian font on every run (``a:ea``): the template theme's when
it names one, else NanumGothic, marked Hangul (charset 129) so PowerPoint substitutes a
Korean font (맑은 고딕) where NanumGothic is not installed. :meth:`Deck.save` sets it on
every run, table cell and chart text.

Example::

    deck = Deck(None, "ko")
    deck.cover("월간 보고서", "2026-09")
    slide, area = deck.content("일별 알림")
    deck.chart(slide, area, ChartSpec("bar", ["09-01"], {"높음": [3]}))
    deck.save(Path("report.pptx"))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, cast

from pptx import Presentation
from pptx.chart.chart import Chart
from pptx.chart.data import CategoryChartData
from pptx.dml.color import RGBColor
from pptx.enum.chart import XL_CHART_TYPE, XL_LEGEND_POSITION
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.oxml import parse_xml
from pptx.oxml.ns import qn
from pptx.oxml.xmlchemy import BaseOxmlElement, OxmlElement
from pptx.presentation import Presentation as PresentationType
from pptx.slide import Slide, SlideLayout
from pptx.table import Table
from pptx.util import Emu, Pt

from auditlens.errors import AuditlensError

#: The East Asian font when the template names none (Debian/Ubuntu: fonts-nanum).
EAST_ASIAN_FONT: Final = "NanumGothic"
#: The Windows character set of Hangul (129) as DrawingML writes it (signed byte).
HANGUL_CHARSET: Final = "-127"
#: Excel number format of counts (charts and their data sheets).
COUNT: Final = "#,##0"
#: A table row's height before its text makes it taller (0.32 inch), in EMU.
ROW_HEIGHT: Final = 292608
#: A 16:9 slide, in EMU (13.333 x 7.5 inches).
WIDE: Final = (12192000, 6858000)

_TITLES: Final = (PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE)
_CONTENT: Final = (
    PP_PLACEHOLDER.OBJECT,
    PP_PLACEHOLDER.BODY,
    PP_PLACEHOLDER.CHART,
    PP_PLACEHOLDER.TABLE,
)
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


class TemplateError(AuditlensError):
    """The report template cannot be used."""

    hint = "check report_template: a .pptx whose layouts have a title placeholder"
    ko_hint = "report_template을 확인하십시오: 제목 개체 틀이 있는 레이아웃을 가진 .pptx 파일"


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


class Deck:
    """A presentation being built (see the module docstring)."""

    def __init__(self, template: Path | None, lang: str) -> None:
        self.lang = lang
        self.presentation = _open(template)
        self.font = _theme_east_asian(self.presentation) or EAST_ASIAN_FONT
        #: Western text: the template's own font; the built-in deck uses the Korean font
        #: for both, so digits and Hangul match.
        self.latin = None if template is not None else self.font
        self._cover = _layout(self.presentation, cover=True)
        self._content = _layout(self.presentation, cover=False)

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

    def body(self, slide: Slide, lines: Sequence[str], size: int = 16) -> None:
        """Fill the slide's content placeholder with ``lines``, one paragraph each."""
        placeholder = _content_of(slide)
        if placeholder is None:
            raise TemplateError(
                "the content layout has no body placeholder",
                ko="내용 레이아웃에 본문 개체 틀이 없습니다",
            )
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
        for name, values in spec.series.items():
            data.add_series(name, list(values))
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
        for plotted, name in zip(chart.plots[0].series, spec.series, strict=True):
            colour = spec.colours.get(name)
            if colour is not None:
                fill = plotted.format.fill if spec.kind != "line" else plotted.format.line.fill
                fill.solid()
                fill.fore_color.rgb = _rgb(colour)
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
                cell.text = value
                for paragraph in cell.text_frame.paragraphs:
                    paragraph.font.size = Pt(size)
        if widths is not None:
            total = sum(widths)
            columns: Any = table.columns
            for column, share in zip(columns, widths, strict=True):
                column.width = Emu(int(area.width * share / total))
        return table

    def save(self, path: Path) -> Path:
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
        return path


def tint(table: Table, row: int, column: int, colour: str, *, bold: bool = False) -> None:
    """Colour (``#rrggbb``) the text of one table cell."""
    for paragraph in table.cell(row, column).text_frame.paragraphs:
        for run in paragraph.runs:
            run.font.color.rgb = _rgb(colour)
            run.font.bold = bold


def _rgb(colour: str) -> RGBColor:
    return RGBColor.from_string(colour.lstrip("#"))  # type: ignore[no-untyped-call,no-any-return]


def _open(template: Path | None) -> PresentationType:
    if template is None:
        return _widened(Presentation())
    if not template.is_file():
        raise TemplateError(
            f"the report template {template} does not exist",
            ko=f"보고서 템플릿 {template} 파일이 없습니다",
        )
    try:
        presentation = Presentation(str(template))
    except Exception as error:  # python-pptx raises zipfile, KeyError, lxml errors
        raise TemplateError(
            f"the report template {template} is not a PowerPoint file ({error})",
            ko=f"보고서 템플릿 {template}은(는) PowerPoint 파일이 아닙니다 ({error})",
        ) from error
    slides = presentation.slides._sldIdLst  # the template's own example slides go
    for entry in list(slides):
        presentation.part.drop_rel(entry.rId)
        slides.remove(entry)
    return presentation


def _widened(presentation: PresentationType) -> PresentationType:
    """python-pptx's default deck (4:3) at 16:9: every shape of the master and layouts
    stretched sideways."""
    ratio = WIDE[0] / int(presentation.slide_width or WIDE[0])
    for part in (presentation.slide_master, *presentation.slide_layouts):
        for xfrm in part.element.iter(qn("a:xfrm")):
            for child in xfrm:
                if child.tag == qn("a:off"):
                    child.set("x", str(round(int(child.get("x", "0")) * ratio)))
                elif child.tag == qn("a:ext"):
                    child.set("cx", str(round(int(child.get("cx", "0")) * ratio)))
    presentation.slide_width, presentation.slide_height = Emu(WIDE[0]), Emu(WIDE[1])
    return presentation


def _theme_east_asian(presentation: PresentationType) -> str | None:
    """The East Asian font the template's theme names for body text, if any."""
    for rel in presentation.slide_master.part.rels.values():
        if rel.reltype.endswith("/theme"):
            theme = parse_xml(rel.target_part.blob)
            found = theme.find(f".//{qn('a:minorFont')}/{qn('a:ea')}")
            face = None if found is None else found.get("typeface")
            return face or None
    return None


def _layout(presentation: PresentationType, *, cover: bool) -> SlideLayout:
    """The cover layout (a title and a subtitle) or the content layout (a title and one
    content placeholder, the largest such; else a title only)."""
    best: tuple[int, SlideLayout] | None = None
    titled: SlideLayout | None = None
    for layout in presentation.slide_layouts:
        placeholders: list[Any] = list(cast(Any, layout.placeholders))
        types = [p.placeholder_format.type for p in placeholders]
        if not any(t in _TITLES for t in types):
            continue
        if cover:
            if PP_PLACEHOLDER.SUBTITLE in types:
                return layout
            continue
        bodies = [p for p in placeholders if p.placeholder_format.type in _CONTENT]
        if titled is None and not bodies:
            titled = layout
        if len(bodies) == 1:
            size = int(bodies[0].width or 0) * int(bodies[0].height or 0)
            if best is None or size > best[0]:
                best = (size, layout)
    chosen = best[1] if best is not None else titled
    if chosen is None and cover:
        return _layout(presentation, cover=False)
    if chosen is None:
        raise TemplateError(
            "no layout of the report template has a title placeholder",
            ko="보고서 템플릿의 어떤 레이아웃에도 제목 개체 틀이 없습니다",
        )
    return chosen


def _title_of(slide: Slide) -> Any:
    for placeholder in cast(Any, slide.placeholders):
        if placeholder.placeholder_format.type in _TITLES:
            return placeholder
    raise TemplateError("a slide has no title", ko="슬라이드에 제목 개체 틀이 없습니다")


def _content_of(slide: Slide, kind: PP_PLACEHOLDER | None = None) -> Any:
    wanted = (kind,) if kind is not None else _CONTENT
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
