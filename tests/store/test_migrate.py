"""Opening a store: SQLite is created or upgraded with one line; anything else is refused."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from auditlens.config import Settings
from auditlens.errors import StoreError
from auditlens.store.db import make_engine
from auditlens.store.migrate import _alembic_config, current_revision, head_revision
from auditlens.store.repo import Store


def _settings(tmp_path: Path, language: str = "en") -> Settings:
    return Settings(
        store_url=f"sqlite:///{tmp_path / 'store.db'}",  # type: ignore[arg-type]
        data_dir=tmp_path / "var",
        language=language,  # type: ignore[arg-type]
    )


def test_a_missing_sqlite_store_is_created_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "auditlens.store"), Store.open(_settings(tmp_path)) as s:
        assert current_revision(s.engine) == head_revision()
        assert s.events.counts()["batches"] == 0
    lines = [r.getMessage() for r in caplog.records]
    url = f"sqlite:///{tmp_path}/store.db"
    assert lines == [f"created the store {url} (store_url, schema {head_revision()})"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, "auditlens.store"), Store.open(_settings(tmp_path)):
        pass
    assert caplog.records == []  # current: nothing to say


def test_a_sqlite_store_behind_is_upgraded_in_korean_when_asked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0004")
    engine.dispose()
    with (
        caplog.at_level(logging.WARNING, "auditlens.store"),
        Store.open(_settings(tmp_path, "ko")) as store,
    ):
        assert current_revision(store.engine) == head_revision()
    [line] = [r.getMessage() for r in caplog.records]
    assert "0004에서" in line and "스키마" in line and head_revision() in line


def test_a_store_newer_than_this_auditlens_is_refused(tmp_path: Path) -> None:
    with Store.open(_settings(tmp_path)) as store, store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match="revision 9999") as caught:
        Store.open(_settings(tmp_path))
    assert "newer auditlens" in caught.value.hint
