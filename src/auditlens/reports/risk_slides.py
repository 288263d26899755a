"""The deck's risk slides: executive summary, alert trend, severity by department, top
risks and scenario mix — laid out from :class:`~auditlens.reports.model.ReportData`,
the numbers as the read model gave them.
"""

from __future__ import annotations

from typing import Final

from pptx.slide import Slide

from auditlens.i18n import pick
from auditlens.reports.deck import Area, ChartSpec, Deck, tint
from auditlens.reports.headlines import headlines
from auditlens.reports.labels import (
    SEVERITIES,
    SEVERITY_COLOURS,
    department_word,
    scenario_word,
    severity_word,
)
from auditlens.reports.model import ReportData
from auditlens.reports.wording import count, risk

#: Arrow colours: worse, better, neither (colour-blind safe red and blue).
TONE_COLOURS: Final = {"bad": "#c0392b", "good": "#1f6fb2", "neutral": "#555555"}
#: The most scenarios the scenario mix draws (the XLSX lists every one).
TOP_SCENARIOS: Final = 12
#: Reasons shown per risky user.
REASONS_SHOWN: Final = 2


def summary_slide(deck: Deck, data: ReportData) -> None:
    """KPIs against the previous period: value, previous, arrow and change, a sentence."""
    lang = data.lang
    slide, area = deck.content("summary", pick(lang, "Executive summary", "요약"))
    lines = headlines(data)
    rows = [
        [
            pick(lang, "Figure", "지표"),
            data.period.label,
            data.previous.label,
            pick(lang, "Change", "변화"),
            pick(lang, "In one sentence", "한 문장 요약"),
        ]
    ]
    rows += [
        [h.label, h.shown, h.shown_previous, f"{h.arrow} {h.change}".strip(), h.sentence]
        for h in lines
    ]
    note, table_area = _caption_area(area)
    table = deck.table(
        slide, table_area, rows, "summary_table", size=10, widths=(2.2, 1.3, 1.3, 1.3, 5)
    )
    for i, line in enumerate(lines, start=1):
        tint(table, i, 3, TONE_COLOURS[line.tone], bold=line.tone != "neutral")
    deck.text(
        slide,
        note,
        [
            pick(
                lang,
                f"{data.period.title('en')} against {data.previous.title('en')}. "
                "▲ up, ▼ down; red where a rise or fall is bad news, blue where it is good.",
                f"이번 기간 {data.period.title('ko')}, 직전 기간 {data.previous.title('ko')} 비교. "
                "▲ 증가, ▼ 감소; 빨강은 나빠진 지표, 파랑은 좋아진 지표.",
            )
        ],
        "summary_note",
        size=10,
    )


def trend_slide(deck: Deck, data: ReportData) -> None:
    """Alerts opened per day by severity, and each day's mean and highest risk."""
    lang = data.lang
    slide, area = deck.content("trend", pick(lang, "Alert trend", "알림 추이"))
    days = data.alert_trend.days
    labels = [d.day.strftime("%m-%d") for d in days]
    left, right = area.split(2)
    deck.chart(
        slide,
        left,
        ChartSpec(
            "stacked_column",
            labels,
            {severity_word(s, lang): [d.by_severity.get(s, 0) for d in days] for s in SEVERITIES},
            {severity_word(s, lang): SEVERITY_COLOURS[s] for s in SEVERITIES},
            title=pick(lang, "Alerts opened per day", "일별 신규 알림"),
        ),
        "alert_trend_chart",
    )
    risk_days = data.activity.days
    deck.chart(
        slide,
        right,
        ChartSpec(
            "line",
            [d.day.strftime("%m-%d") for d in risk_days],
            {
                pick(lang, "mean risk", "평균 위험도"): [d.mean_risk for d in risk_days],
                pick(lang, "highest risk", "최고 위험도"): [d.max_risk for d in risk_days],
            },
            {
                pick(lang, "mean risk", "평균 위험도"): "#4c78a8",
                pick(lang, "highest risk", "최고 위험도"): "#a1172f",
            },
            title=pick(lang, "Risk per day (users scored, 0-100)", "일별 위험도 (0-100)"),
            number_format="0.0",
            maximum=100,
        ),
        "risk_trend_chart",
    )


