"""The CLI around the event lake: another store refused, verify catches edited parts."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from auditlens.cli import app
from auditlens.config import Settings
from auditlens.store.repo import Store

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUDITLENS_LANGUAGE", "en")  # the assertions read English output
    return tmp_path


def _csv(path: Path, first: int, n: int) -> Path:
    rows = [
        f"E{i},kim,2026-09-01T09:{i % 60:02d}:00+09:00,view,doc-{i}"
        for i in range(first, first + n)
    ]
    path.write_text(
        "event_id,user_id,timestamp,action_type,resource_id\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    return path


def test_other_store_url_in_the_same_directory_is_refused_and_keeps_the_lake(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _csv(workdir / "a.csv", 0, 30)
    _csv(workdir / "x.csv", 100, 5)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["ingest", "a.csv"]).exit_code == 0

    monkeypatch.setenv("AUDITLENS_STORE_URL", "sqlite:///var/other.db")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    refused = runner.invoke(app, ["--lang", "ko", "ingest", "x.csv"])
    assert refused.exit_code == 1
    assert "다른 저장소" in refused.output and "data_dir" in refused.output

    monkeypatch.delenv("AUDITLENS_STORE_URL")
    store = Store.open(Settings())
    assert store.events.scan().collect().height == 30  # no FileNotFoundError: nothing deleted
    store.close()
    verified = runner.invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "event lake verified: 1 parts" in verified.output


def test_audit_verify_reports_a_part_rewritten_without_14_events(workdir: Path) -> None:
    _csv(workdir / "a.csv", 0, 50)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["ingest", "a.csv"]).exit_code == 0
    store = Store.open(Settings())
    part = store.events.parts()[0]
    path = store.lake.root / part
    store.close()
    events = pl.read_parquet(path)
    events.filter(~pl.col("event_id").is_in([f"E{i}" for i in range(14)])).write_parquet(path)

    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 4, result.output
    assert "BROKEN" in result.output and part in result.output
