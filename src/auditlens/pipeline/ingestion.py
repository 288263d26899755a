"""Ingestion jobs as compositions of plain functions: read, validate, commit batch by batch.

Example::

    >>> from pathlib import Path
    >>> from auditlens.sources.files import FileSource
    >>> _ = Path("events.csv").write_text("timestamp,user_id,action_type\\n"
    ...                                   "2026-09-01T09:00:00,kim,login\\n"
    ...                                   "yesterday,lee,login\\n")
    >>> report = ingest(FileSource("events.csv"), settings)
    >>> report.ingested == report.accepted + report.quarantined
    True
    >>> report.accepted, report.quarantined
    (1, 1)
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import polars as pl

from auditlens.config import (
    Settings,
)
from auditlens.duplicates import IdScope, KnownIds
from auditlens.errors import SourceError, ValidationFailed
from auditlens.pipeline.heap import job_heap
from auditlens.schema import EVENT_ID, LOCATION, Watermark
from auditlens.sources.base import STREAM, UNREADABLE, Batch, Source
from auditlens.sources.textfile import clip
from auditlens.store.binding import LakeCheck
from auditlens.store.compaction import CompactionReport
from auditlens.store.events import BatchRecord
from auditlens.store.repo import Store
from auditlens.tamper import reuse_findings, tamper_findings
from auditlens.validate import ValidationResult, quarantine_reason, validate
from auditlens.vocabulary import ValueRules

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """The real clock (tests inject their own)."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class BatchReport:
    """What one committed batch added."""

    batch_id: int
    label: str
    ingested: int
    accepted: int
    quarantined: int
    findings: int
    #: Why the file this batch stands for could not be read ("" for a normal batch).
    unreadable: str = ""
    #: What the source wants the person to know, as (English, Korean) pairs.
    notices: tuple[tuple[str, str], ...] = ()
    #: Action values outside the vocabulary, with counts (quarantined or kept).
    unknown_actions: Mapping[str, int] = field(default_factory=dict)


@dataclass
class IngestReport:
    """What one ingestion run did, per batch and in total."""

    source: str
    batches: list[BatchReport] = field(default_factory=list)
    removed_orphans: list[str] = field(default_factory=list)
    #: Why the source stopped early (``keep_going``); "" when it was read to the end.
    error: str = ""
    #: ``error`` in Korean.
    error_ko: str = ""

    @property
    def unreadable(self) -> list[str]:
        """Files that could not be read (each quarantined as one entry)."""
        return [b.label for b in self.batches if b.unreadable]

    @property
    def problems(self) -> bool:
        """True when a row was quarantined, a file unreadable or the source failed."""
        return bool(self.quarantined or self.unreadable or self.error)

    #: The source's unknown_actions: were unknown actions quarantined or kept?
    actions_policy: str = "quarantine"

    @property
    def ingested(self) -> int:
        """Rows read from the source."""
        return sum(b.ingested for b in self.batches)

    @property
    def accepted(self) -> int:
        """Rows stored as events."""
        return sum(b.accepted for b in self.batches)

    @property
    def quarantined(self) -> int:
        """Rows quarantined with a reason."""
        return sum(b.quarantined for b in self.batches)

    @property
    def findings(self) -> int:
        """Possible log-tampering findings recorded."""
        return sum(b.findings for b in self.batches)

    @property
    def unknown_actions(self) -> dict[str, int]:
        """Action values outside the vocabulary over all batches, most frequent first."""
        total: Counter[str] = Counter()
        for b in self.batches:
            total.update(b.unknown_actions)
        return dict(total.most_common())


