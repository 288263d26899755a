"""alert_queue and alert_detail: order, filters, pages, deliveries and decisions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from auditlens.config import Settings
from auditlens.store.repo import Store
from auditlens.views import (
    AlertFacets,
    AlertFilters,
    NotFound,
    Page,
    alert_detail,
    alert_facets,
    alert_queue,
)
from auditlens.vocabulary import Severity
from tests.alerts.conftest import T0
from tests.views.conftest import act, open_alert


def test_the_queue_is_most_severe_then_riskiest_then_oldest(store: Store) -> None:
    low_risk = open_alert(store, user="U1", severity="high", risk=70.0)
    critical = open_alert(store, user="U2", severity="critical", risk=95.0, department="hr")
    high_a = open_alert(store, user="U3", severity="high", risk=80.0)
    high_b = open_alert(store, user="U4", severity="high", risk=80.0, feature="delete_count")
    medium = open_alert(store, user="U5", severity="medium", risk=60.0)
    queue = alert_queue(store, AlertFilters(), Page())
    assert [a.id for a in queue.items] == [critical, high_a, high_b, low_risk, medium]
    assert queue.total == 5 and queue.next_offset is None

    pages = [alert_queue(store, AlertFilters(), Page(limit=2, offset=o)) for o in (0, 2, 4)]
    assert [a.id for p in pages for a in p.items] == [a.id for a in queue.items]
    assert [p.next_offset for p in pages] == [2, 4, None]

    act(store, high_a, "acknowledge", "kim", T0)
    only = alert_queue(store, AlertFilters(statuses=("acknowledged",)), Page())
    assert [a.id for a in only.items] == [high_a]
    severe = alert_queue(store, AlertFilters(min_severity=Severity.HIGH), Page())
    assert severe.total == 4
    assert [a.id for a in alert_queue(store, AlertFilters(department="hr"), Page()).items] == [
        critical
    ]
    by_scenario = alert_queue(store, AlertFilters(scenario="delete_count"), Page())
    assert [a.id for a in by_scenario.items] == [high_b]
    by_user = alert_queue(store, AlertFilters(user_id="U5"), Page())
    assert [(a.id, a.severity, a.day) for a in by_user.items] == [
        (medium, Severity.MEDIUM, dt.date(2026, 9, 7))
    ]
    # opened on 2026-09-08 in Seoul; the day before holds none
    day = dt.date(2026, 9, 8)
    assert alert_queue(store, AlertFilters(start=day, end=day), Page()).total == 5
    before = day - dt.timedelta(days=1)
    assert alert_queue(store, AlertFilters(start=before, end=before), Page()).total == 0


def test_the_detail_shows_deliveries_attempts_and_decisions(store: Store) -> None:
    alert_id = open_alert(store, user="U9", severity="critical", risk=97.0)
    (item,) = store.alerts.outbox.items(alert_id=alert_id)
    store.alerts.outbox.record_attempt(
        item,
        now=T0 + dt.timedelta(seconds=5),
        ok=False,
        status_code=503,
        retry_after=30.0,
        error="HTTP 503",
        detail=None,
        next_status="pending",
        not_before=T0 + dt.timedelta(seconds=35),
    )
    act(store, alert_id, "close", "kim", T0 + dt.timedelta(minutes=10), reason="confirmed")
    act(store, alert_id, "approve", "lee", T0 + dt.timedelta(minutes=20))
    detail = alert_detail(store, alert_id)
    assert (detail.alert.id, detail.alert.status, detail.alert.user_id) == (
        alert_id,
        "closed",
        "U9",
    )
    assert detail.close_requested_by is None  # cleared once approved; the trail keeps it
    assert [r.label_en for r in detail.reasons] == ["off-hours login ratio"]
    assert [(e.kind, e.risk) for e in detail.evidence] == [("open", 97.0)]
    (delivery,) = detail.deliveries
    assert (delivery.channel, delivery.status, delivery.attempts) == ("pd", "pending", 1)
    assert delivery.due == T0 + dt.timedelta(seconds=35)
    (attempt,) = delivery.attempt_log
    assert (attempt.ok, attempt.status_code, attempt.error) == (False, 503, "HTTP 503")
    request, approval = detail.decisions
    assert (request.action, request.actor, request.reason_code) == (
        "request_close",
        "kim",
        "confirmed",
    )
    assert (request.reason_ko, request.reason_en) == ("위반 확인", "violation confirmed")
    assert (request.from_status, request.to_status, request.note) == (
        "open",
        "close_requested",
        "close note",
    )
    assert (approval.action, approval.actor, approval.to_status) == ("approve", "lee", "closed")
    assert approval.at == T0 + dt.timedelta(minutes=20)
    assert request.seq < approval.seq


def test_an_unknown_alert_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match="no alert #404") as caught:
        alert_detail(store, 404)
    assert "알림" in caught.value.text("ko")


def test_decisions_are_read_from_a_separate_audit_database(tmp_path: Path) -> None:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'store.db'}",  # type: ignore[arg-type]
        audit_store_url=f"sqlite:///{tmp_path / 'audit.db'}",  # type: ignore[arg-type]
        data_dir=tmp_path / "var",
    )
    with Store.open(settings, migrate=True) as store:
        alert_id = open_alert(store, user="U1")
        act(store, alert_id, "acknowledge", "kim", T0)
        assert [d.action for d in alert_detail(store, alert_id).decisions] == ["acknowledge"]


def test_facets_are_the_departments_and_scenarios_alerted_on(store: Store) -> None:
    assert alert_facets(store) == AlertFacets(departments=(), scenarios=())
    open_alert(store, user="U1", department="hr", feature="delete_count")
    open_alert(store, user="U2", department="finance", feature="usb_connect_count")
    open_alert(store, user="U3", department="hr", feature="delete_count")
    found = alert_facets(store)
    assert found.departments == ("finance", "hr")
    open_alert(store, user="U4", department=None)  # AlertScope's word for none known
    found = alert_facets(store)
    assert found.departments == ("finance", "hr", "unknown")
    assert "delete_count" in found.scenarios and "usb_connect_count" in found.scenarios
    assert list(found.scenarios) == sorted(set(found.scenarios))
