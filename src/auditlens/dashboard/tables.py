"""Tables of alerts and of the riskiest users, each row a way into its alert or person.

A row picked in a table opens the alert (alert queue) or the person (person page) in the
same session. Users are shown as the reader may see them (``ctx.show``: pseudonyms for
viewers and analysts when pseudonymising), and the person page resolves what it is given
the same way, so the link works either way.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import streamlit as st

from auditlens.api.routes.common import Context
from auditlens.dashboard.labels import department_label, scenario_label, status_label
from auditlens.dashboard.widgets import go_to_alert, go_to_person, severity_word, when
from auditlens.views import AlertRow, RiskRow


def alerts_frame(ctx: Context, rows: Sequence[AlertRow]) -> pl.DataFrame:
    """``rows`` as the table shows them, in the reader's language."""
    say = ctx.say
    return pl.DataFrame(
        {
            say("alert", "알림"): [r.id for r in rows],
            say("user", "사용자"): [ctx.show(r.user_id) for r in rows],
            say("department", "부서"): [department_label(r.department, ctx.lang) for r in rows],
            say("severity", "심각도"): [severity_word(r.severity.value, ctx.lang) for r in rows],
            say("risk", "위험도"): [round(r.risk, 1) for r in rows],
            say("scenario", "시나리오"): [scenario_label(r.scenario, ctx.lang) for r in rows],
            say("status", "상태"): [status_label(r.status, ctx.lang) for r in rows],
            say("opened", "생성 시각"): [when(r.created_at, ctx) for r in rows],
        },
        schema_overrides={say("risk", "위험도"): pl.Float64},
    )


def risks_frame(ctx: Context, rows: Sequence[RiskRow]) -> pl.DataFrame:
    """``rows`` (users by peak risk) as the table shows them."""
    say = ctx.say
    return pl.DataFrame(
        {
            say("user", "사용자"): [ctx.show(r.user_id) for r in rows],
            say("department", "부서"): [department_label(r.department, ctx.lang) for r in rows],
            say("peak day", "최고점 날짜"): [r.day.isoformat() for r in rows],
            say("risk", "위험도"): [round(r.risk, 1) for r in rows],
            say("severity", "심각도"): [severity_word(r.severity.value, ctx.lang) for r in rows],
            say("scenario", "시나리오"): [scenario_label(r.scenario, ctx.lang) for r in rows],
            say("alert status", "알림 상태"): [
                "" if r.alert_status is None else status_label(r.alert_status, ctx.lang)
                for r in rows
            ],
        },
        schema_overrides={say("risk", "위험도"): pl.Float64},
    )


def _picked(key: str) -> int | None:
    """The row picked in the table ``key`` on this run (None: none)."""
    state = st.session_state.get(key)
    rows = [] if state is None else list(state["selection"]["rows"])
    return int(rows[0]) if rows else None


def alerts_table(ctx: Context, rows: Sequence[AlertRow], *, key: str) -> None:
    """A table of ``rows``; picking one opens that alert in the alert queue."""
    st.dataframe(
        alerts_frame(ctx, rows),
        key=key,
        on_select="rerun",
        selection_mode="single-row",
        hide_index=True,
        width="stretch",
    )
    picked = _picked(key)
    if picked is not None and picked < len(rows):
        go_to_alert(rows[picked].id)


def risks_table(ctx: Context, rows: Sequence[RiskRow], *, key: str) -> None:
    """A table of ``rows``; picking one opens that person's page."""
    st.dataframe(
        risks_frame(ctx, rows),
        key=key,
        on_select="rerun",
        selection_mode="single-row",
        hide_index=True,
        width="stretch",
    )
    picked = _picked(key)
    if picked is not None and picked < len(rows):
        go_to_person(ctx.show(rows[picked].user_id))
