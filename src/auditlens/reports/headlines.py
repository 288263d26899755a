"""The executive summary: each KPI of the period against the previous period, with an
arrow and one sentence.

Every value is a read-model number as :class:`~auditlens.reports.model.ReportData` holds
it (``kpis``, ``previous_kpis``, ``activity``, ``previous_coverage``) — formatted, never
recomputed — the rows of :data:`~auditlens.reports.labels.KPI_ROWS`, which every format's
summary shows. Where a rise is bad news (``rise_is_bad``) the arrow says so: ``bad`` up,
``good`` down; other rows' arrows are ``neutral``.

Example::

    for line in headlines(data):
        print(line.label, line.shown, line.arrow, line.sentence)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from auditlens.i18n import pick
from auditlens.reports.labels import KPI_ROWS, Kind
from auditlens.reports.model import ReportData
from auditlens.reports.wording import NONE, count, percent

#: How a value is printed: a row's kind, or a count of people.
Shown = Kind | Literal["people"]

Tone = Literal["good", "bad", "neutral"]

UP: Final = "▲"
DOWN: Final = "▼"
SAME: Final = "="
#: Counts that are people, not things (Korean counter 명).
PEOPLE: Final = frozenset({"users"})


@dataclass(frozen=True)
class Headline:
    """One KPI of the summary: the number, the previous period's, and how they compare."""

    key: str
    label: str
    value: float | None
    previous: float | None
    shown: str
    shown_previous: str
    arrow: str = ""
    change: str = ""
    tone: Tone = "neutral"
    sentence: str = ""


def headlines(data: ReportData) -> tuple[Headline, ...]:
    """Every KPI of the summary for ``data``'s period against the previous one."""
    lang = data.lang
    now_k, now_c = data.kpis, data.activity
    before_k, before_c = data.previous_kpis, data.previous_coverage
    found = []
    for row in KPI_ROWS:
        value, previous = row.read(now_k, now_c), row.read(before_k, before_c)
        kind: Shown = "people" if row.key in PEOPLE else row.kind
        arrow = _arrow(value, previous)
        found.append(
            Headline(
                key=row.key,
                label=row.label(lang),
                value=value,
                previous=previous,
                shown=shown(value, kind, lang),
                shown_previous=shown(previous, kind, lang),
                arrow=arrow,
                change=_change(value, previous, kind, lang),
                tone=_tone(arrow, row.rise_is_bad),
                sentence=_sentence(value, previous, kind, lang),
            )
        )
    return tuple(found)


def shown(value: float | None, kind: Shown, lang: str) -> str:
    """A KPI's value as the summary prints it (``hours`` with one decimal)."""
    if kind == "rate":
        return percent(value, lang)
    if kind == "hours":
        return hours(value, lang)
    number = None if value is None else int(value)
    if kind == "people":
        return count(number, lang, ko_unit="명", en_unit="users")
    return count(number, lang)


def hours(value: float | None, lang: str) -> str:
    """Hours with one decimal: ``4.1시간`` / ``4.1 h``."""
    if value is None:
        return NONE
    return pick(lang, f"{value:.1f} h", f"{value:.1f}시간")


def _arrow(value: float | None, previous: float | None) -> str:
    if value is None or previous is None:
        return ""
    return UP if value > previous else DOWN if value < previous else SAME


def _tone(arrow: str, rise_is_bad: bool) -> Tone:
    if not rise_is_bad or arrow in ("", SAME):
        return "neutral"
    return "bad" if arrow == UP else "good"


def _change(value: float | None, previous: float | None, kind: Shown, lang: str) -> str:
    """The difference as the summary prints it: ``+12``, ``-2.0%p``, ``+1.1시간``."""
    if value is None or previous is None:
        return ""
    delta = value - previous
    sign = "+" if delta >= 0 else "-"
    if kind == "rate":
        return f"{delta * 100:+.1f}%p"
    if kind == "hours":
        return f"{sign}{hours(abs(delta), lang)}"
    return f"{int(delta):+,}"


def _sentence(value: float | None, previous: float | None, kind: Shown, lang: str) -> str:
    """One sentence saying how the value compares with the previous period's."""
    if value is None:
        return pick(
            lang, "Nothing to measure in this period.", "이번 기간에는 측정할 값이 없습니다."
        )
    if previous is None:
        return pick(
            lang,
            "Nothing to compare with in the previous period.",
            "직전 기간에는 비교할 값이 없습니다.",
        )
    before = shown(previous, kind, lang)
    if value == previous:
        return pick(
            lang,
            f"The same as in the previous period ({before}).",
            f"직전 기간과 같은 수준입니다 ({before}).",
        )
    up = value > previous
    delta = abs(value - previous)
    if kind == "rate":
        by = f"{delta * 100:.1f}%p"
        en, ko = ("up", "높아졌습니다") if up else ("down", "낮아졌습니다")
        by_en = f"{delta * 100:.1f} points"
    elif kind == "hours":
        by = by_en = hours(delta, lang)
        en, ko = ("longer", "길어졌습니다") if up else ("shorter", "짧아졌습니다")
    else:
        unit = "명" if kind == "people" else "건"
        by, by_en = f"{int(delta):,}{unit}", f"{int(delta):,}"
        en, ko = ("up", "늘었습니다") if up else ("down", "줄었습니다")
    if kind == "hours":
        sentence_en = f"{by_en} {en} than in the previous period ({before})."
    else:
        sentence_en = f"{en.capitalize()} {by_en} from {before} in the previous period."
    return pick(lang, sentence_en, f"직전 기간 {before} 대비 {by} {ko}.")
