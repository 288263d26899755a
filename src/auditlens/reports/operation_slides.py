"""The deck's operation slides: triage performance, data quality, model health, control
evidence, method and reproducibility — laid out from
:class:`~auditlens.reports.model.ReportData`, the numbers as the read model gave them.
"""

from __future__ import annotations

from typing import Final

from auditlens.i18n import pick
from auditlens.localtime import local_time
from auditlens.reports.deck import ChartSpec, Deck
from auditlens.reports.labels import status_word
from auditlens.reports.model import ReportData
from auditlens.reports.wording import count, duration, model_change, percent
from auditlens.tamper import finding_label
from auditlens.validate import quarantine_kind_label
from auditlens.views import Durations

#: Models the model-health slide lists (newest first; the XLSX lists every one).
MODELS_SHOWN: Final = 6
#: Alert ids a cell lists before "…".
IDS_SHOWN: Final = 12


def triage_slide(deck: Deck, data: ReportData) -> None:
    """How the period's alerts were worked: times, dismissals, confirmations, four eyes."""
    lang = data.lang
    slide, area = deck.content("triage", pick(lang, "Triage performance", "처리 성과"))
    t = data.triage
    cases = ", ".join(f"#{i}" for i in t.four_eyes_cases[:IDS_SHOWN])
    if len(t.four_eyes_cases) > IDS_SHOWN:
        cases += " …"
    rows = [
        [pick(lang, "Figure", "지표"), pick(lang, "Value", "값"), pick(lang, "Detail", "세부")],
        [
            pick(lang, "Time to first action", "첫 조치까지"),
            *_durations(t.time_to_first_action, lang),
        ],
        [pick(lang, "Time to close", "종결까지"), *_durations(t.time_to_close, lang)],
        [
            pick(lang, "Closed or dismissed", "종결·기각"),
            count(t.ended, lang),
            pick(lang, f"{t.closed:,} closed", f"종결 {t.closed:,}건"),
        ],
        [
            pick(lang, "Dismissal rate", "기각률"),
            percent(t.dismissal_rate, lang),
            pick(lang, f"{t.dismissed:,} dismissed", f"기각 {t.dismissed:,}건"),
        ],
        [
            pick(lang, "Precision from triage", "처리 기준 정밀도"),
            percent(t.confirmed_rate, lang),
            pick(lang, f"{t.confirmed:,} confirmed", f"위반 확인 {t.confirmed:,}건"),
        ],
        [
            pick(lang, "Four-eyes closes", "2인 승인 종결"),
            count(t.four_eyes, lang),
            pick(
                lang,
                f"{percent(t.four_eyes_share, lang)} of closes",
                f"종결의 {percent(t.four_eyes_share, lang)}",
            )
            + (f"; {cases}" if cases else ""),
        ],
    ]
    left, right = area.split(2)
    deck.table(slide, left, rows, "triage_table", size=11, widths=(1.6, 1, 2.2))
    statuses = data.kpis.by_status
    name = pick(lang, "alerts", "알림 수")
    deck.chart(
        slide,
        right,
        ChartSpec(
            "column",
            [status_word(s, lang) for s in statuses],
            {name: list(statuses.values())},
            {name: "#4c78a8"},
            title=pick(lang, "The period's alerts by status now", "기간 알림의 현재 상태"),
        ),
        "status_chart",
    )


def _durations(measured: Durations, lang: str) -> list[str]:
    """Median as the value; 90th percentile and how many were measured as the detail."""
    p90 = duration(measured.p90_seconds, lang)
    return [
        duration(measured.median_seconds, lang),
        pick(
            lang,
            f"median; 90th percentile {p90}; {measured.count:,} alerts",
            f"중앙값; 90백분위 {p90}; 알림 {measured.count:,}건",
        ),
    ]


