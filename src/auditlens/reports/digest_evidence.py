"""The digest's sections on how the work went and what the digest rests on: triage
performance, data quality (ingestion, quarantine, possible tampering) and
reproducibility (period, watermark, models, config hash, audit-trail head), the last
section of every digest.
"""

from __future__ import annotations

from auditlens.i18n import pick
from auditlens.localtime import local_time
from auditlens.reports.digest_layout import NONE, Section, Table, count, duration, percent
from auditlens.reports.model import ReportData
from auditlens.tamper import finding_label
from auditlens.views import Durations


def _durations(label: str, figures: Durations, lang: str) -> tuple[str, ...]:
    return (
        label,
        count(figures.count, lang, "건"),
        duration(figures.median_seconds, lang),
        duration(figures.p90_seconds, lang),
    )


def triage(data: ReportData) -> Section:
    """Times to first action and to close, and how the alerts ended."""
    lang, t = data.lang, data.triage
    times = Table(
        key="triage_times",
        columns=(
            pick(lang, "measure", "지표"),
            pick(lang, "alerts", "알림"),
            pick(lang, "median", "중앙값"),
            pick(lang, "90th percentile", "90백분위수"),
        ),
        rows=(
            _durations(
                pick(lang, "time to first action", "첫 조치까지"), t.time_to_first_action, lang
            ),
            _durations(pick(lang, "time to close", "종결까지"), t.time_to_close, lang),
        ),
        keys=("time_to_first_action", "time_to_close"),
        numeric=frozenset({1, 2, 3}),
    )
    cases = ", ".join(f"#{n}" for n in t.four_eyes_cases)
    listed = f": {cases}" if cases else ""
    outcomes = (
        ("ended", "ended (closed or dismissed)", "종료(종결·기각)", t.ended, None),
        ("closed", "closed", "종결", t.closed, None),
        ("dismissed", "dismissed (of ended)", "기각(종료 대비)", t.dismissed, t.dismissal_rate),
        (
            "confirmed",
            "violation confirmed (of ended)",
            "위반 확인(종료 대비)",
            t.confirmed,
            t.confirmed_rate,
        ),
        (
            "four_eyes",
            f"closed with four eyes (of closed){listed}",
            f"2인 승인 종결(종결 대비){listed}",
            t.four_eyes,
            t.four_eyes_share,
        ),
    )
    ends = Table(
        key="triage_outcomes",
        columns=(
            pick(lang, "outcome", "처리 결과"),
            pick(lang, "alerts", "알림"),
            pick(lang, "share", "비율"),
        ),
        rows=tuple(
            (pick(lang, en, ko), count(n, lang, "건"), percent(share))
            for _, en, ko, n, share in outcomes
        ),
        keys=tuple(key for key, *_ in outcomes),
        numeric=frozenset({1, 2}),
    )
    return Section("triage", pick(lang, "Triage performance", "분석·처리 성과"), (times, ends))


def data_quality(data: ReportData) -> Section:
    """Where the events came from, what was quarantined and possible tampering."""
    lang, health, fed = data.lang, data.data_health, data.ingestion
    sources = Table(
        key="ingestion",
        columns=(
            pick(lang, "source", "소스"),
            pick(lang, "events", "이벤트"),
            pick(lang, "batches", "배치"),
            pick(lang, "newest batch", "최신 배치"),
        ),
        rows=tuple(
            (
                s.source,
                count(s.events, lang, "건"),
                count(s.batches, lang, "개"),
                f"#{s.batch_id}",
            )
            for s in fed.sources
        ),
        keys=tuple(s.source for s in fed.sources),
        numeric=frozenset({1, 2}),
    )
    kinds = Table(
        key="quarantine_by_kind",
        columns=(pick(lang, "quarantine reason", "격리 사유"), pick(lang, "rows", "행")),
        rows=(
            *((kind, count(n, lang, "건")) for kind, n in health.quarantine_by_kind.items()),
            (
                pick(lang, "rows quarantined", "격리된 행 합계"),
                count(health.quarantined_rows, lang, "건"),
            ),
        ),
        keys=(*health.quarantine_by_kind, "*"),
        numeric=frozenset({1}),
    )
    tamper = Table(
        key="tamper_by_kind",
        columns=(
            pick(lang, "possible tampering", "변조 의심 유형"),
            pick(lang, "findings", "건수"),
        ),
        rows=(
            *(
                (finding_label(kind, lang), count(n, lang, "건"))
                for kind, n in health.tamper_by_kind.items()
            ),
            (pick(lang, "findings", "변조 의심 합계"), count(health.tamper_findings, lang, "건")),
        ),
        keys=(*health.tamper_by_kind, "*"),
        numeric=frozenset({1}),
    )
    title = pick(lang, "Data quality", "데이터 품질")
    return Section("data_quality", title, (sources, kinds, tamper), charts=("risk",))


def reproducibility(data: ReportData) -> Section:
    """The last section: what the digest rests on, enough to produce it again."""
    lang, f = data.lang, data.footer
    batch = NONE if f.data_batch_id is None else f"#{f.data_batch_id} {f.data_watermark or ''}"
    verified = (
        pick(lang, "verified", "검증됨")
        if f.audit_ok
        else pick(lang, "DID NOT VERIFY", "검증 실패")
    )
    items = (
        ("period", "period", "기간", f"{f.period.label} ({f.period.span()}, {f.zone})"),
        ("data_watermark", "data watermark (ingest batch)", "데이터 기준점(수집 배치)", batch),
        (
            "models",
            "model versions (sha256)",
            "모델 버전(sha256)",
            ", ".join(m[:16] for m in f.models) or NONE,
        ),
        ("config_hash", "config hash", "설정 해시", f.config_hash),
        (
            "audit_head",
            "audit-trail head",
            "감사 로그 헤드",
            f"#{f.audit_head_seq} {f.audit_head_hash} ({verified})",
        ),
        (
            "digest",
            "report digest (sha256 of its numbers)",
            "보고서 요약값(수치의 sha256)",
            f.digest,
        ),
        (
            "generated_at",
            "generated",
            "작성 시각",
            f"{local_time(f.generated_at, f.zone)} · auditlens {f.version}",
        ),
    )
    rows = tuple((key, pick(lang, en, ko), value.strip()) for key, en, ko, value in items)
    table = Table(
        key="reproducibility",
        columns=(pick(lang, "item", "항목"), pick(lang, "value", "값")),
        rows=tuple((label, value) for _, label, value in rows),
        keys=tuple(key for key, *_ in rows),
        code=frozenset({1}),
    )
    note = pick(
        lang,
        "The same period on the same data gives the same digest: `auditlens report "
        f"{f.period.kind} --period {f.period.label}`.",
        f"같은 데이터로 같은 기간을 다시 만들면 같은 요약값이 나옵니다: `auditlens report "
        f"{f.period.kind} --period {f.period.label}`.",
    )
    return Section("reproducibility", pick(lang, "Reproducibility", "재현 정보"), (table,), note)
