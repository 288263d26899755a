"""Overview (management): KPI cards against the previous period, alert and risk trends,
the department-by-severity heat map and the scenario mix, filtered by period, department,
severity and scenario; every chart clicks through to the list behind it, and the
riskiest users open their person page.

Every number comes from the read model (``views.kpis``, ``views.activity``,
``views.alert_trend``, ``views.top_risks``, ``views.alert_queue``) for one
:class:`~auditlens.views.AlertScope` — the filters — so a card, a chart and the list
behind it count the same alerts as the API's ``GET /v1/kpis`` and ``GET /v1/alerts``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Final

import streamlit as st

from auditlens.api.routes.common import Context
from auditlens.dashboard.cards import Period, show_cards
from auditlens.dashboard.charts import (
    Drill,
    alert_trend_figure,
    drill_of,
    heatmap_figure,
    risk_trend_figure,
    scenario_figure,
)
from auditlens.dashboard.labels import department_label, scenario_label
from auditlens.dashboard.navigation import title
from auditlens.dashboard.queue_link import queue_query
from auditlens.dashboard.tables import alerts_table, risks_table
from auditlens.dashboard.widgets import (
    SEVERITIES,
    count,
    link_to_queue,
    period_picker,
    period_text,
    previous_period,
    severity_word,
    zone_note,
)
from auditlens.store.alerts import ALERT_STATUSES
from auditlens.views import (
    Activity,
    AlertFilters,
    AlertScope,
    Kpis,
    Page,
    RiskFilters,
    activity,
    alert_queue,
    alert_trend,
    coverage,
    kpis,
    top_risks,
)
from auditlens.vocabulary import Severity

#: Session-state key of the list a chart click asked for (a :meth:`Drill.as_state`).
DRILL_KEY: Final = "overview_drill"
#: Rows the list behind a click and the top-risk table show.
LIST_ROWS: Final = 100
TOP_ROWS: Final = 20


def render(ctx: Context) -> None:
    """The Overview page."""
    st.title(title("overview", ctx.lang))
    st.caption(zone_note(ctx))
    start, end = period_picker(ctx, key="overview_period")
    scope = _filters(ctx, start, end)
    earlier = previous_period(start, end)
    zone = ctx.zone
    seen = activity(ctx.store, start, end, zone=zone)
    now = Period(kpis(ctx.store, start, end, zone=zone, scope=scope), seen)
    before = Period(
        kpis(ctx.store, *earlier, zone=zone, scope=scope),
        coverage(ctx.store, *earlier, zone=zone),
    )
    shown, compared = period_text(start, end, ctx.lang), period_text(*earlier, ctx.lang)
    st.caption(
        ctx.say(f"{shown}, compared with {compared}.", f"{shown}, 직전 기간 {compared} 대비.")
    )
    show_cards(ctx, now, before)
    _charts(ctx, start, end, scope, now.kpis, seen)
    _behind_the_click(ctx, start, end, scope)
    _top_risks(ctx, start, end, scope)


def _filters(ctx: Context, start: dt.date, end: dt.date) -> AlertScope:
    """Department, severity and scenario pickers (choices: what the period holds)."""
    seen = kpis(ctx.store, start, end, zone=ctx.zone)
    departments = _choices(seen.by_department, "overview_departments")
    scenarios = _choices(seen.by_scenario, "overview_scenarios")
    left, middle, right = st.columns(3)
    picked_departments = left.multiselect(
        ctx.say("Department", "부서"),
        departments,
        key="overview_departments",
        format_func=lambda d: department_label(d, ctx.lang),
        placeholder=ctx.say("every department", "전체 부서"),
    )
    picked_severities = middle.multiselect(
        ctx.say("Severity", "심각도"),
        SEVERITIES,
        key="overview_severities",
        format_func=lambda s: severity_word(s, ctx.lang),
        placeholder=ctx.say("every severity", "전체 심각도"),
    )
    picked_scenarios = right.multiselect(
        ctx.say("Scenario", "시나리오"),
        scenarios,
        key="overview_scenarios",
        format_func=lambda s: scenario_label(s, ctx.lang),
        placeholder=ctx.say("every scenario", "전체 시나리오"),
    )
    return AlertScope(
        departments=tuple(picked_departments),
        severities=tuple(Severity(s) for s in picked_severities),
        scenarios=tuple(picked_scenarios),
    )


def _choices(counts: dict[str, int], key: str) -> list[str]:
    """The keys of ``counts``, and whatever is already picked (a period change keeps it)."""
    picked = [v for v in st.session_state.get(key, []) if v not in counts]
    return sorted(counts) + picked


def _remember(key: str) -> Callable[[], None]:
    """The on-select callback of chart ``key``: keep the list its clicked marks name."""

    def remember() -> None:
        state = st.session_state.get(key)
        points = [] if state is None else list(state["selection"]["points"])
        drill = drill_of(points)
        if drill is not None:
            st.session_state[DRILL_KEY] = drill.as_state()

    return remember


def _charts(
    ctx: Context, start: dt.date, end: dt.date, scope: AlertScope, now: Kpis, seen: Activity
) -> None:
    trend = alert_trend(ctx.store, start, end, zone=ctx.zone, scope=scope)
    lang = ctx.lang
    left, right = st.columns(2)
    figures = (
        (left, "overview_alert_trend", alert_trend_figure(trend, lang)),
        (right, "overview_risk_trend", risk_trend_figure(seen, lang)),
    )
    for column, key, figure in figures:
        with column:
            st.plotly_chart(figure, key=key, on_select=_remember(key), selection_mode="points")
    right.caption(
        ctx.say(
            "Risk covers every user scored; the filters apply to alerts.",
            "위험도는 점수가 산출된 전체 사용자 기준이며, 필터는 알림에 적용됩니다.",
        )
    )
    left, right = st.columns(2)
    with left:
        key = "overview_heatmap"
        figure = heatmap_figure(trend, lang)
        st.plotly_chart(figure, key=key, on_select=_remember(key), selection_mode="points")
    with right:
        key = "overview_scenarios_chart"
        figure = scenario_figure(now.by_scenario, lang)
        st.plotly_chart(figure, key=key, on_select=_remember(key), selection_mode="points")
    st.caption(
        ctx.say(
            "Click a bar, point or square to list what it counts.",
            "막대·점·칸을 누르면 그 숫자에 해당하는 목록이 아래에 나옵니다.",
        )
    )


def narrowed(scope: AlertScope, drill: Drill) -> AlertScope:
    """The page's ``scope`` with each dimension the click names replaced by the click's
    values (a chart only shows what the scope holds, so this narrows it)."""
    return AlertScope(
        departments=drill.departments or scope.departments,
        severities=tuple(Severity(s) for s in drill.severities) or scope.severities,
        scenarios=drill.scenarios or scope.scenarios,
    )


def _behind_the_click(ctx: Context, start: dt.date, end: dt.date, scope: AlertScope) -> None:
    """The list behind the last chart click, until cleared."""
    state = st.session_state.get(DRILL_KEY)
    if not isinstance(state, dict):
        return
    drill = Drill.from_state(state)
    first, last = drill.days or (start, end)
    wanted = narrowed(scope, drill)
    st.subheader(ctx.say("Behind your selection", "선택한 항목의 목록"))
    st.caption(_describe(ctx, first, last, wanted))
    if drill.kind == "risks":
        found = top_risks(
            ctx.store, RiskFilters(start=first, end=last, scope=wanted), Page(limit=LIST_ROWS)
        )
        risks_table(ctx, found.items, key="overview_drill_risks")
    else:
        filters = AlertFilters(start=first, end=last, scope=wanted)
        listed = alert_queue(ctx.store, filters, Page(limit=LIST_ROWS), zone=ctx.zone)
        alerts_table(ctx, listed.items, key="overview_drill_alerts")
        link_to_queue(
            ctx.say("Open this list in the alert queue", "이 목록을 알림 처리 화면에서 열기"),
            queue_query(first, last, wanted, ALERT_STATUSES),
        )
        found = listed  # type: ignore[assignment]
    st.caption(
        ctx.say(
            f"{len(found.items):,} of {found.total:,} shown; pick a row to open it.",
            f"{found.total:,}건 중 {len(found.items):,}건 표시; 행을 고르면 열립니다.",
        )
    )
    if st.button(ctx.say("Clear the selection", "선택 해제"), key="overview_drill_clear"):
        st.session_state.pop(DRILL_KEY, None)
        st.rerun()


def _describe(ctx: Context, start: dt.date, end: dt.date, scope: AlertScope) -> str:
    lang = ctx.lang
    parts = [period_text(start, end, lang)]
    parts += [department_label(d, lang) for d in scope.departments]
    parts += [severity_word(s.value, lang) for s in scope.severities]
    parts += [scenario_label(s, lang) for s in scope.scenarios]
    return " · ".join(parts)


def _top_risks(ctx: Context, start: dt.date, end: dt.date, scope: AlertScope) -> None:
    st.subheader(ctx.say("Riskiest users", "위험도 상위 사용자"))
    found = top_risks(
        ctx.store, RiskFilters(start=start, end=end, scope=scope), Page(limit=TOP_ROWS)
    )
    risks_table(ctx, found.items, key="overview_top_risks")
    st.caption(
        ctx.say(
            f"Each user's peak in the period; {count(found.total, 'en', en_unit='users')} "
            "in all. Pick a row to open the person.",
            f"사용자별 기간 중 최고 위험도; 전체 {count(found.total, 'ko', ko_unit='명')}. "
            "행을 고르면 개인별 상세가 열립니다.",
        )
    )
