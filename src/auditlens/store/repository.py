"""The base of the store's typed repositories: bound to an engine or to a transaction.

A repository bound to an engine opens a connection (reads) or a transaction (writes) per
call. Bound to the caller's ``Connection`` (:meth:`Repository.within`) every call joins
that transaction, so a state change and its audit entry commit together or not at all.

Example::

    with store.engine.begin() as conn:
        alert = store.alerts.within(conn).get_alert(7)
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any, Self

import polars as pl
from sqlalchemy import Connection, CursorResult, Engine, text

from auditlens.errors import AuditlensError, StoreError


class AlertNotFound(AuditlensError):
    """No alert (or delivery) with the given id."""

    hint = "list them with `auditlens alerts list`"
    ko_hint = "`auditlens alerts list`로 경보 목록을 확인하십시오"


def hold_write_lock(conn: Connection) -> None:
    """On SQLite, take the database's write lock now, in ``conn``'s transaction.

    Python's sqlite3 begins a transaction only at the first write, so a read-then-write
    (the trail's last entry, an alert's status) would read outside it and two writers
    could both act on the same state. A statement that changes no row still takes the
    lock, waiting up to the busy timeout like any write. PostgreSQL callers lock what
    they read instead (advisory lock, ``FOR UPDATE``); there this does nothing.
    """
    if conn.dialect.name == "sqlite":
        conn.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0"))


class Repository:
    """Typed reads and writes of one aggregate of the store."""

    def __init__(self, bind: Engine | Connection) -> None:
        self.bind = bind

    def within(self, conn: Connection) -> Self:
        """The same repository inside the caller's transaction ``conn``."""
        return type(self)(conn)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A connection to read with: the bound one, or a new one from the engine."""
        if isinstance(self.bind, Connection):
            yield self.bind
        else:
            with self.bind.connect() as conn:
                yield conn

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A transaction to write in: the caller's, or a new one committed on success."""
        if isinstance(self.bind, Connection):
            yield self.bind
        else:
            with self.bind.begin() as conn:
                yield conn

    def query_frame(self, query: Any) -> pl.DataFrame:
        """Run a SELECT and return its rows as a polars frame."""
        with self._reading() as conn:
            return read_frame(conn, query)


def read_frame(conn: Connection, query: Any) -> pl.DataFrame:
    """The rows of a SELECT as a polars frame (column types inferred from every row)."""
    result = conn.execute(query)
    names = list(result.keys())
    rows = [tuple(r) for r in result]
    return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)


def utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC; naive values (SQLite returns them) are taken as UTC."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def new_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT just added."""
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every supported backend returns it
        raise StoreError(
            "the database did not return the new row's id",
            ko="데이터베이스가 새 행의 ID를 돌려주지 않았습니다",
        )
    return int(key[0])
