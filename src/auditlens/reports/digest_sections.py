"""What the e-mail digest says, section by section (``reports/digest_layout.py`` tables).

Every number is a field of :class:`~auditlens.reports.model.ReportData` exactly as the
read model returned it, only formatted. This module holds the key figures against the
previous period, alerts by severity and department, and the highest risks with their
reasons; ``digest_evidence.py`` the triage performance, data quality and the
reproducibility section that ends the digest.
"""

from __future__ import annotations

from typing import Final

from auditlens.i18n import pick, severity_label
from auditlens.reports.digest_evidence import data_quality, reproducibility, triage
from auditlens.reports.digest_layout import (
    NONE,
    Section,
    Table,
    change,
    count,
    percent,
    risk,
)
from auditlens.reports.formats import report_title
from auditlens.reports.labels import KPI_ROWS, SEVERITIES, KpiRow, department_word, status_word
from auditlens.reports.model import ReportData

#: Reasons shown per top-risk person.
REASONS_SHOWN: Final = 3


# --- sections --------------------------------------------------------------------------------


def sections(data: ReportData) -> tuple[Section, ...]:
    """Every section of the digest of ``data``, in reading order."""
    return (
        _kpis(data),
        _alerts(data),
        _top_risks(data),
        triage(data),
        data_quality(data),
        reproducibility(data),
    )


def heading(data: ReportData) -> tuple[str, str]:
    """The digest's title and its line under it (period, days, time zone)."""
    lang = data.lang
    under = pick(
        lang,
        f"{data.period.span()} ({data.zone}); compared with {data.previous.title('en')}",
        f"{data.period.span()} ({data.zone}); 비교 기간: {data.previous.title('ko')}",
    )
    return report_title(data), under


def _shown(row: KpiRow, value: float | None, lang: str) -> str:
    """A KPI as the digest writes it: counts with their Korean unit, rates as
    percentages, hours with one decimal (the label names the unit)."""
    if row.kind == "rate":
        return percent(value)
    if row.kind == "hours":
        return NONE if value is None else f"{value:,.1f}"
    return count(None if value is None else int(value), lang, _unit(row))


def _unit(row: KpiRow) -> str:
    return "명" if row.key == "users" else "건"


def _kpis(data: ReportData) -> Section:
    """The summary's KPI rows (``reports.labels.KPI_ROWS``, as every format shows them)
    for this period and the previous one, with the change and its arrow."""
    lang = data.lang
    now = [(row, row.read(data.kpis, data.activity)) for row in KPI_ROWS]
    before = [row.read(data.previous_kpis, data.previous_coverage) for row in KPI_ROWS]
    table = Table(
        key="kpis",
        columns=(
            pick(lang, "measure", "지표"),
            data.period.label,
            data.previous.label,
            pick(lang, "change", "변화"),
        ),
        rows=tuple(
            (
                row.label(lang),
                _shown(row, value, lang),
                _shown(row, old, lang),
                change(value, old, row.kind, lang, _unit(row)),
            )
            for (row, value), old in zip(now, before, strict=True)
        ),
        keys=tuple(row.key for row in KPI_ROWS),
        numeric=frozenset({1, 2, 3}),
        tones={
            row.key: "bad" if value > old else "good"
            for (row, value), old in zip(now, before, strict=True)
            if row.rise_is_bad and value is not None and old is not None and value != old
        },
    )
    return Section("kpis", pick(lang, "Key figures", "핵심 지표"), (table,))


def _alerts(data: ReportData) -> Section:
    lang = data.lang
    table = data.severity_by_department
    order = sorted(table, key=lambda d: (-sum(table[d].values()), d))
    rows = [
        (
            department_word(d, lang),
            *(count(table[d].get(s, 0)) for s in SEVERITIES),
            count(sum(table[d].values())),
        )
        for d in order
    ]
    every = data.kpis.by_severity
    rows.append(
        (
            pick(lang, "all departments", "전체"),
            *(count(every.get(s, 0)) for s in SEVERITIES),
            count(data.kpis.alerts),
        )
    )
    by_department = Table(
        key="severity_by_department",
        columns=(
            pick(lang, "department", "부서 (단위: 건)"),
            *(severity_label(s, lang) for s in SEVERITIES),
            pick(lang, "total", "합계"),
        ),
        rows=tuple(rows),
        keys=(*order, "*"),
        numeric=frozenset(range(1, len(SEVERITIES) + 2)),
    )
    statuses = Table(
        key="by_status",
        columns=(pick(lang, "status now", "현재 상태"), pick(lang, "alerts", "알림 (건)")),
        rows=tuple((status_word(s, lang), count(n)) for s, n in data.kpis.by_status.items()),
        keys=tuple(data.kpis.by_status),
        numeric=frozenset({1}),
    )
    return Section(
        "alerts",
        pick(lang, "Alerts by severity and department", "심각도·부서별 알림"),
        (by_department, statuses),
        charts=("trend", "departments"),
    )


def _top_risks(data: ReportData) -> Section:
    lang = data.lang
    rows, keys = [], []
    for rank, top in enumerate(data.top_risks, 1):
        r = top.row
        reasons = "\n".join(pick(lang, x.text_en, x.text_ko) for x in top.reasons[:REASONS_SHOWN])
        alert = (
            NONE
            if r.alert_id is None
            else f"#{r.alert_id} {status_word(r.alert_status or '', lang)}"
        )
        rows.append(
            (
                str(rank),
                r.user_id,
                department_word(r.department, lang),
                r.day.isoformat(),
                risk(r.risk),
                severity_label(r.severity.value, lang),
                alert.strip(),
                reasons or NONE,
            )
        )
        keys.append(r.user_id)
    table = Table(
        key="top_risks",
        columns=(
            "#",
            pick(lang, "person", "대상자"),
            pick(lang, "department", "부서"),
            pick(lang, "peak day", "최고 위험일"),
            pick(lang, "risk", "위험도"),
            pick(lang, "severity", "심각도"),
            pick(lang, "alert", "알림"),
            pick(lang, "reasons", "사유"),
        ),
        rows=tuple(rows),
        keys=tuple(keys),
        numeric=frozenset({0, 4}),
        lines_column=7,
    )
    notes = []
    if data.pseudonymised:
        notes.append(
            pick(
                lang,
                "People are shown by pseudonym (privacy.pseudonymise).",
                "대상자는 가명으로 표시합니다(privacy.pseudonymise).",
            )
        )
    if not rows:
        notes.append(
            pick(
                lang,
                "No one was scored in the period.",
                "기간 중 위험도가 계산된 사용자가 없습니다.",
            )
        )
    title = pick(lang, "Highest risks and why", "위험도 상위 사용자와 사유")
    return Section("top_risks", title, (table,), note=" ".join(notes))
