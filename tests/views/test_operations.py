"""operations(): the store's all-time running totals for monitoring, against numbers
worked out by hand from what the test stored (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import update

from auditlens.store.alerts import ALERT_STATUSES
from auditlens.store.db import score_runs
from auditlens.store.repo import Store
from auditlens.views import data_health, operations
from auditlens.vocabulary import Severity
from tests.alerts.conftest import T0
from tests.views.conftest import SHA_A, SHA_B, act, batch, model, open_alert, scores

HOUR = dt.timedelta(hours=1)


def test_an_empty_store_reports_zeros_and_nothing_in_force(store: Store) -> None:
    now = operations(store, now=T0)
    assert now.at == T0
    assert now.runs == {"raised": 0, "pending": 0, "skipped": 0}
    assert (now.last_run_finished_at, now.last_run_seconds, now.scores_stored) == (None, None, 0)
    assert (now.sources, now.quarantine_by_kind, now.tamper_by_kind, now.model) == (
        (),
        {},
        {},
        None,
    )
    assert len(now.alerts) == len(Severity) * len(ALERT_STATUSES)
    assert {c.alerts for c in now.alerts} == {0}
    assert now.deliveries_by_status == {"pending": 0, "sent": 0, "dead": 0, "cancelled": 0}
    assert now.attempts == {"ok": 0, "failed": 0}
    assert (now.outbox_oldest_pending_seconds, now.outbox_oldest_due_seconds) == (None, None)


def test_runs_intake_alerts_deliveries_and_the_model_as_stored(store: Store) -> None:
    batch(store, "m1", T0, quarantined=2, findings=1)
    batch(store, "m2", T0 + HOUR, quarantined=1)
    model(store, SHA_A)  # fitted at T0
    model(store, SHA_B, "ensemble")  # the trained ensemble is in force
    day = dt.date(2026, 9, 7)
    scores(store, [("U1", day, 70.0, "high", []), ("U2", day, 10.0, "low", [])])
    last = scores(store, [("U1", day, 72.0, "high", [])], sha=SHA_B)
    with store.engine.begin() as conn:  # the newest run took 90 s and finished at T0 + 2 h
        conn.execute(
            update(score_runs)
            .where(score_runs.c.id == last)
            .values(started_at=T0 + 2 * HOUR - dt.timedelta(seconds=90), finished_at=T0 + 2 * HOUR)
        )
    high = open_alert(store, T0, user="U1", severity="high")
    open_alert(store, T0 + HOUR, user="U2", severity="critical")
    act(store, high, "acknowledge", "kim", T0 + HOUR)
    outbox = store.alerts.outbox
    first, second = sorted(outbox.items(), key=lambda item: item.id)
    outbox.record_attempt(
        first,
        now=T0 + HOUR,
        ok=False,
        status_code=500,
        retry_after=None,
        error="boom",
        detail=None,
        next_status="dead",
        not_before=None,
    )
    # the second is due since T0 + 1 h (waiting, say, for quiet hours to end)
    assert second.status == "pending"
    outbox.record_attempt(
        dataclasses.replace(second),
        now=T0 + HOUR,
        ok=False,
        status_code=503,
        retry_after=None,
        error="later",
        detail=None,
        next_status="pending",
        not_before=T0 + HOUR,
    )

    now = operations(store, now=T0 + 3 * HOUR)

    assert now.runs == {"raised": 0, "pending": 2, "skipped": 0}
    assert now.last_run_finished_at == T0 + 2 * HOUR
    assert now.last_run_seconds == 90.0
    assert now.scores_stored == 3
    (source,) = now.sources
    assert (source.source, source.batches) == ("src", 2)
    assert (source.ingested, source.accepted, source.quarantined) == (5, 2, 3)
    assert source.last_committed_at == T0 + HOUR
    # the same kinds data_health counts, over every day
    health = data_health(store, dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    assert now.quarantine_by_kind == health.quarantine_by_kind == {"user_id:missing": 3}
    assert now.tamper_by_kind == health.tamper_by_kind == {"update_of_ingested_event": 1}
    counts = {(c.severity, c.status): c.alerts for c in now.alerts if c.alerts}
    assert counts == {("high", "acknowledged"): 1, ("critical", "open"): 1}
    assert now.deliveries_by_status == {"pending": 1, "sent": 0, "dead": 1, "cancelled": 0}
    assert now.attempts == {"ok": 0, "failed": 2}
    opened = second.created_at.astimezone(dt.UTC)
    assert now.outbox_oldest_pending_seconds == (T0 + 3 * HOUR - opened).total_seconds()
    assert now.outbox_oldest_due_seconds == 2 * 3600.0
    assert now.model is not None
    assert (now.model.sha256, now.model.kind) == (SHA_B, "ensemble")
    assert now.model.age_seconds == 3 * 3600.0


def test_a_delivery_not_yet_due_is_pending_but_not_overdue(store: Store) -> None:
    open_alert(store, T0, user="U1", severity="high")
    (item,) = store.alerts.outbox.items()
    later = T0 + 5 * HOUR  # quiet hours: due in five hours
    store.alerts.outbox.record_attempt(
        item,
        now=T0,
        ok=False,
        status_code=None,
        retry_after=None,
        error="quiet hours",
        detail=None,
        next_status="pending",
        not_before=later,
    )
    now = operations(store, now=T0 + HOUR)
    assert now.outbox_oldest_pending_seconds is not None
    assert now.outbox_oldest_pending_seconds >= 3600.0
    assert now.outbox_oldest_due_seconds is None
    assert operations(store, now=later + HOUR).outbox_oldest_due_seconds == 3600.0
