"""Fixtures of the alert tests: a store, an exact clock and detections made in code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from auditlens.alerts.intake import Criteria, Detection
from auditlens.config import Settings
from auditlens.store.repo import Store

#: Tuesday 2026-09-08 10:00 in Seoul (a working day, inside business hours).
T0 = dt.datetime(2026, 9, 8, 1, 0, tzinfo=dt.UTC)
CRITERIA = Criteria(min_severity="medium", threshold_risk=50.0, capacity=20, dedup_hours=24.0)


class FakeClock:
    """A clock tests move by hand: exact quiet hours, backoff and leases."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now

    def set(self, moment: dt.datetime) -> dt.datetime:
        self.now = moment
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(sqlite_settings: Settings) -> Iterator[Engine]:
    """A migrated SQLite store's engine."""
    store = Store.open(sqlite_settings, migrate=True)
    yield store.engine
    store.close()


@pytest.fixture
def any_engine(settings: Settings) -> Iterator[Engine]:
    """A migrated store's engine, on SQLite and on the real PostgreSQL server."""
    store = Store.open(settings, migrate=True)
    yield store.engine
    store.close()


_ids = iter(range(1, 1_000_000))


def detection(
    user: str = "U0042",
    severity: str = "high",
    risk: float = 80.0,
    feature: str = "off_hours_login_ratio",
    department: str | None = "retail",
    **extra: Any,
) -> Detection:
    """A detection with one reason in both languages."""
    values: dict[str, Any] = {
        "score_id": next(_ids),
        "run_id": 1,
        "user_id": user,
        "department": department,
        "window": dt.date(2026, 9, 7),
        "risk": risk,
        "severity": severity,
        "reasons": [
            {
                "feature": feature,
                "ko": "업무시간 외 로그인 비율 62% (본인 평균 4%, 동료 그룹 평균 6%)",
                "en": "off-hours login share 62% (own average 4%, peer-group average 6%)",
            }
        ],
        "model_sha256": "a" * 64,
        "config_hash": "c0ffee",
    }
    values.update(extra)
    return Detection(**values)
