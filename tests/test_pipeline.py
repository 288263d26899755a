from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from auditlens.config import FileSourceConfig, Settings, SqlSourceConfig
from auditlens.errors import ConfigError, ValidationFailed
from auditlens.pipeline import InputOptions, ingest, input_source, make_source, sources_to_ingest
from auditlens.sources.files import FileSource
from auditlens.sources.sql import SqlChangeLogSource
from auditlens.store import events as events_module
from auditlens.store.repo import Store
from tests.sources.customer_db import COLUMN_MAP, CustomerDb

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)


def _clock() -> dt.datetime:
    return NOW


def _source(url: str, page_size: int = 40) -> SqlChangeLogSource:
    return SqlChangeLogSource(url, page_size=page_size, column_map=COLUMN_MAP, name="corebank")


def _customer_url(settings: Settings, tmp_path: Path) -> str:
    """The customer DB: its own SQLite file, or a schema-free second use of the PG test db."""
    url = settings.store_url.get_secret_value()
    return f"sqlite:///{tmp_path / 'customer.db'}" if url.startswith("sqlite") else url


def _stored_keys(store: Store) -> list[str]:
    return store.events.scan().select("_location").collect().get_column("_location").to_list()


def test_incremental_sql_load_reads_every_event_exactly_once(
    settings: Settings, tmp_path: Path
) -> None:
    customer = CustomerDb.create(_customer_url(settings, tmp_path))
    customer.insert_events(100)
    store = Store.open(settings, migrate=True)

    first = ingest(
        _source(customer.engine.url.render_as_string(False)), settings, store=store, clock=_clock
    )
    assert (first.ingested, first.accepted, first.quarantined) == (100, 100, 0)
    assert len(first.batches) == 3  # pages of 40

    customer.insert_events(30)
    second = ingest(
        _source(customer.engine.url.render_as_string(False)), settings, store=store, clock=_clock
    )
    assert second.accepted == 30
    keys = _stored_keys(store)
    assert len(keys) == len(set(keys)) == 130

    again = ingest(
        _source(customer.engine.url.render_as_string(False)), settings, store=store, clock=_clock
    )
    assert again.batches == []  # nothing re-read
    assert json.loads(store.events.watermark("corebank").value)["change_id"] == 130  # type: ignore[union-attr]
    store.close()


def test_updates_and_deletes_become_findings_and_stored_copy_is_kept(
    settings: Settings, tmp_path: Path
) -> None:
    customer = CustomerDb.create(_customer_url(settings, tmp_path))
    keys = customer.insert_events(10)
    url = customer.engine.url.render_as_string(False)
    store = Store.open(settings, migrate=True)
    ingest(_source(url), settings, store=store, clock=_clock)
    before = store.events.scan().sort("event_id").collect()

    customer.update_events(keys[:1], {"action": "view"})
    customer.delete_events(keys[1:3])
    late = customer.insert_events(1)
    customer.delete_events(late)  # deleted before auditlens ever read it
    report = ingest(_source(url), settings, store=store, clock=_clock)

    # 5 changes: update, 2 deletes, and for the late row its insert (row gone) and delete
    assert report.findings == 5 and report.accepted == 0
    assert store.events.scan().sort("event_id").collect().equals(before)  # nothing applied
    findings = store.events.findings()
    kinds = sorted(findings.get_column("kind").to_list())
    assert kinds == [
        "changed_before_ingestion",
        "delete_of_ingested_event",
        "delete_of_ingested_event",
        "deleted_before_ingestion",
        "update_of_ingested_event",
    ]
    updated = findings.filter(pl.col("kind") == "update_of_ingested_event").row(0, named=True)
    assert (
        json.loads(updated["stored_copy"])["action_type"]
        == before.filter(pl.col("event_id") == updated["event_id"]).get_column("action_type").item()
    )
    assert json.loads(updated["current_row"])["action"] == "view"
    store.close()


