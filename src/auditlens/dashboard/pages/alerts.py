"""Alert queue (placeholder until the alert-queue page lands)."""

from __future__ import annotations

import streamlit as st

from auditlens.api.routes.common import Context


def render(ctx: Context) -> None:
    """A caption saying the page is coming."""
    st.caption(ctx.say("The alert queue is coming.", "알림 처리 화면은 준비 중입니다."))
