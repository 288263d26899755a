"""Late commits on the change log: a lower change_id committed after higher ones were read."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import create_engine, insert

from auditlens.config import Settings
from auditlens.pipeline import ingest
from auditlens.sources.sql import SqlChangeLogSource
from auditlens.store.repo import Store
from tests.sources.customer_db import COLUMN_MAP, CustomerDb

# a gap on PostgreSQL lives while any older transaction of the cluster is open: another
# worker's open transaction keeps it (correctly), so these run alone
pytestmark = pytest.mark.serial


def _keys(store: Store) -> list[int]:
    locations = store.events.scan().select("_location").collect().get_column("_location")
    return sorted(int(loc.rsplit("=", 1)[1]) for loc in locations.to_list())


def _gaps(store: Store) -> list[list[float]]:
    mark = store.events.watermark("corebank")
    assert mark is not None
    return list(json.loads(mark.value).get("gaps", []))


@pytest.mark.postgres
def test_long_open_transaction_is_ingested_exactly_once_when_it_commits(
    pg_url: str, tmp_path: Path
) -> None:
    customer = CustomerDb.create(pg_url)
    customer.insert_events(3)  # change ids 1..3
    settings = Settings(store_url=pg_url, data_dir=tmp_path / "var")  # type: ignore[arg-type]
    store = Store.open(settings, migrate=True)
    source = SqlChangeLogSource(pg_url, column_map=COLUMN_MAP, name="corebank")
    assert ingest(source, settings, store=store).accepted == 3

    writer = create_engine(pg_url)
    with writer.connect() as open_conn:
        slow = open_conn.begin()
        customer.insert_events_on(open_conn, [100])  # takes change id 4, stays open
        customer.insert_events(1, first_key=200)  # change id 5, committed at once
        first = ingest(source, settings, store=store)
        assert first.accepted == 1 and _keys(store) == [1, 2, 3, 200]
        assert [g[:2] for g in _gaps(store)] == [[4, 4]]  # remembered, not skipped
        while_open = ingest(source, settings, store=store)
        assert while_open.accepted == 0 and [g[:2] for g in _gaps(store)] == [[4, 4]]
        slow.commit()
    late = ingest(source, settings, store=store)
    assert late.accepted == 1 and "committed late" in late.batches[0].label
    assert _keys(store) == [1, 2, 3, 100, 200]  # the late row, exactly once
    assert ingest(source, settings, store=store).batches == []
    assert _gaps(store) == []

    # a transaction that rolls back: its gap is forgotten once it has ended
    with writer.connect() as open_conn:
        doomed = open_conn.begin()
        customer.insert_events_on(open_conn, [300])  # change id 6
        customer.insert_events(1, first_key=400)  # change id 7
        ingest(source, settings, store=store)
        assert [g[:2] for g in _gaps(store)] == [[6, 6]]
        doomed.rollback()
    customer.insert_events(1, first_key=500)  # change id 8: gives the next read a page
    ingest(source, settings, store=store)
    assert _gaps(store) == []
    assert _keys(store) == [1, 2, 3, 100, 200, 400, 500]
    writer.dispose()
    store.close()


def test_gap_filled_later_is_read_once_and_expires_after_the_wait(
    settings: Settings, tmp_path: Path
) -> None:
    """Any database: a change id that shows up below the watermark is still read."""
    url = settings.store_url.get_secret_value()
    customer_url = f"sqlite:///{tmp_path / 'customer.db'}" if url.startswith("sqlite") else url
    customer = CustomerDb.create(customer_url)
    customer.insert_events(3)
    t0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    now = {"t": t0}

    def log(change_id: int, key: int) -> None:
        with customer.engine.begin() as conn:
            conn.execute(insert(customer.events), [customer.make_row(key)])
            conn.execute(
                insert(customer.change_log).values(
                    change_id=change_id,
                    table_name="access_events",
                    row_key=str(key),
                    op="insert",
                    changed_at=t0.replace(tzinfo=None),
                )
            )

    store = Store.open(settings, migrate=True)
    source = SqlChangeLogSource(
        customer_url, column_map=COLUMN_MAP, name="corebank", clock=lambda: now["t"]
    )
    log(5, 10)  # id 4 is not there (yet)
    assert ingest(source, settings, store=store).accepted == 4
    assert [g[:2] for g in _gaps(store)] == [[4, 4]]
    log(4, 11)  # committed late
    assert ingest(source, settings, store=store).accepted == 1
    assert ingest(source, settings, store=store).batches == []
    assert _keys(store) == [1, 2, 3, 10, 11] and _gaps(store) == []

    log(8, 12)  # ids 6..7 never come (rolled back)
    ingest(source, settings, store=store)
    assert [g[:2] for g in _gaps(store)] == [[6, 7]]
    now["t"] = t0 + dt.timedelta(seconds=source.gap_wait_seconds + 1)
    log(9, 13)
    ingest(source, settings, store=store)
    # forgotten: on PostgreSQL no transaction could still fill it, elsewhere the wait is over
    assert _gaps(store) == []
    events = store.events.scan().collect()
    assert events.height == pl.Series(events.get_column("_location")).n_unique() == 7
    store.close()
