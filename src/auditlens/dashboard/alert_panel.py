"""One alert on the alert-queue page: what it is, its SLA, four eyes, the triage actions
and its decisions, evidence and deliveries (:func:`auditlens.views.alert_detail`).

Showing it is a view of the person it is about, recorded as the API records
``GET /v1/alerts/{id}`` (:mod:`auditlens.dashboard.watching`). Pseudonymised readers see
the pseudonym everywhere in it, notes included (``Context.disguise``).
"""

from __future__ import annotations

from typing import Final

import streamlit as st

from auditlens.alerts.lifecycle import Action
from auditlens.alerts.triage import Decision
from auditlens.api.routes.common import Context
from auditlens.dashboard import triage
from auditlens.dashboard.labels import department_label, scenario_label, status_label
from auditlens.dashboard.watching import viewed
from auditlens.dashboard.widgets import (
    duration,
    link_to_person,
    number,
    severity_text,
    severity_word,
    when,
)
from auditlens.views import AlertDetail, NotFound, alert_detail

#: Session-state key of the message a decision leaves for the next run.
FLASH_KEY: Final = "aq_flash"
#: Characters of a model's sha256 shown.
SHA_SHOWN: Final = 12


def show_alert(ctx: Context, alert_id: int) -> None:
    """Alert ``alert_id`` with its triage (a warning when there is no such alert)."""
    try:
        found = alert_detail(ctx.store, alert_id)
    except NotFound as exc:
        st.warning(triage.refusal_text(exc, ctx.lang))
        return
    real = found.alert.user_id
    viewed(ctx, real, "alert")
    detail = ctx.disguise(found, real)
    _summary(ctx, detail)
    _four_eyes(ctx, detail)
    _actions(ctx, detail)
    _history(ctx, detail)


def _summary(ctx: Context, detail: AlertDetail) -> None:
    alert = detail.alert
    sla = triage.sla_of(
        alert.severity,
        alert.status,
        alert.created_at,
        alert.updated_at,
        ctx.settings.alert_sla_hours,
        ctx.now,
    )
    st.divider()
    st.subheader(ctx.say(f"Alert #{alert.id}", f"알림 #{alert.id}"))
    cols = st.columns(4)
    cols[0].metric(ctx.say("Risk", "위험도"), number(alert.risk, ctx.lang, 1))
    cols[1].metric(ctx.say("Status", "상태"), status_label(alert.status, ctx.lang))
    cols[2].metric(ctx.say("Age", "경과"), duration(sla.age.total_seconds(), ctx.lang))
    cols[3].metric(ctx.say("SLA", "처리 기한"), triage.sla_words(sla, ctx.lang))
    days = ", ".join(d.isoformat() for d in alert.days)
    scenario = scenario_label(alert.scenario, ctx.lang)
    department = department_label(alert.department, ctx.lang)
    st.markdown(
        f"{severity_text(alert.severity, ctx.lang)} · {department} · {scenario} · "
        + ctx.say(
            f"days {days} · opened {when(alert.created_at, ctx)}",
            f"해당일 {days} · 생성 {when(alert.created_at, ctx)}",
        )
    )
    link_to_person(alert.user_id, ctx.say(f"Person {alert.user_id}", f"대상자 {alert.user_id}"))
    for reason in detail.reasons:
        st.markdown(f"- {reason.text_ko if ctx.lang == 'ko' else reason.text_en}")


def _four_eyes(ctx: Context, detail: AlertDetail) -> None:
    """Who asked to close and who must approve; the rule when the severity needs it."""
    alert = detail.alert
    if detail.close_requested_by and alert.status == "close_requested":
        via = f" ({detail.close_requested_via})" if detail.close_requested_via else ""
        asked = f"{detail.close_requested_by}{via}"
        st.info(
            ctx.say(
                f"Closing requested by **{asked}**: waiting for a different principal with the "
                f"approver role to approve (four eyes; {asked} cannot approve it).",
                f"**{asked}**이(가) 종결을 요청했습니다: 다른 승인자(approver)의 승인을 기다립니다 "
                f"(이중 승인, {asked}은(는) 승인할 수 없음).",
            )
        )
    elif alert.severity in ctx.settings.alert_four_eyes and alert.status != "closed":
        st.caption(
            ctx.say(
                f"Four eyes: closing a {severity_word(alert.severity, 'en')} alert needs a "
                "second person's approval.",
                f"이중 승인: {severity_word(alert.severity, 'ko')} 알림의 종결은 다른 "
                "승인자의 승인이 필요합니다.",
            )
        )


def _actions(ctx: Context, detail: AlertDetail) -> None:
    """The triage form: reason code, note, suppression, one button per allowed action."""
    alert = detail.alert
    actions = triage.offered(alert.status, ctx)
    if not actions:
        return
    st.markdown(ctx.say("**Decide**", "**처리**"))
    codes = triage.reason_codes("acknowledge")  # "" first: the action says if it needs one
    reason = st.selectbox(
        ctx.say("Reason code", "사유 코드"),
        codes,
        format_func=lambda c: triage.reason_word(c, ctx.lang) if c else ctx.say("(none)", "(없음)"),
        key=f"aq_reason_{alert.id}",
    )
    note = st.text_area(
        ctx.say("Note (kept in the audit trail)", "메모 (감사 기록에 보관)"),
        key=f"aq_note_{alert.id}",
        max_chars=4000,
    )
    suppress = None
    if "dismiss" in actions:
        suppress = st.number_input(
            ctx.say(
                "Dismissing suppresses this scenario for the person for (days, 0 = off)",
                "오탐 기각 시 같은 시나리오 억제 기간 (일, 0 = 안 함)",
            ),
            min_value=0.0,
            max_value=365.0,
            value=float(ctx.settings.alert_fp_suppress_days),
            step=1.0,
            key=f"aq_suppress_{alert.id}",
        )
    own = triage.took_part_in_close(ctx, detail.close_requested_by, detail.close_requested_via)
    if own and "approve" in actions:
        st.caption(
            ctx.say(
                "You asked to close this alert: a different approver must approve it (four eyes).",
                "이 알림의 종결을 요청한 본인이므로 승인할 수 없습니다: 다른 승인자가 승인해야 "
                "합니다 (이중 승인).",
            )
        )
    for column, action in zip(st.columns(len(actions)), actions, strict=True):
        if column.button(
            triage.action_label(action, ctx.lang),
            key=f"aq_do_{action}",
            disabled=action == "approve" and own,
        ):
            _decide(ctx, alert.id, action, reason, note, suppress)


