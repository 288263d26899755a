"""Typed reads and writes of the store: batches, watermarks, quarantine, findings, events.

Example::

    >>> store = Store.open(settings)          # raises StoreError if not migrated
    >>> store.watermark("hr_db")
    Watermark(value='{"change_id": 1200}')
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

import polars as pl
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import ArgumentError, OperationalError, ProgrammingError

from auditlens.config import Settings, mask_url, url_secrets
from auditlens.errors import StoreError
from auditlens.redaction import scrub
from auditlens.schema import EVENT_ID, LOCATION, Watermark
from auditlens.store.audit import Trail
from auditlens.store.db import (
    ingest_batches,
    make_engine,
    quarantine,
    tamper_findings,
    watermarks,
)
from auditlens.store.lake import EventLake


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

    def events(self) -> pl.LazyFrame:
        """All committed events (canonical columns plus ``_location``), lazily."""
        return self.lake.scan(self.committed_parts())

    def event_ids(self) -> pl.Series:
        """Ids of every stored event."""
        return self.events().select(EVENT_ID).collect().get_column(EVENT_ID)

    def lookup_events(self, ids: pl.Series, locations: pl.Series | None = None) -> pl.DataFrame:
        """Stored events whose id is in ``ids`` or whose origin is in ``locations``."""
        wanted = pl.col(EVENT_ID).is_in(ids.implode())
        if locations is not None:
            wanted = wanted | pl.col(LOCATION).is_in(locations.implode())
        return self.events().filter(wanted).collect()

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

        The lake part is written first; the SQL transaction that references it is the
        commit point. Returns the batch id.
        """
        part = self.lake.write_part(record.events) if record.events.height else None
        try:
            with self.engine.begin() as conn:
                batch_id = self._insert_batch(conn, record, part, now)
                self._insert_rows(conn, batch_id, record, now)
                self._set_watermark(conn, record.source, record.watermark_after, batch_id, now)
        except BaseException:
            if part is not None:
                self.lake.discard(part)
            raise
        return batch_id

    def _insert_batch(
        self, conn: Connection, record: BatchRecord, part: str | None, now: dt.datetime
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
        """Delete lake files left by a crashed, uncommitted batch."""
        return self.lake.remove_orphans(self.committed_parts())


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