def test_crash_between_part_write_and_commit_loses_and_doubles_nothing(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = CustomerDb.create(_customer_url(settings, tmp_path))
    customer.insert_events(100)
    url = customer.engine.url.render_as_string(False)
    store = Store.open(settings, migrate=True)
    calls = {"n": 0}
    original = events_module._set_watermark

    def crash_on_second(*args: object, **kw: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("power cut")
        original(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(events_module, "_set_watermark", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        ingest(_source(url), settings, store=store, clock=_clock)
    assert store.events.counts()["accepted"] == 40  # first page committed, second rolled back
    monkeypatch.setattr(events_module, "_set_watermark", original)

    ingest(_source(url), settings, store=store, clock=_clock)
    keys = _stored_keys(store)
    assert len(keys) == len(set(keys)) == 100
    store.close()


CHILD = textwrap.dedent(
    """
    import sys, time
    from auditlens.config import Settings
    from auditlens.pipeline import ingest
    from auditlens.sources.sql import SqlChangeLogSource
    from auditlens.store import lake
    from tests.sources.customer_db import COLUMN_MAP

    original = lake.EventLake.write_part
    def slow_write(self, events, *args):
        name = original(self, events, *args)
        print("part written", flush=True)
        time.sleep(0.5)  # the parent kills us here: part on disk, batch not committed
        return name
    lake.EventLake.write_part = slow_write
    store_url, data_dir, customer_url = sys.argv[1:4]
    settings = Settings(store_url=store_url, data_dir=data_dir)
    source = SqlChangeLogSource(customer_url, page_size=50, column_map=COLUMN_MAP,
                                name="corebank")
    ingest(source, settings)
    print("finished", flush=True)
    """
)


def test_killed_load_resumes_with_every_event_exactly_once(
    settings: Settings, tmp_path: Path
) -> None:
    customer = CustomerDb.create(_customer_url(settings, tmp_path))
    customer.insert_events(300)
    url = customer.engine.url.render_as_string(False)
    Store.open(settings, migrate=True).close()
    root = Path(__file__).resolve().parents[1]
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            settings.store_url.get_secret_value(),
            str(settings.data_dir),
            url,
        ],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    seen = 0
    for line in child.stdout:
        seen += line.startswith("part written")
        if seen == 3:
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL

    store = Store.open(settings)
    assert store.events.counts()["accepted"] == 100  # two pages committed, the third was not
    assert len(list(store.lake.root.glob("part-*.parquet"))) == 3  # one orphan on disk
    report = ingest(_source(url, page_size=50), settings, store=store, clock=_clock)
    assert report.removed_orphans and report.accepted == 200
    keys = _stored_keys(store)
    assert len(keys) == len(set(keys)) == 300
    assert len(list(store.lake.root.glob("part-*.parquet"))) == 6
    store.close()


def test_an_entirely_invalid_batch_fails_clearly_and_stores_nothing(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    from auditlens.sources.files import FileSource

    bad = tmp_path / "export.csv"
    bad.write_text(
        "event_id,user_id,timestamp,action_type\n1,kim,yesterday,login\n2,,today,login\n",
        encoding="utf-8",
    )
    store = Store.open(sqlite_settings, migrate=True)
    with pytest.raises(ValidationFailed, match=r"all 2 rows are invalid.*export.csv:2: timestamp"):
        ingest(FileSource(bad), sqlite_settings, store=store, clock=_clock)
    assert (
        store.events.counts()["batches"] == 0
        and store.events.watermark(FileSource(bad).name) is None
    )
    store.close()


def test_deleted_row_with_its_own_event_id_is_matched_by_location(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    customer = CustomerDb.create(f"sqlite:///{tmp_path / 'c.db'}", with_event_uid=True)
    keys = customer.insert_events(5)
    url = customer.engine.url.render_as_string(False)
    mapping = {**COLUMN_MAP, "event_uid": "event_id"}
    store = Store.open(sqlite_settings, migrate=True)
    source = SqlChangeLogSource(url, column_map=mapping, name="c")
    ingest(source, sqlite_settings, store=store, clock=_clock)
    customer.delete_events(keys[:1])
    ingest(source, sqlite_settings, store=store, clock=_clock)
    finding = store.events.findings().row(0, named=True)
    assert finding["kind"] == "delete_of_ingested_event"
    assert finding["event_id"] == f"EV-{keys[0]}"
    assert json.loads(finding["stored_copy"])["event_id"] == f"EV-{keys[0]}"
    store.close()


def test_odd_times_are_quarantined_with_reasons_and_the_batch_commits(
    settings: Settings, tmp_path: Path
) -> None:
    """Year 0001 crashed commit_batch ("year 0 is out of range"); DST gaps read as
    "unreadable"; a fall-back hour was silently EDT. On SQLite and PostgreSQL."""
    export = tmp_path / "export.csv"
    export.write_text(
        "event_id,user_id,timestamp,action_type,resource_id\n"
        "1,kim,0001-01-01T00:00:00,view,db/a\n"
        "2,kim,2026-03-08T02:30:00,view,db/a\n"
        "3,kim,2026-11-01T01:30:00,view,db/a\n"
        "4,kim,2026-11-01T03:30:00,view,db/a\n",
        encoding="utf-8",
    )
    ny = settings.model_copy(update={"timezone": "America/New_York"})
    store = Store.open(ny, migrate=True)
    report = ingest(FileSource(export), ny, store=store, clock=_clock)
    assert (report.accepted, report.quarantined) == (1, 3)
    reasons = dict(
        zip(*store.events.quarantined().select("location", "reason").get_columns(), strict=True)
    )
    assert reasons[f"{export}:2"].startswith("timestamp: is before 1970-01-01")
    assert "does not exist in America/New_York (DST gap" in reasons[f"{export}:3"]
    assert "is ambiguous in America/New_York (DST fall-back" in reasons[f"{export}:4"]
    store.close()
    # the rule for the repeated hour is explicit configuration
    latest = ny.model_copy(update={"ambiguous_times": "latest"})
    again = tmp_path / "again.csv"
    again.write_text(
        "event_id,user_id,timestamp,action_type,resource_id\n9,kim,2026-11-01T01:30:00,view,db/a\n",
        encoding="utf-8",
    )
    store = Store.open(latest)
    source = make_source("again", FileSourceConfig(path=str(again)), latest)
    assert ingest(source, latest, store=store, clock=_clock).accepted == 1
    stored = store.events.scan().filter(pl.col("event_id") == "9").collect()
    assert stored["timestamp"][0] == dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC)
    store.close()


def test_source_settings_and_command_line_options_make_one_source(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    """The per-source value map, date order and unknown-action policy, overridden by
    command-line options, reach validation through one function."""
    export = tmp_path / "bank.csv"
    export.write_text(
        "id,emp,at,act,obj\n"
        "1,kim,01/09/2026 09:00:00,열람,db/a\n"
        "2,kim,01/09/2026 09:05:00,결재,db/a\n",
        encoding="utf-8",
    )
    config = FileSourceConfig(
        path=str(export),
        column_map={"id": "event_id", "emp": "user_id", "at": "timestamp", "act": "action_type",
                    "obj": "resource_id"},
        value_map={"action_type": {"열람": "view"}},
        date_order="DMY",
    )  # fmt: skip
    settings = sqlite_settings.model_copy(update={"sources": {"bank": config}})
    source = input_source(settings, InputOptions(source="bank"))
    assert source.name == "bank"
    assert source.rules.date_order == "DMY" and source.rules.unknown_actions == "quarantine"
    store = Store.open(settings, migrate=True)
    report = ingest(source, settings, store=store, clock=_clock)
    assert (report.accepted, report.quarantined) == (1, 1)
    assert report.unknown_actions == {"결재": 1}
    stored = store.events.scan().collect()
    assert stored["timestamp"][0] == dt.datetime(2026, 9, 1, 0, tzinfo=dt.UTC)  # 09:00 Seoul
    store.close()
    value_map = tmp_path / "more.csv"
    value_map.write_text("column,value,canonical\naction_type,결재,other\n", encoding="utf-8")
    options = InputOptions(
        path=export, source="bank", value_map=value_map, date_order="MDY", encoding="cp949"
    )
    override = input_source(settings, options)
    assert override.name != "bank"  # another path: not the source's own watermark
    assert isinstance(override, FileSource) and override.encoding == "cp949"
    assert override.rules.date_order == "MDY"
    assert override.rules.value_map["action_type"] == {"결재": "other"}
    sql = SqlSourceConfig(
        url="sqlite:///customer.db",  # type: ignore[arg-type]
        value_map={"action_type": {"열람": "view"}},
        unknown_actions="keep",
    )
    with_sql = settings.model_copy(update={"sources": {"bank": config, "core": sql}})
    core = input_source(with_sql, InputOptions(source="core", date_order="DMY"))
    assert isinstance(core, SqlChangeLogSource)
    assert core.rules.value_map == {"action_type": {"열람": "view"}}
    assert (core.rules.unknown_actions, core.rules.date_order) == ("keep", "DMY")
    with pytest.raises(ConfigError, match="is a SQL source: a path, --format or --encoding"):
        input_source(with_sql, InputOptions(source="core", encoding="cp949"))
    with pytest.raises(ConfigError, match=r"--source 'nope' is not a configured source \(bank\)"):
        input_source(settings, InputOptions(source="nope"))
    with pytest.raises(ConfigError, match="need a PATH or --source NAME"):
        sources_to_ingest(settings, InputOptions(column_map=("a=user_id",)))
