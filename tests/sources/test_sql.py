"""SqlChangeLogSource on SQLite and the real PostgreSQL (``db_url`` runs each test on both)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, create_engine, event, inspect, text

from auditlens.errors import SourceError
from auditlens.schema import EVENT_ID, LOCATION
from auditlens.sources import sql as sql_source
from auditlens.sources.base import Batch, Watermark
from auditlens.sources.sql import CHANGE_COLUMNS, CHANGE_ID, CHANGE_SCHEMA, SqlChangeLogSource
from tests.sources.customer_db import COLUMN_MAP, CustomerDb

T0 = dt.datetime(2026, 3, 2, 1, 0, 0)  # naive UTC, as the change log stores it


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = create_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def db(engine: Engine) -> CustomerDb:
    return CustomerDb.create(engine)


def source(db: CustomerDb, **kwargs: Any) -> SqlChangeLogSource:
    kwargs.setdefault("column_map", COLUMN_MAP)
    return SqlChangeLogSource(str(db.engine.url), engine=db.engine, **kwargs)


def read_all(src: SqlChangeLogSource, since: Watermark | None = None) -> list[Batch]:
    return list(src.read(since))


def change_id(batch: Batch) -> int:
    return int(json.loads(batch.watermark.value)["change_id"])


def events_of(batches: list[Batch]) -> pl.DataFrame:
    return pl.concat([b.events for b in batches], how="diagonal_relaxed")


def test_first_read_pages_all_inserts_with_watermarks(db: CustomerDb) -> None:
    keys = db.insert_events(25)

    batches = read_all(source(db, page_size=10))

    assert [b.events.height for b in batches] == [10, 10, 5]
    assert [change_id(b) for b in batches] == [10, 20, 25]
    assert [b.label for b in batches] == [
        "access_events changes 1..10",
        "access_events changes 11..20",
        "access_events changes 21..25",
    ]
    assert all(b.changes is None for b in batches)
    events = events_of(batches)
    assert events.get_column("id").to_list() == keys
    assert events.get_column(CHANGE_ID).dtype == pl.Int64
    assert events.get_column(CHANGE_ID).to_list() == list(range(1, 26))
    first = events.row(0, named=True)
    assert first[LOCATION] == "access_events#id=1"
    assert first[EVENT_ID] == "access_events:1"
    assert first["user_id"] == db.make_row(1)["emp_no"]
    assert first["timestamp"] == db.make_row(1)["event_time"]  # raw: validate coerces
    assert first["success"] is True
    assert set(COLUMN_MAP.values()) <= set(events.columns)


def test_read_from_watermark_returns_only_newer_changes(db: CustomerDb) -> None:
    db.insert_events(12)
    src = source(db, page_size=5)
    mark = read_all(src)[-1].watermark

    new_keys = db.insert_events(7)
    batches = read_all(src, mark)

    assert events_of(batches).get_column("id").to_list() == new_keys
    assert change_id(batches[-1]) == 19
    assert read_all(src, batches[-1].watermark) == []


def test_empty_change_log_yields_nothing(db: CustomerDb) -> None:
    assert read_all(source(db)) == []


def test_other_tables_are_skipped_but_the_watermark_passes_them(db: CustomerDb) -> None:
    db.insert_events(3)  # change_ids 1..3
    db.log_changes("payroll", ["1", "2", "3", "4"], "insert")  # 4..7
    db.insert_events(2)  # 8..9
    db.log_changes("payroll", ["5"], "delete")  # 10

    batches = read_all(source(db, page_size=4))

    assert [change_id(b) for b in batches] == [4, 8, 10]
    assert [b.events.height for b in batches] == [3, 1, 1]
    assert all(b.changes is None for b in batches)
    assert events_of(batches).get_column("id").to_list() == [1, 2, 3, 4, 5]


def test_updates_and_deletes_are_changes_not_events(db: CustomerDb) -> None:
    db.insert_events(5)
    mark = read_all(source(db))[-1].watermark
    db.update_events([2, 4], {"action": "print"}, changed_at=T0)
    db.delete_events([3], changed_at=T0 + dt.timedelta(seconds=1))

    (batch,) = read_all(source(db), mark)

    assert batch.events.height == 0
    assert change_id(batch) == 8
    assert batch.changes is not None
    changes = batch.changes
    assert changes.columns == list(CHANGE_COLUMNS)
    assert changes.schema == pl.Schema(CHANGE_SCHEMA)
    assert changes.select("change_id", "row_key", "op", EVENT_ID, LOCATION).rows() == [
        (6, "2", "update", "access_events:2", "access_events#id=2"),
        (7, "4", "update", "access_events:4", "access_events#id=4"),
        (8, "3", "delete", "access_events:3", "access_events#id=3"),
    ]
    assert changes.get_column("changed_at").to_list() == [
        T0.replace(tzinfo=dt.UTC),
        T0.replace(tzinfo=dt.UTC),
        T0.replace(tzinfo=dt.UTC) + dt.timedelta(seconds=1),
    ]
    now = json.loads(changes.get_column("current_row")[0])  # the customer's own names
    assert now == {**db.make_row(2), "action": "print", "event_time": now["event_time"]}
    assert now["event_time"].startswith(db.make_row(2)["event_time"].isoformat()[:19])
    assert changes.get_column("current_row")[2] is None


def test_insert_deleted_before_read_is_reported_as_insert_missing(db: CustomerDb) -> None:
    db.insert_events(4)
    db.delete_events([2])

    (batch,) = read_all(source(db))

    assert batch.events.get_column("id").to_list() == [1, 3, 4]
    assert batch.changes is not None
    assert batch.changes.select("change_id", "row_key", "op", "current_row").rows() == [
        (2, "2", "insert_missing", None),
        (5, "2", "delete", None),
    ]


def test_keys_that_match_no_row_are_never_dropped(db: CustomerDb) -> None:
    db.log_changes("access_events", ["not-a-number", "999"], "insert")
    db.log_changes("access_events", ["1"], "truncate")

    (batch,) = read_all(source(db))

    assert batch.events.height == 0
    assert batch.changes is not None
    assert batch.changes.select("row_key", "op").rows() == [
        ("not-a-number", "insert_missing"),
        ("999", "insert_missing"),
        ("1", "truncate"),
    ]


def test_column_map_with_the_customers_own_event_id(engine: Engine) -> None:
    db = CustomerDb.create(engine, with_event_uid=True, time_kind="text")
    db.insert_events(3)
    db.delete_events([1])
    db.update_events([2], {"ok": False})
    src = source(db, column_map={**COLUMN_MAP, "event_uid": EVENT_ID})

    (batch,) = read_all(src)

    assert batch.events.get_column(EVENT_ID).to_list() == ["EV-2", "EV-3"]
    assert batch.events.get_column("timestamp").to_list() == [
        db.make_row(2)["event_time"],
        db.make_row(3)["event_time"],
    ]
    assert "emp_no" not in batch.events.columns
    assert batch.changes is not None
    # a deleted row's own id is gone with it: match on _location instead
    assert batch.changes.select("op", EVENT_ID, LOCATION).rows() == [
        ("insert_missing", None, "access_events#id=1"),
        ("delete", None, "access_events#id=1"),
        ("update", "EV-2", "access_events#id=2"),
    ]


def test_keyset_pagination_and_key_chunks(db: CustomerDb, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sql_source, "KEY_CHUNK", 3)
    monkeypatch.setattr(sql_source, "PG_KEY_CHUNK", 3)
    db.insert_events(20)
    executed: list[tuple[str, Any]] = []
    event.listen(
        db.engine,
        "before_cursor_execute",
        lambda conn, cursor, stmt, params, ctx, many: executed.append((stmt, params)),
    )

    batches = read_all(source(db, page_size=7))

    assert [b.events.height for b in batches] == [7, 7, 6]
    assert events_of(batches).get_column("id").to_list() == list(range(1, 21))
    statements = [stmt for stmt, _ in executed]
    # SQLite's dialect always renders "LIMIT ? OFFSET ?": the offset must stay 0
    assert all(params[-1] == 0 for stmt, params in executed if "OFFSET" in stmt.upper())
    page_queries = [s for s in statements if "change_id >" in s]
    assert len(page_queries) == 2  # first page has no lower bound
    fetches = [s for s in statements if ("IN (" in s or "ANY (" in s) and "access_events" in s]
    assert len(fetches) == 3 + 3 + 2  # pages of 7, 7, 6 keys in chunks of 3
    assert not any("'" in s for s in page_queries + fetches)  # values are bound parameters


def test_settle_seconds_stops_before_recent_changes(db: CustomerDb) -> None:
    db.insert_events(3, changed_at=T0)
    db.insert_events(2, changed_at=T0 + dt.timedelta(seconds=50))
    db.insert_events(1, changed_at=T0)  # out of order: must not be read past the newer ones
    now = T0.replace(tzinfo=dt.UTC) + dt.timedelta(seconds=60)
    settled = source(db, settle_seconds=30, clock=lambda: now)

    batches = read_all(settled)

    assert [change_id(b) for b in batches] == [3]
    later = source(db, settle_seconds=30, clock=lambda: now + dt.timedelta(seconds=30))
    assert events_of(read_all(later, batches[-1].watermark)).get_column("id").to_list() == [
        4,
        5,
        6,
    ]


def test_naive_changed_at_in_the_configured_zone(db: CustomerDb) -> None:
    db.delete_events([7], changed_at=dt.datetime(2026, 3, 2, 10, 0, 0))

    (batch,) = read_all(source(db, timezone="Asia/Seoul"))

    assert batch.changes is not None
    assert batch.changes.get_column("changed_at")[0] == dt.datetime(2026, 3, 2, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"events_table": "no_such_events"}, "events table 'no_such_events' not found"),
        ({"change_log_table": "no_log"}, "change-log table 'no_log' not found"),
        ({"key_column": "event_no"}, "has no column(s) ['event_no']"),
        ({"column_map": {"login": "user_id"}}, "has no column(s) ['login']"),
        ({"column_map": {"emp_no": "host"}}, "name(s) ['host'] of 'access_events' are dup"),
        ({"column_map": {"ip": "_location"}}, "name(s) ['_location'] of 'access_events'"),
    ],
)
def test_bad_configuration_is_a_source_error(
    db: CustomerDb, kwargs: dict[str, Any], words: str
) -> None:
    with pytest.raises(SourceError, match=r"^.*$") as info:
        read_all(SqlChangeLogSource(str(db.engine.url), engine=db.engine, **kwargs))
    assert words in str(info.value)
    assert "\n" not in str(info.value)


def test_injection_shaped_names_are_quoted_not_executed(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE victim (x INTEGER)"))
        conn.execute(text("INSERT INTO victim VALUES (1)"))
    names = {
        "events_table": 'ev"; DROP TABLE victim; --',
        "key_column": "id' OR '1'='1",
        "change_log_table": "log); DELETE FROM victim; --",
    }
    db = CustomerDb.create(
        engine,
        events_table=names["events_table"],
        key_column=names["key_column"],
        change_log_table=names["change_log_table"],
    )
    db.insert_events(3)
    db.delete_events([2])

    batches = read_all(source(db, **names))
    with pytest.raises(SourceError, match="not found"):
        read_all(source(db, events_table="x; DROP TABLE victim"))

    assert batches[0].events.get_column(LOCATION).to_list() == [
        "ev\"; DROP TABLE victim; --#id' OR '1'='1=1",
        "ev\"; DROP TABLE victim; --#id' OR '1'='1=3",
    ]
    assert batches[0].changes is not None
    assert batches[0].changes.get_column("op").to_list() == ["insert_missing", "delete"]
    assert inspect(engine).has_table("victim")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM victim")).scalar() == 1


def test_unreachable_database_names_the_masked_url() -> None:
    src = SqlChangeLogSource("postgresql+psycopg://auditor:s3cret@127.0.0.1:1/customer")

    with pytest.raises(SourceError) as info:
        read_all(src)

    message = str(info.value)
    assert "postgresql+psycopg://auditor:***@127.0.0.1:1/customer" in message
    assert "s3cret" not in message
    assert "\n" not in message


def test_missing_sqlite_file_is_a_source_error(tmp_path: Any) -> None:
    src = SqlChangeLogSource(f"sqlite:///{tmp_path / 'nope.db'}")

    with pytest.raises(SourceError, match="does not exist"):
        read_all(src)
    assert not (tmp_path / "nope.db").exists()


def test_sqlite_values_its_column_types_cannot_parse_arrive_raw(tmp_path: Any) -> None:
    db = CustomerDb.create(f"sqlite:///{tmp_path / 'customer.db'}")
    db.insert_events(2)
    with db.engine.begin() as conn:  # SQLite stores whatever it is given
        conn.execute(text("UPDATE access_events SET event_time = 'yesterday-ish' WHERE id = 2"))
        conn.execute(text("UPDATE db_change_log SET changed_at = 'soon' WHERE change_id = 2"))

    (batch,) = read_all(source(db))

    assert batch.events.get_column("timestamp").to_list() == [
        "2025-01-06 09:00:20.000000",  # the chunk fell back to the raw text
        "yesterday-ish",
    ]
    assert batch.events.get_column(CHANGE_ID).to_list() == [1, 2]
    assert batch.changes is None
    db.engine.dispose()
