"""The XLSX report (openpyxl): Summary with native charts, Users, Alerts, Decisions,
Quarantine and Evidence (control evidence and what the report rests on).

Every cell holds the :class:`~auditlens.reports.model.ReportData`'s number or date as it
is — counts as integers, risks and rates as floats, days as dates and moments as local
times (the header names the zone) — never as text, so a reader can sort, filter and
compute on them. Each table has a frozen header and a filter; severities are coloured;
columns fit their text (Korean counted double); every sheet prints landscape, one page
wide. Sheet names and headers are in the report's language.

Example::

    path = write_xlsx(data, Path("reports"), settings)   # reports/auditlens-monthly-2026-09-ko.xlsx
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from openpyxl import Workbook

from auditlens.config import Settings
from auditlens.i18n import pick
from auditlens.reports.formats import report_name, write_atomically
from auditlens.reports.labels import department_word, scenario_word, severity_word, status_word
from auditlens.reports.model import ReportData
from auditlens.reports.xlsx_evidence import evidence_sheet, quarantine_sheet
from auditlens.reports.xlsx_style import (
    COUNT,
    DAY,
    MOMENT,
    RISK,
    Sheet,
    colour_severities,
    finish_table,
    fit_columns,
    local,
    print_landscape,
    zone_label,
)
from auditlens.reports.xlsx_summary import summary_sheet

#: Each sheet's name (ko, en), in the workbook's order.
SHEETS: Final[dict[str, tuple[str, str]]] = {
    "summary": ("요약", "Summary"),
    "users": ("사용자", "Users"),
    "alerts": ("알림", "Alerts"),
    "decisions": ("결정", "Decisions"),
    "quarantine": ("격리", "Quarantine"),
    "evidence": ("증빙", "Evidence"),
}


def sheet_name(key: str, lang: str) -> str:
    """The name of sheet ``key`` in ``lang``."""
    ko, en = SHEETS[key]
    return pick(lang, en, ko)


def write_xlsx(data: ReportData, out: Path, settings: Settings) -> Path:
    """Write the workbook of ``data`` into the directory ``out``; its path."""
    del settings  # the workbook needs nothing beyond the report model
    book = Workbook()
    lang = data.lang
    summary = book.active
    assert summary is not None  # noqa: S101 - a new workbook has its first sheet
    summary.title = sheet_name("summary", lang)
    summary_sheet(summary, data)
    users_sheet(Sheet(book.create_sheet(sheet_name("users", lang)), lang), data)
    alerts_sheet(Sheet(book.create_sheet(sheet_name("alerts", lang)), lang), data)
    decisions_sheet(Sheet(book.create_sheet(sheet_name("decisions", lang)), lang), data)
    quarantine_sheet(Sheet(book.create_sheet(sheet_name("quarantine", lang)), lang), data)
    evidence_sheet(Sheet(book.create_sheet(sheet_name("evidence", lang)), lang), data)
    book.properties.title = report_name(data, "xlsx")
    book.properties.creator = "auditlens"
    return write_atomically(out / report_name(data, "xlsx"), book.save)


def users_sheet(sheet: Sheet, data: ReportData) -> None:
    """Every user's peak of the period, riskiest first; the top ones with their reasons."""
    lang = data.lang
    titles = [
        pick(lang, "rank", "순위"),
        pick(lang, "user", "사용자"),
        pick(lang, "department", "부서"),
        pick(lang, "peak risk", "최고 위험도"),
        pick(lang, "severity", "심각도"),
        pick(lang, "peak day", "최고 위험일"),
        pick(lang, "scenario", "시나리오"),
        pick(lang, "alert", "알림 번호"),
        pick(lang, "alert status", "알림 상태"),
        pick(lang, "model", "모델"),
        pick(lang, "reasons (peak day)", "사유 (최고 위험일)"),
    ]
    header = sheet.header(titles)
    reasons = {
        top.row.user_id: "; ".join(pick(lang, r.text_en, r.text_ko) for r in top.reasons)
        for top in data.top_risks
    }
    for rank, row in enumerate(data.users, 1):
        sheet.line(
            [
                rank,
                row.user_id,
                department_word(row.department, lang),
                row.risk,
                severity_word(row.severity.value, lang),
                row.day,
                scenario_word(row.scenario, lang),
                row.alert_id,
                status_word(row.alert_status, lang) if row.alert_status else None,
                row.model_sha256[:12],
                reasons.get(row.user_id),
            ],
            [COUNT, None, None, RISK, None, DAY, None, COUNT],
        )
    _finish(sheet, header, len(titles), severity=5, wrap=(11,))


