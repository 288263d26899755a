# size: one Source whose connection, reflection, paging and key lookups share its settings.
"""Incremental reads of a customer's events table through its change-log table (CDC).

The customer database holds an events table (``access_events``, key column ``id``) and a
change log (``db_change_log``) with one row per change: ``change_id`` (monotonically
increasing integer), ``table_name``, ``row_key`` (text), ``op`` (insert/update/delete)
and ``changed_at``. ``SqlChangeLogSource`` reads the change log after the last consumed
``change_id`` in pages of ``page_size`` (keyset pagination), turns inserts into events and
reports updates and deletes as changes: an audit log must be append-only, so the store
keeps the copy it ingested and records each change as possible log tampering.

Late commits (a transaction that commits after higher change ids were read) are read
exactly once on PostgreSQL and within ``gap_wait_seconds`` elsewhere: see
:mod:`auditlens.sources.changelog`.

Example::

    >>> import sqlite3
    >>> with sqlite3.connect("customer.db") as db:  # a customer database with one insert
    ...     _ = db.executescript('''
    ...         CREATE TABLE access_events (id INTEGER PRIMARY KEY, timestamp TEXT,
    ...                                     user_id TEXT, action_type TEXT);
    ...         CREATE TABLE db_change_log (change_id INTEGER PRIMARY KEY, table_name TEXT,
    ...                                     row_key TEXT, op TEXT, changed_at TEXT);
    ...         INSERT INTO access_events VALUES (1, '2026-09-01 09:00:00', 'kim', 'login');
    ...         INSERT INTO db_change_log VALUES (1, 'access_events', '1', 'insert',
    ...                                           '2026-09-01 00:00:00');
    ...     ''')
    >>> source = SqlChangeLogSource("sqlite:///customer.db", page_size=10_000)
    >>> for batch in source.read(since=None):
    ...     print(batch.label, batch.events.height, batch.changes, batch.watermark.value)
    access_events changes 1..1 1 None {"change_id": 1}
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import polars as pl
from sqlalchemy import (
    BigInteger,
    MetaData,
    Select,
    Table,
    TableClause,
    any_,
    bindparam,
    column,
    create_engine,
    or_,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, NoSuchTableError, SQLAlchemyError

from auditlens.config import mask_url
from auditlens.errors import SourceError
from auditlens.schema import EVENT_ID, LOCATION
from auditlens.sources.base import Batch, Source, Watermark
from auditlens.sources.changelog import (
    GAP_WAIT_SECONDS,
    Gap,
    Position,
    new_gaps,
    parse_position,
    pg_snapshot,
    remaining_gaps,
)
from auditlens.vocabulary import ValueRules

#: Event column holding the change_id of the insert that produced the row (provenance only).
CHANGE_ID: Final = "_change_id"

#: Columns the change-log table must have.
CHANGE_LOG_COLUMNS: Final = ("change_id", "table_name", "row_key", "op", "changed_at")

OP_INSERT: Final = "insert"
OP_UPDATE: Final = "update"
OP_DELETE: Final = "delete"
#: An insert whose row was gone (deleted) before it could be read.
OP_INSERT_MISSING: Final = "insert_missing"

#: Schema of ``Batch.changes``: every change-log row that is not a readable insert.
CHANGE_SCHEMA: Final[dict[str, pl.DataType]] = {
    "change_id": pl.Int64(),
    "table_name": pl.String(),
    "row_key": pl.String(),
    "op": pl.String(),
    "changed_at": pl.Datetime("us", "UTC"),
    EVENT_ID: pl.String(),
    "current_row": pl.String(),
    LOCATION: pl.String(),
}
CHANGE_COLUMNS: Final = tuple(CHANGE_SCHEMA)

#: Gap ranges per query when re-reading gaps.
GAP_CHUNK: Final = 500

#: Keys per ``WHERE key IN (...)`` query (well under SQLite's and PostgreSQL's limits).
KEY_CHUNK: Final = 1000
#: Keys per ``WHERE key = ANY(:keys)`` query on PostgreSQL (one array parameter).
PG_KEY_CHUNK: Final = 10_000

_CONNECT_HINT = (
    "check the source url, that the database server is running and reachable, "
    "and that the user may read the tables"
)
_TABLE_HINT = "check events_table, key_column, change_log_table and column_map of the sql source"
_CONNECT_HINT_KO = (
    "소스 url, 데이터베이스 서버가 실행 중이고 접속할 수 있는지, 사용자에게 테이블 읽기 권한이 "
    "있는지 확인하십시오"
)
_TABLE_HINT_KO = "sql 소스의 events_table, key_column, change_log_table, column_map을 확인하십시오"


@dataclass(frozen=True)
class _Tables:
    events: Table  # reflected: typed values (datetimes, booleans) where the driver allows
    raw_events: TableClause  # untyped twin: raw values when a type cannot parse one
    change_log: TableClause  # untyped: changed_at may be text, _utc parses it
    columns: tuple[str, ...]  # the customer's column names, in table order
    names: tuple[str, ...]  # the same after column_map
    key_index: int
    key_is_int: bool


class SqlChangeLogSource(Source):
    """Read new rows of an events table, and changes to old ones, from its change log.

    Parameters: ``url`` is a SQLAlchemy URL (``sqlite:///file.db``,
    ``postgresql+psycopg://user:pw@host/db``); ``engine`` reuses an existing engine
    (then ``url`` only names the database in messages). ``column_map`` maps customer
    column names to canonical ones (``{"emp_no": "user_id"}``); unmapped columns keep
    their names. ``timezone`` is the zone of naive ``changed_at`` values. Late commits are
    read through gap tracking (module docstring); ``gap_wait_seconds`` bounds it on
    databases other than PostgreSQL. ``settle_seconds`` and ``clock`` (returns the aware
    current time) hold back recent rows. ``name`` is the key of this source's watermark.

    Each batch covers one page of the change log. ``Batch.events`` has one row per insert
    whose row still exists: the row's columns renamed by ``column_map`` (values as the
    driver gives them, not validated; a chunk with a value its column type cannot parse,
    as SQLite allows, arrives as raw text), ``_location`` (``"access_events#id=42"``),
    ``event_id`` (the mapped ``event_id`` column if there is one, else
    ``"access_events:42"``) and ``_change_id`` (Int64, the insert's change_id, for
    provenance). ``Batch.changes`` (``CHANGE_SCHEMA``, or None when empty) has the
    updates (``current_row`` = the row as it is now, JSON with the customer's column
    names), deletes, inserts whose row is already gone (op ``insert_missing``) and
    unknown ops. A deleted row's own ``event_id`` is gone with it (null), so match changes
    to stored events on ``_location``. Rows of other tables (``table_name`` compared
    exactly) are skipped. The watermark is ``{"change_id": <highest change_id read>}`` plus
    ``"gaps"`` (``[[lo, hi, horizon], ...]``) while some ids below it are unread.
    Each page uses its own short connection; nothing is held open between pages.

    Raises ``SourceError`` (from ``read``) when the database is unreachable, a table or
    column is missing, or the watermark is not a change-log position.
    """

    def __init__(
        self,
        url: str,
        *,
        events_table: str = "access_events",
        key_column: str = "id",
        change_log_table: str = "db_change_log",
        page_size: int = 50_000,
        column_map: Mapping[str, str] | None = None,
        name: str | None = None,
        engine: Engine | None = None,
        timezone: str = "UTC",
        settle_seconds: float = 0.0,
        clock: Callable[[], dt.datetime] | None = None,
        gap_wait_seconds: float = GAP_WAIT_SECONDS,
        rules: ValueRules | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        if settle_seconds < 0:
            raise ValueError(f"settle_seconds must not be negative, got {settle_seconds}")
        self.url = url
        self.events_table = events_table
        self.key_column = key_column
        self.change_log_table = change_log_table
        self.page_size = page_size
        self.column_map = dict(column_map or {})
        self.name = name or f"sql:{events_table}"
        self.engine = engine
        self.timezone = timezone
        self.settle_seconds = settle_seconds
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.gap_wait_seconds = gap_wait_seconds
        self.rules = rules or ValueRules()

    def read(self, since: Watermark | None = None) -> Iterator[Batch]:
        """Yield one batch per change-log page after ``since`` (None = from the start).

        Each page also re-reads the gaps ``since`` remembers (late commits)."""
        position = parse_position(since)
        zone = _zone(self.timezone)
        engine = self.engine or self._create_engine()
        try:
            with self._connect(engine) as conn:
                tables = self._reflect(conn)
            while True:
                with self._connect(engine) as conn:
                    batch, more, position = self._read_page(conn, tables, position, zone)
                if batch is None:
                    return
                yield batch
                if not more:
                    return
        finally:
            if self.engine is None:
                engine.dispose()

    # --- connection and tables --------------------------------------------------------

    @property
    def _where(self) -> str:
        return mask_url(self.url)

    def _create_engine(self) -> Engine:
        try:
            url = make_url(self.url)
            if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
                if not url.database.startswith("file:") and not Path(url.database).is_file():
                    raise SourceError(
                        f"SQLite database file {url.database} does not exist ({self._where})",
                        hint="check the url of the sql source",
                        ko=f"SQLite 데이터베이스 파일이 없습니다: {url.database} ({self._where})",
                        ko_hint="sql 소스의 url을 확인하십시오",
                    )
            return create_engine(url)
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            raise SourceError(
                f"cannot use database url {self._where}: {_first_line(exc)}",
                hint="use a SQLAlchemy URL such as postgresql+psycopg://user@host/db",
                ko=f"데이터베이스 URL을 쓸 수 없습니다: {self._where} ({_first_line(exc)})",
                ko_hint="postgresql+psycopg://user@host/db 같은 SQLAlchemy URL을 쓰십시오",
            ) from exc

    @contextmanager
    def _connect(self, engine: Engine) -> Iterator[Connection]:
        """A short connection (one transaction, rolled back) with errors as SourceError."""
        try:
            with engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise SourceError(
                f"cannot read {self._where}: {_first_line(exc)}",
                hint=_CONNECT_HINT,
                ko=f"읽을 수 없습니다: {self._where} ({_first_line(exc)})",
                ko_hint=_CONNECT_HINT_KO,
            ) from exc

    def _reflect(self, conn: Connection) -> _Tables:
        metadata = MetaData()
        found: list[Table] = []
        for role, table_name in (
            ("events", self.events_table),
            ("change-log", self.change_log_table),
        ):
            try:
                found.append(Table(table_name, metadata, autoload_with=conn))
            except NoSuchTableError:
                raise SourceError(
                    f"{role} table {table_name!r} not found in {self._where}",
                    hint=_TABLE_HINT,
                    ko=f"{self._where}에 {role} 테이블이 없습니다: {table_name!r}",
                    ko_hint=_TABLE_HINT_KO,
                ) from None
        events, change_log = found
        columns = [c.name for c in events.columns]
        missing = [c for c in CHANGE_LOG_COLUMNS if c not in change_log.c]
        if missing:
            raise SourceError(
                f"change-log table {self.change_log_table!r} in {self._where} lacks "
                f"column(s) {missing} (expected {list(CHANGE_LOG_COLUMNS)})",
                hint=_TABLE_HINT,
                ko=f"{self._where}의 변경 로그 테이블 {self.change_log_table!r}에 열이 없습니다: "
                f"{missing} (필요한 열 {list(CHANGE_LOG_COLUMNS)})",
                ko_hint=_TABLE_HINT_KO,
            )
        unknown = [c for c in [self.key_column, *self.column_map] if c not in columns]
        if unknown:
            raise SourceError(
                f"events table {self.events_table!r} in {self._where} has no column(s) "
                f"{unknown} (it has {columns})",
                hint=_TABLE_HINT,
                ko=f"{self._where}의 이벤트 테이블 {self.events_table!r}에 열이 없습니다: "
                f"{unknown} (있는 열 {columns})",
                ko_hint=_TABLE_HINT_KO,
            )
        names = tuple(self.column_map.get(c, c) for c in columns)
        clashes = sorted({n for n in names if names.count(n) > 1 or n in (LOCATION, CHANGE_ID)})
        if clashes:
            raise SourceError(
                f"after column_map, column name(s) {clashes} of {self.events_table!r} are "
                f"duplicated or reserved ({LOCATION}, {CHANGE_ID})",
                hint=_TABLE_HINT,
                ko=f"column_map 적용 후 {self.events_table!r}의 열 이름이 중복되거나 예약된 "
                f"이름({LOCATION}, {CHANGE_ID})입니다: {clashes}",
                ko_hint=_TABLE_HINT_KO,
            )
        key = events.c[self.key_column]
        try:
            key_is_int = issubclass(key.type.python_type, int)
        except NotImplementedError:
            key_is_int = False
        raw_events = table(events.name, *(column(c) for c in columns))
        raw_log = table(change_log.name, *(column(c) for c in CHANGE_LOG_COLUMNS))
        key_index = columns.index(self.key_column)
        return _Tables(events, raw_events, raw_log, tuple(columns), names, key_index, key_is_int)

    # --- one page ---------------------------------------------------------------------

    def _read_page(
        self, conn: Connection, tables: _Tables, position: Position, zone: dt.tzinfo
    ) -> tuple[Batch | None, bool, Position]:
        """Read the page after ``position`` and its gaps; say whether more may follow."""
        rows, late, more, new_position = self._next_rows(conn, tables, position, zone)
        if not rows:
            return None, False, new_position
        return self._batch(conn, tables, rows, late, new_position, zone), more, new_position

    def _next_rows(
        self, conn: Connection, tables: _Tables, position: Position, zone: dt.tzinfo
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], bool, Position]:
        """The change-log rows after ``position`` plus late ones found in its gaps (sorted),
        the late ones alone, whether more may follow, and the position after them."""
        log = tables.change_log
        columns = [log.c[c] for c in CHANGE_LOG_COLUMNS]
        pg = conn.dialect.name == "postgresql"
        # taken *before* the gaps are read: transactions older than xmin have ended, so
        # what they wrote is visible to the reads below
        xmin = pg_snapshot(conn, "xmin") if pg else None
        late = self._read_gaps(conn, columns, position.gaps)
        query = select(*columns).order_by(log.c.change_id)
        if position.after is not None:
            query = query.where(log.c.change_id > position.after)
        rows = [tuple(r) for r in conn.execute(query.limit(self.page_size)).all()]
        more = len(rows) == self.page_size
        if self.settle_seconds > 0:
            cutoff = _as_utc(self.clock(), dt.UTC) - dt.timedelta(seconds=self.settle_seconds)
            for i, row in enumerate(rows):
                changed = _utc(row[4], zone)
                if changed is not None and changed > cutoff:
                    rows, more = rows[:i], False
                    break
        seen_at = pg_snapshot(conn, "xmax") if pg else self.clock().timestamp()
        after = int(rows[-1][0]) if rows else position.after
        gaps = remaining_gaps(position.gaps, [int(r[0]) for r in late])
        # a remembered gap that was just read in vain is forgotten once nothing can fill it
        if pg:
            gaps = [g for g in gaps if xmin is None or g.horizon > xmin]
        else:
            oldest = self.clock().timestamp() - self.gap_wait_seconds
            gaps = [g for g in gaps if g.horizon >= oldest]
        gaps += new_gaps(position.after, [int(r[0]) for r in rows], seen_at)
        rows = sorted([*late, *rows], key=lambda r: int(r[0]))
        return rows, late, more, Position(after, gaps)

    def _batch(
        self,
        conn: Connection,
        tables: _Tables,
        rows: list[tuple[Any, ...]],
        late: list[tuple[Any, ...]],
        position: Position,
        zone: dt.tzinfo,
    ) -> Batch:
        """One batch of change-log rows: inserts become events, the rest changes."""
        ours = [r for r in rows if r[1] == self.events_table]
        ops = [str(r[3] or "").strip().lower() for r in ours]
        keys = [self._key(r[2], tables) for r in ours]
        fetch = [k for k, op in zip(keys, ops, strict=True) if op in (OP_INSERT, OP_UPDATE)]
        wanted = list(dict.fromkeys(fetch))
        current = self._fetch(conn, tables, wanted)

        derive_id = EVENT_ID not in tables.names
        events: list[tuple[Any, ...]] = []
        changes: list[tuple[Any, ...]] = []
        for row, op, key in zip(ours, ops, keys, strict=True):
            location = f"{self.events_table}#{self.key_column}={key}"
            found = current.get(key) if op in (OP_INSERT, OP_UPDATE) else None
            if op == OP_INSERT and found is not None:
                extra = (f"{self.events_table}:{key}",) if derive_id else ()
                events.append((*found, location, row[0], *extra))
                continue
            changes.append(
                (
                    row[0],
                    row[1],
                    str(row[2]),
                    OP_INSERT_MISSING if op == OP_INSERT else op,
                    _utc(row[4], zone),
                    self._event_id(found, key, tables),
                    None if found is None else _json(dict(zip(tables.columns, found, strict=True))),
                    location,
                )
            )

        first, last = int(rows[0][0]), int(rows[-1][0])
        return Batch(
            events=self._events_frame(tables, events),
            watermark=position.watermark(),
            label=f"{self.events_table} changes {first}..{last}"
            + (f" ({len(late)} committed late)" if late else ""),
            changes=pl.DataFrame(changes, schema=CHANGE_SCHEMA, orient="row") if changes else None,
            metadata={
                "first_change_id": str(first),
                "last_change_id": str(last),
                "change_log_rows": str(len(rows)),
                "late_rows": str(len(late)),
                "inserts": str(len(events)),
                "changes": str(len(changes)),
            },
        )

    def _read_gaps(
        self, conn: Connection, columns: list[Any], gaps: list[Gap]
    ) -> list[tuple[Any, ...]]:
        """Change-log rows that have appeared in remembered gaps (late commits)."""
        found: list[tuple[Any, ...]] = []
        change_id = columns[0]
        for start in range(0, len(gaps), GAP_CHUNK):
            chunk = gaps[start : start + GAP_CHUNK]
            where = or_(*(change_id.between(g.lo, g.hi) for g in chunk))
            found.extend(tuple(r) for r in conn.execute(select(*columns).where(where)).all())
        return found

    def _key(self, row_key: Any, tables: _Tables) -> int | str:
        """The change log's text key as the events table's key type (int keys normalised)."""
        text = str(row_key).strip() if row_key is not None else ""
        if tables.key_is_int:
            try:
                return int(text)
            except ValueError:
                return text  # matches no row: reported as insert_missing, never dropped
        return text

    def _fetch(
        self, conn: Connection, tables: _Tables, keys: Sequence[int | str]
    ) -> dict[int | str, Sequence[Any]]:
        """Current rows of the events table by key (int keys as int, others as text).

        PostgreSQL gets ``key = ANY(:keys)`` (one array parameter, several times faster
        than 1,000 ``IN`` parameters); other databases get ``key IN (:k1, ...)``.
        """
        if tables.key_is_int:
            keys = [k for k in keys if isinstance(k, int)]
        as_array = conn.dialect.name == "postgresql" and tables.key_is_int
        chunk_size = PG_KEY_CHUNK if as_array else KEY_CHUNK

        def query(events: TableClause, chunk: Sequence[int | str]) -> Select[Any]:
            key = events.c[self.key_column]
            if as_array:
                return select(events).where(key == any_(bindparam("k", chunk, ARRAY(BigInteger()))))
            return select(events).where(key.in_(chunk))

        found: dict[int | str, Sequence[Any]] = {}
        index = tables.key_index
        for start in range(0, len(keys), chunk_size):
            chunk = keys[start : start + chunk_size]
            try:
                rows = conn.execute(query(tables.events, chunk)).all()
            except (ValueError, TypeError):  # e.g. SQLite text its DATETIME type can't parse
                rows = conn.execute(query(tables.raw_events, chunk)).all()
            if tables.key_is_int:
                found.update((row[index], row) for row in rows)
            else:
                found.update((str(row[index]), row) for row in rows)
        return found

    def _event_id(self, row: Sequence[Any] | None, key: int | str, tables: _Tables) -> str | None:
        if EVENT_ID in tables.names:  # the customer's own id; unknown once the row is gone
            value = None if row is None else row[tables.names.index(EVENT_ID)]
            return None if value is None else str(value)
        return f"{self.events_table}:{key}"

    def _events_frame(self, tables: _Tables, rows: list[tuple[Any, ...]]) -> pl.DataFrame:
        names = [*tables.names, LOCATION, CHANGE_ID]
        if EVENT_ID not in tables.names:
            names.append(EVENT_ID)
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        frame = pl.DataFrame([_series(n, list(v)) for n, v in zip(names, columns, strict=True)])
        return frame.with_columns(pl.col(CHANGE_ID).cast(pl.Int64))


def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise SourceError(
            f"unknown time zone {name!r} for naive changed_at values",
            hint="use an IANA zone such as 'Asia/Seoul' or 'UTC'",
            ko=f"시간대가 없는 changed_at 값에 쓸 시간대를 알 수 없습니다: {name!r}",
            ko_hint="'Asia/Seoul'이나 'UTC' 같은 IANA 시간대를 쓰십시오",
        ) from None


def _utc(value: Any, zone: dt.tzinfo) -> dt.datetime | None:
    """A change-log timestamp (datetime or ISO text) in UTC; naive ones are in ``zone``."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if not isinstance(value, dt.datetime):
        return None
    return _as_utc(value, zone)


def _as_utc(value: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    aware = value.replace(tzinfo=zone) if value.tzinfo is None else value
    return aware.astimezone(dt.UTC)


def _series(name: str, values: list[Any]) -> pl.Series:
    """A column of raw values; mixed or exotic types fall back to text (never lost)."""
    if not values:
        return pl.Series(name, [], pl.String)
    try:
        return pl.Series(name, values, strict=False)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        return pl.Series(name, [None if v is None else str(v) for v in values], pl.String)


def _json(row: dict[str, Any]) -> str:
    return json.dumps(row, default=_json_default, sort_keys=True, ensure_ascii=False)


def _json_default(value: Any) -> str:
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return " ".join(text.splitlines()[0].split()) if text else type(exc).__name__