def data_quality_slide(deck: Deck, data: ReportData) -> None:
    """Rows quarantined by kind of reason, possible tampering by kind, and the sources."""
    lang = data.lang
    slide, area = deck.content("data_quality", pick(lang, "Data quality", "데이터 품질"))
    health = data.data_health
    left, right = area.split(2)
    if health.quarantine_by_kind:
        name = pick(lang, "rows", "행 수")
        kinds = list(health.quarantine_by_kind.items())
        deck.chart(
            slide,
            left,
            ChartSpec(
                "bar",
                [quarantine_kind_label(k, lang) for k, _ in kinds],
                {name: [n for _, n in kinds]},
                {name: "#f2b134"},
                title=pick(
                    lang,
                    f"Rows quarantined by reason ({health.quarantined_rows:,} rows)",
                    f"사유별 격리 행 (총 {health.quarantined_rows:,}행)",
                ),
            ),
            "quarantine_chart",
        )
    else:
        deck.text(
            slide,
            left,
            [pick(lang, "No row was quarantined.", "격리된 행이 없습니다.")],
            "quarantine_none",
        )
    tamper = [[pick(lang, "Possible tampering", "변조 의심"), pick(lang, "Findings", "건수")]]
    tamper += [[finding_label(k, lang), f"{n:,}"] for k, n in health.tamper_by_kind.items()]
    tamper.append([pick(lang, "All findings", "전체"), f"{health.tamper_findings:,}"])
    upper, lower = right.below(0.5)
    deck.table(slide, upper, tamper, "tamper_table", size=10, widths=(3, 1))
    sources = [[pick(lang, "Source", "소스"), pick(lang, "Events of the period", "기간 이벤트")]]
    sources += [[s.source, f"{s.events:,}"] for s in data.ingestion.sources]
    deck.table(slide, lower, sources, "sources_table", size=10, widths=(3, 1))


def model_slide(deck: Deck, data: ReportData) -> None:
    """The registered models, what each changed, the ones behind the period's risk."""
    lang = data.lang
    slide, area = deck.content("model", pick(lang, "Model health", "모델 상태"))
    models = data.models
    changes = {c.sha256: c for c in models.changes}
    rows = [
        [
            pick(lang, "Model", "모델"),
            pick(lang, "In force", "사용 중"),
            pick(lang, "Kind", "종류"),
            pick(lang, "Registered", "등록 시각"),
            pick(lang, "Training windows", "학습 구간"),
            pick(lang, "Runs", "실행"),
            pick(lang, "What changed", "변경 내용"),
        ]
    ]
    for v in models.versions[:MODELS_SHOWN]:
        rows.append(
            [
                v.sha256[:12],
                pick(lang, "yes", "예") if v.active else "",
                v.kind,
                local_time(v.created_at, data.zone),
                f"{v.n_train:,}",
                f"{v.runs:,}",
                model_change(changes.get(v.sha256), lang),
            ]
        )
    table_area, notes = area.below(0.45)
    if len(rows) > 1:
        deck.table(
            slide, table_area, rows, "models_table", size=10, widths=(1.4, 0.7, 1.1, 1.7, 1, 0.6, 3)
        )
    used = ", ".join(sha[:12] for sha in models.used) or "—"
    precision = percent(data.kpis.confirmed_rate, lang)
    deck.text(
        slide,
        notes,
        [
            pick(
                lang,
                f"Models behind this period's risk: {used}.",
                f"이 기간 위험도 산출 모델: {used}.",
            ),
            pick(
                lang,
                f"Precision from triage (confirmed / closed or dismissed): {precision}.",
                f"처리 기준 정밀도(위반 확인 / 종결·기각): {precision}.",
            ),
            pick(lang, models.note_en, models.note_ko),
        ],
        "model_notes",
        size=12,
    )


def control_slides(deck: Deck, data: ReportData) -> None:
    """One slide per control: the clause, what it asks, and the period's evidence."""
    lang = data.lang
    for evidence in data.controls:
        control = evidence.control
        slide, area = deck.content(
            f"control:{control.id}",
            pick(lang, "Control evidence", "통제 증적") + " · " + control.id,
        )
        head, table_area = area.below(0.3)
        cadence = {
            None: pick(lang, "no review cadence set", "점검 주기 지정 없음"),
            True: pick(
                lang,
                "this report's period meets its cadence",
                "이 보고서 기간이 점검 주기를 충족합니다",
            ),
            False: pick(
                lang,
                "this report's period is longer than its cadence",
                "이 보고서 기간이 점검 주기보다 깁니다",
            ),
        }[evidence.cadence_met]
        deck.text(
            slide,
            head,
            [
                pick(lang, control.title_en, control.title_ko),
                pick(lang, control.requirement_en, control.requirement_ko),
                f"({cadence})",
            ],
            "control_text",
            size=12,
        )
        rows = [
            [
                pick(lang, "Evidence", "증적"),
                pick(lang, "Value", "값"),
                pick(lang, "Detail", "세부"),
            ]
        ]
        rows += [
            [
                pick(lang, i.label_en, i.label_ko),
                f"{i.value:,}" if isinstance(i.value, int) else i.value,
                pick(lang, i.detail_en, i.detail_ko),
            ]
            for i in evidence.items
        ]
        deck.table(slide, table_area, rows, "evidence_table", size=9, widths=(1.6, 2.4, 4))