def alerts_sheet(sheet: Sheet, data: ReportData) -> None:
    """Every alert opened in the period: most severe first, as the alert queue lists them."""
    lang, zone = data.lang, zone_label(data.zone)
    titles = [
        pick(lang, "alert", "알림 번호"),
        pick(lang, "user", "사용자"),
        pick(lang, "department", "부서"),
        pick(lang, "first day", "첫 위험일"),
        pick(lang, "days", "일수"),
        pick(lang, "risk", "위험도"),
        pick(lang, "severity", "심각도"),
        pick(lang, "scenario", "시나리오"),
        pick(lang, "status", "상태"),
        pick(lang, f"opened ({zone})", f"생성 시각 ({zone})"),
        pick(lang, f"updated ({zone})", f"갱신 시각 ({zone})"),
        pick(lang, "model", "모델"),
    ]
    header = sheet.header(titles)
    for a in data.alerts:
        sheet.line(
            [
                a.id,
                a.user_id,
                department_word(a.department, lang),
                a.day,
                len(a.days),
                a.risk,
                severity_word(a.severity.value, lang),
                scenario_word(a.scenario, lang),
                status_word(a.status, lang),
                local(a.created_at, data.zone),
                local(a.updated_at, data.zone),
                a.model_sha256[:12],
            ],
            [COUNT, None, None, DAY, COUNT, RISK, None, None, None, MOMENT, MOMENT],
        )
    _finish(sheet, header, len(titles), severity=7)


def decisions_sheet(sheet: Sheet, data: ReportData) -> None:
    """Every decision on the period's alerts, oldest first, as the audit trail has it."""
    lang, zone = data.lang, zone_label(data.zone)
    titles = [
        pick(lang, "alert", "알림 번호"),
        pick(lang, "user", "사용자"),
        pick(lang, "audit entry", "감사 로그 번호"),
        pick(lang, f"when ({zone})", f"시각 ({zone})"),
        pick(lang, "by", "처리자"),
        pick(lang, "on behalf of", "대리 대상"),
        pick(lang, "action", "조치"),
        pick(lang, "reason", "사유"),
        pick(lang, "note", "메모"),
        pick(lang, "from", "이전 상태"),
        pick(lang, "to", "이후 상태"),
    ]
    header = sheet.header(titles)
    for d in data.decisions:
        v = d.decision
        sheet.line(
            [
                d.alert_id,
                d.user_id,
                v.seq,
                local(v.at, data.zone),
                v.actor,
                v.on_behalf_of,
                _ACTIONS.get(v.action, (v.action, v.action))[0 if lang == "ko" else 1],
                pick(lang, v.reason_en, v.reason_ko) or None,
                v.note or None,
                status_word(v.from_status, lang) if v.from_status else None,
                status_word(v.to_status, lang) if v.to_status else None,
            ],
            [COUNT, None, COUNT, MOMENT],
        )
    _finish(sheet, header, len(titles), wrap=(9,))


#: Decision actions (views.alerts.DECISION_ACTIONS) as a person reads them (ko, en).
_ACTIONS: Final = {
    "acknowledge": ("확인", "acknowledge"),
    "escalate": ("상향 보고", "escalate"),
    "dismiss": ("오탐 기각", "dismiss"),
    "close": ("종결", "close"),
    "request_close": ("종결 요청", "request close"),
    "approve": ("종결 승인", "approve"),
    "reopen": ("재개", "reopen"),
}


def _finish(
    sheet: Sheet,
    header: int,
    columns: int,
    *,
    severity: int | None = None,
    wrap: tuple[int, ...] = (),
) -> None:
    ws = sheet.ws
    finish_table(ws, header, sheet.row, columns)
    if severity is not None:
        colour_severities(ws, severity, header + 1, sheet.row, sheet.lang)
    fit_columns(ws, wrap=wrap)
    print_landscape(ws)
