"""Re-identification requests an approver decides, on the alert-queue page.

A pseudonymised analyst asks to see the person behind one alert (person page,
:mod:`auditlens.dashboard.reidentify`); here a reader holding the approver role sees every
request still waiting, with its alert, who asked, when and why, and grants it (for
``privacy.reidentify_ttl_minutes``) or denies it with a note —
:func:`auditlens.privacy.decide_reidentification` as the session's proven principal, as
``POST /v1/reidentifications/{id}/decision`` does. Four eyes: whoever took part in a
request cannot decide it; the refusal is said in the reader's language and changes
nothing. Each decision is an audit-trail entry.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import streamlit as st

from auditlens.api.routes.common import Context
from auditlens.dashboard.alert_panel import FLASH_KEY
from auditlens.dashboard.triage import refusal_text
from auditlens.dashboard.widgets import link_to_alert, when
from auditlens.identity import IdentityError, normalise
from auditlens.privacy import ReidentificationError, decide_reidentification
from auditlens.store.reidentifications import Reidentification

#: Waiting requests listed (oldest first: the longest waiting on top).
SHOWN: Final = 100


def waiting_requests(ctx: Context) -> None:
    """The approver's panel: requests waiting for a decision (nothing for other roles)."""
    if not ctx.caller.acting.effective.has("approver"):
        return
    waiting = sorted(
        ctx.store.reidentifications.find(statuses=("requested",), limit=SHOWN),
        key=lambda r: r.id,
    )
    title = ctx.say(
        f"Re-identification requests waiting for a decision ({len(waiting)})",
        f"결정을 기다리는 재식별 요청 ({len(waiting)}건)",
    )
    with st.expander(title, expanded=bool(waiting)):
        if not waiting:
            st.caption(ctx.say("No request is waiting.", "기다리는 요청이 없습니다."))
            return
        _table(ctx, waiting)
        _decide(ctx, waiting)


def _table(ctx: Context, waiting: list[Reidentification]) -> None:
    mine = ctx.caller.acting.ids
    st.dataframe(
        [
            {
                ctx.say("Request", "요청"): f"#{r.id}",
                ctx.say("Alert", "알림"): f"#{r.alert_id}",
                ctx.say("Asked by", "요청자"): r.requested_by
                + (f" ({ctx.say('via', '대리')} {r.requested_via})" if r.requested_via else ""),
                ctx.say("Asked", "요청 시각"): when(r.requested_at, ctx),
                ctx.say("Reason", "사유"): r.reason,
                ctx.say("You may decide", "결정 가능"): ctx.say("no (yours)", "아니오 (본인 요청)")
                if _took_part(r, mine)
                else ctx.say("yes", "예"),
            }
            for r in waiting
        ],
        hide_index=True,
        width="stretch",
        key="aq_reid_waiting",
    )
    st.caption(
        ctx.say(
            "Four eyes: whoever asked (or asked on someone's behalf) cannot decide the "
            f"request. A grant lets the analyst who asked see the user id of that one alert "
            f"for {ctx.settings.privacy.reidentify_ttl_minutes:g} minutes.",
            "이중 승인: 요청한 사람(대리 요청자 포함)은 결정할 수 없습니다. 승인하면 요청한 "
            f"분석자가 그 알림의 실제 사용자 ID를 {ctx.settings.privacy.reidentify_ttl_minutes:g}"
            "분 동안 볼 수 있습니다.",
        )
    )


def _took_part(request: Reidentification, ids: frozenset[str]) -> bool:
    asked = {normalise(p) for p in (request.requested_by, request.requested_via) if p}
    return bool(ids & asked)


def _decide(ctx: Context, waiting: list[Reidentification]) -> None:
    """Pick a request, write a note, grant or deny."""
    by_id = {r.id: r for r in waiting}
    left, right = st.columns([1, 2])
    picked = left.selectbox(
        ctx.say("Request to decide", "결정할 요청"),
        list(by_id),
        format_func=lambda i: ctx.say(
            f"#{i} (alert #{by_id[i].alert_id}, {by_id[i].requested_by})",
            f"#{i} (알림 #{by_id[i].alert_id}, {by_id[i].requested_by})",
        ),
        key="aq_reid_pick",
    )
    note = right.text_input(
        ctx.say("Note (kept in the audit trail)", "메모 (감사 기록에 보관)"),
        key="aq_reid_note",
        max_chars=2000,
    )
    request = by_id[int(picked)]
    alert_id = request.alert_id
    link_to_alert(alert_id, ctx.say(f"Open alert #{alert_id}", f"알림 #{alert_id} 열기"))
    grant, deny = st.columns(2)
    if grant.button(ctx.say("Grant", "승인"), key="aq_reid_grant", type="primary"):
        _record(ctx, request, True, note)
    if deny.button(ctx.say("Deny", "거부"), key="aq_reid_deny"):
        _record(ctx, request, False, note)


def _record(ctx: Context, request: Reidentification, grant: bool, note: str) -> None:
    ttl = dt.timedelta(minutes=ctx.settings.privacy.reidentify_ttl_minutes)
    try:
        made = decide_reidentification(
            ctx.store, ctx.caller.acting, request.id, grant, note.strip(), now=ctx.now, ttl=ttl
        )
    except (ReidentificationError, IdentityError) as exc:
        st.error(refusal_text(exc, ctx.lang))
        return
    if made.expires_at is not None:
        until = when(made.expires_at, ctx)
        said = ctx.say(
            f"Re-identification request #{made.id} (alert #{made.alert_id}) granted by "
            f"{made.decided_by}: {made.requested_by} may see the person until {until}.",
            f"재식별 요청 #{made.id}(알림 #{made.alert_id})을(를) {made.decided_by}이(가) "
            f"승인했습니다: {made.requested_by}은(는) {until}까지 실제 사용자를 볼 수 있습니다.",
        )
    else:
        said = ctx.say(
            f"Re-identification request #{made.id} (alert #{made.alert_id}) denied by "
            f"{made.decided_by}.",
            f"재식별 요청 #{made.id}(알림 #{made.alert_id})을(를) {made.decided_by}이(가) "
            "거부했습니다.",
        )
    st.session_state[FLASH_KEY] = said
    st.session_state.pop("aq_reid_note", None)
    st.rerun()
