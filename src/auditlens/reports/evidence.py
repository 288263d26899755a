"""Every evidence field of docs/reports.md, computed once from the read model's figures.

Each item is a number exactly as the view returns it (``users`` is
``views.coverage(...).users_monitored``, ``alerts`` is ``views.kpis(...).alerts``...) or a
text that identifies something (the period, a watermark, a hash); the detail says what
the number is made of, in Korean and English.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from auditlens.i18n import severity_label
from auditlens.reports.controls import EVIDENCE_FIELDS, EvidenceItem, item
from auditlens.reports.labels import status_word
from auditlens.reports.period import Period
from auditlens.views import Activity, AuditStatus, DataHealth, Ingestion, Kpis


@dataclass(frozen=True)
class Figures:
    """The read model's figures of one period that the evidence rests on."""

    period: Period
    kpis: Kpis
    activity: Activity
    ingestion: Ingestion
    health: DataHealth
    audit: AuditStatus
    models: Sequence[str]
    watchers: int


def evidence_items(figures: Figures) -> dict[str, EvidenceItem]:
    """One item per evidence field (controls.EVIDENCE_FIELDS), in that order."""
    found = _coverage(figures) | _alerts(figures) | _integrity(figures)
    return {field: found[field] for field in EVIDENCE_FIELDS}


def _coverage(figures: Figures) -> dict[str, EvidenceItem]:
    period, sources = figures.period, figures.ingestion.sources
    rows = ", ".join(f"{s.source} {s.events:,}" for s in sources)
    return {
        "period": item("period", period.span(), period.title("ko"), period.title("en")),
        "sources": item(
            "sources",
            len(sources),
            f"소스별 이벤트: {rows}" if rows else "이 기간의 이벤트가 있는 소스 없음",
            f"events per source: {rows}" if rows else "no source has events of this period",
        ),
        "users": item(
            "users",
            figures.activity.users_monitored,
            "기간 중 하루라도 위험 점수가 산출된 사용자",
            "users with a risk score on a day of the period",
        ),
        "events": item(
            "events",
            figures.activity.events,
            "시각이 기간 안에 있는 저장된 이벤트",
            "stored events whose time falls in the period",
        ),
    }


def _alerts(figures: Figures) -> dict[str, EvidenceItem]:
    k = figures.kpis
    severities = [(s, n) for s, n in k.by_severity.items() if n]
    statuses = [(s, n) for s, n in k.by_status.items() if n]
    return {
        "alerts": item(
            "alerts",
            k.alerts,
            ", ".join(f"{severity_label(s, 'ko')} {n}" for s, n in severities),
            ", ".join(f"{s} {n}" for s, n in severities),
        ),
        "resolutions": item(
            "resolutions",
            k.ended,
            ", ".join(f"{status_word(s, 'ko')} {n}" for s, n in statuses)
            + f" (위반 확인 {k.confirmed})",
            ", ".join(f"{status_word(s, 'en')} {n}" for s, n in statuses)
            + f" (confirmed {k.confirmed})",
        ),
        "open_alerts": item(
            "open_alerts",
            k.alerts - k.ended,
            "아직 종결·기각되지 않은 알림 (Alerts 시트 참조)",
            "not yet closed or dismissed (see the Alerts sheet)",
        ),
        "four_eyes": item(
            "four_eyes",
            k.four_eyes,
            f"종결 {k.closed}건 중 다른 승인자가 승인한 종결",
            f"of {k.closed} closed, approved by a second principal",
        ),
    }


def _integrity(figures: Figures) -> dict[str, EvidenceItem]:
    short = [sha[:12] for sha in figures.models]
    audit = figures.audit
    watermark = figures.ingestion.watermark or "-"
    batch = figures.ingestion.batch_id
    return {
        "quarantine": item(
            "quarantine",
            figures.health.quarantined_rows,
            "검증에 실패해 사유와 함께 격리된 행",
            "rows that failed validation, kept with the reason",
        ),
        "tamper": item(
            "tamper",
            figures.health.tamper_findings,
            "원본 로그의 수정·삭제 흔적",
            "changes or deletions found in the source logs",
        ),
        "watchers": item(
            "watchers",
            figures.watchers,
            "누가 누구의 위험을 조회했는지 감사 로그에 남은 건수",
            "audit entries of who looked at whose risk",
        ),
        "models": item(
            "models",
            ", ".join(short) or "-",
            "모델 sha256 앞 12자리",
            "first 12 characters of each model's sha256",
        ),
        "watermark": item(
            "watermark",
            f"#{batch}" if batch else "-",
            f"이 기간의 이벤트를 담은 마지막 적재 배치, 워터마크 {_short(watermark)}"
            if batch
            else "이 기간의 이벤트를 담은 적재 배치 없음",
            f"the newest ingest batch with events of the period, watermark {_short(watermark)}"
            if batch
            else "no ingest batch holds events of the period",
        ),
        "audit_head": item(
            "audit_head",
            audit.head_hash,
            f"{audit.head_seq}번 항목, 검증 {'성공' if audit.ok else '실패'}",
            f"entry {audit.head_seq}, verified {'ok' if audit.ok else 'FAILED'}",
        ),
    }


def _short(text: str, most: int = 160) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