def method_slide(deck: Deck, data: ReportData) -> None:
    """How the numbers are made, in a few lines."""
    lang = data.lang
    slide, area = deck.content("method", pick(lang, "Method", "산출 방법"), keep_body=True)
    deck.body(slide, area, METHOD_KO if lang == "ko" else METHOD_EN, size=13)


METHOD_EN: Final = (
    "Period: local days in the deployment's time zone, both ends included; the previous "
    "period is the one of the same kind just before.",
    "Risk 0-100: the model's score calibrated on the scored population, decayed over days; "
    "severity bands and alerts use it. A user's peak is their highest risk in the period.",
    "Alerts of a period are those opened on its days; their status and decisions are taken "
    "as they stand when the report is made (docs/kpis.md defines every figure).",
    "Reasons: the features that moved the score most, against the user's own and peers' averages.",
    "Every number is read through the same read model as the API and the dashboard.",
    "Control evidence supports an examination; it is not legal advice.",
)
METHOD_KO: Final = (
    "기간: 배포 시간대의 날짜이며 양 끝을 포함합니다. 직전 기간은 같은 종류의 바로 앞 기간입니다.",
    "위험도 0-100: 모델 점수를 전체 점수 분포로 보정하고 날짜에 따라 감쇠한 값이며, 심각도와 "
    "알림이 이 값을 씁니다. 사용자의 최고 위험도는 기간 중 가장 높은 값입니다.",
    "기간의 알림은 그 기간에 생성된 알림이며, 상태와 처리는 보고서 작성 시점 기준입니다 "
    "(각 지표의 정의: docs/kpis.md).",
    "사유: 점수에 가장 크게 기여한 특성을 본인 평균 및 동료 평균과 비교해 보여 줍니다.",
    "모든 수치는 API·대시보드와 같은 읽기 모델에서 읽습니다.",
    "통제 증적은 검사 대응을 돕는 자료이며 법률 자문이 아닙니다.",
)


def reproducibility_slide(deck: Deck, data: ReportData) -> None:
    """What the report rests on: enough to produce it again and check it (last slide)."""
    lang = data.lang
    slide, area = deck.content("reproducibility", pick(lang, "Reproducibility", "재현 정보"))
    f = data.footer
    rows = [
        [pick(lang, "Item", "항목"), pick(lang, "Value", "값")],
        [pick(lang, "Period", "기간"), f"{f.period.label} ({f.period.span()}, {f.zone})"],
        [
            pick(lang, "Data batch", "데이터 배치"),
            "—" if f.data_batch_id is None else f"#{f.data_batch_id}",
        ],
        [pick(lang, "Data watermark", "데이터 기준점(워터마크)"), f.data_watermark or "—"],
        [pick(lang, "Models (sha256)", "모델(sha256)"), "\n".join(f.models) or "—"],
        [pick(lang, "Config hash", "설정 해시"), f.config_hash],
        [
            pick(lang, "Audit-trail head", "감사 로그 헤드"),
            f"#{f.audit_head_seq} {f.audit_head_hash}",
        ],
        [
            pick(lang, "Audit trail verified", "감사 로그 검증"),
            pick(lang, "ok", "성공") if f.audit_ok else pick(lang, "FAILED", "실패"),
        ],
        [pick(lang, "Generated", "작성 시각"), local_time(f.generated_at, f.zone)],
        [pick(lang, "auditlens version", "auditlens 버전"), f.version],
        [pick(lang, "Digest of the numbers", "수치 다이제스트"), f.digest],
    ]
    deck.table(slide, area, rows, "reproducibility_table", size=10, widths=(1.4, 5))