def departments_slide(deck: Deck, data: ReportData) -> None:
    """Alerts per department, stacked by severity, with the numbers beside the chart."""
    lang = data.lang
    slide, area = deck.content("departments", pick(lang, "Severity by department", "부서별 심각도"))
    cells = data.severity_by_department
    if not cells:
        _nothing(deck, slide, area, lang)
        return
    departments = list(cells)
    names = [department_word(d, lang) for d in departments]
    left, right = area.split(2)
    deck.chart(
        slide,
        left,
        ChartSpec(
            "stacked_bar",
            names,
            {severity_word(s, lang): [cells[d].get(s, 0) for d in departments] for s in SEVERITIES},
            {severity_word(s, lang): SEVERITY_COLOURS[s] for s in SEVERITIES},
        ),
        "departments_chart",
    )
    rows = [[pick(lang, "Department", "부서"), *(severity_word(s, lang) for s in SEVERITIES)]]
    rows += [
        [name, *(f"{cells[d].get(s, 0):,}" for s in SEVERITIES)]
        for d, name in zip(departments, names, strict=True)
    ]
    deck.table(slide, right, rows, "departments_table", size=10, widths=(2, 1, 1, 1, 1))


def top_risks_slide(deck: Deck, data: ReportData) -> None:
    """The riskiest users of the period with the reasons of their peak day."""
    lang = data.lang
    slide, area = deck.content("top_risks", pick(lang, "Top risks", "위험도 상위 사용자"))
    if not data.top_risks:
        _nothing(deck, slide, area, lang)
        return
    rows = [
        [
            "#",
            pick(lang, "User", "사용자"),
            pick(lang, "Department", "부서"),
            pick(lang, "Peak risk", "최고 위험도"),
            pick(lang, "Severity", "심각도"),
            pick(lang, "Day", "일자"),
            pick(lang, "Why", "사유"),
        ]
    ]
    for rank, top in enumerate(data.top_risks, start=1):
        row = top.row
        reasons = [
            f"{pick(lang, r.label_en, r.label_ko)} {pick(lang, r.value_en, r.value_ko)}"
            for r in top.reasons[:REASONS_SHOWN]
        ]
        rows.append(
            [
                str(rank),
                row.user_id,
                department_word(row.department, lang),
                risk(row.risk),
                severity_word(row.severity.value, lang),
                row.day.isoformat(),
                " · ".join(reasons) or scenario_word(row.scenario, lang),
            ]
        )
    everyone = count(len(data.users), lang, ko_unit="명", en_unit="users")
    note, table_area = _caption_area(area)
    deck.table(
        slide, table_area, rows, "top_risks_table", size=10, widths=(0.4, 1.9, 1.3, 1, 0.8, 1.2, 5)
    )
    shown = pick(
        lang,
        "Users are shown by pseudonym (privacy.pseudonymise); re-identification needs four eyes.",
        "사용자는 가명으로 표시됩니다(privacy.pseudonymise). 실명 확인은 2인 승인이 필요합니다.",
    )
    deck.text(
        slide,
        note,
        [
            pick(
                lang,
                f"Each user's peak decayed risk (0-100) in the period; {everyone} scored in all.",
                f"사용자별 기간 중 최고 위험도(0-100, 감쇠 적용); 전체 {everyone}.",
            )
            + (" " + shown if data.pseudonymised else "")
        ],
        "top_risks_note",
        size=10,
    )


def scenarios_slide(deck: Deck, data: ReportData) -> None:
    """Alerts per scenario (the feature behind each alert's strongest reason)."""
    lang = data.lang
    slide, area = deck.content("scenarios", pick(lang, "Scenario mix", "시나리오 분포"))
    mix = sorted(data.scenario_mix.items(), key=lambda kv: (-kv[1], kv[0]))
    if not mix:
        _nothing(deck, slide, area, lang)
        return
    shown = mix[:TOP_SCENARIOS]
    note, chart_area = _caption_area(area)
    deck.chart(
        slide,
        chart_area,
        ChartSpec(
            "bar",
            [scenario_word(s, lang) for s, _ in shown],
            {pick(lang, "alerts", "알림 수"): [n for _, n in shown]},
            {pick(lang, "alerts", "알림 수"): "#4c78a8"},
        ),
        "scenarios_chart",
    )
    more = len(mix) - len(shown)
    deck.text(
        slide,
        note,
        [
            pick(
                lang,
                "A scenario is the feature behind an alert's strongest reason."
                + (f" {more} more scenarios are listed in the XLSX report." if more else ""),
                "시나리오는 알림의 가장 강한 사유가 된 특성입니다."
                + (f" 나머지 {more}개 시나리오는 XLSX 보고서에 있습니다." if more else ""),
            )
        ],
        "scenarios_note",
        size=10,
    )


def _caption_area(area: Area) -> tuple[Area, Area]:
    """A line for a caption at the top of ``area``, and the rest under it (a table that
    grows with its text grows away from the caption)."""
    return area.below(0.08)


def _nothing(deck: Deck, slide: Slide, area: Area, lang: str) -> None:
    deck.text(
        slide,
        area,
        [pick(lang, "No alerts in this period.", "이 기간에는 알림이 없습니다.")],
        "nothing",
        size=16,
    )
