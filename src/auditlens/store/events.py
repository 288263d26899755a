# size: one repository per aggregate: every read and write of batches and their lake files.
"""The events aggregate: the Parquet lake, ingest batches, watermarks, quarantine and
tampering findings.

A batch (its lake part, quarantined rows, findings and the source's new watermark) is
committed together or not at all; see :meth:`EventRepository.commit_batch`.

Example::

    mark = store.events.watermark("hr_db")  # Watermark('{"change_id": 1200}')
    recent = store.events.scan().filter(pl.col("user_id") == "U0042").collect()
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import polars as pl
from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from auditlens.errors import StoreError
from auditlens.schema import EVENT_DTYPES, EVENT_ID, LOCATION, Watermark
from auditlens.store.binding import LakeBinding, LakeCheck
from auditlens.store.db import (
    ingest_batches,
    lake_pending,
    lake_segments,
    quarantine,
    tamper_findings,
    watermarks,
)
from auditlens.store.id_index import IdIndex
from auditlens.store.id_ranges import IdRanges
from auditlens.store.lake import EventLake
from auditlens.store.locks import store_lock
from auditlens.store.repository import read_frame
from auditlens.store.segments import current_files, slices

if TYPE_CHECKING:
    from auditlens.store.compaction import CompactionReport

#: A duplicate check that would read this many stored ids or more builds the process's
#: id index instead (store/id_index.py): about what one such check reads anyway.
INDEX_FROM: Final = 1_000_000


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


class EventRepository:
    """Committed events and everything ingestion records about them."""

    def __init__(self, engine: Engine, lake: EventLake) -> None:
        self.engine = engine
        self.lake = lake
        #: The tie between this store and its lake (checked before the lake is used).
        self.binding = LakeBinding(engine, lake)
        #: Each part's event-id range, read once (duplicate checks open only the parts
        #: whose range meets the ids checked).
        self.id_ranges = IdRanges(lake)
        #: Every stored id's hash, built once a check would read ``INDEX_FROM`` ids or
        #: more (ids spread over the whole range: random UUIDs), then kept up to date.
        self.id_index: IdIndex | None = None

    # --- reads -----------------------------------------------------------------------

    def watermark(self, source: str) -> Watermark | None:
        """The last committed watermark of ``source``."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(watermarks.c.value).where(watermarks.c.source == source)
            ).scalar_one_or_none()
        return Watermark(value) if value is not None else None

    def parts(self, source: str | None = None) -> list[str]:
        """Lake files holding committed batches (of ``source`` when given), in the order of
        their first batch (a compacted file holds several: store/segments.py)."""
        with self.engine.connect() as conn:
            return current_files(conn, source=source)

    def scan(self, source: str | None = None) -> pl.LazyFrame:
        """Committed events (canonical columns plus ``_location``), lazily; all sources or one.

        Raises LakeMismatch when the lake in data_dir is not this store's.
        """
        self.binding.check()
        return self.lake.scan(self.parts(source))

    def upto(self, batch_id: int) -> pl.LazyFrame:
        """Committed events of batches up to ``batch_id`` (the data as a run saw it)."""
        return self.between(None, batch_id)

    def between(self, after: int | None, upto: int | None) -> pl.LazyFrame:
        """Committed events of the batches after ``after`` up to ``upto`` (None: no bound),
        read from the files that hold them now, compacted or not (store/segments.py)."""
        self.binding.check()
        with self.engine.connect() as conn:
            found = slices(conn, after=after, upto=upto)
        return self.lake.scan_slices(found)

    def parts_upto(self, batch_id: int) -> list[str] | None:
        """Lake files holding exactly the committed batches up to ``batch_id``, oldest first
        (another engine reads them from ``lake.root``); None when a compacted file also
        holds later batches (read :meth:`upto` instead)."""
        with self.engine.connect() as conn:
            found = slices(conn, upto=batch_id)
        return [s.part for s in found] if all(s.whole for s in found) else None

    def ingested_parts(self, batch_id: int) -> list[str]:
        """The parts the batches up to ``batch_id`` were ingested to, oldest first: names
        that never change (a compaction moves events, not this record), so a digest of
        them tells whether the batches up to ``batch_id`` are still those a history saw."""
        query = (
            select(ingest_batches.c.lake_part)
            .where(ingest_batches.c.lake_part.is_not(None), ingest_batches.c.id <= batch_id)
            .order_by(ingest_batches.c.id)
        )
        with self.engine.connect() as conn:
            return [str(r[0]) for r in conn.execute(query)]

    def ids(self, source: str | None = None) -> pl.Series:
        """Ids of every stored event (of ``source`` only when given)."""
        return self.scan(source).select(EVENT_ID).collect().get_column(EVENT_ID)

    def stored_ids(self, ids: pl.Series) -> pl.Series:
        """Those of ``ids`` that a stored event (any source) has, each once.

        Reads the ``event_id`` column only, of the parts whose id range (store/id_ranges.py,
        read once per process) meets the range of ``ids``, and of them only the row groups
        whose range meets it: a new day's ids, above every stored one, read almost
        nothing, however many parts the lake has. Memory follows the matches, not the
        size of the lake (duplicate checks at ingestion, instead of :meth:`ids`).

        When those parts hold ``INDEX_FROM`` ids or more (ids spread over the whole
        range, such as random UUIDs), the process indexes every stored id by its hash
        once (store/id_index.py, 12 bytes an id) and from then on reads only the parts
        holding an id with an equal hash: new ids read nothing.
        """
        none = pl.Series(EVENT_ID, [], dtype=pl.String)
        self.binding.check()
        wanted = ids.drop_nulls().cast(pl.String)
        if wanted.len() == 0:
            return none
        lo, hi = str(wanted.min()), str(wanted.max())
        committed = self.parts()
        parts = self.id_ranges.meeting(committed, lo, hi)
        if parts and (self.id_index is not None or self.id_ranges.rows(parts) >= INDEX_FROM):
            if self.id_index is None:
                self.id_index = IdIndex(self.lake)
            self.id_index.sync(committed)
            parts, wanted = self.id_index.candidates(wanted)
        if not parts:
            return none
        column = pl.col(EVENT_ID)
        in_range = column.is_between(pl.lit(lo), pl.lit(hi))
        return (
            self.lake.scan(parts)
            .select(EVENT_ID)
            .filter(in_range & column.is_in(wanted.implode()))
            .unique()
            .collect(engine="streaming")
            .get_column(EVENT_ID)
        )

    def lookup(
        self, ids: pl.Series, locations: pl.Series | None = None, *, source: str | None = None
    ) -> pl.DataFrame:
        """Stored events whose id is in ``ids`` or whose origin is in ``locations``."""
        wanted = pl.col(EVENT_ID).is_in(ids.implode())
        if locations is not None:
            wanted = wanted | pl.col(LOCATION).is_in(locations.implode())
        return self.scan(source).filter(wanted).collect()

    def with_ids(self, ids: pl.Series, source: str) -> pl.DataFrame:
        """Stored events (any source) whose id is in ``ids``, plus ``_in_scope``: True
        for those ``source`` stored (ids are scoped by source)."""
        self.binding.check()
        parts = self.parts()
        columns = {**EVENT_DTYPES, LOCATION: pl.String(), "_in_scope": pl.Boolean()}
        if not parts:
            return pl.DataFrame(schema=columns)
        mine = [str(self.lake.root / p) for p in self.parts(source)]
        frame = (
            pl.scan_parquet([str(self.lake.root / p) for p in parts], include_file_paths="_part")
            .filter(pl.col(EVENT_ID).is_in(ids.implode()))
            .collect()
        )
        in_scope = pl.col("_part").is_in(pl.Series(mine, dtype=pl.String).implode())
        return frame.with_columns(in_scope.alias("_in_scope")).select(list(columns))

    def last_batch_id(self) -> int:
        """Id of the newest committed ingest batch (0 when nothing was ingested)."""
        with self.engine.connect() as conn:
            value = conn.execute(select(func.max(ingest_batches.c.id))).scalar()
        return int(value or 0)

    def first_event_after(self, batch_id: int) -> dt.datetime | None:
        """Earliest event time among batches newer than ``batch_id`` (None: nothing new)."""
        with self.engine.connect() as conn:
            value: dt.datetime | None = conn.execute(
                select(func.min(ingest_batches.c.min_ts)).where(ingest_batches.c.id > batch_id)
            ).scalar()
        return value

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

    def quarantined(self, *, batch_id: int | None = None, limit: int = 1000) -> pl.DataFrame:
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
        return self._frame(query.limit(limit))

    def findings(self) -> pl.DataFrame:
        """Possible log-tampering findings, oldest first."""
        return self._frame(select(tamper_findings).order_by(tamper_findings.c.id))

    def batches(self) -> pl.DataFrame:
        """The ingestion history, one row per committed batch."""
        return self._frame(select(ingest_batches).order_by(ingest_batches.c.id))

    def segments(self) -> pl.DataFrame:
        """Where compacted batches' events are now, one row per batch (store/compaction.py)."""
        return self._frame(select(lake_segments).order_by(lake_segments.c.batch_id))

    def _frame(self, query: Any) -> pl.DataFrame:
        with self.engine.connect() as conn:
            return read_frame(conn, query)

    # --- writes ----------------------------------------------------------------------

    def commit_batch(self, record: BatchRecord, *, now: dt.datetime) -> int:
        """Store events, quarantine, findings and the new watermark atomically.

        The part's name is recorded as pending first, then the part is written, then one
        SQL transaction records the batch and removes the pending row: that transaction
        is the commit point. Returns the batch id.
        """
        if self.binding.store_id is None:
            self.binding.bind()
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
                self.id_ranges.add(part, record.events.get_column(EVENT_ID))
                if self.id_index is not None:
                    self.id_index.add(part, record.events.get_column(EVENT_ID))
            with self.engine.begin() as conn:
                batch_id = _insert_batch(conn, record, part, digest, now)
                _insert_rows(conn, batch_id, record, now)
                _set_watermark(conn, record.source, record.watermark_after, batch_id, now)
                if part is not None:
                    conn.execute(delete(lake_pending).where(lake_pending.c.part == part))
        except BaseException:
            if part is not None:
                self.lake.discard(part)
                with contextlib.suppress(Exception), self.engine.begin() as conn:
                    conn.execute(delete(lake_pending).where(lake_pending.c.part == part))
            raise
        return batch_id

    def remove_orphans(self) -> list[str]:
        """Delete the parts this store recorded as pending and never committed (a crash).

        Only call it while holding :meth:`ingest_lock` (a running ingestion's pending part
        is not an orphan). Files the store did not record are never touched, nor a
        compaction's part (a compaction may be writing it; compactions clean up their own).
        """
        from auditlens.store.compaction import COMPACTING

        with self.engine.connect() as conn:
            names = [
                str(r[0])
                for r in conn.execute(
                    select(lake_pending.c.part).where(lake_pending.c.source != COMPACTING)
                )
            ]
        removed = []
        for name in sorted(names):
            self.lake.discard(name)
            with self.engine.begin() as conn:
                conn.execute(delete(lake_pending).where(lake_pending.c.part == name))
            removed.append(name)
        return removed

    def compact(self, *, now: dt.datetime, **options: Any) -> CompactionReport:
        """Compact small lake parts (store/compaction.py :func:`compact`)."""
        from auditlens.store.compaction import compact

        return compact(self, now=now, **options)

    def compacted(self, parts: list[str], part: str, ids: pl.Series) -> None:
        """``parts``' events are now in ``part`` (their ``ids``): the id range and index
        follow without reading anything."""
        self.id_ranges.add(part, ids)
        if self.id_index is not None:
            self.id_index.rename(parts, part)

    @contextlib.contextmanager
    def ingest_lock(self, timeout: float = 30.0) -> Iterator[None]:
        """Hold the store's ingestion lock (one ingestion per store, on any machine)."""
        with store_lock(self.engine, "ingest", timeout=timeout, what="ingestion"):
            yield

    # --- the lake's identity and integrity (store/binding.py) ---------------------------

    def check_lake(self) -> None:
        """Refuse a lake that is not this store's (raises LakeMismatch)."""
        self.binding.check()

    def bind_lake(self, *, now: dt.datetime | None = None) -> str:
        """Bind this store and the lake in data_dir to each other; return the store id."""
        return self.binding.bind(now=now)

    def verify_lake(self) -> LakeCheck:
        """Check every committed part against the sha256 recorded when it was written."""
        return self.binding.verify()


def _insert_batch(
    conn: Connection, record: BatchRecord, part: str | None, digest: str | None, now: dt.datetime
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
        raise StoreError(
            "the database did not return the new batch id",
            ko="데이터베이스가 새 배치 ID를 돌려주지 않았습니다",
        )
    return int(key[0])


def _insert_rows(conn: Connection, batch_id: int, record: BatchRecord, now: dt.datetime) -> None:
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
    conn: Connection, source: str, mark: Watermark, batch_id: int, now: dt.datetime
) -> None:
    values = {"value": mark.value, "batch_id": batch_id, "updated_at": now}
    changed = conn.execute(
        update(watermarks).where(watermarks.c.source == source).values(**values)
    ).rowcount
    if not changed:
        conn.execute(insert(watermarks).values(source=source, **values))


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