def ingest(
    source: Source,
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Clock = utc_now,
    on_batch: Callable[[BatchReport], None] | None = None,
    keep_going: bool = False,
    on_events: Callable[[BatchReport, pl.DataFrame], None] | None = None,
) -> IngestReport:
    """Read everything new from ``source``, validate it and commit it batch by batch.

    Each batch — its valid events, quarantined rows, tampering findings and the
    source's new watermark — is committed in one transaction, so a crash at any point
    neither loses nor double-counts an event: the next run resumes after the last
    committed batch. A file the source cannot read is quarantined as one entry
    (``BatchReport.unreadable``) and the source goes on.

    With ``keep_going`` a source that fails (SourceError, ValidationFailed) does not
    raise: what was committed before stays, ``IngestReport.error`` says why it stopped,
    and the caller goes on with its other sources.

    ``on_events`` hears of each committed batch with its valid events as stored (the
    streaming run scores them; pipeline/stream_job.py).

    Raises:
        ValidationFailed: a batch had no valid row at all (nothing of it is stored,
            the watermark stays, so the batch is read again once the cause is fixed).
        LakeMismatch: the lake in data_dir is not this store's.
    """
    if store is None:
        with Store.open(settings) as own:
            return ingest(
                source,
                settings,
                store=own,
                clock=clock,
                on_batch=on_batch,
                keep_going=keep_going,
                on_events=on_events,
            )
    report = IngestReport(source=source.name, actions_policy=source.rules.unknown_actions)
    events = store.events
    with job_heap(), events.ingest_lock():
        events.bind_lake(now=clock())
        report.removed_orphans = events.remove_orphans()
        since = events.watermark(source.name)
        try:
            for batch in source.read(since):
                # each batch's ids are checked against the lake as committed so far
                # (earlier batches of this run included), never all ids loaded at once
                done, record = _commit(
                    batch, source, since, events.stored_ids, settings, store, clock
                )
                source.committed(batch, record.quarantined)
                report.batches.append(done)
                if on_events is not None:
                    on_events(done, record.events)
                if on_batch is not None:
                    on_batch(done)
                since = batch.watermark
                # let go of this batch's frames before the source reads the next one (a
                # directory of large files: one file in memory at a time, not two)
                del batch, record
        except (SourceError, ValidationFailed) as exc:
            if not keep_going:
                raise
            report.error = str(exc)
            report.error_ko = exc.text("ko")
    return report


def _commit(
    batch: Batch,
    source: Source,
    since: Watermark | None,
    known: KnownIds,
    settings: Settings,
    store: Store,
    clock: Clock,
) -> tuple[BatchReport, BatchRecord]:
    """Validate and commit one batch; return its report and what was stored."""
    started = clock()
    scope: IdScope = "file" if source.id_scope == "file" else "source"
    result = validate_batch(
        batch,
        settings,
        clock(),
        known,
        rules=source.rules,
        stored=lambda ids: store.events.with_ids(ids, source.name),
        id_scope=scope,
    )
    record = _record(source.name, batch, result, since, store, started)
    batch_id = store.events.commit_batch(record, now=clock())
    done = BatchReport(
        batch_id=batch_id,
        label=batch.label,
        ingested=record.ingested,
        accepted=record.events.height,
        quarantined=record.quarantined.height,
        findings=record.findings.height,
        unreadable=batch.metadata.get(UNREADABLE, ""),
        notices=_notices(batch),
        unknown_actions=result.unknown_actions,
    )
    return done, record


def _notices(batch: Batch) -> tuple[tuple[str, str], ...]:
    english = batch.metadata.get("notice", "")
    korean = batch.metadata.get("notice_ko", english)
    return tuple(zip(english.splitlines(), korean.splitlines(), strict=False))


