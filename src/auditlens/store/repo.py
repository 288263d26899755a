"""Typed reads and writes of the store: batches, watermarks, quarantine, findings, events.

Example::

    >>> store = Store.open(settings)          # raises StoreError if not migrated
    >>> store.watermark("hr_db") is None      # nothing read from that source yet
    True
    >>> store.counts()
    {'batches': 0, 'ingested': 0, 'accepted': 0, 'quarantined': 0, 'tamper_findings': 0}
    >>> store.close()
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import polars as pl
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, ProgrammingError

from auditlens.config import Settings, mask_url, url_secrets
from auditlens.errors import StoreError
from auditlens.redaction import scrub
from auditlens.schema import EVENT_DTYPES, EVENT_ID, LOCATION, Watermark
from auditlens.store.audit import Trail
from auditlens.store.db import (
    ingest_batches,
    lake_pending,
    make_engine,
    quarantine,
    store_identity,
    tamper_findings,
    watermarks,
)
from auditlens.store.lake import EventLake
from auditlens.store.locks import store_lock

_DATA_DIR_HINT = (
    "each store needs a lake of its own: set data_dir (AUDITLENS_DATA_DIR) to the "
    "directory that holds this store's lake, or to a new directory for a new store"
)


class LakeMismatch(StoreError):
    """The event lake in data_dir belongs to another store (or the store to another lake)."""

    hint = _DATA_DIR_HINT


@dataclass(frozen=True)
class LakeCheck:
    """The result of checking every committed lake part against its recorded sha256."""

    parts: int
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unhashed: int = 0  # parts committed before hashes were recorded (not checkable)

    @property
    def ok(self) -> bool:
        """True when every checkable part is present and unchanged."""
        return not self.missing and not self.changed

    @property
    def problem(self) -> str:
        """One sentence naming the missing and changed parts (empty when ok)."""
        said = []
        if self.missing:
            said.append(f"lake part(s) missing: {', '.join(self.missing)}")
        if self.changed:
            said.append(f"lake part(s) changed since ingestion: {', '.join(self.changed)}")
        return "; ".join(said)


@dataclass(frozen=True)
class BatchRecord:
    """Everything one batch adds to the store, committed together or not at all."""

    source: str
    label: str
    started_at: dt.datetime
    ingested: int
    events: pl.DataFrame
    quarantined: pl.DataFrame  # _location, reason, raw
    findings: pl.DataFrame  # columns of tamper_findings except id, batch_id, source
    watermark_before: Watermark | None
    watermark_after: Watermark


def _alembic_config(connection: Connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("auditlens.store") / "migrations"))
    cfg.attributes["connection"] = connection
    return cfg


def connect(url: str, *, migrate: bool = False, name: str = "store_url") -> Engine:
    """An engine on ``url`` whose schema is current (``migrate``: brought up to date).

    Raises:
        StoreError: not a URL, unreachable, or not migrated — secrets never in the message.
    """
    try:
        engine = make_engine(url)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(
            f"{name} {mask_url(url)} is not a database URL: {scrub(str(exc), url_secrets(url))}",
            hint="e.g. sqlite:///var/auditlens.db or postgresql+psycopg://user@host/db",
        ) from None
    try:
        if migrate:
            upgrade(engine)
        revision = current_revision(engine)
    except (OperationalError, ProgrammingError) as exc:
        engine.dispose()
        raise StoreError(
            f"cannot open {mask_url(url)} ({name}): {scrub(str(exc.orig), url_secrets(url))}",
            hint=f"check {name} and that the database server is running",
        ) from None
    if revision != head_revision():
        engine.dispose()
        raise StoreError(
            f"the database at {mask_url(url)} ({name}) is at schema revision "
            f"{revision or 'none'}, this auditlens needs {head_revision()}",
            hint="run `auditlens db upgrade`",
        )
    return engine


def upgrade(engine: Engine) -> str:
    """Migrate the store to the newest schema; return the revision now in force."""
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "head")
    return current_revision(engine) or ""


def current_revision(engine: Engine) -> str | None:
    """The store's schema revision, or None when it was never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """The newest revision this version of auditlens knows."""
    script = ScriptDirectory(str(resources.files("auditlens.store") / "migrations"))
    head = script.get_current_head()
    if head is None:  # pragma: no cover - the package ships migrations
        raise StoreError("no migrations found in the auditlens package")
    return head


