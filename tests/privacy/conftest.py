"""Fixtures of the privacy tests: a migrated store holding one alert, principals, a key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from auditlens.alerts.intake import admit
from auditlens.config import Settings
from auditlens.identity import Directory
from auditlens.store.alerts import Alert
from auditlens.store.repo import Store
from tests.alerts.conftest import CRITERIA, T0, detection

#: A key for tests only (40 characters); a deployment sets its own in the environment.
KEY = "test-only-pseudonym-key-0123456789abcdefg"
DIRECTORY = Directory(
    {
        "kim": ["analyst"],
        "park": ["analyst"],
        "lee": ["approver"],
        "jung": ["analyst", "approver"],
        "choi": ["admin"],
        "han": ["analyst", "admin"],
    }
)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """A migrated store (SQLite and PostgreSQL)."""
    opened = Store.open(settings, migrate=True)
    yield opened
    opened.close()


def open_alert(store: Store, user: str = "U0042", at: dt.datetime = T0) -> Alert:
    """Open one alert for ``user`` (with its trail entries)."""
    report = admit(store.engine, [detection(user=user)], [], CRITERIA, at, trail=store.trail)
    return report.opened[0]
