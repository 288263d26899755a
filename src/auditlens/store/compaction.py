"""Compaction of small lake parts: a stream commits a part per micro-batch (several a
second), and everything that reads the lake pays per file (a day of stream parts cost a
daily run or a stream start ~20 s, growing every day).

A compaction moves the events of consecutive small batches of one source into one part,
in batch order, and records where each batch's rows are now (``lake_segments``: part,
first row, rows). Nothing of the ingestion record changes: each batch keeps the part it
was ingested to and that part's sha256. Evidence is kept along the way:

1. each part is checked against the sha256 recorded at its ingestion before its events
   are moved (a missing or changed part is refused, left as it is and named: verify_lake
   still reports it); the hash checked is stored with the segment (``source_sha256``);
2. the compacted part is written atomically (recorded as pending first, so a crash leaves
   nothing a reader sees), read back and compared with the events it was written from,
   and its sha256 recorded (verify_lake checks it from then on);
3. one SQL transaction records the segments and retires the old parts; a retired part is
   deleted only after ``grace`` (a reader in another process may have listed it).

Which batches: the small ones (under ``small_rows`` events), in runs of one source that
neither a larger batch nor another source's batch interrupts (the lake is read in batch
order), cut into parts of at most ``target_rows`` events. The newest run is compacted
once it has ``min_parts`` parts (a stream is still adding to it); a run something else
closed is compacted from two parts. Two sources committing in turn (two streams into one
store) leave short runs: they compact little.

Only one compaction runs per store at a time (a store lock); ingestion goes on meanwhile
(it only adds batches). Its pending part is marked so an ingestion's cleanup of crashed
batches leaves it alone; a later compaction removes it if it crashed.

Example::

    report = compact(store.events, now=utc_now())
    report.compacted   # [Compacted(source='kafka', part='part-...', batches=64, rows=160000)]
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import polars as pl
from sqlalchemy import delete, func, insert, select

from auditlens.schema import EVENT_ID
from auditlens.store.db import ingest_batches, lake_pending, lake_retired, lake_segments
from auditlens.store.locks import LockTimeout, store_lock

if TYPE_CHECKING:
    from auditlens.store.events import EventRepository

#: A batch with fewer events than this is compacted.
SMALL_ROWS: Final = 50_000
#: A compacted part holds at most about this many events.
TARGET_ROWS: Final = 1_000_000
#: The newest run of small batches of a source is compacted once it has this many.
MIN_PARTS: Final = 64
#: A retired part is deleted this long after its events moved.
GRACE: Final = dt.timedelta(hours=1)
#: ``lake_pending.source`` of a compaction's part being written.
COMPACTING: Final = "(compaction)"


@dataclass(frozen=True)
class Compacted:
    """One compacted part: the batches it holds and their events."""

    source: str
    part: str
    batches: int
    rows: int


@dataclass
class CompactionReport:
    """What one compaction did."""

    compacted: list[Compacted] = field(default_factory=list)
    #: Parts not compacted because they are missing or changed since their ingestion.
    refused: list[str] = field(default_factory=list)
    #: Retired parts deleted (their grace period was over).
    deleted: list[str] = field(default_factory=list)
    #: Another compaction held the lock: nothing was done.
    busy: bool = False


@dataclass(frozen=True)
class _Batch:
    id: int
    source: str
    part: str
    sha256: str | None
    rows: int


def compact(
    repo: EventRepository,
    *,
    now: dt.datetime,
    small_rows: int = SMALL_ROWS,
    target_rows: int = TARGET_ROWS,
    min_parts: int = MIN_PARTS,
    grace: dt.timedelta = GRACE,
    wait: float = 0.0,
) -> CompactionReport:
    """Compact small lake parts (module docstring). Waits up to ``wait`` s for another
    compaction (then reports ``busy``)."""
    report = CompactionReport()
    try:
        with store_lock(repo.engine, "compact", timeout=wait, what="lake compaction"):
            _remove_crashed(repo)
            for group in _groups(repo, small_rows, target_rows, min_parts):
                _compact_group(repo, group, now, report)
            report.deleted = _delete_retired(repo, now - grace)
    except LockTimeout:
        report.busy = True
    return report


def _groups(
    repo: EventRepository, small: int, target: int, min_parts: int
) -> Iterator[list[_Batch]]:
    """Groups of consecutive small uncompacted batches to compact, oldest first.

    Consecutive in the store's batch order, not only the source's: a compacted part is
    read in the place of its first batch, so another source's batch in between would
    change the order events are read in (ties in time keep that order). The batches
    after the newest compacted one are all that can still be compacted: a run before it
    was compacted or left (one part, or refused) when that compaction saw it whole.
    """
    with repo.engine.connect() as conn:
        horizon = conn.execute(select(func.max(lake_segments.c.batch_id))).scalar() or 0
        query = (
            select(
                ingest_batches.c.id,
                ingest_batches.c.source,
                ingest_batches.c.lake_part,
                ingest_batches.c.lake_sha256,
                ingest_batches.c.accepted,
            )
            .where(ingest_batches.c.lake_part.is_not(None), ingest_batches.c.id > horizon)
            .order_by(ingest_batches.c.id)
        )
        batches = [
            _Batch(int(i), str(s), str(p), h, int(n)) for i, s, p, h, n in conn.execute(query)
        ]
    runs: list[list[_Batch]] = [[]]
    for batch in batches:
        if batch.rows >= small:  # a larger batch closes the run
            runs.append([])
            continue
        if runs[-1] and runs[-1][-1].source != batch.source:
            runs.append([])
        runs[-1].append(batch)
    runs = [r for r in runs if r]
    newest = batches[-1].id if batches else None
    for run in runs:
        groups = _cut(run, target)
        for n, group in enumerate(groups):
            still_growing = group[-1].id == newest and n == len(groups) - 1
            if len(group) >= (min_parts if still_growing else 2):
                yield group


def _cut(run: list[_Batch], target: int) -> list[list[_Batch]]:
    """``run`` in groups of at most ``target`` events (at least one batch each)."""
    groups: list[list[_Batch]] = [[]]
    rows = 0
    for batch in run:
        if groups[-1] and rows + batch.rows > target:
            groups.append([])
            rows = 0
        groups[-1].append(batch)
        rows += batch.rows
    return [g for g in groups if g]


def _compact_group(
    repo: EventRepository, group: list[_Batch], now: dt.datetime, report: CompactionReport
) -> None:
    """Move the events of ``group`` into one new part (module docstring, steps 1-3)."""
    lake = repo.lake
    checked: list[str] = []
    frames: list[pl.DataFrame] = []
    for batch in group:  # 1. each part as it was ingested (checked and parsed: one read)
        found = lake.read_hashed(batch.part)
        if found is None or (batch.sha256 is not None and found[0] != batch.sha256):
            report.refused.append(batch.part)
            return
        frame = pl.read_parquet(io.BytesIO(found[1]))
        if frame.height != batch.rows:
            report.refused.append(batch.part)
            return
        checked.append(found[0])
        frames.append(frame)
    events = pl.concat(frames, how="vertical")
    part = lake.new_part_name()
    with repo.engine.begin() as conn:
        conn.execute(insert(lake_pending).values(part=part, source=COMPACTING, created_at=now))
    try:
        lake.write_part(events, part)  # 2. written, read back and hashed in one read
        written = lake.read_hashed(part)
        if written is None or not pl.read_parquet(io.BytesIO(written[1])).equals(events):
            raise OSError(f"lake part {part} does not read back as written")
        digest = written[0]
        first = 0
        segments = []
        for batch, frame, source_sha in zip(group, frames, checked, strict=True):
            segments.append(
                {
                    "batch_id": batch.id,
                    "part": part,
                    "first_row": first,
                    "rows": frame.height,
                    "part_sha256": digest,
                    "source_sha256": source_sha,
                    "compacted_at": now,
                }
            )
            first += frame.height
        with repo.engine.begin() as conn:  # 3. one transaction
            conn.execute(insert(lake_segments), segments)
            conn.execute(insert(lake_retired), [{"part": b.part, "retired_at": now} for b in group])
            conn.execute(delete(lake_pending).where(lake_pending.c.part == part))
    except BaseException:
        lake.discard(part)
        with contextlib.suppress(Exception), repo.engine.begin() as conn:
            conn.execute(delete(lake_pending).where(lake_pending.c.part == part))
        raise
    repo.compacted([b.part for b in group], part, events.get_column(EVENT_ID))
    report.compacted.append(Compacted(group[0].source, part, len(group), events.height))


def _remove_crashed(repo: EventRepository) -> None:
    """Delete the parts of compactions that crashed before their commit (lock held)."""
    with repo.engine.connect() as conn:
        names = [
            str(r[0])
            for r in conn.execute(
                select(lake_pending.c.part).where(lake_pending.c.source == COMPACTING)
            )
        ]
    for name in names:
        repo.lake.discard(name)
        with repo.engine.begin() as conn:
            conn.execute(delete(lake_pending).where(lake_pending.c.part == name))


def _delete_retired(repo: EventRepository, before: dt.datetime) -> list[str]:
    """Delete the retired parts retired before ``before``; their names."""
    with repo.engine.connect() as conn:
        names = [
            str(r[0])
            for r in conn.execute(
                select(lake_retired.c.part)
                .where(lake_retired.c.retired_at < before)
                .order_by(lake_retired.c.part)
            )
        ]
    for name in names:
        repo.lake.discard(name)
        with repo.engine.begin() as conn:
            conn.execute(delete(lake_retired).where(lake_retired.c.part == name))
    return names
