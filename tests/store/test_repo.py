from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect
from sqlalchemy.exc import IntegrityError

from auditlens.config import Settings
from auditlens.errors import StoreError
from auditlens.schema import EVENT_DTYPES, LOCATION, Watermark
from auditlens.store.db import lake_pending, metadata
from auditlens.store.events import BatchRecord
from auditlens.store.migrate import head_revision
from auditlens.store.repo import Store

T0 = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)


def _events(ids: list[str]) -> pl.DataFrame:
    return (
        pl.DataFrame(
            {
                "event_id": ids,
                "user_id": ["u"] * len(ids),
                "timestamp": [T0 + dt.timedelta(minutes=i) for i in range(len(ids))],
                "action_type": ["login"] * len(ids),
                LOCATION: [f"f.csv:{i + 2}" for i in range(len(ids))],
            }
        )
        .with_columns(
            [
                pl.lit(None, EVENT_DTYPES[c]).alias(c)
                for c in EVENT_DTYPES
                if c not in ("event_id", "user_id", "timestamp", "action_type")
            ]
        )
        .select([*EVENT_DTYPES, LOCATION])
        .cast(EVENT_DTYPES)
    )  # type: ignore[arg-type]


def _record(ids: list[str], mark: str, quarantined: int = 0) -> BatchRecord:
    q = pl.DataFrame(
        {
            LOCATION: [f"f.csv:{100 + i}" for i in range(quarantined)],
            "reason": ["user_id: is missing (required)"] * quarantined,
            "raw": ["{}"] * quarantined,
        },
        schema={LOCATION: pl.String, "reason": pl.String, "raw": pl.String},
    )
    from auditlens.tamper import FINDING_SCHEMA

    return BatchRecord(
        source="src",
        label="f.csv",
        started_at=T0,
        ingested=len(ids) + quarantined,
        events=_events(ids),
        quarantined=q,
        findings=pl.DataFrame(schema=FINDING_SCHEMA),
        watermark_before=None,
        watermark_after=Watermark(mark),
    )


@pytest.mark.postgres
def test_unmigrated_store_is_refused_with_advice(pg_url: str, tmp_path: Path) -> None:
    # a server database is migrated by its owner; only SQLite is created on opening
    # (tests/store/test_migrate.py)
    settings = Settings(store_url=pg_url, data_dir=tmp_path / "var")  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="auditlens db upgrade") as caught:
        Store.open(settings)
    assert "db roles" in caught.value.hint


def test_migration_matches_the_table_definitions(settings: Settings) -> None:
    store = Store.open(settings, migrate=True)
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        tables = set(inspect(conn).get_table_names())
    assert diff == []
    assert {"ingest_batches", "watermarks", "quarantine", "tamper_findings"} <= tables
    assert {"models", "score_runs", "scores"} <= tables
    assert {"alerts", "deliveries", "delivery_attempts", "audit_log"} <= tables
    assert {"label_candidates", "suppressions", "alert_evidence", "reidentifications"} <= tables
    Store.open(settings, migrate=True).close()  # idempotent
    assert head_revision() == "0015"
    store.close()


def test_commit_batch_is_all_or_nothing(settings: Settings) -> None:
    store = Store.open(settings, migrate=True)
    store.events.commit_batch(_record(["a", "b"], '{"n": 1}', quarantined=1), now=T0)
    assert store.events.watermark("src") == Watermark('{"n": 1}')
    assert store.events.counts() == {
        "batches": 1,
        "ingested": 3,
        "accepted": 2,
        "quarantined": 1,
        "tamper_findings": 0,
    }

    # a batch whose SQL part fails (quarantine row without a location violates NOT NULL)
    broken = _record(["c"], '{"n": 2}', quarantined=1)
    broken = BatchRecord(
        **{
            **broken.__dict__,
            "quarantined": broken.quarantined.with_columns(pl.lit(None, pl.String).alias("reason")),
        }
    )
    not_null = (  # the database's own words: SQLite, then PostgreSQL
        r"NOT NULL constraint failed: quarantine\.reason"
        r'|null value in column "reason" of relation "quarantine" violates not-null constraint'
    )
    with pytest.raises(IntegrityError, match=not_null):
        store.events.commit_batch(broken, now=T0)
    assert store.events.watermark("src") == Watermark('{"n": 1}')
    assert sorted(store.events.ids().to_list()) == ["a", "b"]
    assert len(list(store.lake.root.glob("part-*.parquet"))) == 1  # its part was discarded
    store.close()


def test_pending_parts_are_invisible_and_removed_but_strays_are_kept(settings: Settings) -> None:
    store = Store.open(settings, migrate=True)
    store.events.commit_batch(_record(["a"], '{"n": 1}'), now=T0)
    # a part recorded as pending and written, never committed (the process died)
    orphan = store.lake.new_part_name()
    with store.engine.begin() as conn:
        conn.execute(insert(lake_pending).values(part=orphan, source="src", created_at=T0))
    store.lake.write_part(_events(["ghost"]), orphan)
    # a file this store never recorded: not ours to delete
    stray = store.lake.write_part(_events(["stray"]))
    assert store.events.ids().to_list() == ["a"]
    assert store.events.remove_orphans() == [orphan]
    assert not (store.lake.root / orphan).exists()
    assert (store.lake.root / stray).exists()
    assert store.events.remove_orphans() == []  # the pending row went with the file
    store.close()