class Store:
    """The store of one deployment: SQL metadata plus the Parquet event lake."""

    def __init__(self, engine: Engine, lake: EventLake, audit_engine: Engine | None = None) -> None:
        self.engine = engine
        self.lake = lake
        self._lake_checked = False
        self._store_id: str | None = None
        #: The database holding the audit trail: the store itself unless audit_store_url.
        self.audit_engine = audit_engine or engine
        #: Where audit entries are written (see store/audit.py ``Trail``).
        self.trail = Trail(audit_engine)

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = False) -> Store:
        """Connect; with ``migrate`` bring the schema up to date, else require it current.

        With ``audit_store_url`` the audit trail lives in that database (also migrated).
        """
        engine = connect(settings.store_url.get_secret_value(), migrate=migrate)
        audit = None
        if settings.audit_store_url is not None:
            try:
                audit = connect(
                    settings.audit_store_url.get_secret_value(),
                    migrate=migrate,
                    name="audit_store_url",
                )
            except StoreError:
                engine.dispose()
                raise
        return cls(engine, EventLake(settings.lake_dir), audit)

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()
        if self.audit_engine is not self.engine:
            self.audit_engine.dispose()

    # --- reads -----------------------------------------------------------------------

    def watermark(self, source: str) -> Watermark | None:
        """The last committed watermark of ``source``."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(watermarks.c.value).where(watermarks.c.source == source)
            ).scalar_one_or_none()
        return Watermark(value) if value is not None else None

    def committed_parts(self) -> list[str]:
        """Lake part files of committed batches, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ingest_batches.c.lake_part)
                .where(ingest_batches.c.lake_part.is_not(None))
                .order_by(ingest_batches.c.id)
            )
            return [str(r[0]) for r in rows]

    def source_parts(self, source: str) -> list[str]:
        """Lake part files of committed batches of ``source``, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ingest_batches.c.lake_part)
                .where(ingest_batches.c.lake_part.is_not(None), ingest_batches.c.source == source)
                .order_by(ingest_batches.c.id)
            )
            return [str(r[0]) for r in rows]

    def events(self, source: str | None = None) -> pl.LazyFrame:
        """Committed events (canonical columns plus ``_location``), lazily; all sources or one.

        Raises LakeMismatch when the lake in data_dir is not this store's.
        """
        self.check_lake()
        parts = self.committed_parts() if source is None else self.source_parts(source)
        return self.lake.scan(parts)

    def event_ids(self, source: str | None = None) -> pl.Series:
        """Ids of every stored event (of ``source`` only when given)."""
        return self.events(source).select(EVENT_ID).collect().get_column(EVENT_ID)

    def lookup_events(
        self, ids: pl.Series, locations: pl.Series | None = None, *, source: str | None = None
    ) -> pl.DataFrame:
        """Stored events whose id is in ``ids`` or whose origin is in ``locations``."""
        wanted = pl.col(EVENT_ID).is_in(ids.implode())
        if locations is not None:
            wanted = wanted | pl.col(LOCATION).is_in(locations.implode())
        return self.events(source).filter(wanted).collect()

    def events_with_ids(self, ids: pl.Series, source: str) -> pl.DataFrame:
        """Stored events (any source) whose id is in ``ids``, plus ``_in_scope``: True
        for those ``source`` stored (ids are scoped by source)."""
        self.check_lake()
        parts = self.committed_parts()
        columns = {**EVENT_DTYPES, LOCATION: pl.String(), "_in_scope": pl.Boolean()}
        if not parts:
            return pl.DataFrame(schema=columns)
        mine = [str(self.lake.root / p) for p in self.source_parts(source)]
        frame = (
            pl.scan_parquet([str(self.lake.root / p) for p in parts], include_file_paths="_part")
            .filter(pl.col(EVENT_ID).is_in(ids.implode()))
            .collect()
        )
        in_scope = pl.col("_part").is_in(pl.Series(mine, dtype=pl.String).implode())
        return frame.with_columns(in_scope.alias("_in_scope")).select(list(columns))

    def counts(self) -> dict[str, int]:
        """Totals: batches, ingested, accepted, quarantined rows, tampering findings."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    func.count(ingest_batches.c.id),
                    func.coalesce(func.sum(ingest_batches.c.ingested), 0),
                    func.coalesce(func.sum(ingest_batches.c.accepted), 0),
                    func.coalesce(func.sum(ingest_batches.c.quarantined), 0),
                )
            ).one()
            findings = conn.execute(select(func.count(tamper_findings.c.id))).scalar_one()
        return {
            "batches": int(row[0]),
            "ingested": int(row[1]),
            "accepted": int(row[2]),
            "quarantined": int(row[3]),
            "tamper_findings": int(findings),
        }

    def quarantined_rows(self, *, batch_id: int | None = None, limit: int = 1000) -> pl.DataFrame:
        """Quarantined rows with reason and location, newest batch first."""
        query = select(
            quarantine.c.batch_id,
            quarantine.c.source,
            quarantine.c.location,
            quarantine.c.reason,
            quarantine.c.raw,
        ).order_by(quarantine.c.batch_id.desc(), quarantine.c.id)
        if batch_id is not None:
            query = query.where(quarantine.c.batch_id == batch_id)
        return self.query_frame(query.limit(limit))

    def findings(self) -> pl.DataFrame:
        """Possible log-tampering findings, oldest first."""
        return self.query_frame(select(tamper_findings).order_by(tamper_findings.c.id))

    def batches(self) -> pl.DataFrame:
        """The ingestion history, one row per committed batch."""
        return self.query_frame(select(ingest_batches).order_by(ingest_batches.c.id))

    def query_frame(self, query: Any) -> pl.DataFrame:
        """Run a SELECT and return its rows as a polars frame."""
        with self.engine.connect() as conn:
            result = conn.execute(query)
            names = list(result.keys())
            rows = [tuple(r) for r in result]
        return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)

    # --- writes ----------------------------------------------------------------------

    def commit_batch(self, record: BatchRecord, *, now: dt.datetime) -> int:
        """Store events, quarantine, findings and the new watermark atomically.

        The part's name is recorded as pending first, then the part is written, then one
        SQL transaction records the batch and removes the pending row: that transaction
        is the commit point. Returns the batch id.
        """
        if self._store_id is None:
            self.bind_lake()
        part: str | None = None
        digest: str | None = None
        if record.events.height:
            part = self.lake.new_part_name()
            with self.engine.begin() as conn:
                conn.execute(
                    insert(lake_pending).values(part=part, source=record.source, created_at=now)
                )
        try:
            if part is not None:
                self.lake.write_part(record.events, part)
                digest = self.lake.sha256(part)  # of the bytes as they are on disk
            with self.engine.begin() as conn:
                batch_id = self._insert_batch(conn, record, part, digest, now)
                self._insert_rows(conn, batch_id, record, now)
                self._set_watermark(conn, record.source, record.watermark_after, batch_id, now)
                if part is not None:
                    conn.execute(delete(lake_pending).where(lake_pending.c.part == part))
        except BaseException:
            if part is not None:
                self.lake.discard(part)
                with contextlib.suppress(Exception), self.engine.begin() as conn:
                    conn.execute(delete(lake_pending).where(lake_pending.c.part == part))
            raise
        return batch_id

    def _insert_batch(
        self,
        conn: Connection,
        record: BatchRecord,
        part: str | None,
        digest: str | None,
        now: dt.datetime,
    ) -> int:
        ts = record.events.get_column("timestamp") if record.events.height else None
        values = {
            "source": record.source,
            "label": record.label,
            "started_at": record.started_at,
            "committed_at": now,
            "ingested": record.ingested,
            "accepted": record.events.height,
            "quarantined": record.quarantined.height,
            "changes": record.findings.height,
            "watermark_before": record.watermark_before.value if record.watermark_before else None,
            "watermark_after": record.watermark_after.value,
            "lake_part": part,
            "lake_sha256": digest,
            "min_ts": ts.min() if ts is not None else None,
            "max_ts": ts.max() if ts is not None else None,
        }
        result = conn.execute(insert(ingest_batches).values(**values))
        key = result.inserted_primary_key
        if key is None:  # pragma: no cover - every supported backend returns it
            raise StoreError("the database did not return the new batch id")
        return int(key[0])

    def _insert_rows(
        self, conn: Connection, batch_id: int, record: BatchRecord, now: dt.datetime
    ) -> None:
        if record.quarantined.height:
            rows = [
                {
                    "batch_id": batch_id,
                    "source": record.source,
                    "location": r["_location"] or "",
                    "reason": r["reason"],
                    "raw": r["raw"] or "",
                    "quarantined_at": now,
                }
                for r in record.quarantined.iter_rows(named=True)
            ]
            for chunk in _chunks(rows, 10_000):
                conn.execute(insert(quarantine), chunk)
        if record.findings.height:
            rows = [
                {**r, "batch_id": batch_id, "source": record.source, "detected_at": now}
                for r in record.findings.iter_rows(named=True)
            ]
            conn.execute(insert(tamper_findings), rows)

    def _set_watermark(
        self,
        conn: Connection,
        source: str,
        mark: Watermark,
        batch_id: int,
        now: dt.datetime,
    ) -> None:
        values = {"value": mark.value, "batch_id": batch_id, "updated_at": now}
        changed = conn.execute(
            update(watermarks).where(watermarks.c.source == source).values(**values)
        ).rowcount
        if not changed:
            conn.execute(insert(watermarks).values(source=source, **values))

    def remove_orphans(self) -> list[str]:
        """Delete the parts this store recorded as pending and never committed (a crash).

        Only call it while holding :meth:`ingest_lock` (a running ingestion's pending part
        is not an orphan). Files the store did not record are never touched.
        """
        with self.engine.connect() as conn:
            names = [str(r[0]) for r in conn.execute(select(lake_pending.c.part))]
        removed = []
        for name in sorted(names):
            self.lake.discard(name)
            with self.engine.begin() as conn:
                conn.execute(delete(lake_pending).where(lake_pending.c.part == name))
            removed.append(name)
        return removed

    @contextlib.contextmanager
    def ingest_lock(self, timeout: float = 30.0) -> Iterator[None]:
        """Hold the store's ingestion lock (one ingestion per store, on any machine)."""
        with store_lock(self.engine, "ingest", timeout=timeout, what="ingestion"):
            yield

    # --- the lake's identity -----------------------------------------------------------

    def _identity(self) -> tuple[str, str] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(store_identity.c.store_id, store_identity.c.lake_location).where(
                    store_identity.c.id == 1
                )
            ).one_or_none()
        return None if row is None else (str(row[0]), str(row[1]))

    def _store_name(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def check_lake(self) -> None:
        """Refuse a lake that is not this store's (read-only; cheap after the first call).

        Raises LakeMismatch naming both sides: the lake in data_dir belongs to another
        store, or this store's lake is somewhere else (another directory or machine).
        """
        if self._lake_checked:
            return
        ours = self._identity()
        theirs = self.lake.identity()
        here = self.lake.location
        if ours is not None and theirs is not None:
            if theirs.get("store_id") != ours[0]:
                raise LakeMismatch(
                    f"the event lake at {here} belongs to another store "
                    f"({theirs.get('store') or 'unknown'}, id {theirs.get('store_id')}), "
                    f"not to the store at {self._store_name()} (id {ours[0]}, lake at {ours[1]})"
                )
        elif ours is not None:
            if ours[1] != here:
                raise LakeMismatch(
                    f"the store at {self._store_name()} keeps its event lake at {ours[1]}, "
                    f"but this run's lake is {here}: two lakes for one store would store "
                    "every event twice"
                )
        elif theirs is not None:
            raise LakeMismatch(
                f"the event lake at {here} belongs to another store "
                f"({theirs.get('store') or 'unknown'}, id {theirs.get('store_id')}); "
                f"the store at {self._store_name()} has no lake yet (if that other store "
                f"was deleted on purpose, its lake {self.lake.root} can be removed too)"
            )
        else:
            with self.engine.connect() as conn:
                pending = {str(r[0]) for r in conn.execute(select(lake_pending.c.part))}
            known = set(self.committed_parts()) | pending
            foreign = [p for p in self.lake.part_files() if p not in known]
            if foreign:
                raise LakeMismatch(
                    f"the event lake at {here} holds {len(foreign)} part(s) the store at "
                    f"{self._store_name()} did not write (e.g. {foreign[0]}): it is another "
                    "store's lake"
                )
        self._lake_checked = True

    def bind_lake(self, *, now: dt.datetime | None = None) -> str:
        """Make sure the lake in data_dir is bound to this store; return the store id.

        The first write binds an unbound store and lake: the store records its id and the
        lake's location, then the lake gets ``.store-id``. Raises LakeMismatch as
        :meth:`check_lake`.
        """
        self._lake_checked = False
        self.check_lake()
        ours = self._identity()
        if ours is None:
            store_id = uuid.uuid4().hex
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        insert(store_identity).values(
                            id=1,
                            store_id=store_id,
                            lake_location=self.lake.location,
                            bound_at=now or dt.datetime.now(dt.UTC),
                        )
                    )
            except IntegrityError:  # another process bound it first: check against that
                self._lake_checked = False
                self.check_lake()
                ours = self._identity()
                if ours is None:  # pragma: no cover - the row exists after the conflict
                    raise
                store_id = ours[0]
        else:
            store_id = ours[0]
        found = self.lake.identity()
        if found is None:
            self.lake.write_identity(store_id, self._store_name())
        elif ours is not None and ours[1] != self.lake.location:
            # the same lake (its .store-id proves it) seen from a new place: remember that
            with self.engine.begin() as conn:
                conn.execute(
                    update(store_identity)
                    .where(store_identity.c.id == 1)
                    .values(lake_location=self.lake.location)
                )
        self._store_id = store_id
        return store_id

    # --- integrity of the lake ---------------------------------------------------------

    def verify_lake(self) -> LakeCheck:
        """Check every committed part against the sha256 recorded when it was written.

        A missing part or one whose bytes changed (e.g. rewritten without some events)
        is named. Parts committed before hashes were recorded are counted as unhashed.
        """
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(ingest_batches.c.lake_part, ingest_batches.c.lake_sha256)
                .where(ingest_batches.c.lake_part.is_not(None))
                .order_by(ingest_batches.c.id)
            ).all()
        missing: list[str] = []
        changed: list[str] = []
        unhashed = 0
        for part, recorded in rows:
            actual = self.lake.sha256(str(part))
            if actual is None:
                missing.append(str(part))
            elif recorded is None:
                unhashed += 1
            elif actual != recorded:
                changed.append(str(part))
        return LakeCheck(parts=len(rows), missing=missing, changed=changed, unhashed=unhashed)


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
