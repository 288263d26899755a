"""Person (placeholder until the person page lands)."""

from __future__ import annotations

import streamlit as st

from auditlens.api.routes.common import Context


def render(ctx: Context) -> None:
    """A caption saying the page is coming."""
    st.caption(ctx.say("The person page is coming.", "개인별 상세 화면은 준비 중입니다."))
