"""The Overview: its cards are views.kpis/views.activity to the digit, for every filter
and both languages; the charts carry what they count, and a click lists exactly that."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from auditlens.dashboard.cards import Period, card_values
from auditlens.dashboard.charts import (
    Drill,
    alert_trend_figure,
    drill_of,
    heatmap_figure,
    risk_trend_figure,
    scenario_figure,
)
from auditlens.dashboard.pages.overview import DRILL_KEY
from auditlens.dashboard.widgets import previous_period
from auditlens.views import (
    AlertFilters,
    AlertScope,
    Page,
    RiskFilters,
    activity,
    alert_queue,
    alert_trend,
    kpis,
    top_risks,
)
from auditlens.vocabulary import Severity
from tests.dashboard.conftest import Deployment, OpenApp, viewer_context

CRITICAL, HIGH = Severity.CRITICAL, Severity.HIGH


def _default_period(deployment: Deployment) -> tuple[dt.date, dt.date]:
    today = dt.datetime.now(zoneinfo.ZoneInfo(deployment.settings.timezone)).date()
    return today - dt.timedelta(days=29), today


def _expected_cards(
    deployment: Deployment, lang: str, start: dt.date, end: dt.date, scope: AlertScope
) -> dict[str, tuple[str, str]]:
    """label -> (value, delta) as the read model's figures format them."""
    ctx = viewer_context(deployment, lang)
    earlier = previous_period(start, end)
    zone = deployment.settings.timezone

    def period(first: dt.date, last: dt.date) -> Period:
        return Period(
            kpis(ctx.store, first, last, zone=zone, scope=scope),
            activity(ctx.store, first, last, zone=zone),
        )

    cards = card_values(ctx, period(start, end), period(*earlier))
    return {c.label: (c.value, c.delta) for c in cards}


def _shown_cards(at: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta or "") for m in at.metric}


def test_the_cards_are_the_read_models_numbers_in_both_languages(
    open_app: OpenApp, deployment: Deployment
) -> None:
    start, end = _default_period(deployment)
    k = viewer_kpis(deployment, start, end)
    for lang in ("en", "ko"):
        at = open_app("viewer", lang)
        assert not at.exception, at.exception
        shown = _shown_cards(at)
        assert shown == _expected_cards(deployment, lang, start, end, AlertScope())
        assert len(shown) == 11
        if lang == "ko":  # Korean counters, the read model's digits
            assert shown["알림"][0] == f"{k.alerts:,}건"
            assert shown["처리 중"][0] == f"{k.alerts - k.ended:,}건"
            assert shown["종결·기각"][0] == f"{k.ended:,}건"
            assert shown["알림: 심각"][0] == f"{k.by_severity['critical']:,}건"
            assert shown["모니터링 사용자"][0].endswith("명")
            assert shown["기각률"][0] == f"{k.dismissal_rate * 100:.1f}%"  # type: ignore[operator]
            assert shown["종결까지 중앙값"][0].endswith("시간")
        else:
            assert shown["Alerts"][0] == f"{k.alerts:,}"
            assert shown["Alerts: low"][0] == f"{k.by_severity['low']:,}"
            assert shown["Median time to close"][0].endswith(" h")
    assert k.alerts > 0 and k.ended > 0  # the organisation has something to show


def viewer_kpis(deployment: Deployment, start: dt.date, end: dt.date, **scope: Any) -> Any:
    ctx = viewer_context(deployment, "en")
    return kpis(ctx.store, start, end, zone=ctx.zone, scope=AlertScope(**scope))


@pytest.mark.parametrize(
    ("key", "values", "scope"),
    [
        ("overview_departments", ["sales", "it"], {"departments": ("sales", "it")}),
        ("overview_severities", ["critical", "high"], {"severities": (CRITICAL, HIGH)}),
        ("overview_scenarios", ["usb_connect_count"], {"scenarios": ("usb_connect_count",)}),
    ],
)  # fmt: skip
def test_each_filter_narrows_cards_charts_and_the_risk_table_alike(
    open_app: OpenApp,
    deployment: Deployment,
    key: str,
    values: list[str],
    scope: dict[str, Any],
) -> None:
    start, end = _default_period(deployment)
    at = open_app("analyst", "en")
    at.multiselect(key=key).set_value(values).run()
    assert not at.exception, at.exception
    wanted = AlertScope(**scope)
    assert _shown_cards(at) == _expected_cards(deployment, "en", start, end, wanted)
    k = viewer_kpis(deployment, start, end, **scope)
    assert _shown_cards(at)["Alerts"][0] == f"{k.alerts:,}"
    assert 0 < k.alerts < viewer_kpis(deployment, start, end).alerts
    ctx = viewer_context(deployment, "en")
    risks = top_risks(ctx.store, RiskFilters(start=start, end=end, scope=wanted), Page(limit=20))
    table = at.dataframe(key="overview_top_risks").value
    assert list(table["user"]) == [r.user_id for r in risks.items]


