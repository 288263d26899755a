"""The team's PowerPoint template as a report uses it: opened with its example slides
dropped, its layouts found by the placeholders they hold, its theme's East Asian font.

Layouts are found by placeholder *type*, never by index or name: the cover is the first
layout holding a title and a subtitle; every other slide uses the layout holding a title
and exactly one content placeholder (object, body, chart or table), the largest such —
else a title-only layout. Without a template, python-pptx's own deck is used, widened to
16:9 (every master and layout shape stretched sideways).

Example::

    presentation = open_template(Path("our-master.pptx"))
    cover = find_layout(presentation, cover=True)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final, cast

from pptx import Presentation
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.oxml import parse_xml
from pptx.oxml.ns import qn
from pptx.presentation import Presentation as PresentationType
from pptx.slide import SlideLayout
from pptx.util import Emu

from auditlens.errors import AuditlensError

#: A 16:9 slide, in EMU (13.333 x 7.5 inches).
WIDE: Final = (12192000, 6858000)

#: Placeholders that hold a slide's title.
TITLES: Final = (PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE)
#: Placeholders that hold a slide's content (where charts, tables and text go).
CONTENT: Final = (
    PP_PLACEHOLDER.OBJECT,
    PP_PLACEHOLDER.BODY,
    PP_PLACEHOLDER.CHART,
    PP_PLACEHOLDER.TABLE,
)

#: Which content placeholder a content layout is chosen by first.
_PREFERRED: Final = {
    PP_PLACEHOLDER.OBJECT: 3,
    PP_PLACEHOLDER.CHART: 2,
    PP_PLACEHOLDER.TABLE: 2,
    PP_PLACEHOLDER.BODY: 1,
}


class TemplateError(AuditlensError):
    """The report template cannot be used."""

    hint = "check report_template: a .pptx whose layouts have a title placeholder"
    ko_hint = "report_template을 확인하십시오: 제목 개체 틀이 있는 레이아웃을 가진 .pptx 파일"


def open_template(template: Path | None) -> PresentationType:
    """The presentation of ``template`` without its slides (None: the built-in deck).

    Raises:
        TemplateError: the file is missing or not a PowerPoint file.
    """
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


def theme_east_asian(presentation: PresentationType) -> str | None:
    """The East Asian font the template's theme names for body text, if any."""
    for rel in presentation.slide_master.part.rels.values():
        if rel.reltype.endswith("/theme"):
            theme = parse_xml(rel.target_part.blob)
            found = theme.find(f".//{qn('a:minorFont')}/{qn('a:ea')}")
            face = None if found is None else found.get("typeface")
            return face or None
    return None


def find_layout(presentation: PresentationType, *, cover: bool) -> SlideLayout:
    """The cover layout (a title and a subtitle) or the content layout (a title and one
    content placeholder: an object placeholder before a chart or table one before a text
    body, then the largest; else a title only, without a subtitle). Layouts with vertical
    text are passed over."""
    best: tuple[tuple[int, int], SlideLayout] | None = None
    titled: SlideLayout | None = None
    for layout in presentation.slide_layouts:
        placeholders: list[Any] = list(cast(Any, layout.placeholders))
        types = [p.placeholder_format.type for p in placeholders]
        if not any(t in TITLES for t in types) or any(_vertical(p) for p in placeholders):
            continue
        if cover:
            if PP_PLACEHOLDER.SUBTITLE in types:
                return layout
            continue
        if PP_PLACEHOLDER.SUBTITLE in types:  # a cover layout
            continue
        bodies = [p for p in placeholders if p.placeholder_format.type in CONTENT]
        if titled is None and not bodies:
            titled = layout
        if len(bodies) == 1:
            body = bodies[0]
            rank = (_PREFERRED[body.placeholder_format.type], int(body.width) * int(body.height))
            if best is None or rank > best[0]:
                best = (rank, layout)
    chosen = best[1] if best is not None else titled
    if chosen is None and cover:
        return find_layout(presentation, cover=False)
    if chosen is None:
        raise TemplateError(
            "no layout of the report template has a title placeholder",
            ko="보고서 템플릿의 어떤 레이아웃에도 제목 개체 틀이 없습니다",
        )
    return chosen


def _vertical(placeholder: Any) -> bool:
    """The placeholder's text runs vertically (East Asian vertical layouts)."""
    body = placeholder.element.find(qn("p:txBody"))
    properties = None if body is None else body.find(qn("a:bodyPr"))
    return properties is not None and properties.get("vert", "horz") != "horz"
