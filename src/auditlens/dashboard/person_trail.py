"""The person page's record: the person's alerts (each a link to the alert queue) and
every triage decision on them, read from the audit trail
(:func:`auditlens.views.audit_search` with the person as subject)."""

from __future__ import annotations

from typing import Final

import streamlit as st

from auditlens.api.routes.common import Context
from auditlens.dashboard import triage
from auditlens.dashboard.labels import scenario_label, status_label
from auditlens.dashboard.widgets import link_to_alert, number, severity_word, when
from auditlens.views import AlertFilters, AuditFilters, Page, alert_queue, audit_search
from auditlens.views.alerts import DECISION_ACTIONS

#: Alerts of one person listed (newest first is not the queue's order: most severe is).
ALERTS_SHOWN: Final = 50
#: Alert links drawn under the table.
LINKS_SHOWN: Final = 10
#: Decisions listed, newest first.
DECISIONS_SHOWN: Final = 200


def alerts_and_decisions(ctx: Context, real: str) -> None:
    """The person's alerts and the decisions on them (who, what, why, when)."""
    st.markdown(ctx.say("### Alerts", "### 알림"))
    found = alert_queue(
        ctx.store, AlertFilters(user_id=real), Page(limit=ALERTS_SHOWN), zone=ctx.zone
    )
    if not found.items:
        st.caption(ctx.say("No alert about this person.", "이 대상자에 대한 알림이 없습니다."))
    else:
        st.dataframe(
            [
                {
                    ctx.say("Alert", "알림"): f"#{a.id}",
                    ctx.say("Severity", "심각도"): severity_word(a.severity, ctx.lang),
                    ctx.say("Status", "상태"): status_label(a.status, ctx.lang),
                    ctx.say("Days", "해당일"): ", ".join(d.isoformat() for d in a.days),
                    ctx.say("Risk", "위험도"): number(a.risk, ctx.lang, 1),
                    ctx.say("Scenario", "시나리오"): scenario_label(a.scenario, ctx.lang),
                    ctx.say("Opened", "생성 시각"): when(a.created_at, ctx),
                }
                for a in found.items
            ],
            hide_index=True,
            width="stretch",
            key="pp_alerts",
        )
        for alert in found.items[:LINKS_SHOWN]:
            link_to_alert(alert.id)
    _decisions(ctx, real)


def _decisions(ctx: Context, real: str) -> None:
    st.markdown(ctx.say("### Decisions", "### 처리 이력"))
    entries = audit_search(
        ctx.store,
        AuditFilters(subject=real, actions=DECISION_ACTIONS),
        Page(limit=DECISIONS_SHOWN),
        zone=ctx.zone,
    )
    if not entries.items:
        st.caption(ctx.say("No decision recorded.", "기록된 처리 이력이 없습니다."))
        return
    shown = [ctx.disguise(e, real) for e in entries.items]
    # a keyed container: a table that cannot be picked from carries no key a browser sees
    st.container(key="pp_decisions_box").dataframe(
        [
            {
                ctx.say("When", "시각"): when(e.at, ctx),
                ctx.say("Alert", "알림"): e.target.replace("alert:", "#"),
                ctx.say("Who", "처리자"): e.actor,
                ctx.say("Decision", "처리"): triage.trail_word(e.action, ctx.lang),
                ctx.say("Reason", "사유"): triage.reason_word(e.reason_code, ctx.lang)
                if e.reason_code
                else "—",
                ctx.say("Note", "메모"): e.note,
                ctx.say("Audit entry", "감사 기록"): e.seq,
            }
            for e in shown
        ],
        hide_index=True,
        width="stretch",
        key="pp_decisions",
    )
    if entries.total > len(shown):
        st.caption(
            ctx.say(
                f"The newest {len(shown)} of {entries.total} decisions.",
                f"전체 {entries.total}건 중 최근 {len(shown)}건.",
            )
        )
