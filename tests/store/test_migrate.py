"""Opening a store: SQLite is created or upgraded with one line; anything else is refused."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from auditlens.config import Settings
from auditlens.errors import StoreError
from auditlens.store.db import make_engine
from auditlens.store.migrate import (
    HEAD_REVISION,
    _alembic_config,
    current_revision,
    head_revision,
)
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


def test_the_head_revision_is_the_head_of_the_shipped_migrations(tmp_path: Path) -> None:
    """HEAD_REVISION is kept by hand (opening a store must not import Alembic): a new
    migration without it bumped fails here."""
    from importlib import resources

    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(resources.files("auditlens.store") / "migrations"))
    assert head_revision() == HEAD_REVISION == script.get_current_head()
    # the version table read as Alembic reads it: none, an older revision, the head
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    for target in (None, "0003", "head"):
        if target is not None:
            with engine.begin() as conn:
                command.upgrade(_alembic_config(conn), target)
        with engine.connect() as conn:
            expected = MigrationContext.configure(conn).get_current_revision()
        assert current_revision(engine) == expected
    assert current_revision(engine) == HEAD_REVISION
    engine.dispose()


def test_opening_a_current_store_does_not_import_alembic(tmp_path: Path) -> None:
    with Store.open(_settings(tmp_path)):
        pass  # created: Alembic ran
    url = f"sqlite:///{tmp_path / 'store.db'}"
    script = (
        "import sys\n"
        "from auditlens.config import Settings\n"
        "from auditlens.store.repo import Store\n"
        f"settings = Settings(store_url={url!r}, "
        f"data_dir={str(tmp_path / 'var')!r})\n"
        "with Store.open(settings, migrate=True) as store:\n"
        "    assert store.events.counts()['batches'] == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]", done.stdout
