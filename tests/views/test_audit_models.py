"""audit_search, audit_status and model_versions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from auditlens.store.db import alerts
from auditlens.store.repo import Store
from auditlens.views import AuditFilters, Page, audit_search, audit_status, model_versions
from tests.alerts.conftest import T0
from tests.views.conftest import SHA_A, SHA_B, act, model, open_alert, scores


def test_audit_search_filters_and_pages_newest_first(store: Store) -> None:
    first = open_alert(store, user="U1")  # entries 1 detect, 2 alert
    second = open_alert(store, T0 + dt.timedelta(days=2), user="U2")  # 3 detect, 4 alert
    act(store, first, "acknowledge", "kim", T0 + dt.timedelta(minutes=1))  # 5
    act(store, second, "dismiss", "KIM", T0 + dt.timedelta(days=2), reason="false_positive")
    every = audit_search(store, AuditFilters(), Page())
    assert [e.seq for e in every.items] == [6, 5, 4, 3, 2, 1] and every.total == 6
    by_kim = audit_search(store, AuditFilters(actor=" Kim "), Page())  # compared normalised
    assert [(e.seq, e.action) for e in by_kim.items] == [(6, "dismiss"), (5, "acknowledge")]
    about_u1 = audit_search(store, AuditFilters(subject="U1"), Page())
    assert [e.action for e in about_u1.items] == ["acknowledge", "alert", "detect"]
    alerts_only = audit_search(store, AuditFilters(actions=("alert",)), Page())
    assert [e.target for e in alerts_only.items] == [f"alert:{second}", f"alert:{first}"]
    day = dt.date(2026, 9, 8)
    that_day = audit_search(store, AuditFilters(start=day, end=day), Page())
    assert [e.seq for e in that_day.items] == [5, 2, 1]
    on_target = audit_search(store, AuditFilters(target=f"alert:{second}"), Page())
    assert {e.action for e in on_target.items} == {"alert", "dismiss"}
    assert on_target.items[0].criteria["to_status"] == "dismissed"
    page = audit_search(store, AuditFilters(), Page(limit=4, offset=4))
    assert ([e.seq for e in page.items], page.next_offset) == ([2, 1], None)


def test_audit_status_verifies_the_chain_and_replays_the_tables(store: Store) -> None:
    alert_id = open_alert(store, user="U1")
    act(store, alert_id, "acknowledge", "kim", T0)
    status = audit_status(store, now=T0)
    assert status.ok and (status.entries, status.head_seq, status.broken_seq) == (3, 3, None)
    assert status.head_hash == store.audit.entries()[-1].hash
    assert not status.separate_database and status.checked_at == T0
    with store.engine.begin() as conn:  # someone changes the table behind the trail's back
        conn.execute(update(alerts).where(alerts.c.id == alert_id).values(status="closed"))
    tampered = audit_status(store)
    assert not tampered.ok and tampered.broken_seq is None
    (mismatch,) = tampered.mismatches
    assert mismatch.startswith(f"alert #{alert_id}: status is closed in the table")


def test_model_versions_mark_the_model_in_force(store: Store) -> None:
    assert model_versions(store) == ()
    model(store, SHA_A, "ensemble", metrics={"pr_auc": 0.8}, seed=1)
    model(store, SHA_B, "unsupervised", seed=7)
    scores(store, [("U1", dt.date(2026, 9, 1), 10.0, "low", [])], sha=SHA_A)
    last = scores(store, [("U1", dt.date(2026, 9, 2), 10.0, "low", [])], sha=SHA_A)
    newest, oldest = model_versions(store)
    assert (newest.sha256, newest.active, newest.runs) == (SHA_B, False, 0)
    assert (oldest.sha256, oldest.active, oldest.runs, oldest.last_run_id) == (SHA_A, True, 2, last)
    assert (oldest.metrics, oldest.params, oldest.feature_count) == (
        {"pr_auc": 0.8},
        {"seed": 1},
        2,
    )
    model(store, "c" * 64, "unsupervised", replaces=SHA_A)  # run --refit --unsupervised
    assert [m.active for m in model_versions(store)] == [True, False, False]
