"""Unreadable files are quarantined and the rest goes on; the CLI exit code shows problems."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from auditlens.cli import EXIT_QUARANTINE, app
from auditlens.config import Settings
from auditlens.pipeline import ingest
from auditlens.sources.files import FileSource
from auditlens.sources.synthetic import GeneratorSpec, generate, write_sample
from auditlens.store.repo import Store

runner = CliRunner()
HEADER = "event_id,user_id,timestamp,action_type,resource_id"


def _csv(path: Path, first: int, n: int, header: str = HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"E{i},kim,2026-09-01T09:{i % 60:02d}:00+09:00,view,doc-{i}" for i in range(first, n)]
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two configured file sources; the first has an unreadable file between two good ones."""
    monkeypatch.chdir(tmp_path)
    _csv(tmp_path / "in" / "day1.csv", 0, 10)
    _csv(tmp_path / "in" / "day2.csv", 10, 20, header="id,who,when,what,res")  # no mapping
    _csv(tmp_path / "in" / "day3.csv", 20, 30)
    _csv(tmp_path / "other" / "x.csv", 100, 105)
    config = tmp_path / "auditlens.toml"
    config.write_text(
        '[sources.daily]\nkind = "file"\npath = "in/*.csv"\n\n'
        '[sources.other]\nkind = "file"\npath = "other/*.csv"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("AUDITLENS_CONFIG", str(config))
    monkeypatch.setenv("AUDITLENS_LANGUAGE", "en")  # the assertions read English output
    return tmp_path


def _stored(settings: Settings | None = None) -> list[str]:
    store = Store.open(settings or Settings())
    try:
        return sorted(store.events.ids().to_list())
    finally:
        store.close()


def test_unreadable_file_is_quarantined_the_rest_ingested_and_exit_is_3(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDITLENS_LANGUAGE", "en")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["ingest"])
    assert result.exit_code == EXIT_QUARANTINE == 3, result.output
    assert "day2.csv" in result.output and "0 rows quarantined, 1 files unreadable" in result.output
    assert len(_stored()) == 25  # day1, day3 and the other source: nothing stopped at day2

    store = Store.open(Settings())
    rows = store.events.quarantined()
    assert rows.height == 1
    row = rows.row(0, named=True)
    assert row["location"] == "in/day2.csv" and row["source"] == "daily"
    assert "file could not be read" in row["reason"] and "missing" in row["reason"]
    for batch in store.events.batches().iter_rows(named=True):  # the invariant, batch by batch
        assert batch["ingested"] == batch["accepted"] + batch["quarantined"]
    store.close()

    # the next run is not stopped either, still says so, and re-reads nothing else
    again = runner.invoke(app, ["ingest"])
    assert again.exit_code == 3 and len(_stored()) == 25
    allowed = runner.invoke(app, ["ingest", "--allow-quarantine"])
    assert allowed.exit_code == 0, allowed.output

    # fixed (the export re-made with the right columns): read, and all is well again
    _csv(workdir / "in" / "day2.csv", 10, 20)
    fixed = runner.invoke(app, ["ingest"])
    assert fixed.exit_code == 0, fixed.output
    assert len(_stored()) == 35


def test_quarantined_rows_make_ingest_exit_3_unless_allowed(workdir: Path) -> None:
    bad = workdir / "bad.csv"
    bad.write_text(
        f"{HEADER}\nB1,kim,2026-09-01T09:00:00+09:00,view,doc\nB2,,2026-09-01T09:00:00,view,d\n",
        encoding="utf-8",
    )
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["ingest", "bad.csv"], env={"AUDITLENS_LANGUAGE": "ko"})
    assert result.exit_code == 3
    assert "bad.csv: 2건 수집 = 정상 1건 + 격리 1건" in result.output
    assert "격리된 행 1개" in result.output  # in Korean, the counts too
    good = runner.invoke(app, ["ingest", str(_csv(workdir / "good.csv", 500, 505))])
    assert good.exit_code == 0, good.output
    help_text = runner.invoke(app, ["ingest", "--help"]).output
    assert "--allow-quarantine" in help_text
    assert re.search(r"3\s+rows\s+were\s+quarantined", help_text)


def test_a_failing_source_does_not_stop_the_others_and_exits_1(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDITLENS_SOURCES__BROKEN__KIND", "sql")
    monkeypatch.setenv("AUDITLENS_SOURCES__BROKEN__URL", f"sqlite:///{workdir / 'gone.db'}")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["ingest", "--allow-quarantine"])
    assert result.exit_code == 1
    assert "broken stopped" in result.output and "gone.db" in result.output
    assert len(_stored()) == 25


def test_library_ingest_quarantines_an_unreadable_file(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    _csv(folder / "a.csv", 0, 5)
    (folder / "b.parquet").write_bytes(b"PAR1 this is not parquet")
    _csv(folder / "c.csv", 5, 9)
    store = Store.open(settings, migrate=True)
    report = ingest(FileSource(folder), settings, store=store)
    assert report.unreadable == [str(folder / "b.parquet")]
    assert (report.ingested, report.accepted, report.quarantined) == (10, 9, 1)
    assert report.problems and not report.error
    store.close()


def test_run_exits_3_when_a_file_was_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUDITLENS_LANGUAGE", "en")  # the assertions read English output
    data = generate(GeneratorSpec(users=40, days=12, seed=3, insider_rate=0.05))
    write_sample(data, tmp_path / "sample")
    (tmp_path / "feed").mkdir()
    data.events.write_parquet(tmp_path / "feed" / "a.parquet")
    pl.DataFrame({"nothing": [1]}).write_parquet(tmp_path / "feed" / "b.parquet")
    monkeypatch.setenv("AUDITLENS_SOURCES__FEED__KIND", "file")
    monkeypatch.setenv("AUDITLENS_SOURCES__FEED__PATH", str(tmp_path / "feed"))
    result = runner.invoke(app, ["run", "--no-alerts"])
    assert result.exit_code == 3, result.output
    assert "scored" in result.output and "b.parquet" in result.output
    assert runner.invoke(app, ["run", "--no-alerts", "--allow-quarantine"]).exit_code == 0
