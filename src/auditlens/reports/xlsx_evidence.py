"""The Quarantine and Evidence sheets of the XLSX report: data quality (rows quarantined
and possible tampering, by kind), the control evidence of the period, and what the report
rests on (period, data watermark, models, config hash, the audit trail's head) — the
"reproducibility footer" a later reader checks the report against.
"""

from __future__ import annotations

from typing import Final

from auditlens.i18n import pick
from auditlens.reports.model import ReportData
from auditlens.reports.period import kind_word
from auditlens.reports.xlsx_style import (
    COUNT,
    MOMENT,
    Sheet,
    finish_table,
    fit_columns,
    local,
    print_landscape,
    zone_label,
)

#: What the evidence is, and is not (docs/reports.md says the same).
DISCLAIMER_KO: Final = (
    "이 증빙은 감사·검사 대응을 돕기 위한 자료이며 법률 자문이 아닙니다. 각 조항은 시행 중인 "
    "원문과 회사의 내부 관리계획에 비추어 준법감시인이 확인하십시오."
)
DISCLAIMER_EN: Final = (
    "This evidence supports an examination; it is not legal advice. Check each clause "
    "against the text in force and your internal management plan with your compliance officer."
)


def quarantine_sheet(sheet: Sheet, data: ReportData) -> None:
    """Rows quarantined and possible tampering by kind, then the newest findings."""
    lang, health = data.lang, data.data_health
    titles = [
        pick(lang, "category", "구분"),
        pick(lang, "kind", "유형"),
        pick(lang, "count", "건수"),
    ]
    header = sheet.header(titles)
    for kind, n in health.quarantine_by_kind.items():
        sheet.line([pick(lang, "quarantine", "격리"), kind, n], [None, None, COUNT])
    for kind, n in health.tamper_by_kind.items():
        sheet.line([pick(lang, "tampering", "변조 의심"), kind, n], [None, None, COUNT])
    last = sheet.row
    sheet.skip()
    sheet.line(
        [pick(lang, "rows quarantined", "격리된 행"), None, health.quarantined_rows],
        [None, None, COUNT],
        bold=True,
    )
    sheet.line(
        [pick(lang, "tamper findings", "변조 의심 건수"), None, health.tamper_findings],
        [None, None, COUNT],
        bold=True,
    )
    sheet.line(
        [
            pick(
                lang,
                "a row with several reasons counts once under each kind",
                "사유가 여러 개인 행은 유형마다 한 번씩 셉니다",
            )
        ]
    )
    if health.recent_findings:
        sheet.skip()
        zone = zone_label(data.zone)
        sheet.header(
            [
                pick(lang, "finding", "발견 번호"),
                pick(lang, "kind", "유형"),
                pick(lang, "source", "소스"),
                pick(lang, "operation", "작업"),
                pick(lang, "table", "테이블"),
                pick(lang, "row", "행 키"),
                pick(lang, "event", "이벤트"),
                pick(lang, f"changed ({zone})", f"변경 시각 ({zone})"),
                pick(lang, f"found ({zone})", f"발견 시각 ({zone})"),
            ]
        )
        for f in health.recent_findings:
            sheet.line(
                [
                    f.id,
                    f.kind,
                    f.source,
                    f.op,
                    f.table_name,
                    f.row_key,
                    f.event_id,
                    local(f.changed_at, data.zone),
                    local(f.detected_at, data.zone),
                ],
                [COUNT, None, None, None, None, None, None, MOMENT, MOMENT],
            )
    finish_table(sheet.ws, header, last, len(titles))
    fit_columns(sheet.ws)
    print_landscape(sheet.ws)


