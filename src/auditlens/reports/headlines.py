"""The executive summary: each KPI of the period against the previous period, with an
arrow and one sentence.

Every value is a read-model number as :class:`~auditlens.reports.model.ReportData` holds
it (``kpis``, ``previous_kpis``, ``activity``, ``previous_coverage``) — formatted, never
recomputed — so a headline reads what the dashboard's KPI cards read for the same
period. Whether a rise is good news is part of each headline (``worse_when_up``): an
arrow is coloured by it, never by its direction alone.

Example::

    for line in headlines(data):
        print(line.label, line.shown, line.arrow, line.sentence)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from auditlens.i18n import pick
from auditlens.reports.model import ReportData
from auditlens.reports.wording import count, duration, percent
from auditlens.views import Coverage, Kpis

Kind = Literal["count", "people", "rate", "duration"]
Tone = Literal["good", "bad", "neutral"]

UP: Final = "▲"
DOWN: Final = "▼"
SAME: Final = "="


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


@dataclass(frozen=True)
class _Kpi:
    key: str
    en: str
    ko: str
    kind: Kind
    figure: Callable[[Kpis, Coverage], float | None]
    worse_when_up: bool | None  # None: neither direction is news by itself


def _open(k: Kpis, _: Coverage) -> int:
    return k.alerts - k.ended


#: The summary's KPIs, in order.
KPIS: Final[tuple[_Kpi, ...]] = (
    _Kpi("users", "Users monitored", "모니터링 사용자", "people",
         lambda _, c: c.users_monitored, None),
    _Kpi("events", "Events reviewed", "점검한 이벤트", "count", lambda _, c: c.events, None),
    _Kpi("alerts", "Alerts opened", "생성된 알림", "count", lambda k, _: k.alerts, True),
    _Kpi("critical", "Critical alerts", "알림: 심각", "count",
         lambda k, _: k.by_severity.get("critical", 0), True),
    _Kpi("high", "High alerts", "알림: 높음", "count",
         lambda k, _: k.by_severity.get("high", 0), True),
    _Kpi("open", "Still open", "처리 중", "count", _open, True),
    _Kpi("first_action", "Median time to first action", "첫 조치까지 중앙값", "duration",
         lambda k, _: k.time_to_first_action.median_seconds, True),
    _Kpi("time_to_close", "Median time to close", "종결까지 중앙값", "duration",
         lambda k, _: k.time_to_close.median_seconds, True),
    _Kpi("dismissal_rate", "Dismissal rate", "기각률", "rate",
         lambda k, _: k.dismissal_rate, None),
    _Kpi("quarantined", "Rows quarantined", "격리된 행", "count",
         lambda k, _: k.quarantined_rows, True),
    _Kpi("tamper", "Possible tampering", "변조 의심", "count",
         lambda k, _: k.tamper_findings, True),
)  # fmt: skip


def headlines(data: ReportData) -> tuple[Headline, ...]:
    """Every KPI of the summary for ``data``'s period against the previous one."""
    lang = data.lang
    now_k, now_c = data.kpis, data.activity
    before_k, before_c = data.previous_kpis, data.previous_coverage
    found = []
    for kpi in KPIS:
        value, previous = kpi.figure(now_k, now_c), kpi.figure(before_k, before_c)
        arrow = _arrow(value, previous)
        found.append(
            Headline(
                key=kpi.key,
                label=pick(lang, kpi.en, kpi.ko),
                value=value,
                previous=previous,
                shown=shown(value, kpi.kind, lang),
                shown_previous=shown(previous, kpi.kind, lang),
                arrow=arrow,
                change=_change(value, previous, kpi.kind, lang),
                tone=_tone(arrow, kpi.worse_when_up),
                sentence=_sentence(value, previous, kpi.kind, lang),
            )
        )
    return tuple(found)


def shown(value: float | None, kind: Kind, lang: str) -> str:
    """A KPI's value as the summary prints it."""
    if kind == "rate":
        return percent(value, lang)
    if kind == "duration":
        return duration(value, lang)
    number = None if value is None else int(value)
    if kind == "people":
        return count(number, lang, ko_unit="명", en_unit="users")
    return count(number, lang)


def _arrow(value: float | None, previous: float | None) -> str:
    if value is None or previous is None:
        return ""
    return UP if value > previous else DOWN if value < previous else SAME


def _tone(arrow: str, worse_when_up: bool | None) -> Tone:
    if worse_when_up is None or arrow in ("", SAME):
        return "neutral"
    return "bad" if (arrow == UP) == worse_when_up else "good"


def _change(value: float | None, previous: float | None, kind: Kind, lang: str) -> str:
    """The difference as the summary prints it: ``+12``, ``-2.0%p``, ``+1.1시간``."""
    if value is None or previous is None:
        return ""
    delta = value - previous
    sign = "+" if delta >= 0 else "-"
    if kind == "rate":
        return f"{delta * 100:+.1f}%p"
    if kind == "duration":
        return f"{sign}{duration(abs(delta), lang)}"
    return f"{int(delta):+,}"


def _sentence(value: float | None, previous: float | None, kind: Kind, lang: str) -> str:
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
    elif kind == "duration":
        by = by_en = duration(delta, lang)
        en, ko = ("longer", "길어졌습니다") if up else ("shorter", "짧아졌습니다")
    else:
        unit = "명" if kind == "people" else "건"
        by, by_en = f"{int(delta):,}{unit}", f"{int(delta):,}"
        en, ko = ("up", "늘었습니다") if up else ("down", "줄었습니다")
    if kind == "duration":
        sentence_en = f"{by_en} {en} than in the previous period ({before})."
    else:
        sentence_en = f"{en.capitalize()} {by_en} from {before} in the previous period."
    return pick(lang, sentence_en, f"직전 기간 {before} 대비 {by} {ko}.")
