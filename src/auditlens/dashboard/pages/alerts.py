"""Alert queue (analysts): the alerts by severity and age with their SLA, one alert's
evidence, deliveries and decisions, and triage through the same service as the API.

The queue is :func:`auditlens.views.alert_queue` (most severe first, then riskiest, then
oldest) with the filters of ``GET /v1/alerts`` (severities picked one by one, as on the
Overview, rather than "this or above"); an unresolved alert older than its
severity's ``alert_sla_hours`` is marked past its SLA, and the queue can list only those.
The filters can come from a link (``?department=...&severity=...&start=...``: the
Overview's list behind a click opens here; :mod:`auditlens.dashboard.queue_link`).
``?alert=ID`` opens that alert (the links of ``alert_link_template`` land here); the
alert itself is :mod:`auditlens.dashboard.alert_panel` — a viewer sees no triage buttons,
a refusal is shown in the reader's language, and whoever asked to close an alert cannot
approve it (four eyes). Approvers also find here the re-identification requests waiting
for them (:mod:`auditlens.dashboard.approvals`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, cast

import pandas as pd  # type: ignore[import-untyped]  # Streamlit's own dependency
import streamlit as st

from auditlens.api.routes.common import Context
from auditlens.dashboard import triage
from auditlens.dashboard.alert_panel import FLASH_KEY, show_alert
from auditlens.dashboard.approvals import waiting_requests
from auditlens.dashboard.labels import department_label, scenario_label, status_label
from auditlens.dashboard.navigation import ALERT_PARAM, title
from auditlens.dashboard.queue_link import QUEUE_PARAMS, read_link
from auditlens.dashboard.widgets import (
    count,
    duration,
    number,
    period_picker,
    severity_word,
    today,
    when,
    zone_note,
)
from auditlens.store.alerts import ACTIVE_STATUSES, ALERT_STATUSES, AlertStatus
from auditlens.views import (
    MAX_LIMIT,
    AlertFilters,
    AlertRow,
    AlertScope,
    Page,
    alert_facets,
    alert_queue,
)
from auditlens.vocabulary import Severity

#: Alerts per page of the queue.
PAGE_SIZE: Final = 50
#: At most this many alerts are read to find those past their SLA.
LATE_SCAN: Final = 10_000
#: Session-state key of the ``?alert=`` the picker was last set from.
_ASKED_KEY: Final = "_aq_asked"
#: Session-state key of the filter query (queue_link) the widgets were last set from.
_LINK_KEY: Final = "_aq_link"
#: How a row past its SLA is highlighted.
LATE_STYLE: Final = "background-color: rgba(228, 87, 46, 0.18)"


def render(ctx: Context) -> None:
    """The alert queue and, when one is chosen (or linked), that alert with its triage."""
    st.title(title("alerts", ctx.lang))
    st.caption(zone_note(ctx))
    flash = st.session_state.pop(FLASH_KEY, None)
    if isinstance(flash, str):
        st.success(flash)
    waiting_requests(ctx)
    filters, late_only = _filters(ctx)
    late = _late(ctx, filters)
    rows, total = _page(ctx, filters, late if late_only else None)
    left, right = st.columns(2)
    left.metric(ctx.say("Alerts", "알림"), count(total, ctx.lang))
    right.metric(ctx.say("Past their SLA", "처리 기한 초과"), count(len(late), ctx.lang))
    _table(ctx, rows)
    chosen = _choose(ctx, rows)
    if chosen is not None:
        show_alert(ctx, chosen)


def _filters(ctx: Context) -> tuple[AlertFilters, bool]:
    """The filter widgets: status, severity, department, scenario, person, SLA, period (a
    link's query sets them first: :mod:`auditlens.dashboard.queue_link`)."""
    facets = alert_facets(ctx.store)
    _from_link(ctx)
    first, second, third = st.columns(3)
    statuses = first.multiselect(
        ctx.say("Status", "상태"),
        ALERT_STATUSES,
        default=None if "aq_status" in st.session_state else list(ACTIVE_STATUSES),
        format_func=lambda s: status_label(s, ctx.lang),
        key="aq_status",
        placeholder=ctx.say("every status", "전체 상태"),
    )
    severities = second.multiselect(
        ctx.say("Severity", "심각도"),
        [s.value for s in reversed(Severity)],
        format_func=lambda s: severity_word(s, ctx.lang),
        key="aq_severity",
        placeholder=ctx.say("every severity", "전체 심각도"),
    )
    departments = third.multiselect(
        ctx.say("Department", "부서"),
        _choices(facets.departments, "aq_department"),
        format_func=lambda d: department_label(d, ctx.lang),
        key="aq_department",
        placeholder=ctx.say("every department", "전체 부서"),
    )
    scenarios = first.multiselect(
        ctx.say("Scenario (top reason)", "시나리오 (주요 사유)"),
        _choices(facets.scenarios, "aq_scenario"),
        format_func=lambda s: scenario_label(s, ctx.lang),
        key="aq_scenario",
        placeholder=ctx.say("every scenario", "전체 시나리오"),
    )
    user = second.text_input(
        ctx.say("Person (user id or pseudonym)", "대상자 (사용자 ID 또는 가명)"), key="aq_user"
    ).strip()
    late_only = third.checkbox(ctx.say("Only past their SLA", "처리 기한 초과만"), key="aq_late")
    start = end = None
    if st.checkbox(
        ctx.say("Only alerts opened in a period", "기간 내 생성된 알림만"), key="aq_use_period"
    ):
        start, end = period_picker(ctx, key="aq_period")
    filters = AlertFilters(
        start=start,
        end=end,
        statuses=cast(tuple[AlertStatus, ...], tuple(statuses)),
        scope=AlertScope(
            departments=tuple(departments),
            severities=tuple(Severity(s) for s in severities),
            scenarios=tuple(scenarios),
        ),
        user_id=ctx.user_filter(user or None),
    )
    return filters, late_only


def _choices(known: Sequence[str], key: str) -> list[str]:
    """``known`` and whatever is already picked besides (a link may name a department or
    scenario no stored alert has)."""
    picked = [v for v in st.session_state.get(key, []) if v not in known]
    return [*known, *picked]


def _from_link(ctx: Context) -> None:
    """Set the filters from the query's ``status``, ``department``, ``severity``,
    ``scenario``, ``start`` and ``end`` when they are new to this session (a link just
    followed); say which values named nothing."""
    query = {name: st.query_params.get_all(name) for name in QUEUE_PARAMS}
    link = read_link(query, today(ctx))
    if link.ignored:
        ignored = ", ".join(link.ignored)
        st.warning(
            ctx.say(
                f"Left out of the link's filters (not a known value): {ignored}.",
                f"링크의 필터 중 알 수 없는 값은 제외했습니다: {ignored}.",
            )
        )
    signature = repr(sorted(query.items()))
    if st.session_state.get(_LINK_KEY) == signature:
        return  # already applied: what the reader changed since stays
    st.session_state[_LINK_KEY] = signature
    for key, values in (
        ("aq_status", link.statuses),
        ("aq_severity", link.severities),
        ("aq_department", link.departments),
        ("aq_scenario", link.scenarios),
    ):
        if values is not None:
            st.session_state[key] = list(values)
    if link.period is not None:
        st.session_state["aq_use_period"] = True
        st.session_state["aq_period"] = link.period


def sla(ctx: Context, row: AlertRow) -> triage.Sla:
    """``row``'s SLA now."""
    return triage.sla_of(
        row.severity,
        row.status,
        row.created_at,
        row.updated_at,
        ctx.settings.alert_sla_hours,
        ctx.now,
    )


def _late(ctx: Context, filters: AlertFilters) -> list[AlertRow]:
    """Every alert matching ``filters`` that is past its SLA, in queue order."""
    active = tuple(s for s in filters.statuses or ALERT_STATUSES if s in ACTIVE_STATUSES)
    if not active:
        return []
    wanted = filters.model_copy(update={"statuses": active})
    found: list[AlertRow] = []
    offset: int | None = 0
    while offset is not None and offset < LATE_SCAN:
        chunk = alert_queue(ctx.store, wanted, Page(limit=MAX_LIMIT, offset=offset), zone=ctx.zone)
        found += [row for row in chunk.items if sla(ctx, row).breached]
        offset = chunk.next_offset
    return found


def _page(
    ctx: Context, filters: AlertFilters, late: list[AlertRow] | None
) -> tuple[list[AlertRow], int]:
    """One page of the queue (of ``late`` when only those past their SLA are listed)."""
    if late is not None:
        total = len(late)
    else:
        total = alert_queue(ctx.store, filters, Page(limit=1), zone=ctx.zone).total
    pages = max(1, -(-total // PAGE_SIZE))
    chosen = 1
    if pages > 1:
        chosen = int(
            st.number_input(
                ctx.say(f"Page (of {pages})", f"페이지 (전체 {pages})"),
                min_value=1,
                max_value=pages,
                value=1,
                key="aq_page",
            )
        )
    offset = (chosen - 1) * PAGE_SIZE
    if late is not None:
        return late[offset : offset + PAGE_SIZE], total
    found = alert_queue(ctx.store, filters, Page(limit=PAGE_SIZE, offset=offset), zone=ctx.zone)
    return list(found.items), found.total


def _table(ctx: Context, rows: list[AlertRow]) -> None:
    """The page of alerts; rows past their SLA highlighted."""
    if not rows:
        st.info(ctx.say("No alert matches these filters.", "조건에 맞는 알림이 없습니다."))
        return
    slas = [sla(ctx, row) for row in rows]
    records = []
    for row, due in zip(rows, slas, strict=True):
        records.append(
            {
                ctx.say("Alert", "알림"): f"#{row.id}",
                ctx.say("Severity", "심각도"): severity_word(row.severity, ctx.lang),
                ctx.say("Status", "상태"): status_label(row.status, ctx.lang),
                ctx.say("Person", "대상자"): ctx.show(row.user_id),
                ctx.say("Department", "부서"): department_label(row.department, ctx.lang),
                ctx.say("Scenario", "시나리오"): scenario_label(row.scenario, ctx.lang),
                ctx.say("Risk", "위험도"): number(row.risk, ctx.lang, 1),
                ctx.say("Opened", "생성 시각"): when(row.created_at, ctx),
                ctx.say("Age", "경과"): duration(due.age.total_seconds(), ctx.lang),
                ctx.say("SLA", "처리 기한"): triage.sla_words(due, ctx.lang),
            }
        )
    late = [due.breached for due in slas]
    styled = pd.DataFrame(records).style.apply(
        lambda r: [LATE_STYLE if late[int(r.name)] else ""] * len(r), axis=1
    )
    st.dataframe(styled, hide_index=True, width="stretch")


def _requested() -> int | None:
    """The alert ``?alert=ID`` asks for (None: none, or not an id)."""
    given = st.query_params.get(ALERT_PARAM)
    if given is None or not given.strip().isdigit():
        return None
    return int(given.strip())


def _choose(ctx: Context, rows: list[AlertRow]) -> int | None:
    """The alert to show: the one picked from this page, else the deep link's (a link that
    brings a new alert picks it)."""
    asked = _requested()
    options = [row.id for row in rows]
    if asked is not None and asked not in options:
        options.insert(0, asked)
    if st.session_state.get(_ASKED_KEY) != asked:  # a new link: the picker starts from it
        st.session_state[_ASKED_KEY] = asked
        st.session_state.pop("aq_pick", None)
    labels = {
        row.id: f"#{row.id} · {severity_word(row.severity, ctx.lang)} · "
        f"{ctx.show(row.user_id)} · {status_label(row.status, ctx.lang)}"
        for row in rows
    }
    picked = st.selectbox(
        ctx.say("Open an alert", "알림 열기"),
        options,
        index=options.index(asked) if asked is not None else None,
        format_func=lambda i: labels.get(i, f"#{i}"),
        placeholder=ctx.say("Choose an alert", "알림을 고르십시오"),
        key="aq_pick",
    )
    if picked is None:
        return None
    if picked != asked:
        st.query_params[ALERT_PARAM] = str(picked)
        st.session_state[_ASKED_KEY] = picked
    return int(picked)