def evidence_sheet(sheet: Sheet, data: ReportData) -> None:
    """Each control's evidence, then what the report rests on and where its data came from."""
    lang = data.lang
    sheet.line([pick(lang, "Control evidence", "통제 증빙")], bold=True, size=14)
    sheet.line([pick(lang, DISCLAIMER_EN, DISCLAIMER_KO)])
    sheet.skip()
    titles = [
        pick(lang, "control", "통제"),
        pick(lang, "clause", "근거 조항"),
        pick(lang, "requirement", "요구 사항"),
        pick(lang, "frequency", "점검 주기"),
        pick(lang, "this report's period", "이 보고서 기간"),
        pick(lang, "evidence", "증빙 항목"),
        pick(lang, "value", "값"),
        pick(lang, "detail", "내역"),
    ]
    header = sheet.header(titles)
    for shown in data.controls:
        c = shown.control
        for item in shown.items:
            sheet.line(
                [
                    c.id,
                    pick(lang, c.title_en, c.title_ko),
                    pick(lang, c.requirement_en, c.requirement_ko),
                    kind_word(c.frequency, lang) if c.frequency else "-",
                    _cadence(shown.cadence_met, c.frequency, lang),
                    pick(lang, item.label_en, item.label_ko),
                    item.value,
                    pick(lang, item.detail_en, item.detail_ko),
                ],
                [None] * 6 + [COUNT if isinstance(item.value, int) else None],
            )
    last = sheet.row
    _footer(sheet, data)
    _sources(sheet, data)
    finish_table(sheet.ws, header, last, len(titles))
    fit_columns(sheet.ws, wrap=(2, 3, 8))
    print_landscape(sheet.ws)


def _cadence(met: bool | None, frequency: str | None, lang: str) -> str:
    if met is None or frequency is None:
        return "-"
    if met:
        return pick(lang, "covers the required cadence", "점검 주기 충족")
    word = kind_word(frequency, lang)  # type: ignore[arg-type]
    return pick(
        lang,
        f"longer than the {word} cadence: keep the {word} reports too",
        f"요구 주기보다 긴 기간: {word} 보고서도 함께 보관",
    )


def footer_rows(data: ReportData) -> list[tuple[str, str, object, str | None]]:
    """What the report rests on, as (ko, en, value, number format) rows."""
    f = data.footer
    zone = zone_label(data.zone)
    return [
        ("보고 기간", "period", f"{f.period.label} ({f.period.span()})", None),
        ("시간대", "time zone", f.zone, None),
        ("데이터 배치", "data batch", f.data_batch_id, COUNT),
        ("데이터 워터마크", "data watermark", f.data_watermark or "-", None),
        ("모델", "models", ", ".join(f.models) or "-", None),
        ("설정 해시", "config hash", f.config_hash, None),
        ("감사 로그 헤드 번호", "audit-trail head entry", f.audit_head_seq, COUNT),
        ("감사 로그 헤드 해시", "audit-trail head hash", f.audit_head_hash, None),
        ("감사 로그 검증", "audit trail verified", "예" if f.audit_ok else "아니오", None),
        (f"작성 시각 ({zone})", f"made ({zone})", local(f.generated_at, data.zone), MOMENT),
        ("auditlens 버전", "auditlens version", f.version, None),
        ("수치 요약값 (sha256)", "digest of the numbers (sha256)", f.digest, None),
    ]


def _footer(sheet: Sheet, data: ReportData) -> None:
    lang = data.lang
    sheet.skip()
    sheet.line([pick(lang, "What this report rests on", "이 보고서의 근거")], bold=True)
    for ko, en, value, fmt in footer_rows(data):
        if en == "audit trail verified" and lang != "ko":
            value = "yes" if data.footer.audit_ok else "NO"
        sheet.line([pick(lang, en, ko), value], [None, fmt])


def _sources(sheet: Sheet, data: ReportData) -> None:
    lang = data.lang
    sheet.skip()
    sheet.line([pick(lang, "Where the period's events came from", "기간 이벤트의 출처")], bold=True)
    sheet.header(
        [
            pick(lang, "source", "소스"),
            pick(lang, "events", "이벤트"),
            pick(lang, "batches", "배치 수"),
            pick(lang, "newest batch", "마지막 배치"),
            pick(lang, "watermark", "워터마크"),
        ]
    )
    for s in data.ingestion.sources:
        sheet.line(
            [s.source, s.events, s.batches, s.batch_id, s.watermark], [None, COUNT, COUNT, COUNT]
        )
