"""The board deck (PPTX): the period's report as editable slides on the team's template.

:func:`write_pptx` lays out a :class:`~auditlens.reports.model.ReportData` — nothing is
read or computed here — as: cover; executive summary; alert trend; severity by
department; top risks; scenario mix; triage performance; data quality; model health;
control evidence (one slide per control); method; reproducibility (last). Charts are
native chart objects (a reader edits their data in PowerPoint), tables native tables;
every text carries an East Asian font (:mod:`auditlens.reports.deck`). Each slide is
*named* by a stable key (``slide.name``: ``summary``, ``trend``…) and each chart or
table shape too, whatever the language, so a reader program finds them.

The template is ``report_template`` (``our-master.pptx``): its layouts, placeholders and
theme are used; none gives a clean built-in 16:9 deck.

Example::

    path = write_pptx(data, Path("reports"), settings)  # reports/auditlens-monthly-2026-09-ko.pptx
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

from auditlens.config import Settings
from auditlens.i18n import pick
from auditlens.reports.deck import Deck
from auditlens.reports.formats import report_name, report_title, write_atomically
from auditlens.reports.model import ReportData
from auditlens.reports.operation_slides import (
    control_slides,
    data_quality_slide,
    method_slide,
    model_slide,
    reproducibility_slide,
    triage_slide,
)
from auditlens.reports.period import kind_word
from auditlens.reports.risk_slides import (
    departments_slide,
    scenarios_slide,
    summary_slide,
    top_risks_slide,
    trend_slide,
)

Slides = Callable[[Deck, ReportData], None]

#: Every slide after the cover, in order (the reproducibility slide is last).
SLIDES: Final[tuple[Slides, ...]] = (
    summary_slide,
    trend_slide,
    departments_slide,
    top_risks_slide,
    scenarios_slide,
    triage_slide,
    data_quality_slide,
    model_slide,
    control_slides,
    method_slide,
    reproducibility_slide,
)


def write_pptx(data: ReportData, out: Path, settings: Settings) -> Path:
    """Write the deck of ``data`` into the directory ``out``; return its path.

    Raises:
        TemplateError: ``report_template`` is missing, not a PowerPoint file, or has no
            layout with a title placeholder.
    """
    deck = build_deck(data, settings.report_template)
    path = out / report_name(data, "pptx")
    return write_atomically(path, deck.save)


def build_deck(data: ReportData, template: Path | None) -> Deck:
    """Every slide of ``data`` on ``template`` (None: the built-in look), not yet saved."""
    deck = Deck(template, data.lang)
    lang = data.lang
    period = data.period
    subtitle = pick(
        lang,
        f"{kind_word(period.kind, lang).capitalize()} report · {period.span()} ({data.zone})",
        f"{kind_word(period.kind, lang)} 보고서 · {period.span()} ({data.zone} 기준)",
    )
    deck.cover(report_title(data), subtitle)
    for slides in SLIDES:
        slides(deck, data)
    properties = deck.presentation.core_properties
    properties.title = report_title(data)
    properties.subject = period.label
    properties.author = "auditlens"
    properties.created = data.footer.generated_at.replace(tzinfo=None)
    properties.revision = 1
    return deck
