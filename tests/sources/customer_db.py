"""A customer database for tests and benchmarks: an events table plus its change log.

Writes go through ``CustomerDb`` so that every insert, update and delete of an event also
writes its change-log row in the same transaction, as a customer's trigger would. Bulk
inserts use COPY on PostgreSQL and an executemany Core insert elsewhere.

Example::

    db = CustomerDb.create("sqlite:///customer.db")
    keys = db.insert_events(1000)            # change_ids 1..1000
    db.update_events(keys[:2], {"action": "delete"})
    db.delete_events(keys[2:3])
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection

TimeKind = Literal["naive", "aware", "text"]

#: Customer-side names mapped to auditlens' canonical names.
COLUMN_MAP: dict[str, str] = {
    "emp_no": "user_id",
    "event_time": "timestamp",
    "action": "action_type",
    "resource": "resource_id",
    "host": "host",
    "ip": "src_ip",
    "ok": "success",
    "dept": "department",
    "role": "role",
}

START = dt.datetime(2025, 1, 6, 9, 0, 0)  # a Monday, 09:00 (naive = customer's zone)
ACTIONS = ("login", "view", "edit", "download", "view", "export", "print", "logout")
DEPTS = ("finance", "hr", "sales", "it", "legal")
ROLES = ("staff", "manager", "admin")
#: Bulk inserts of at least this many rows refresh PostgreSQL's statistics.
ANALYZE_AFTER = 10_000
_KST = dt.timezone(dt.timedelta(hours=9))
#: (emp_no, host, ip, dept, role) of the 500 synthetic employees.
_USERS = [
    (f"E{u:05d}", f"pc-{u:05d}", f"10.0.{u // 256}.{u % 256}", DEPTS[u % 5], ROLES[u % 3])
    for u in range(500)
]
_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only


@dataclass
class CustomerDb:
    """Handle on a customer database created by ``CustomerDb.create``."""

    engine: Engine
    events: Table
    change_log: Table
    time_kind: TimeKind = "naive"

    @classmethod
    def create(
        cls,
        url_or_engine: str | Engine,
        *,
        events_table: str = "access_events",
        key_column: str = "id",
        change_log_table: str = "db_change_log",
        time_kind: TimeKind = "naive",
        with_event_uid: bool = False,
    ) -> CustomerDb:
        """Create the two tables (if missing) and return a handle.

        ``time_kind`` picks the type of ``event_time``: naive timestamp, timestamp with
        time zone, or ISO text with a ``+09:00`` offset. ``with_event_uid`` adds the
        customer's own ``event_uid`` column (values ``EV-<key>``).
        """
        engine = create_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        metadata = MetaData()
        time_type: Any = {
            "naive": DateTime(),
            "aware": DateTime(timezone=True),
            "text": String(40),
        }[time_kind]
        columns: list[Column[Any]] = [
            Column(key_column, _ID, primary_key=True, autoincrement=False),
            Column("emp_no", String(16)),
            Column("event_time", time_type),
            Column("action", String(32)),
            Column("resource", String(200)),
            Column("host", String(64)),
            Column("ip", String(45)),
            Column("ok", Boolean()),
            Column("dept", String(32)),
            Column("role", String(32)),
        ]
        if with_event_uid:
            columns.append(Column("event_uid", String(40)))
        events = Table(events_table, metadata, *columns)
        change_log = Table(
            change_log_table,
            metadata,
            Column("change_id", _ID, primary_key=True, autoincrement=True),
            Column("table_name", String(128), nullable=False),
            Column("row_key", Text(), nullable=False),
            Column("op", String(16), nullable=False),
            Column("changed_at", DateTime(), nullable=False),
        )
        metadata.create_all(engine)
        return cls(engine, events, change_log, time_kind)

    @property
    def key(self) -> str:
        """Name of the events table's key column."""
        return str(next(iter(self.events.primary_key.columns)).name)

    # --- writes (each in one transaction with its change-log rows) ---------------------

    def insert_events(
        self, n: int, *, changed_at: dt.datetime | None = None, first_key: int | None = None
    ) -> list[int]:
        """Insert ``n`` synthetic events and their change-log rows; return their keys."""
        with self.engine.begin() as conn:
            start = first_key if first_key is not None else self._next_key(conn)
            keys = range(start, start + n)
            self._insert_rows(conn, (self.make_row(k) for k in keys), n)
            self._log(conn, [str(k) for k in keys], "insert", changed_at)
        if n >= ANALYZE_AFTER:
            self.analyze()
        return list(keys)

    def insert_events_on(self, conn: Connection, keys: Sequence[int]) -> None:
        """Insert events with these keys and their change-log rows on ``conn`` without
        committing (the caller commits: a long-open writing transaction)."""
        self._insert_rows(conn, (self.make_row(k) for k in keys), len(keys))
        self._log(conn, [str(k) for k in keys], "insert", None)

    def insert_rows(
        self, rows: Sequence[Mapping[str, Any]], *, changed_at: dt.datetime | None = None
    ) -> list[int]:
        """Insert given rows (missing columns from ``make_row``) with change-log rows."""
        with self.engine.begin() as conn:
            start = self._next_key(conn)
            full = [
                {**self.make_row(start + i), **row, self.key: row.get(self.key, start + i)}
                for i, row in enumerate(rows)
            ]
            conn.execute(insert(self.events), full)
            self._log(conn, [str(r[self.key]) for r in full], "insert", changed_at)
        return [int(r[self.key]) for r in full]

    def update_events(
        self,
        keys: Sequence[int],
        values: Mapping[str, Any],
        *,
        changed_at: dt.datetime | None = None,
    ) -> None:
        """Update rows by key and log an ``update`` for each."""
        key = self.events.c[self.key]
        with self.engine.begin() as conn:
            conn.execute(update(self.events).where(key.in_(list(keys))).values(dict(values)))
            self._log(conn, [str(k) for k in keys], "update", changed_at)

    def delete_events(self, keys: Sequence[int], *, changed_at: dt.datetime | None = None) -> None:
        """Delete rows by key and log a ``delete`` for each."""
        key = self.events.c[self.key]
        with self.engine.begin() as conn:
            conn.execute(delete(self.events).where(key.in_(list(keys))))
            self._log(conn, [str(k) for k in keys], "delete", changed_at)

    def log_changes(
        self,
        table_name: str,
        row_keys: Sequence[str],
        op: str,
        *,
        changed_at: dt.datetime | None = None,
    ) -> None:
        """Write change-log rows only (other tables, odd ops, lost rows)."""
        with self.engine.begin() as conn:
            self._log(conn, list(row_keys), op, changed_at, table_name=table_name)

    def analyze(self) -> None:
        """Refresh PostgreSQL's planner statistics, as autovacuum would after a bulk load.

        Without them the planner may sort the whole change log for every page.
        """
        if self.engine.dialect.name != "postgresql":
            return
        quote = self.engine.dialect.identifier_preparer.format_table
        with self.engine.begin() as conn:
            for table in (self.events, self.change_log):
                conn.execute(text(f"ANALYZE {quote(table)}"))

    def last_change_id(self) -> int:
        """The highest change_id so far (0 when the log is empty)."""
        with self.engine.connect() as conn:
            value = conn.execute(select(func.max(self.change_log.c.change_id))).scalar()
        return int(value or 0)

    def make_row(self, key: int) -> dict[str, Any]:
        """The deterministic synthetic event with this key."""
        emp_no, host, ip, dept, role = _USERS[(key * 7919) % len(_USERS)]
        when = START + dt.timedelta(seconds=20 * key)
        event_time: Any = when
        if self.time_kind == "aware":
            event_time = when.replace(tzinfo=_KST)
        elif self.time_kind == "text":
            event_time = when.isoformat() + "+09:00"
        row = {
            self.key: key,
            "emp_no": emp_no,
            "event_time": event_time,
            "action": ACTIONS[key % len(ACTIONS)],
            "resource": f"doc/{key % 5000}",
            "host": host,
            "ip": ip,
            "ok": key % 50 != 0,
            "dept": dept,
            "role": role,
        }
        if "event_uid" in self.events.c:
            row["event_uid"] = f"EV-{key}"
        return row

    # --- internals -----------------------------------------------------------------------

    def _next_key(self, conn: Connection) -> int:
        return int(conn.execute(select(func.max(self.events.c[self.key]))).scalar() or 0) + 1

    def _log(
        self,
        conn: Connection,
        row_keys: list[str],
        op: str,
        changed_at: dt.datetime | None,
        *,
        table_name: str | None = None,
    ) -> None:
        at = changed_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
        name = table_name or self.events.name
        rows = ({"table_name": name, "row_key": k, "op": op, "changed_at": at} for k in row_keys)
        self._insert_rows(conn, rows, len(row_keys), table=self.change_log)

    def _insert_rows(
        self,
        conn: Connection,
        rows: Iterator[dict[str, Any]],
        n: int,
        *,
        table: Table | None = None,
        chunk: int = 50_000,
    ) -> None:
        table = self.events if table is None else table
        if n == 0:
            return
        if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
            _copy(conn, table, rows)
            return
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= chunk:
                conn.execute(insert(table), batch)
                batch = []
        if batch:
            conn.execute(insert(table), batch)


def _copy(conn: Connection, table: Table, rows: Iterator[dict[str, Any]]) -> None:
    """COPY rows into a PostgreSQL table through the connection's psycopg cursor."""
    from psycopg import sql

    first = next(rows, None)
    if first is None:
        return
    names = list(first)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c in names)
    )
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write_row([first[c] for c in names])
        for row in rows:
            copy.write_row([row[c] for c in names])
