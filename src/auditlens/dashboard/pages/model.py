"""Model and data: the registered models and what each changed, how well alerts hold up
in triage, the data quarantined and the tampering found, and whether the audit trail
verifies (with its head hash, the anchor to keep elsewhere).

Drift and recall come with the monitoring issue; until then this page shows what the
store already knows: precision from triage — confirmed / (closed + dismissed), the
``confirmed_rate`` of docs/kpis.md — and says so.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from auditlens.api.routes.common import Context
from auditlens.dashboard.navigation import title
from auditlens.dashboard.widgets import count, percent, period_picker, when, zone_note
from auditlens.reports.wording import model_change, model_kind
from auditlens.tamper import finding_label
from auditlens.validate import quarantine_kind_label
from auditlens.views import (
    ModelVersion,
    audit_status,
    data_health,
    kpis,
    model_changes,
    model_versions,
)

#: A model's kind (views.ModelVersion.kind) in Korean.


def render(ctx: Context) -> None:
    """The Model and data page."""
    st.title(title("model", ctx.lang))
    st.caption(zone_note(ctx))
    _models(ctx)
    start, end = period_picker(ctx, key="model_period")
    _quality(ctx, start, end)
    _data(ctx, start, end)
    _trail(ctx)


def models_frame(ctx: Context, versions: tuple[ModelVersion, ...]) -> pl.DataFrame:
    """The model catalogue as the table shows it."""
    changes = {c.sha256: c for c in model_changes(ctx.store)}
    say = ctx.say
    return pl.DataFrame(
        {
            say("model", "모델"): [v.sha256[:12] for v in versions],
            say("in force", "사용 중"): [v.active for v in versions],
            say("kind", "종류"): [model_kind(v.kind, ctx.lang) for v in versions],
            say("registered", "등록 시각"): [when(v.created_at, ctx) for v in versions],
            say("training windows", "학습 구간 수"): [v.n_train for v in versions],
            say("features", "특성 수"): [v.feature_count for v in versions],
            say("runs", "실행 수"): [v.runs for v in versions],
            say("what changed", "변경 내용"): [
                model_change(changes.get(v.sha256), ctx.lang) for v in versions
            ],
        }
    )


def _models(ctx: Context) -> None:
    st.subheader(ctx.say("Models", "모델"))
    versions = model_versions(ctx.store)
    if not versions:
        st.info(ctx.say("No model is registered yet.", "등록된 모델이 아직 없습니다."))
        return
    st.dataframe(models_frame(ctx, versions), key="model_versions", hide_index=True)
    active = next((v for v in versions if v.active), None)
    if active is not None:
        st.caption(
            ctx.say(
                f"In force: {active.sha256} (config {active.config_hash[:12]}).",
                f"사용 중인 모델: {active.sha256} (설정 {active.config_hash[:12]}).",
            )
        )
        if active.metrics:
            with st.expander(ctx.say("Its evaluation figures", "평가 지표")):
                st.json(active.metrics)


def _quality(ctx: Context, start: dt.date, end: dt.date) -> None:
    st.subheader(ctx.say("How alerts hold up in triage", "처리 결과로 본 알림 품질"))
    k = kpis(ctx.store, start, end, zone=ctx.zone)
    lang = ctx.lang
    columns = st.columns(4)
    figures = (
        (ctx.say("Decided (closed or dismissed)", "처리 완료(종결·기각)"), count(k.ended, lang)),
        (ctx.say("Confirmed violations", "위반 확인"), count(k.confirmed, lang)),
        (ctx.say("Precision from triage", "처리 기준 정밀도"), percent(k.confirmed_rate, lang)),
        (ctx.say("Dismissal rate", "기각률"), percent(k.dismissal_rate, lang)),
    )
    for column, (label, value) in zip(columns, figures, strict=True):
        column.metric(label, value, border=True)
    st.caption(
        ctx.say(
            "Precision from triage = confirmed / (closed + dismissed) for the alerts opened "
            "in the period. Drift and recall arrive with the monitoring issue; they are not "
            "measured yet.",
            "처리 기준 정밀도 = 위반 확인 / (종결 + 기각), 기간 중 생성된 알림 기준. 데이터 "
            "드리프트와 재현율은 모니터링 기능이 추가되면 표시되며, 아직 측정하지 않습니다.",
        )
    )


def _data(ctx: Context, start: dt.date, end: dt.date) -> None:
    st.subheader(ctx.say("Data", "데이터"))
    health = data_health(ctx.store, start, end, zone=ctx.zone)
    lang, say = ctx.lang, ctx.say
    left, right = st.columns(2)
    left.metric(
        say("Quarantined rows", "격리된 행"), count(health.quarantined_rows, lang), border=True
    )
    right.metric(
        say("Possible tampering", "변조 의심"), count(health.tamper_findings, lang), border=True
    )
    if health.quarantine_by_kind:
        st.dataframe(
            pl.DataFrame(
                {
                    say("reason", "사유"): [
                        quarantine_kind_label(k, lang) for k in health.quarantine_by_kind
                    ],
                    say("rows", "행 수"): list(health.quarantine_by_kind.values()),
                }
            ),
            key="model_quarantine",
            hide_index=True,
        )
    if health.recent_findings:
        found = health.recent_findings
        st.dataframe(
            pl.DataFrame(
                {
                    say("found", "발견 시각"): [when(f.detected_at, ctx) for f in found],
                    say("finding", "유형"): [finding_label(f.kind, lang) for f in found],
                    say("source", "소스"): [f.source for f in found],
                    say("where", "위치"): [f.row_key or f.table_name or "" for f in found],
                    say("event", "이벤트"): [f.event_id or "" for f in found],
                }
            ),
            key="model_findings",
            hide_index=True,
        )


def _trail(ctx: Context) -> None:
    st.subheader(ctx.say("Audit trail", "감사 로그"))
    status = audit_status(ctx.store, now=ctx.now)
    if status.ok:
        st.success(
            ctx.say(
                f"Verified: {status.entries:,} entries, every link and the replayed tables hold.",
                f"검증됨: 항목 {status.entries:,}건, 모든 연결과 재현한 테이블이 일치합니다.",
            )
        )
    else:
        problems = [status.problem, *status.mismatches]
        st.error(
            ctx.say("Verification failed: ", "검증 실패: ") + "; ".join(p for p in problems if p)
        )
    st.caption(
        ctx.say(
            f"Head entry #{status.head_seq}, checked {when(status.checked_at, ctx)}. Keep the "
            "head hash somewhere else: a later check against it proves nothing before it "
            "was changed.",
            f"마지막 항목 #{status.head_seq}, 검증 시각 {when(status.checked_at, ctx)}. 마지막 "
            "해시를 다른 곳에 보관하면 이후 검증에서 그 이전 기록이 바뀌지 않았음을 증명할 수 "
            "있습니다.",
        )
    )
    st.code(status.head_hash, language=None)
    if status.separate_database:
        st.caption(
            ctx.say("The trail lives in its own database.", "감사 로그는 별도 DB에 있습니다.")
        )
