"""Re-identification from the person page: a pseudonymised analyst asks to see who is
behind one of the person's alerts (:func:`auditlens.privacy.request_reidentification`,
with a reason); a different approver grants or denies it (``auditlens reidentify``, or
``POST /v1/reidentifications/{id}/decision``); while the grant lives the analyst who
asked may reveal the user id here (:func:`auditlens.privacy.reveal`). Every step is an
audit-trail entry; the page shows only what the caller's own requests allow."""

from __future__ import annotations

import datetime as dt
from typing import Final

import streamlit as st

from auditlens.api.routes.common import Context
from auditlens.dashboard.triage import refusal_text
from auditlens.dashboard.widgets import when
from auditlens.identity import IdentityError
from auditlens.privacy import ReidentificationError, request_reidentification, reveal
from auditlens.store.reidentifications import Reidentification
from auditlens.views import AlertFilters, Page, alert_queue

#: Session-state key of the user ids revealed to this session: alert id -> (id, until).
REVEALED_KEY: Final = "pp_revealed"
_STATUS_KO: Final = {
    "requested": "승인 대기",
    "granted": "승인",
    "denied": "거부",
    "expired": "만료",
}


def reidentification(ctx: Context, real: str) -> None:
    """The re-identification panel (pseudonymised readers only)."""
    if ctx.pseudonymiser is None or ctx.sees_ids:
        return
    st.markdown(ctx.say("### Re-identification", "### 재식별"))
    ttl = f"{ctx.settings.privacy.reidentify_ttl_minutes:g}"
    st.caption(
        ctx.say(
            "You see a pseudonym. Seeing who it is takes your request for one alert and a "
            f"different approver's grant; it lasts {ttl} minutes and is audited.",
            "가명으로 표시됩니다. 실제 사용자를 보려면 알림 하나에 대해 요청하고 다른 "
            f"승인자의 승인을 받아야 하며, 승인은 {ttl}분 동안 유효하고 감사 기록에 남습니다.",
        )
    )
    alerts = alert_queue(ctx.store, AlertFilters(user_id=real), Page(limit=100), zone=ctx.zone)
    ids = [a.id for a in alerts.items]
    if not ids:
        st.caption(ctx.say("This person has no alert to ask about.", "요청할 알림이 없습니다."))
        return
    if ctx.caller.acting.effective.has("analyst"):
        _request(ctx, ids)
    mine = [
        r
        for alert_id in ids
        for r in ctx.store.reidentifications.find(alert_id=alert_id)
        if r.requested_by == ctx.caller.acting.effective.id
    ]
    if mine:
        _requests(ctx, mine)
    _revealed(ctx, set(ids))


def _request(ctx: Context, ids: list[int]) -> None:
    left, right = st.columns([1, 2])
    alert_id = left.selectbox(
        ctx.say("Alert", "알림"), ids, format_func=lambda i: f"#{i}", key="pp_reid_alert"
    )
    reason = right.text_input(
        ctx.say("Why (e.g. the case number)", "사유 (예: 사건 번호)"),
        key="pp_reid_reason",
        max_chars=2000,
    )
    if st.button(ctx.say("Request re-identification", "재식별 요청"), key="pp_reid_ask"):
        try:
            made = request_reidentification(
                ctx.store, ctx.caller.acting, int(alert_id), reason, now=ctx.now
            )
        except (ReidentificationError, IdentityError) as exc:
            st.error(refusal_text(exc, ctx.lang))
            return
        st.success(
            ctx.say(
                f"Request #{made.id} for alert #{made.alert_id} sent: an approver decides.",
                f"알림 #{made.alert_id}에 대한 재식별 요청 #{made.id}을(를) 보냈습니다. "
                "승인자가 결정합니다.",
            )
        )


def _status(request: Reidentification, lang: str, now: dt.datetime) -> str:
    status = request.status
    if status == "granted" and not request.live(now):
        status = "expired"
    return _STATUS_KO.get(status, status) if lang == "ko" else status


def _requests(ctx: Context, mine: list[Reidentification]) -> None:
    st.dataframe(
        [
            {
                ctx.say("Request", "요청"): f"#{r.id}",
                ctx.say("Alert", "알림"): f"#{r.alert_id}",
                ctx.say("Asked", "요청 시각"): when(r.requested_at, ctx),
                ctx.say("Status", "상태"): _status(r, ctx.lang, ctx.now),
                ctx.say("Decided by", "결정자"): r.decided_by or "—",
                ctx.say("Until", "유효 기한"): when(r.expires_at, ctx) if r.expires_at else "—",
            }
            for r in mine
        ],
        hide_index=True,
        key="pp_reid_requests",
    )
    for request in mine:
        if not request.live(ctx.now):
            continue
        if st.button(
            ctx.say(
                f"Reveal the person of alert #{request.alert_id}",
                f"알림 #{request.alert_id}의 실제 사용자 보기",
            ),
            key=f"pp_reveal_{request.id}",
        ):
            try:
                user = reveal(ctx.store, ctx.caller.acting, request.alert_id, ctx.now)
            except (ReidentificationError, IdentityError) as exc:
                st.error(refusal_text(exc, ctx.lang))
                continue
            shown: dict[int, tuple[str, dt.datetime]] = st.session_state.setdefault(
                REVEALED_KEY, {}
            )
            if request.expires_at is not None:
                shown[request.alert_id] = (user, request.expires_at)


def _revealed(ctx: Context, ids: set[int]) -> None:
    """The user ids revealed to this session, while their grants live."""
    shown: dict[int, tuple[str, dt.datetime]] = st.session_state.get(REVEALED_KEY, {})
    for alert_id, (user, until) in sorted(shown.items()):
        if alert_id in ids and ctx.now < until:
            st.success(
                ctx.say(
                    f"Alert #{alert_id} is about **{user}** (shown until {when(until, ctx)}).",
                    f"알림 #{alert_id}의 실제 사용자: **{user}** ({when(until, ctx)}까지 표시).",
                )
            )