def test_the_period_and_all_filters_together(open_app: OpenApp, deployment: Deployment) -> None:
    org = deployment.organisation
    start, end = org.first_day, org.first_day + dt.timedelta(days=20)  # the first run's alerts
    at = open_app("viewer", "ko")
    at.date_input(key="overview_period").set_value((start, end)).run()
    at.multiselect(key="overview_severities").set_value(["low", "critical"]).run()
    at.multiselect(key="overview_departments").set_value(["sales"]).run()
    assert not at.exception, at.exception
    wanted = AlertScope(departments=("sales",), severities=(Severity.LOW, Severity.CRITICAL))
    assert _shown_cards(at) == _expected_cards(deployment, "ko", start, end, wanted)
    k = viewer_kpis(deployment, start, end, **wanted.model_dump())
    assert k.alerts > 0
    assert any(str(start) in c.value and str(end) in c.value for c in at.caption)


def test_every_chart_mark_names_the_list_behind_it(deployment: Deployment) -> None:
    ctx = viewer_context(deployment, "en")
    start, end = _default_period(deployment)
    trend = alert_trend(ctx.store, start, end, zone=ctx.zone)
    k = kpis(ctx.store, start, end, zone=ctx.zone)

    def listed(drill: Drill) -> int:
        first, last = drill.days or (start, end)
        scope = AlertScope(
            departments=drill.departments,
            severities=tuple(Severity(s) for s in drill.severities),
            scenarios=drill.scenarios,
        )
        filters = AlertFilters(start=first, end=last, scope=scope)
        return alert_queue(ctx.store, filters, Page(limit=1), zone=ctx.zone).total

    bars = alert_trend_figure(trend, "en")
    for trace in bars.data:
        for day, height, custom in zip(trace.x, trace.y, trace.customdata, strict=True):
            drill = drill_of([{"customdata": list(custom)}])
            assert drill is not None and drill.days == (day, day)
            assert listed(drill) == height
    squares = heatmap_figure(trend, "en").data[0]
    for text, custom in zip(squares.text, squares.customdata, strict=True):
        drill = drill_of([{"customdata": list(custom)}])
        assert drill is not None and listed(drill) == int(text)
    mix = scenario_figure(k.by_scenario, "en").data[0]
    for width, custom in zip(mix.x, mix.customdata, strict=True):
        drill = drill_of([{"customdata": list(custom)}])
        assert drill is not None and listed(drill) == width
    risk = risk_trend_figure(activity(ctx.store, start, end, zone=ctx.zone), "en").data[0]
    drill = drill_of(
        [{"customdata": list(risk.customdata[3])}, {"customdata": list(risk.customdata[1])}]
    )
    assert drill == Drill("risks", (risk.x[1], risk.x[3]))
    assert drill_of([]) is None and drill_of([{"x": 1}]) is None


def test_a_click_lists_the_alerts_behind_it_and_clears(
    open_app: OpenApp, deployment: Deployment
) -> None:
    start, end = _default_period(deployment)
    at = open_app("viewer", "en")
    at.session_state[DRILL_KEY] = Drill(
        "alerts", departments=("sales",), severities=("low",)
    ).as_state()
    at.run()
    assert not at.exception, at.exception
    ctx = viewer_context(deployment, "en")
    scope = AlertScope(departments=("sales",), severities=(Severity.LOW,))
    expected = alert_queue(
        ctx.store, AlertFilters(start=start, end=end, scope=scope), Page(limit=100)
    )
    table = at.dataframe(key="overview_drill_alerts").value
    assert list(table["alert"]) == [a.id for a in expected.items] and len(table) > 0
    assert set(table["department"]) == {"sales"} and set(table["severity"]) == {"low"}
    assert any("Behind your selection" == s.value for s in at.subheader)
    at.button(key="overview_drill_clear").click().run()
    assert DRILL_KEY not in at.session_state
    assert not [d for d in at.dataframe if d.key == "overview_drill_alerts"]


def test_a_click_on_the_risk_trend_lists_that_days_riskiest_users(
    open_app: OpenApp, deployment: Deployment
) -> None:
    day = deployment.organisation.last_day - dt.timedelta(days=2)
    at = open_app("viewer", "ko")
    at.session_state[DRILL_KEY] = Drill("risks", (day, day)).as_state()
    at.run()
    ctx = viewer_context(deployment, "ko")
    expected = top_risks(ctx.store, RiskFilters(start=day, end=day), Page(limit=100))
    table = at.dataframe(key="overview_drill_risks").value
    assert list(table["사용자"]) == [r.user_id for r in expected.items] and len(table) > 0
    assert set(table["최고점 날짜"]) == {day.isoformat()}
