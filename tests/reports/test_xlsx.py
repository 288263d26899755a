"""The XLSX report read back with openpyxl: every number is the read model's (to the
digit), dates are dates, the charts are native and point at their tables, tables are
frozen and filtered, severities coloured, columns fit Korean text, pages print landscape
one page wide — in both languages; written again, the numbers are the same."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.chart import BarChart
from openpyxl.worksheet.worksheet import Worksheet

from auditlens import views
from auditlens.config import Settings
from auditlens.reports.formats import write_atomically, writer
from auditlens.reports.labels import KPI_ROWS, SEVERITIES, hours, severity_word
from auditlens.reports.model import ReportData, build_report
from auditlens.reports.xlsx import SHEETS, sheet_name
from auditlens.reports.xlsx_style import display_width
from auditlens.store.repo import Store
from tests.reports.conftest import BUILT_AT


@pytest.fixture(scope="module", params=["ko", "en"])
def workbook(
    request: pytest.FixtureRequest,
    report_data: ReportData,
    report_organisation: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[ReportData, openpyxl.Workbook, Path]:
    data = report_data.model_copy(update={"lang": request.param})
    path = writer("xlsx")(data, tmp_path_factory.mktemp("xlsx"), report_organisation.settings)
    return data, openpyxl.load_workbook(path), path


def _rows(ws: Worksheet, header: int, last: int | None = None) -> list[tuple[Any, ...]]:
    """The values of the table under the header row ``header`` (to an empty row)."""
    found = []
    for row in ws.iter_rows(min_row=header + 1, max_row=last, values_only=True):
        if all(v is None for v in row):
            break
        found.append(row)
    return found


def _find(ws: Worksheet, text: str, column: int = 1) -> int:
    for row in range(1, ws.max_row + 1):
        if ws.cell(row=row, column=column).value == text:
            return row
    raise AssertionError(f"{text!r} not in column {column} of {ws.title}")


def excel(value: Any) -> Any:
    """``value`` as a workbook holds it: floats to 16 significant digits (openpyxl writes
    ``%.16g``; Excel shows 15), everything else as it is."""
    return float(f"{value:.16g}") if isinstance(value, float) else value


def _local(moment: dt.datetime, zone: str) -> dt.datetime:
    return moment.astimezone(zoneinfo.ZoneInfo(zone)).replace(tzinfo=None)


def test_the_sheets_are_named_in_the_reports_language(workbook: Any) -> None:
    data, book, path = workbook
    assert book.sheetnames == [pick[0 if data.lang == "ko" else 1] for pick in SHEETS.values()]
    assert path.name == f"auditlens-monthly-{data.period.label}-{data.lang}.xlsx"
    assert not list(path.parent.glob("*.part"))


def test_summary_kpis_are_the_read_models(workbook: Any, report_store: Store) -> None:
    data, book, _ = workbook
    ws = book[sheet_name("summary", data.lang)]
    p, before, zone = data.period, data.previous, data.zone
    now = (views.kpis(report_store, p.start, p.end, zone=zone),
           views.coverage(report_store, p.start, p.end, zone=zone))  # fmt: skip
    then = (views.kpis(report_store, before.start, before.end, zone=zone),
            views.coverage(report_store, before.start, before.end, zone=zone))  # fmt: skip
    header = _find(ws, "지표" if data.lang == "ko" else "KPI")
    rows = _rows(ws, header)
    assert [r[0] for r in rows] == [row.label(data.lang) for row in KPI_ROWS]
    for row, (label, this, previous, change) in zip(KPI_ROWS, [r[:4] for r in rows], strict=True):
        assert this == excel(row.read(*now)), label
        assert previous == excel(row.read(*then)), label
        if this is not None and previous is not None:
            assert change == excel(row.read(*now) - row.read(*then)), label
    alerts = rows[[r.key for r in KPI_ROWS].index("alerts")]
    assert isinstance(alerts[1], int) and alerts[1] == now[0].alerts > 0
    median = rows[[r.key for r in KPI_ROWS].index("close_hours")][1]
    assert median == excel(hours(now[0].time_to_close.median_seconds))
    assert ws.cell(row=header + 1 + [r.key for r in KPI_ROWS].index("dismissal_rate"),
                   column=2).number_format == "0.0%"  # fmt: skip


def test_summary_charts_are_native_and_drawn_from_the_read_models_tables(
    workbook: Any, report_store: Store
) -> None:
    data, book, _ = workbook
    ws = book[sheet_name("summary", data.lang)]
    p, zone = data.period, data.zone
    trend = views.alert_trend(report_store, p.start, p.end, zone=zone)
    day_header = _find(ws, "일자" if data.lang == "ko" else "day")
    days = _rows(ws, day_header)
    assert [r[0] for r in days] == [dt.datetime.combine(d.day, dt.time()) for d in trend.days]
    assert [list(r[1:5]) for r in days] == [
        [d.by_severity[s] for s in SEVERITIES] for d in trend.days
    ]
    assert [ws.cell(row=day_header, column=c).value for c in range(2, 6)] == [
        severity_word(s, data.lang) for s in SEVERITIES
    ]
    dept_header = _find(ws, "부서" if data.lang == "ko" else "department")
    departments = _rows(ws, dept_header)
    assert [list(r[1:5]) for r in departments] == [
        [c[s] for s in SEVERITIES] for c in trend.by_department_severity.values()
    ]
    mix_header = _find(ws, "시나리오" if data.lang == "ko" else "scenario")
    mix = _rows(ws, mix_header)
    figures = views.kpis(report_store, p.start, p.end, zone=zone)
    assert sorted(r[1] for r in mix) == sorted(figures.by_scenario.values())
    assert sum(r[1] for r in mix) == figures.alerts
    charts = ws._charts
    assert len(charts) == 3 and all(isinstance(c, BarChart) for c in charts)
    refs = [c.series[0].val.numRef.f for c in charts]
    title = f"'{ws.title}'"
    assert refs[0] == f"{title}!$B${day_header + 1}:$B${day_header + len(days)}"
    assert refs[1] == f"{title}!$B${dept_header + 1}:$B${dept_header + len(departments)}"
    assert refs[2] == f"{title}!$B${mix_header + 1}:$B${mix_header + len(mix)}"
    assert [len(c.series) for c in charts] == [4, 4, 1]
    assert charts[0].grouping == "stacked" and charts[1].type == "bar"


def test_users_alerts_and_decisions_are_the_read_models_lists(
    workbook: Any, report_store: Store
) -> None:
    data, book, _ = workbook
    users = _rows(book[sheet_name("users", data.lang)], 1)
    assert [(r[0], r[1], r[3], r[5].date(), r[7]) for r in users] == [
        (n, u.user_id, excel(u.risk), u.day, u.alert_id) for n, u in enumerate(data.users, 1)
    ]
    # numbers and dates, never text (a whole float reads back as an int: Excel has one type)
    assert all(isinstance(r[3], int | float) and isinstance(r[5], dt.datetime) for r in users)
    assert [r[10] is not None for r in users[: len(data.top_risks)]] == [True] * len(data.top_risks)
    p = data.period
    queue = views.alert_queue(
        report_store, views.AlertFilters(start=p.start, end=p.end), views.Page(limit=500)
    )
    alerts = _rows(book[sheet_name("alerts", data.lang)], 1)
    assert [(r[0], r[1], r[3].date(), r[4], r[5], r[6], r[9]) for r in alerts] == [
        (
            a.id,
            a.user_id,
            a.day,
            len(a.days),
            excel(a.risk),
            severity_word(a.severity.value, data.lang),
            _local(a.created_at, data.zone),
        )
        for a in queue.items
    ]
    decisions = _rows(book[sheet_name("decisions", data.lang)], 1)
    expected = sorted(
        ((a.id, d) for a in queue.items for d in views.alert_detail(report_store, a.id).decisions),
        key=lambda pair: pair[1].seq,
    )
    assert [(r[0], r[2], r[3], r[4]) for r in decisions] == [
        (alert, d.seq, _local(d.at, data.zone), d.actor) for alert, d in expected
    ]
    assert len(decisions) > 0


def test_quarantine_and_evidence_are_the_read_models(workbook: Any, report_store: Store) -> None:
    data, book, _ = workbook
    p, zone = data.period, data.zone
    health = views.data_health(report_store, p.start, p.end, zone=zone)
    ws = book[sheet_name("quarantine", data.lang)]
    table = _rows(ws, 1)
    assert [(r[1], r[2]) for r in table] == [
        *health.quarantine_by_kind.items(),
        *health.tamper_by_kind.items(),
    ]
    assert ws.cell(row=len(table) + 3, column=3).value == health.quarantined_rows
    assert ws.cell(row=len(table) + 4, column=3).value == health.tamper_findings
    ev = book[sheet_name("evidence", data.lang)]
    header = _find(ev, "통제" if data.lang == "ko" else "control")
    rows = _rows(ev, header)
    expected = [(c.control.id, i.value) for c in data.controls for i in c.items]
    assert [(r[0], r[6]) for r in rows] == expected
    users = next(r for r in rows if r[6] == data.activity.users_monitored)
    assert isinstance(users[6], int)
    values = {ev.cell(row=r, column=2).value for r in range(header + len(rows), ev.max_row + 1)}
    footer = data.footer
    for shown in (footer.digest, footer.audit_head_hash, footer.config_hash, footer.data_watermark):
        assert shown in values
    assert ", ".join(footer.models) in values
    sources = views.ingestion(report_store, p.start, p.end, zone=zone).sources
    assert [(s.source, s.events) for s in sources] == [
        (ev.cell(row=r, column=1).value, ev.cell(row=r, column=2).value)
        for r in range(ev.max_row - len(sources) + 1, ev.max_row + 1)
    ]
    disclaimer = ev.cell(row=2, column=1).value
    assert ("법률 자문이 아닙니다" if data.lang == "ko" else "not legal advice") in disclaimer


def test_tables_are_frozen_filtered_coloured_and_print_one_page_wide(workbook: Any) -> None:
    data, book, _ = workbook
    for key in ("users", "alerts", "decisions", "quarantine"):
        ws = book[sheet_name(key, data.lang)]
        assert ws.freeze_panes == "A2", key
        assert ws.auto_filter.ref.startswith("A1:"), key
    for key, column in (("users", "E"), ("alerts", "G")):
        ws = book[sheet_name(key, data.lang)]
        ranges = [str(r.sqref) for r in ws.conditional_formatting]
        assert ranges == [f"{column}2:{column}{ws.max_row}"], key
        rules = [rule for r in ws.conditional_formatting for rule in r.rules]
        assert {rule.formula[0].strip('"') for rule in rules} == {
            severity_word(s, data.lang) for s in SEVERITIES
        }
    for ws in book.worksheets:
        setup = ws.page_setup
        assert (setup.orientation, setup.fitToWidth, setup.fitToHeight) == ("landscape", 1, 0)
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
    ev = book[sheet_name("evidence", data.lang)]
    assert ev.freeze_panes == f"A{_find(ev, ev['A4'].value) + 1}"


def test_columns_fit_korean_text(workbook: Any) -> None:
    data, book, _ = workbook
    assert display_width("부서") == 4 and display_width("\uff21\uff22") == 4  # full-width AB
    for key in ("users", "alerts", "decisions"):
        ws = book[sheet_name(key, data.lang)]
        for column in ws.iter_cols(min_row=1, max_row=ws.max_row):
            shown = [str(c.value) for c in column if isinstance(c.value, str)]
            if not shown:
                continue
            widest = max(display_width(s) for s in shown)
            width = ws.column_dimensions[column[0].column_letter].width
            assert min(widest + 2, 60) <= width <= 60, (key, column[0].value, widest, width)
    users = book[sheet_name("users", data.lang)]
    wrapped = [c for c in users["K"][1:] if c.alignment.wrap_text]
    assert wrapped  # the reasons of the top users are longer than a column
    for cell in wrapped:  # and their rows are tall enough to show them
        lines = -(-display_width(cell.value) // 58)
        assert users.row_dimensions[cell.row].height >= 15 * lines


def test_writing_again_gives_the_same_numbers(
    report_data: ReportData, report_settings: Settings, tmp_path: Path
) -> None:
    first = writer("xlsx")(report_data, tmp_path / "first", report_settings)
    with Store.open(report_settings) as store:
        again = build_report(
            store, report_settings, report_data.period, "ko", now=BUILT_AT + dt.timedelta(hours=5)
        )
    second = writer("xlsx")(again, tmp_path / "second", report_settings)
    one, two = openpyxl.load_workbook(first), openpyxl.load_workbook(second)
    for name in one.sheetnames:
        a = list(one[name].iter_rows(values_only=True))
        b = list(two[name].iter_rows(values_only=True))
        differing = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
        # only when it was made differs (the summary's third row, the evidence's footer)
        assert all(str(x[0]).startswith("작성 시각") for x, _ in differing), (name, differing)
        assert len(differing) == (1 if name in ("요약", "증빙") else 0), name


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    def broken(path: Path) -> None:
        path.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(tmp_path / "r.xlsx", broken)
    assert list(tmp_path.iterdir()) == []
    done = write_atomically(tmp_path / "r.xlsx", lambda p: p.write_bytes(b"whole"))
    assert done.read_bytes() == b"whole" and list(tmp_path.iterdir()) == [done]
