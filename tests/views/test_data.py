"""data_health (quarantine by kind, tampering) agrees with kpis(); model_changes says what
each model changed; quarantine_kinds names the kind of every reason validate writes."""

from __future__ import annotations

import datetime as dt

from auditlens.store.repo import Store
from auditlens.validate import QUARANTINE_KINDS, quarantine_kind_label, quarantine_kinds
from auditlens.views import data_health, kpis, model_changes
from tests.alerts.conftest import T0
from tests.views.conftest import SHA_A, SHA_B, batch, model
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
