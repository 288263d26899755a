"""user_risk, user_history and top_risks over a crafted store (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from auditlens.errors import AuditlensError
from auditlens.store.repo import Store
from auditlens.views import (
    NotFound,
    Page,
    PageOf,
    RiskFilters,
    RiskRow,
    UserRisk,
    top_risks,
    user_history,
    user_risk,
)
from auditlens.vocabulary import Severity
from tests.alerts.conftest import T0
from tests.views.conftest import SHA_A, SHA_B, act, batch, model, open_alert, reason, scores

D1, D2, D3 = dt.date(2026, 9, 1), dt.date(2026, 9, 2), dt.date(2026, 9, 3)


def fill_scores(store: Store) -> tuple[int, int]:
    """Two runs: run 1 scores D1-D2 with model A; run 2 re-scores D2 and adds D3 with B."""
    model(store, SHA_A)
    model(store, SHA_B)
    first_batch = batch(store, '{"n": 1}', T0)
    second_batch = batch(store, '{"n": 2}', T0)
    run1 = scores(
        store,
        [
            ("U1", D1, 30.0, "low", []),
            ("U1", D2, 90.0, "critical", [reason("delete_count", 14)]),
            ("U2", D1, 70.0, "high", [reason("usb_connect_count", 3)]),
            ("U3", D1, 70.0, "high", [reason("delete_count", 5)]),
        ],
        batch_id=first_batch,
    )
    run2 = scores(
        store,
        [
            ("U1", D2, 60.0, "medium", [reason("delete_count", 14, "2026-09-02")]),
            ("U1", D3, 55.0, "medium", [reason("off_hours_login_ratio", 0.62), reason("x", 1)]),
            ("U2", D3, 40.0, "low", []),
        ],
        sha=SHA_B,
        batch_id=second_batch,
    )
    return run1, run2


def test_user_risk_is_the_newest_day_with_reasons_and_evidence(store: Store) -> None:
    _, run2 = fill_scores(store)
    risk = user_risk(store, "U1")
    assert (risk.day, risk.risk, risk.day_risk, risk.severity) == (D3, 55.0, 54.0, Severity.MEDIUM)
    first, unknown = risk.reasons
    assert (first.feature, first.label_ko, first.label_en) == (
        "off_hours_login_ratio",
        "업무시간 외 로그인 비율",
        "off-hours login ratio",
    )
    assert (first.value_ko, first.value_en, first.text_ko) == (
        "62%",
        "62%",
        "off_hours_login_ratio 한국어 문장",
    )
    assert (unknown.label_en, unknown.value_en) == ("x", "1")  # undocumented: shown as is
    evidence = risk.evidence
    assert (evidence.run_id, evidence.model_sha256, evidence.data_watermark) == (
        run2,
        SHA_B,
        '{"n": 2}',
    )
    assert (evidence.feature_hash, evidence.config_hash) == ("f" * 64, "c0ffee")
    assert not risk.open_alert and risk.open_alert_id is None

    alert_id = open_alert(store, user="U1")
    assert user_risk(store, "U1").open_alert_id == alert_id
    act(store, alert_id, "dismiss", "kim", T0, reason="false_positive")
    assert not user_risk(store, "U1").open_alert  # a dismissed alert is not open


def test_a_day_rescored_by_a_newer_run_shows_the_newer_score(store: Store) -> None:
    run1, run2 = fill_scores(store)
    days = user_history(store, "U1", D1, D3)
    assert [(d.day, d.risk, d.run_id, d.model_sha256) for d in days] == [
        (D1, 30.0, run1, SHA_A),
        (D2, 60.0, run2, SHA_B),  # run 2 re-scored D2: its 60 replaces run 1's 90
        (D3, 55.0, run2, SHA_B),
    ]
    assert [d.day for d in user_history(store, "U1", D2, D2)] == [D2]
    assert [d.day for d in user_history(store, "U1", start=D3)] == [D3]
    assert user_history(store, "U1", dt.date(2027, 1, 1), dt.date(2027, 1, 2)) == ()


def test_an_unknown_user_is_not_found_in_both_languages(store: Store) -> None:
    fill_scores(store)
    with pytest.raises(NotFound) as caught:
        user_risk(store, "nobody")
    assert isinstance(caught.value, AuditlensError)
    assert "nobody" in caught.value.text("en") and "사용자" in caught.value.text("ko")
    with pytest.raises(NotFound):
        user_history(store, "nobody", D1, D3)


def test_top_risks_ranks_peaks_with_filters(store: Store) -> None:
    fill_scores(store)
    every = top_risks(store, RiskFilters(), Page())
    # U1's peak is 60 on D2 (run 2), not run 1's superseded 90; U2/U3 tie at 70: by id
    assert [(r.user_id, r.risk, r.day) for r in every.items] == [
        ("U2", 70.0, D1),
        ("U3", 70.0, D1),
        ("U1", 60.0, D2),
    ]
    assert (every.total, every.next_offset) == (3, None)
    assert every.items[2].scenario == "delete_count"

    later = top_risks(store, RiskFilters(start=D3, end=D3), Page())
    assert [(r.user_id, r.risk) for r in later.items] == [("U1", 55.0), ("U2", 40.0)]
    high = top_risks(store, RiskFilters(min_severity=Severity.HIGH), Page())
    assert [r.user_id for r in high.items] == ["U2", "U3"]
    usb = top_risks(store, RiskFilters(scenario="usb_connect_count"), Page())
    assert [r.user_id for r in usb.items] == ["U2"]

    alert_id = open_alert(store, user="U3", department="hr")
    open_alert(store, user="U2", department="retail")
    act(store, alert_id, "acknowledge", "kim", T0)
    hr = top_risks(store, RiskFilters(department="hr"), Page())
    assert [(r.user_id, r.alert_id, r.alert_status) for r in hr.items] == [
        ("U3", alert_id, "acknowledged")
    ]
    opened = top_risks(store, RiskFilters(alert_status="open"), Page())
    assert [r.user_id for r in opened.items] == ["U2"]


def test_top_risks_pages_are_stable_and_bounded(store: Store) -> None:
    model(store, SHA_A)
    scores(store, [(f"U{i:02d}", D1, float(50 + i % 5), "medium", []) for i in range(12)])
    whole = [r.user_id for r in top_risks(store, RiskFilters(), Page(limit=500)).items]
    pages, offset = [], 0
    while True:
        page = top_risks(store, RiskFilters(), Page(limit=5, offset=offset))
        assert page.total == 12
        pages += [r.user_id for r in page.items]
        if page.next_offset is None:
            break
        offset = page.next_offset
    assert pages == whole and len(set(whole)) == 12
    assert whole[:3] == ["U04", "U09", "U03"]  # 54, 54, 53 ...: risk, then user id
    beyond = top_risks(store, RiskFilters(), Page(limit=5, offset=12))
    assert (beyond.items, beyond.total, beyond.next_offset) == ((), 12, None)
    last = top_risks(store, RiskFilters(), Page(limit=2, offset=10))
    assert (len(last.items), last.next_offset) == (2, None)


def test_pages_and_filters_refuse_lax_or_oversized_input() -> None:
    with pytest.raises(ValidationError):
        Page(limit=501)
    with pytest.raises(ValidationError):
        Page(limit=0)
    with pytest.raises(ValidationError):
        Page(offset=-1)
    with pytest.raises(ValidationError):
        Page(limit="5")  # type: ignore[arg-type]  # strict: no coercion
    with pytest.raises(ValidationError):
        RiskFilters(min_severity="extreme")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        RiskFilters(region="x")  # type: ignore[call-arg]  # extra fields forbidden


def test_views_round_trip_through_json_as_the_api_sends_them(store: Store) -> None:
    fill_scores(store)
    risk = user_risk(store, "U1")
    assert UserRisk.model_validate_json(risk.model_dump_json()) == risk
    page = top_risks(store, RiskFilters(), Page(limit=2))
    assert PageOf[RiskRow].model_validate_json(page.model_dump_json()) == page
    schema = PageOf[RiskRow].model_json_schema()
    assert {"items", "total", "limit", "offset", "next_offset"} <= set(schema["properties"])
    with pytest.raises(ValidationError):  # strict: a boolean is not a risk
        UserRisk.model_validate_json(risk.model_dump_json().replace('"risk":55.0', '"risk":false'))
