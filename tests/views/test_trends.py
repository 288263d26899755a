"""The dashboard's figures in the read model: KPIs and the queue within a scope, the alert
trend and heat map, and the activity of a period — each against a hand-computed value
and against kpis() (one definition of each number)."""

from __future__ import annotations

import datetime as dt

import pytest

from auditlens.store.repo import Store
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
from tests.alerts.conftest import T0
from tests.views.conftest import act, open_alert
from tests.views.test_kpis import DAY, fill_alerts
from tests.views.test_risk import D1, D2, D3, fill_scores

NEXT = DAY + dt.timedelta(days=1)
NONE = {"low": 0, "medium": 0, "high": 0, "critical": 0}


def test_a_scope_narrows_the_kpis_and_the_queue_to_the_same_alerts(store: Store) -> None:
    fill_alerts(store)
    hr = kpis(store, DAY, DAY, scope=AlertScope(departments=("hr",)))
    # a3 (medium, dismissed twice) and a5 (medium, open)
    assert (hr.alerts, hr.by_severity["medium"], hr.dismissed, hr.ended) == (2, 2, 1, 1)
    assert hr.dismissal_rate == 1.0 and hr.by_department == {"hr": 2}
    assert (hr.quarantined_rows, hr.tamper_findings) == (3, 1)  # data figures stay whole
    unknown = kpis(store, DAY, DAY, scope=AlertScope(departments=("unknown", "hr")))
    assert unknown.by_department == {"hr": 2, "unknown": 1}
    critical = kpis(store, DAY, DAY, scope=AlertScope(severities=(Severity.CRITICAL,)))
    assert (critical.alerts, critical.four_eyes, critical.confirmed) == (1, 1, 1)
    usb = kpis(store, DAY, DAY, scope=AlertScope(scenarios=("usb_connect_count",)))
    assert (usb.alerts, usb.closed, usb.dismissed) == (2, 1, 1)
    for scope in (
        AlertScope(departments=("hr",)),
        AlertScope(departments=("unknown",)),
        AlertScope(severities=(Severity.HIGH, Severity.CRITICAL)),
        AlertScope(departments=("retail",), scenarios=("usb_connect_count",)),
    ):
        queue = alert_queue(store, AlertFilters(start=DAY, end=DAY, scope=scope), Page())
        assert queue.total == kpis(store, DAY, DAY, scope=scope).alerts, scope


def test_the_alert_trend_counts_each_day_and_cell_as_the_kpis_do(store: Store) -> None:
    fill_alerts(store)
    trend = alert_trend(store, DAY, NEXT)
    assert [d.day for d in trend.days] == [DAY, NEXT]
    assert trend.days[0].by_severity == {"low": 0, "medium": 2, "high": 2, "critical": 1}
    assert trend.days[1].by_severity == NONE | {"high": 1}  # U6, 00:30 the next day in Seoul
    assert trend.by_department_severity == {
        "hr": NONE | {"medium": 2},
        "retail": NONE | {"high": 2, "critical": 1},
        "unknown": NONE | {"high": 1},
    }
    both = kpis(store, DAY, NEXT)
    for severity, count in both.by_severity.items():
        assert sum(d.by_severity[severity] for d in trend.days) == count
    for department, cells in trend.by_department_severity.items():
        assert sum(cells.values()) == both.by_department[department]
    scoped = alert_trend(store, DAY, NEXT, scope=AlertScope(severities=(Severity.HIGH,)))
    assert [sum(d.by_severity.values()) for d in scoped.days] == [2, 1]
    assert alert_trend(store, NEXT, NEXT).by_department_severity == {"retail": NONE | {"high": 1}}


def test_activity_reads_each_days_newest_scores_and_the_periods_events(store: Store) -> None:
    fill_scores(store)
    seen = activity(store, D1, D3)
    assert seen.users_monitored == 3
    assert seen.events == 0  # both events were stored at T0, 2026-09-08
    d1, d2, d3 = seen.days
    assert (d1.users, d1.by_severity) == (3, NONE | {"low": 1, "high": 2})
    assert d1.mean_risk == pytest.approx(170 / 3) and d1.max_risk == 70.0
    # run 2 re-scored D2: its 60 replaces run 1's 90
    assert (d2.users, d2.by_severity, d2.mean_risk, d2.max_risk) == (
        1,
        NONE | {"medium": 1},
        60.0,
        60.0,
    )
    assert (d3.users, d3.mean_risk, d3.max_risk) == (2, 47.5, 55.0)
    assert activity(store, D2, D2).users_monitored == 1
    on_t0 = activity(store, DAY, DAY)
    assert (on_t0.events, on_t0.users_monitored) == (2, 0)
    assert on_t0.days[0].mean_risk is None and on_t0.days[0].users == 0


def test_top_risks_take_the_same_scope(store: Store) -> None:
    fill_scores(store)
    alert_id = open_alert(store, user="U3", department="hr")
    open_alert(store, user="U2", department=None)
    act(store, alert_id, "acknowledge", "kim", T0)

    def users(scope: AlertScope) -> list[str]:
        return [r.user_id for r in top_risks(store, RiskFilters(scope=scope), Page()).items]

    assert users(AlertScope(departments=("hr",))) == ["U3"]
    # U1 has no alert at all: no department is known for them either
    assert users(AlertScope(departments=("unknown", "hr"))) == ["U2", "U3", "U1"]
    assert users(AlertScope(severities=(Severity.HIGH,))) == ["U2", "U3"]
    assert users(AlertScope(severities=(Severity.MEDIUM, Severity.LOW))) == ["U1"]
    assert users(AlertScope(scenarios=("usb_connect_count", "delete_count"))) == ["U2", "U3", "U1"]
    both = RiskFilters(scenario="usb_connect_count", scope=AlertScope(scenarios=("delete_count",)))
    assert top_risks(store, both, Page()).total == 0
