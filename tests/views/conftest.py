"""Fixtures of the read-model tests: a migrated store (SQLite and PostgreSQL) filled
through the real repositories, intake and triage."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any

import polars as pl
import pytest

from auditlens.alerts.intake import admit
from auditlens.alerts.routing import Rule, Schedule
from auditlens.alerts.triage import TriagePolicy, decide
from auditlens.calendar import BusinessCalendar
from auditlens.config import Settings
from auditlens.identity import Directory
from auditlens.schema import EVENT_DTYPES, LOCATION, Watermark
from auditlens.store.events import BatchRecord
from auditlens.store.models import ModelRecord
from auditlens.store.repo import Store
from auditlens.store.scores import RunRecord
from auditlens.tamper import FINDING_SCHEMA
from tests.alerts.conftest import CRITERIA, T0, detection

DIRECTORY = Directory({"kim": ["analyst"], "lee": ["analyst", "approver"]})
POLICY = TriagePolicy(four_eyes=frozenset({"critical"}))
RULES = [Rule("page", ("pd",), Schedule.always_open(BusinessCalendar()))]
SHA_A = "a" * 64
SHA_B = "b" * 64


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """A migrated, empty store."""
    with Store.open(settings, migrate=True) as opened:
        yield opened


def model(store: Store, sha: str, kind: str = "unsupervised", **params: Any) -> None:
    """Register a model with ``sha``."""
    store.models.register(
        ModelRecord(
            sha256=sha,
            kind=kind,
            path=f"/models/{sha[:4]}.joblib",
            feature_columns=["login_count", "delete_count"],
            params=params,
            n_train=100,
            data_batch_id=None,
            config_hash="c0ffee",
            created_at=T0,
        )
    )


def reason(feature: str, value: float, window: str | None = None) -> dict[str, Any]:
    """A stored reason (as detect/explain.py writes it)."""
    found: dict[str, Any] = {
        "feature": feature,
        "value": value,
        "own_average": 1.0,
        "peer_average": 2.0,
        "contribution": 0.5,
        "ko": f"{feature} 한국어 문장",
        "en": f"{feature} sentence",
    }
    return found | ({"window": window} if window else {})


def scores(
    store: Store,
    rows: Sequence[tuple[str, dt.date, float, str, list[dict[str, Any]]]],
    *,
    sha: str = SHA_A,
    batch_id: int = 1,
) -> int:
    """Commit one score run of ``(user, day, decayed risk, severity, reasons)`` rows."""
    frame = pl.DataFrame(
        {
            "user_id": [r[0] for r in rows],
            "window": [r[1] for r in rows],
            "raw_score": [0.1] * len(rows),
            "surprise": [1.0] * len(rows),
            "risk": [r[2] - 1 for r in rows],
            "decayed_risk": [r[2] for r in rows],
            "severity": [r[3] for r in rows],
            "reasons": [json.dumps(r[4], ensure_ascii=False) for r in rows],
            "feature_hash": ["f" * 64] * len(rows),
            "model_sha256": [sha] * len(rows),
            "config_hash": ["c0ffee"] * len(rows),
            "data_batch_id": [batch_id] * len(rows),
        }
    )
    run = RunRecord(
        started_at=T0,
        finished_at=T0,
        model_sha256=sha,
        config_hash="c0ffee",
        data_batch_id=batch_id,
        events=10,
        windows=len(rows),
        reason_method="surprise",
        capacity=20,
        capacity_cutoff=None,
    )
    return store.scores.commit_run(run, frame)


def batch(
    store: Store, mark: str, now: dt.datetime, *, quarantined: int = 0, findings: int = 0
) -> int:
    """Commit an ingest batch of one event, ``quarantined`` bad rows and ``findings``."""
    events = pl.DataFrame(
        {
            "event_id": [f"e-{mark}"],
            "user_id": ["U1"],
            "timestamp": [now],
            "action_type": ["login"],
            LOCATION: ["f.csv:2"],
        }
    ).with_columns(
        [
            pl.lit(None, EVENT_DTYPES[c]).alias(c)
            for c in EVENT_DTYPES
            if c not in ("event_id", "user_id", "timestamp", "action_type")
        ]
    )
    bad = pl.DataFrame(
        {
            LOCATION: [f"f.csv:{i + 3}" for i in range(quarantined)],
            "reason": ["user_id: is missing"] * quarantined,
            "raw": ["{}"] * quarantined,
        },
        schema={LOCATION: pl.String, "reason": pl.String, "raw": pl.String},
    )
    found = pl.DataFrame(
        {"kind": ["update_of_ingested_event"] * findings, "op": ["update"] * findings},
        schema={"kind": pl.String, "op": pl.String},
    ).with_columns(
        [pl.lit(None, t).alias(c) for c, t in FINDING_SCHEMA.items() if c not in ("kind", "op")]
    )
    record = BatchRecord(
        source="src",
        label="f.csv",
        started_at=now,
        ingested=1 + quarantined,
        events=events.select([*EVENT_DTYPES, LOCATION]).cast(EVENT_DTYPES),  # type: ignore[arg-type]
        quarantined=bad,
        findings=found.select(list(FINDING_SCHEMA)),
        watermark_before=None,
        watermark_after=Watermark(mark),
    )
    return store.events.commit_batch(record, now=now)


def open_alert(store: Store, now: dt.datetime = T0, **kwargs: Any) -> int:
    """Open an alert through intake (routed to channel ``pd``); return its id."""
    report = admit(store.engine, [detection(**kwargs)], RULES, CRITERIA, now, trail=store.trail)
    return report.opened[0].id


def act(
    store: Store, alert_id: int, action: str, who: str, at: dt.datetime, reason: str = ""
) -> None:
    """A triage decision by ``who`` at ``at``."""
    decide(
        store.engine,
        alert_id,
        action,
        by=DIRECTORY.acting(who),
        reason=reason,
        note=f"{action} note",
        now=at,
        policy=POLICY,
        trail=store.trail,
    )