def validate_batch(
    batch: Batch,
    settings: Settings,
    now: dt.datetime,
    known: KnownIds,
    *,
    rules: ValueRules | None = None,
    stored: Callable[[pl.Series], pl.DataFrame] | None = None,
    id_scope: IdScope = "source",
) -> ValidationResult:
    """Validate one batch with the source's ``rules``; raise ValidationFailed when not a
    single row is usable (or the batch's dates need a date_order).

    ``known`` are the stored event ids, or a function returning those of the given ids
    that are stored (:meth:`EventRepository.stored_ids`); ``stored`` looks those events
    up so that only an identical repeat counts as a duplicate (see
    :func:`auditlens.validate.validate`).
    """
    result = validate(
        batch.events,
        timezone=settings.timezone,
        now=now,
        future_tolerance=dt.timedelta(seconds=settings.future_tolerance_seconds),
        known_ids=known,
        stored=stored,
        id_scope=id_scope,
        rules=rules,
    )
    rejected = batch.rejected if batch.rejected is not None else result.quarantined.clear()
    bad = pl.concat([rejected.select(result.quarantined.columns), result.quarantined])
    # a re-delivered export (or a reused id) is not "invalid": only fail when no row is
    # even well-formed
    # (a file that could not be read at all is quarantined as one entry instead)
    unreadable = UNREADABLE in batch.metadata or STREAM in batch.metadata
    well_formed = result.accepted + result.redundant + result.reused.height
    if well_formed == 0 and bad.height > 0 and not unreadable:
        examples = "; ".join(
            f"{clip(row[LOCATION])}: {clip(row['reason'])}"
            for row in bad.head(3).iter_rows(named=True)
        )
        examples_ko = "; ".join(
            f"{clip(row[LOCATION])}: {clip(quarantine_reason(row['reason'], 'ko'))}"
            for row in bad.head(3).iter_rows(named=True)
        )
        raise ValidationFailed(
            f"batch {batch.label or '(unnamed)'}: all {bad.height} rows are "
            f"invalid, nothing was stored — e.g. {examples}",
            hint="fix the column mapping, format or time zone and run again",
            ko=f"배치 {batch.label or '(이름 없음)'}: {bad.height}행 모두 유효하지 않아 "
            f"아무것도 저장하지 않았습니다 — 예: {examples_ko}",
            ko_hint="열 매핑, 형식 또는 시간대를 고친 뒤 다시 실행하십시오",
        )
    return result


def _record(
    source: str,
    batch: Batch,
    result: ValidationResult,
    since: Watermark | None,
    store: Store,
    started: dt.datetime,
) -> BatchRecord:
    quarantined = result.quarantined
    if batch.rejected is not None and batch.rejected.height:
        quarantined = pl.concat([batch.rejected.select(quarantined.columns), quarantined])
    stored = pl.DataFrame()
    if batch.changes is not None and batch.changes.height:
        ids = batch.changes.get_column(EVENT_ID).cast(pl.String).drop_nulls()
        places = batch.changes.get_column(LOCATION).cast(pl.String).drop_nulls()
        in_batch = pl.col(EVENT_ID).is_in(ids.implode()) | pl.col(LOCATION).is_in(places.implode())
        stored = pl.concat([store.events.lookup(ids, places), result.valid.filter(in_batch)])
    findings = pl.concat([tamper_findings(batch.changes, stored), reuse_findings(result.reused)])
    ingested = batch.events.height + (batch.rejected.height if batch.rejected is not None else 0)
    if ingested != result.accepted + quarantined.height:
        raise AssertionError(
            f"batch {batch.label}: {ingested} rows in but {result.accepted} accepted + "
            f"{quarantined.height} quarantined"
        )
    return BatchRecord(
        source=source,
        label=batch.label,
        started_at=started,
        ingested=ingested,
        events=result.valid,
        quarantined=quarantined,
        findings=findings,
        watermark_before=since,
        watermark_after=batch.watermark,
    )


# --- store, sample data and the demo ------------------------------------------------------


def upgrade_store(settings: Settings) -> str:
    """Create or migrate the store schema (and the audit database's) as the owner role
    (``store_owner_url``, else ``store_url``); return the revision in force."""
    from auditlens.pipeline.controls import migrate_databases

    return migrate_databases(settings)


def verify_lake(settings: Settings) -> LakeCheck:
    """Check every committed lake part against the sha256 recorded at ingestion."""
    with Store.open(settings) as store:
        store.events.check_lake()
        return store.events.verify_lake()


def compact_lake(settings: Settings, *, wait: float = 30.0) -> CompactionReport:
    """Compact the store's small lake parts (store/compaction.py): a stream commits one
    per micro-batch. Retired parts are deleted after their grace period."""
    with Store.open(settings) as store:
        store.events.check_lake()
        return store.events.compact(now=utc_now(), wait=wait)


def quarantined(settings: Settings, *, batch_id: int | None, limit: int) -> pl.DataFrame:
    """Quarantined rows of the store (newest batch first)."""
    with Store.open(settings) as store:
        return store.events.quarantined(batch_id=batch_id, limit=limit)
