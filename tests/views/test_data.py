"""data_health (quarantine by kind, tampering) agrees with kpis(); model_changes says what
each model changed; quarantine_kinds names the kind of every reason validate writes;
ingestion names where a period's events came from; period_models the models behind it."""

from __future__ import annotations

import datetime as dt

from auditlens.store.repo import Store
from auditlens.validate import QUARANTINE_KINDS, quarantine_kind_label, quarantine_kinds
from auditlens.views import coverage, data_health, ingestion, kpis, model_changes, period_models
from tests.alerts.conftest import T0
from tests.views.conftest import SHA_A, SHA_B, batch, model, scores
from tests.views.test_kpis import DAY, fill_alerts


def test_data_health_splits_the_kpis_quarantine_and_tampering_by_kind(store: Store) -> None:
    fill_alerts(store)  # DAY: 3 quarantined rows, 1 finding; the day before: 2 and 4
    batch(store, '{"n": 3}', T0 + dt.timedelta(minutes=5), quarantined=1)
    health = data_health(store, DAY, DAY)
    figures = kpis(store, DAY, DAY)
    assert (health.quarantined_rows, health.tamper_findings) == (4, 1)
    assert (health.quarantined_rows, health.tamper_findings) == (
        figures.quarantined_rows,
        figures.tamper_findings,
    )
    assert health.quarantine_by_kind == {"user_id:missing": 4}
    assert health.tamper_by_kind == {"update_of_ingested_event": 1}
    assert [f.kind for f in health.recent_findings] == ["update_of_ingested_event"]
    both = data_health(store, DAY - dt.timedelta(days=1), DAY)
    assert (both.quarantined_rows, both.tamper_findings) == (6, 5)
    assert both.recent_findings[0].detected_at >= both.recent_findings[-1].detected_at
    empty = data_health(store, dt.date(2027, 1, 1), dt.date(2027, 1, 2))
    assert (empty.quarantined_rows, empty.quarantine_by_kind, empty.recent_findings) == (0, {}, ())


def test_every_reason_validate_writes_has_a_kind_in_both_languages() -> None:
    reasons = {
        "user_id: column is missing from the input": ["user_id:column_missing"],
        "timestamp: cannot read 'x' (expected ISO 8601)": ["timestamp:unreadable"],
        "timestamp: is in the future (later than 2026-09-01 10:00)": ["timestamp:future"],
        "timestamp: is before 1990-01-01 (accepted: 1990-01-01 to now + "
        "future_tolerance_seconds)": ["timestamp:too_old"],
        "timestamp: 2026-11-01 01:30 is ambiguous in America/New_York (DST fall-back: this "
        'local time occurs twice); set ambiguous_times = "earliest" or "latest" to accept '
        "such times": ["timestamp:ambiguous_time"],
        "resource_id is required unless action_type is one of login, logout": [
            "resource_id_missing"
        ],
        "event_id e1 repeated with different content (first at a.csv:2): possible log "
        "tampering; user_id: must not be empty": ["event_id_reused", "user_id:empty"],
        "expected 10 fields, found 4": ["malformed_line"],
        "something new": ["other"],
    }
    for reason, kinds in reasons.items():
        assert quarantine_kinds(reason) == kinds, reason
        for kind in kinds:
            name = kind.rpartition(":")[2]
            assert name in QUARANTINE_KINDS
            assert quarantine_kind_label(kind, "ko") != quarantine_kind_label(kind, "en")


def test_model_changes_compare_each_model_with_the_one_before(store: Store) -> None:
    model(store, SHA_A, trees=100)
    model(store, SHA_B, kind="ensemble", trees=200, depth=3)
    newest, first = model_changes(store)
    assert (newest.sha256, newest.previous_sha256) == (SHA_B, SHA_A)
    assert (newest.kind_before, newest.kind) == ("unsupervised", "ensemble")
    assert newest.params_changed == ("depth", "trees")
    assert (newest.features_added, newest.features_removed, newest.config_changed) == (
        (),
        (),
        False,
    )
    assert (first.previous_sha256, first.params_changed, first.n_train_before) == (None, (), None)


def test_ingestion_names_the_sources_and_the_newest_batch_holding_the_periods_events(
    store: Store,
) -> None:
    day = dt.date(2026, 9, 8)  # T0 is 10:00 KST on it
    batch(store, '{"n": 1}', T0)
    batch(store, '{"n": 2}', T0 + dt.timedelta(days=2))
    batch(store, '{"n": 3}', T0 + dt.timedelta(hours=1))  # later batch, same day's events
    one = ingestion(store, day, day)
    assert [(s.source, s.events, s.batches, s.batch_id) for s in one.sources] == [("src", 2, 2, 3)]
    assert (one.batch_id, one.watermark) == (3, '{"n": 3}')
    assert sum(s.events for s in one.sources) == coverage(store, day, day).events
    week = ingestion(store, day, day + dt.timedelta(days=6))
    assert (week.batch_id, week.sources[0].events, week.sources[0].batches) == (3, 3, 3)
    later = ingestion(store, day + dt.timedelta(days=2), day + dt.timedelta(days=2))
    assert (later.batch_id, later.watermark, later.sources[0].events) == (2, '{"n": 2}', 1)
    empty = ingestion(store, dt.date(2027, 1, 1), dt.date(2027, 1, 31))
    assert (empty.sources, empty.batch_id, empty.watermark, empty.committed_at) == (
        (),
        None,
        None,
        None,
    )


def test_period_models_are_those_of_each_user_days_newest_score(store: Store) -> None:
    model(store, SHA_A)
    model(store, SHA_B)
    day = dt.date(2026, 9, 8)
    after = day + dt.timedelta(days=1)
    scores(store, [("U1", day, 60.0, "medium", []), ("U2", after, 20.0, "low", [])], sha=SHA_A)
    scores(store, [("U1", day, 70.0, "medium", [])], sha=SHA_B)  # rescores U1's day
    assert period_models(store, day, day) == (SHA_B,)
    assert period_models(store, day, after) == (SHA_A, SHA_B)
    assert period_models(store, dt.date(2027, 1, 1), dt.date(2027, 1, 2)) == ()
