"""kpis() on five alerts with known timestamps, each number computed by hand (docs/kpis.md);
and the queue agrees with it."""

from __future__ import annotations

import datetime as dt

import pytest

from auditlens.store.repo import Store
from auditlens.views import AlertFilters, Page, alert_queue, kpis
from tests.alerts.conftest import T0
from tests.views.conftest import act, batch, open_alert

DAY = dt.date(2026, 9, 8)  # T0 is 2026-09-08 10:00 in Seoul


def _at(seconds: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def fill_alerts(store: Store) -> None:
    a1 = open_alert(store, user="U1", severity="high", department="retail")
    a2 = open_alert(
        store, user="U2", severity="critical", department="retail", feature="usb_connect_count"
    )
    a3 = open_alert(
        store, user="U3", severity="medium", department="hr", feature="usb_connect_count"
    )
    a4 = open_alert(store, user="U4", severity="high", department=None)
    open_alert(store, user="U5", severity="medium", department="hr")
    # the next day in Seoul (2026-09-09 00:30 KST): outside the period
    outside = open_alert(store, _at(14 * 3600 + 1800), user="U6", severity="high")
    act(store, a1, "acknowledge", "kim", _at(600))
    act(store, a1, "close", "kim", _at(3600), reason="confirmed")
    act(store, a2, "close", "kim", _at(1800), reason="confirmed")  # critical: a request
    act(store, a2, "approve", "lee", _at(7200))
    act(store, a3, "dismiss", "kim", _at(1200), reason="false_positive")
    act(store, a3, "reopen", "lee", _at(2400), reason="mistake")
    act(store, a3, "dismiss", "lee", _at(3000), reason="explained")
    act(store, a4, "escalate", "kim", _at(300), reason="suspected_violation")
    act(store, outside, "dismiss", "kim", _at(15 * 3600), reason="false_positive")
    batch(store, '{"n": 1}', _at(60), quarantined=3, findings=1)
    batch(store, '{"n": 2}', _at(-86400), quarantined=2, findings=4)  # the day before


def test_every_kpi_matches_its_hand_computed_value(store: Store) -> None:
    fill_alerts(store)
    k = kpis(store, DAY, DAY)
    assert k.alerts == 5
    assert k.by_severity == {"low": 0, "medium": 2, "high": 2, "critical": 1}
    assert k.by_status == {
        "open": 1,
        "acknowledged": 0,
        "escalated": 1,
        "close_requested": 0,
        "closed": 2,
        "dismissed": 1,
    }
    assert k.by_department == {"hr": 2, "retail": 2, "unknown": 1}
    assert k.by_scenario == {"off_hours_login_ratio": 3, "usb_connect_count": 2}
    # first actions 600, 1800, 1200, 300 s -> sorted 300 600 1200 1800
    first = k.time_to_first_action
    assert (first.count, first.median_seconds) == (4, 900.0)
    assert first.p90_seconds == pytest.approx(1200 + 0.7 * 600)
    # ends: a1 close 3600, a2 approve 7200, a3 the last dismiss 3000 (after a reopen)
    close = k.time_to_close
    assert (close.count, close.median_seconds) == (3, 3600.0)
    assert close.p90_seconds == pytest.approx(3600 + 0.8 * 3600)
    assert (k.ended, k.closed, k.dismissed) == (3, 2, 1)
    assert k.dismissal_rate == pytest.approx(1 / 3)
    assert (k.confirmed, k.confirmed_rate) == (2, pytest.approx(2 / 3))
    assert (k.four_eyes, k.four_eyes_share) == (1, 0.5)
    assert (k.quarantined_rows, k.tamper_findings) == (3, 1)

    both = kpis(store, DAY - dt.timedelta(days=1), DAY + dt.timedelta(days=1))
    assert (both.alerts, both.dismissed, both.quarantined_rows, both.tamper_findings) == (
        6,
        2,
        5,
        5,
    )


def test_an_empty_period_has_no_rates_rather_than_zero(store: Store) -> None:
    fill_alerts(store)
    k = kpis(store, dt.date(2027, 1, 1), dt.date(2027, 1, 31))
    assert k.alerts == 0 and sum(k.by_status.values()) == 0
    assert (k.dismissal_rate, k.confirmed_rate, k.four_eyes_share) == (None, None, None)
    assert k.time_to_close.median_seconds is None and k.time_to_close.count == 0


def test_the_queue_and_the_kpis_count_the_same_alerts(store: Store) -> None:
    fill_alerts(store)
    k = kpis(store, DAY, DAY)
    period = AlertFilters(start=DAY, end=DAY)
    assert alert_queue(store, period, Page()).total == k.alerts
    for status, count in k.by_status.items():
        filters = period.model_copy(update={"statuses": (status,)})
        assert alert_queue(store, filters, Page()).total == count, status
    for department, count in k.by_department.items():
        if department != "unknown":
            filters = period.model_copy(update={"department": department})
            assert alert_queue(store, filters, Page()).total == count
    for scenario, count in k.by_scenario.items():
        filters = period.model_copy(update={"scenario": scenario})
        assert alert_queue(store, filters, Page()).total == count