def _decide(
    ctx: Context, alert_id: int, action: Action, reason: str, note: str, suppress: float | None
) -> None:
    outcome = triage.apply_decision(
        ctx, alert_id, action, reason=reason, note=note, suppress_days=suppress
    )
    if outcome.decision is None:
        st.error(outcome.refusal)
        return
    st.session_state[FLASH_KEY] = decided_text(ctx, outcome.decision)
    st.rerun()


def decided_text(ctx: Context, made: Decision) -> str:
    """What a recorded decision did, for the reader."""
    entry = made.entry
    text = ctx.say(
        f"Alert #{made.alert.id}: {triage.trail_word(entry.action, 'en')} by {entry.actor} "
        f"(audit entry #{entry.seq}); now {status_label(made.alert.status, 'en')}.",
        f"알림 #{made.alert.id}: {entry.actor}의 {triage.trail_word(entry.action, 'ko')} 처리가 "
        f"기록되었습니다 (감사 기록 #{entry.seq}). 현재 상태: "
        f"{status_label(made.alert.status, 'ko')}.",
    )
    if made.awaiting_approval:
        text += " " + ctx.say(
            "A different principal with the approver role must approve it (four eyes).",
            "다른 승인자(approver)가 승인해야 종결됩니다 (이중 승인).",
        )
    if made.suppressed_until is not None:
        until = when(made.suppressed_until, ctx)
        text += " " + ctx.say(
            f"The same scenario is suppressed for this person until {until}.",
            f"이 대상자의 같은 시나리오는 {until}까지 억제됩니다.",
        )
    return text


def _history(ctx: Context, detail: AlertDetail) -> None:
    """Decisions (who, what, why), the evidence absorbed, and the deliveries."""
    decisions, evidence, deliveries = st.tabs(
        [
            ctx.say("Decisions", "처리 이력"),
            ctx.say("Evidence", "근거"),
            ctx.say("Deliveries", "전송"),
        ]
    )
    with decisions:
        if not detail.decisions:
            st.caption(ctx.say("No decision yet.", "아직 처리 이력이 없습니다."))
        else:
            st.dataframe(_decisions(ctx, detail), hide_index=True, key="aq_decisions")
    with evidence:
        st.dataframe(
            [
                {
                    ctx.say("Kind", "종류"): e.kind,
                    ctx.say("Days", "해당일"): ", ".join(d.isoformat() for d in e.days),
                    ctx.say("Risk", "위험도"): number(e.risk, ctx.lang, 1),
                    ctx.say("Severity", "심각도"): severity_word(e.severity, ctx.lang),
                    ctx.say("Scenario", "시나리오"): scenario_label(e.scenario, ctx.lang),
                    ctx.say("Run", "실행"): e.run_id,
                    ctx.say("Model", "모델"): e.model_sha256[:SHA_SHOWN],
                    ctx.say("Added", "추가 시각"): when(e.added_at, ctx),
                }
                for e in detail.evidence
            ],
            hide_index=True,
        )
    with deliveries:
        if not detail.deliveries:
            st.caption(ctx.say("Not routed to any channel.", "전송된 채널이 없습니다."))
        else:
            st.dataframe(
                [
                    {
                        ctx.say("Channel", "채널"): d.channel,
                        ctx.say("Rule", "규칙"): d.rule_id,
                        ctx.say("Action", "동작"): d.action,
                        ctx.say("Status", "상태"): d.status,
                        ctx.say("Attempts", "시도"): d.attempts,
                        ctx.say("Due", "예정"): when(d.due, ctx),
                        ctx.say("Sent", "전송 시각"): when(d.sent_at, ctx) if d.sent_at else "—",
                        ctx.say("Last error", "마지막 오류"): d.last_error or "",
                    }
                    for d in detail.deliveries
                ],
                hide_index=True,
            )


def _decisions(ctx: Context, detail: AlertDetail) -> list[dict[str, object]]:
    """The decisions, oldest first: when, who (on whose behalf), what, why, the move."""
    return [
        {
            ctx.say("When", "시각"): when(d.at, ctx),
            ctx.say("Who", "처리자"): d.actor
            + (f" ({ctx.say('for', '대리')} {d.on_behalf_of})" if d.on_behalf_of else ""),
            ctx.say("Decision", "처리"): triage.trail_word(d.action, ctx.lang),
            ctx.say("Reason", "사유"): d.reason_ko if ctx.lang == "ko" else d.reason_en,
            ctx.say("Note", "메모"): d.note,
            ctx.say("Status", "상태"): " → ".join(
                status_label(s, ctx.lang) for s in (d.from_status, d.to_status) if s
            ),
        }
        for d in detail.decisions
    ]
