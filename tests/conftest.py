"""Shared fixtures: settings in a temporary directory, and a store on SQLite or PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from auditlens.config import Settings
from auditlens.i18n import choose_language
from tests.kafka_broker import Broker, shared_broker

PG_ADMIN_URL = os.environ.get(
    "AUDITLENS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's auditlens.toml or AUDITLENS_* variables."""
    for key in list(os.environ):
        if key.startswith("AUDITLENS_") and key != "AUDITLENS_TEST_PG_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("AUDITLENS_CONFIG", str(tmp_path / "no-such-auditlens.toml"))
    # a CLI test's --lang stays chosen for the process (a real command is its own
    # process): forget it after each test, before the next one's session fixtures (built
    # before this fixture runs) could read it, and before each test too
    choose_language(None)
    yield
    choose_language(None)
    # what code under test put in os.environ itself (serve's pinning for its children)
    # must not reach the next test's session fixtures: monkeypatch then restores the rest
    for key in list(os.environ):
        if key.startswith("AUDITLENS_") and key != "AUDITLENS_TEST_PG_URL":
            del os.environ[key]


def _fresh_pg_database() -> Iterator[str]:
    """Create a throw-away PostgreSQL database and yield its URL; drop it afterwards."""
    name = f"auditlens_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the server must be running: .ci/run starts it
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of an empty PostgreSQL database on the local server."""
    yield from _fresh_pg_database()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL, once for SQLite and once for the real PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield from _fresh_pg_database()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings whose store and data directory live in tmp_path (SQLite and PostgreSQL)."""
    return Settings(store_url=db_url, data_dir=tmp_path / "var")  # type: ignore[arg-type]


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """Settings with a SQLite store in tmp_path."""
    return Settings(
        store_url=f"sqlite:///{tmp_path / 'store.db'}",  # type: ignore[arg-type]
        data_dir=tmp_path / "var",
    )


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[Broker]:
    """A real Kafka-protocol broker (Tansu, memory only) on a free port, for the session
    (the one the source contract suite uses too)."""
    yield shared_broker()
