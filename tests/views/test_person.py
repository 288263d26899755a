"""scored_day(s), day_sessions and flagged_start over a crafted store (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pytest

from auditlens.features.catalog import ResourceCatalog
from auditlens.schema import EVENT_DTYPES, LOCATION, Watermark
from auditlens.store.events import BatchRecord
from auditlens.store.repo import Store
from auditlens.tamper import FINDING_SCHEMA
from auditlens.views import (
    NotFound,
    day_sessions,
    flagged_start,
    scored_day,
    scored_days,
    user_history,
)
from auditlens.views.reasons import reason_views
from auditlens.vocabulary import Severity
from tests.alerts.conftest import T0
from tests.views.conftest import SHA_A, SHA_B, model, reason, scores

DAY = dt.date(2026, 9, 8)
KST = dt.timezone(dt.timedelta(hours=9))


def _at(hour: int, minute: int, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=KST).astimezone(dt.UTC)


def events(store: Store, mark: str, rows: list[tuple[str, dt.datetime, str, str | None]]) -> int:
    """Commit one ingest batch of ``(user, time, action, resource)`` events; its id."""
    frame = pl.DataFrame(
        {
            "event_id": [f"{mark}-{n}" for n in range(len(rows))],
            "user_id": [r[0] for r in rows],
            "timestamp": [r[1] for r in rows],
            "action_type": [r[2] for r in rows],
            "resource_id": [r[3] for r in rows],
            "host": ["pc-1"] * len(rows),
            "success": [True] * len(rows),
            LOCATION: [f"f.csv:{n + 2}" for n in range(len(rows))],
        }
    ).with_columns(
        [pl.lit(None, EVENT_DTYPES[c]).alias(c) for c in ("src_ip", "department", "role")]
    )
    record = BatchRecord(
        source="src",
        label="f.csv",
        started_at=T0,
        ingested=len(rows),
        events=frame.select([*EVENT_DTYPES, LOCATION]).cast(EVENT_DTYPES),  # type: ignore[arg-type]
        quarantined=pl.DataFrame(schema=dict.fromkeys((LOCATION, "reason", "raw"), pl.String)),
        findings=pl.DataFrame(schema=FINDING_SCHEMA),
        watermark_before=None,
        watermark_after=Watermark(f'{{"m": "{mark}"}}'),
    )
    return store.events.commit_batch(record, now=T0)


def sequence_reason(start: str) -> dict[str, Any]:
    """A stored sequence reason as detect/explain.py words it."""
    return reason("seq_anomaly_score", 42.0) | {
        "ko": f"이례적 작업 순서: 조회 → 삭제 ({start} 시작, 2단계, 드문 전환 1회)",
        "en": f"unusual action sequence: view → delete (started {start}, 2 steps, 1 rare steps)",
    }


def test_scored_day_is_the_newest_runs_score_with_unit_and_evidence(store: Store) -> None:
    model(store, SHA_A)
    model(store, SHA_B)
    first = events(store, "a", [("U1", _at(9, 0), "login", None)])
    scores(store, [("U1", DAY, 80.0, "high", [reason("delete_count", 9)])], batch_id=first)
    second = events(store, "b", [("U1", _at(10, 0), "view", "db/x")])
    run2 = scores(
        store,
        [("U1", DAY, 91.0, "critical", [sequence_reason("09:00"), reason("delete_count", 3)])],
        sha=SHA_B,
        batch_id=second,
    )
    found = scored_day(store, "U1", DAY)
    assert (found.risk, found.day_risk, found.severity) == (91.0, 90.0, "critical")
    assert found.evidence.run_id == run2 and found.evidence.model_sha256 == SHA_B
    assert found.evidence.data_batch_id == second
    assert found.evidence.data_watermark == '{"m": "b"}'
    assert [r.feature for r in found.reasons] == ["seq_anomaly_score", "delete_count"]
    assert found.contribution_unit == "surprise" and found.reason_method == "surprise"
    assert flagged_start(found.reasons) == "09:00"
    assert flagged_start(reason_views([reason("delete_count", 3)])) is None
    with pytest.raises(NotFound) as missing:
        scored_day(store, "U1", DAY + dt.timedelta(days=1))
    assert "2026-09-09" in missing.value.text("en") and "저장된" in missing.value.text("ko")


def test_day_sessions_cut_on_the_gap_and_at_midnight_and_mark_the_flagged(
    store: Store,
) -> None:
    first = events(
        store,
        "a",
        [
            ("U1", _at(23, 50, DAY - dt.timedelta(days=1)), "login", None),  # day before,
            ("U1", _at(0, 10), "view", "db/a"),  # after midnight: a session of this day
            ("U1", _at(9, 0), "login", None),
            ("U1", _at(9, 5), "view", "db/a"),
            ("U1", _at(9, 30), "delete", "db/a"),  # 25 min later: same session
            ("U1", _at(14, 5), "export", "db/b"),  # new session
            ("U1", _at(14, 6), "usb_connect", None),
            ("U2", _at(9, 1), "login", None),  # someone else
            ("U1", _at(23, 59), "login", None),  # last session of the day
        ],
    )
    events(store, "b", [("U1", _at(15, 0), "print", "doc/1")])  # a later batch
    found = day_sessions(store, "U1", DAY, gap_minutes=30, flagged="14:05")
    assert [s.number for s in found] == [1, 2, 3, 4, 5]
    # sessions never cross midnight (the sequence features score them so)
    assert [[step.action for step in s.steps] for s in found] == [
        ["view"],
        ["login", "view", "delete"],
        ["export", "usb_connect"],
        ["print"],
        ["login"],
    ]
    assert [s.flagged for s in found] == [False, False, True, False, False]
    morning = found[1]
    assert morning.start == _at(9, 0) and morning.end == _at(9, 30)
    assert [step.gap_seconds for step in morning.steps] == [None, 300.0, 1500.0]
    assert morning.steps[1].resource_id == "db/a" and morning.steps[0].resource_id is None
    assert morning.steps[2].action_ko == "삭제" and found[2].steps[1].action_en == "USB connect"
    assert morning.steps[0].host == "pc-1" and morning.steps[0].success is True
    as_scored = day_sessions(store, "U1", DAY, upto_batch=first)  # the data the score saw
    assert [len(s.steps) for s in as_scored] == [1, 3, 2, 1]
    assert not any(s.flagged for s in as_scored)
    tighter = day_sessions(store, "U1", DAY, gap_minutes=10, upto_batch=first)
    # with a 10-minute gap, 09:30 is a session of its own
    assert [len(s.steps) for s in tighter] == [1, 2, 1, 2, 1]
    assert day_sessions(store, "U9", DAY) == ()


def test_scored_days_agree_with_the_history_and_filter_by_severity(store: Store) -> None:
    model(store, SHA_A)
    model(store, SHA_B)
    first = events(store, "a", [("U1", _at(9, 0), "login", None)])
    days = [DAY + dt.timedelta(days=n) for n in range(3)]
    scores(
        store,
        [
            ("U1", days[0], 30.0, "low", []),
            ("U1", days[1], 95.0, "critical", [reason("delete_count", 9)]),
            ("U2", days[1], 99.0, "critical", []),
        ],
        batch_id=first,
    )
    scores(store, [("U1", days[1], 60.0, "medium", [reason("usb_connect_count", 2)]),
                   ("U1", days[2], 80.0, "high", [])], sha=SHA_B, batch_id=first)  # fmt: skip
    found = scored_days(store, "U1")
    history = user_history(store, "U1")
    assert [(d.day, d.risk, d.evidence.run_id) for d in found] == [
        (h.day, h.risk, h.run_id) for h in history
    ]
    assert [r.feature for r in found[1].reasons] == ["usb_connect_count"]  # the newer run's
    flagged = scored_days(store, "U1", days[1], None, min_severity=Severity.MEDIUM)
    assert [(d.day, d.severity) for d in flagged] == [(days[1], "medium"), (days[2], "high")]
    assert scored_days(store, "U1", end=days[0]) == found[:1]
    assert scored_days(store, "U9") == ()


def test_day_sessions_give_each_step_its_resources_sensitivity(store: Store) -> None:
    events(
        store,
        "a",
        [
            ("U1", _at(9, 0), "view", "db/customer/cards"),
            ("U1", _at(9, 1), "view", "wiki/x"),
            ("U1", _at(9, 2), "login", None),
        ],
    )
    catalog = ResourceCatalog.from_rows([("db/customer/*", "critical", None, "PII")])
    steps = day_sessions(store, "U1", DAY, catalog=catalog)[0].steps
    assert [s.sensitivity for s in steps] == ["critical", "low", None]
    assert [s.sensitivity for s in day_sessions(store, "U1", DAY)[0].steps] == [None] * 3
