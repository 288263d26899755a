"""The Summary sheet of the XLSX report: the KPIs against the previous period, and three
native Excel charts (alert trend, severity by department, scenario mix) drawn from tables
on the same sheet — editable charts over real numbers, not pictures.

Each number is the :class:`~auditlens.reports.model.ReportData`'s, which is the read
model's: the KPI rows of :data:`~auditlens.reports.labels.KPI_ROWS`, the days of
``alert_trend``, its department-by-severity counts and ``kpis.by_scenario``.
"""

from __future__ import annotations

from typing import Final

from openpyxl.chart import BarChart, Reference
from openpyxl.worksheet.worksheet import Worksheet

from auditlens.i18n import pick
from auditlens.reports.formats import report_title
from auditlens.reports.labels import (
    KPI_ROWS,
    SEVERITIES,
    SEVERITY_COLOURS,
    department_word,
    scenario_word,
    severity_word,
)
from auditlens.reports.model import ReportData
from auditlens.reports.xlsx_style import (
    COUNT,
    DAY,
    HOURS,
    MOMENT,
    RATE,
    Sheet,
    fit_columns,
    local,
    print_landscape,
    zone_label,
)

#: Where the charts sit: right of the tables, one under the other.
CHART_COLUMN: Final = "H"
_CHART_ROWS: Final = 18
#: The colour of a chart whose bars are not severities.
NEUTRAL: Final = "5B6B7F"
_FORMATS: Final = {"count": COUNT, "rate": RATE, "hours": HOURS}


def summary_sheet(ws: Worksheet, data: ReportData) -> None:
    """Fill ``ws`` with the report's summary and charts."""
    lang = data.lang
    sheet = Sheet(ws, lang)
    sheet.line([report_title(data)], bold=True, size=14)
    compared = pick(
        lang,
        f"{data.period.span()} ({data.zone}), compared with {data.previous.span()}",
        f"{data.period.span()} ({data.zone}), 직전 기간 {data.previous.span()} 대비",
    )
    sheet.line([compared])
    made = local(data.footer.generated_at, data.zone)
    sheet.line(
        [
            pick(lang, f"made ({zone_label(data.zone)})", f"작성 시각 ({zone_label(data.zone)})"),
            made,
            _people(data),
        ],
        [None, MOMENT],
    )
    sheet.skip()
    first = _kpis(sheet, data)
    ws.freeze_panes = ws.cell(row=first + 1, column=1)
    charts = [_trend(sheet, data), _departments(sheet, data), _scenarios(sheet, data)]
    for n, chart in enumerate(c for c in charts if c is not None):
        ws.add_chart(chart, f"{CHART_COLUMN}{first + n * _CHART_ROWS}")
    fit_columns(ws)
    ws.column_dimensions["A"].width = min(ws.column_dimensions["A"].width, 36)
    print_landscape(ws)


def _people(data: ReportData) -> str:
    if data.pseudonymised:
        return pick(data.lang, "people are shown as pseudonyms", "사용자는 가명으로 표시됨")
    return ""


def _kpis(sheet: Sheet, data: ReportData) -> int:
    """The KPI table; returns its header row."""
    lang = data.lang
    header = sheet.header(
        [
            pick(lang, "KPI", "지표"),
            pick(lang, "this period", "이번 기간"),
            pick(lang, "previous period", "직전 기간"),
            pick(lang, "change", "증감"),
        ]
    )
    for row in KPI_ROWS:
        now = row.read(data.kpis, data.activity)
        before = row.read(data.previous_kpis, data.previous_coverage)
        change = None if now is None or before is None else now - before
        fmt = _FORMATS[row.kind]
        sheet.line([row.label(lang), now, before, change], [None, fmt, fmt, fmt])
    return header


def _chart(title: str, horizontal: bool, stacked: bool) -> BarChart:
    chart = BarChart()
    chart.type = "bar" if horizontal else "col"
    if stacked:
        chart.grouping = "stacked"
        chart.overlap = 100
    chart.title = title
    chart.width, chart.height = 18, 8.5
    chart.x_axis.delete = False  # openpyxl 3.1 hides both axes unless told
    chart.y_axis.delete = False
    return chart


def _colour_by_severity(chart: BarChart) -> None:
    for series, severity in zip(chart.series, SEVERITIES, strict=False):
        series.graphicalProperties.solidFill = SEVERITY_COLOURS[severity]
        series.graphicalProperties.line.solidFill = SEVERITY_COLOURS[severity]


def _severity_table(
    sheet: Sheet, first: str, rows: list[tuple[object, list[int]]], fmt: str | None = None
) -> int:
    """A table of ``first`` then one column per severity; returns its header row."""
    sheet.skip()
    header = sheet.header([first, *(severity_word(s, sheet.lang) for s in SEVERITIES)])
    for label, counts in rows:
        sheet.line([label, *counts], [fmt, *([COUNT] * len(SEVERITIES))])
    return header


def _trend(sheet: Sheet, data: ReportData) -> BarChart | None:
    lang = data.lang
    rows: list[tuple[object, list[int]]] = [
        (d.day, [d.by_severity.get(s, 0) for s in SEVERITIES]) for d in data.alert_trend.days
    ]
    header = _severity_table(sheet, pick(lang, "day", "일자"), rows, DAY)
    chart = _chart(pick(lang, "Alerts per day", "일별 알림"), horizontal=False, stacked=True)
    return _fill(chart, sheet.ws, header, len(rows), len(SEVERITIES), by_severity=True)


def _departments(sheet: Sheet, data: ReportData) -> BarChart | None:
    lang = data.lang
    rows: list[tuple[object, list[int]]] = [
        (department_word(d, lang), [counts.get(s, 0) for s in SEVERITIES])
        for d, counts in data.severity_by_department.items()
    ]
    header = _severity_table(sheet, pick(lang, "department", "부서"), rows)
    title = pick(lang, "Alerts by department and severity", "부서별·심각도별 알림")
    chart = _chart(title, horizontal=True, stacked=True)
    return _fill(chart, sheet.ws, header, len(rows), len(SEVERITIES), by_severity=True)


def _scenarios(sheet: Sheet, data: ReportData) -> BarChart | None:
    lang = data.lang
    sheet.skip()
    header = sheet.header([pick(lang, "scenario", "시나리오"), pick(lang, "alerts", "알림")])
    mix = sorted(data.scenario_mix.items(), key=lambda kv: (-kv[1], kv[0]))
    for scenario, n in mix:
        sheet.line([scenario_word(scenario, lang), n], [None, COUNT])
    chart = _chart(pick(lang, "Scenario mix", "시나리오 구성"), horizontal=True, stacked=False)
    chart.legend = None
    filled = _fill(chart, sheet.ws, header, len(mix), 1, by_severity=False)
    if filled is not None:
        filled.series[0].graphicalProperties.solidFill = NEUTRAL
        filled.series[0].graphicalProperties.line.solidFill = NEUTRAL
    return filled


def _fill(
    chart: BarChart, ws: Worksheet, header: int, rows: int, series: int, *, by_severity: bool
) -> BarChart | None:
    """``chart`` over the table under ``header`` (None: the table is empty)."""
    if rows == 0:
        return None
    values = Reference(ws, min_col=2, max_col=1 + series, min_row=header, max_row=header + rows)
    chart.add_data(values, titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=header + 1, max_row=header + rows))
    if by_severity:
        _colour_by_severity(chart)
    return chart
