"""Reading a written deck back with python-pptx: slides and shapes by their names, table
cells, chart series and categories, every text, and the fonts of every run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pptx import Presentation
from pptx.oxml.ns import qn
from pptx.presentation import Presentation as PresentationType
from pptx.slide import Slide


def read(path: Path) -> PresentationType:
    """The deck at ``path``."""
    return Presentation(str(path))


def slide_named(deck: PresentationType, name: str) -> Slide:
    """The one slide named ``name``."""
    found = [s for s in deck.slides if s.name == name]
    assert len(found) == 1, [s.name for s in deck.slides]
    return found[0]


def shape_named(slide: Slide, name: str) -> Any:
    """The one shape of ``slide`` named ``name``."""
    found = [s for s in slide.shapes if s.name == name]
    assert len(found) == 1, (name, [s.name for s in slide.shapes])
    return found[0]


def cells(slide: Slide, name: str) -> list[list[str]]:
    """The text of every cell of the table ``name``, row by row."""
    table = shape_named(slide, name).table
    return [[cell.text for cell in row.cells] for row in table.rows]


def series(slide: Slide, name: str) -> dict[str, tuple[float | None, ...]]:
    """Each series of the chart ``name`` by its name, with its values."""
    shape = shape_named(slide, name)
    assert shape.has_chart, name
    return {s.name: tuple(s.values) for s in shape.chart.plots[0].series}


def categories(slide: Slide, name: str) -> list[str]:
    """The categories of the chart ``name``."""
    return [str(c) for c in shape_named(slide, name).chart.plots[0].categories]


def title(slide: Slide) -> str:
    """The slide's title."""
    heading = slide.shapes.title
    assert heading is not None
    return str(heading.text_frame.text)


def texts(deck: PresentationType) -> Iterator[str]:
    """Every text of the deck: text frames, table cells, chart titles, series and
    categories."""
    for slide in deck.slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                yield shape.text_frame.text
            if shape.has_table:
                for row in shape.table.rows:
                    yield from (cell.text for cell in row.cells)
            if shape.has_chart:
                chart = shape.chart
                if chart.has_title:
                    yield chart.chart_title.text_frame.text
                for plot in chart.plots:
                    yield from (str(c) for c in plot.categories)
                    yield from (s.name for s in plot.series)


def run_properties(deck: PresentationType) -> Iterator[Any]:
    """Every run's properties (``a:rPr``) of the slides and of their charts."""
    for slide in deck.slides:
        roots = [slide.element]
        roots += [s.chart._chartSpace for s in slide.shapes if s.has_chart]
        for root in roots:
            yield from root.iter(qn("a:rPr"))
