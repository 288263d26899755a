"""Ingestion jobs as compositions of plain functions: read, validate, commit batch by batch.

Example::

    >>> report = ingest(FileSource("events.csv"), load_settings())
    >>> report.ingested == report.accepted + report.quarantined
    True
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl

from auditlens.config import (
    CertSourceConfig,
    FileSourceConfig,
    Settings,
    SourceConfig,
    SqlSourceConfig,
    ValueRulesConfig,
)
from auditlens.errors import ConfigError, SourceError, ValidationFailed
from auditlens.schema import EVENT_COLUMNS, EVENT_ID, LOCATION, Watermark
from auditlens.sources.base import UNREADABLE, Batch, Source
from auditlens.sources.cert import CertSource
from auditlens.sources.files import FileFormat, FileSource, resolve_files
from auditlens.sources.sql import SqlChangeLogSource
from auditlens.sources.textfile import clip
from auditlens.store.binding import LakeCheck
from auditlens.store.events import BatchRecord
from auditlens.store.repo import Store
from auditlens.tamper import reuse_findings, tamper_findings
from auditlens.validate import IdScope, ValidationResult, validate
from auditlens.vocabulary import DateOrder, ValueRules, read_value_map

Clock = Callable[[], dt.datetime]
Format = Literal["auto", "csv", "parquet", "jsonl", "xlsx", "cert"]
_FILE_FORMATS: dict[str, FileFormat] = {
    "csv": "csv",
    "parquet": "parquet",
    "jsonl": "jsonl",
    "xlsx": "xlsx",
}


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


def value_rules(
    settings: Settings,
    config: ValueRulesConfig | None = None,
    *,
    value_map: Mapping[str, Mapping[str, str]] | None = None,
    date_order: DateOrder | None = None,
) -> ValueRules:
    """The rules a source's values are read with: the source's settings over the global
    ones, and ``value_map``/``date_order`` from the command line over both.

    A value map given on the command line replaces the configured mapping of the
    columns it names (its other columns are kept).
    """
    own = config or ValueRulesConfig()
    mapping: dict[str, Mapping[str, str]] = {
        column: {k: str(v) for k, v in table.items()} for column, table in own.value_map.items()
    }
    mapping.update(value_map or {})
    return ValueRules(
        value_map=mapping,
        unknown_actions=own.unknown_actions or settings.unknown_actions,
        date_order=date_order or own.date_order or settings.date_order,
        ambiguous_times=own.ambiguous_times or settings.ambiguous_times,
    )


def make_source(
    name: str, config: SourceConfig, settings: Settings, *, encoding: str | None = None
) -> Source:
    """Build the Source a configuration entry describes (``encoding`` overrides the
    file source's)."""
    if isinstance(config, FileSourceConfig):
        return FileSource(
            config.path,
            config.format,
            config.column_map,
            name=name,
            id_scope=config.id_scope,
            encoding=encoding or config.encoding,
            settle_seconds=config.settle_seconds,
            rules=value_rules(settings, config),
        )
    if isinstance(config, SqlSourceConfig):
        return SqlChangeLogSource(
            config.url.get_secret_value(),
            events_table=config.events_table,
            key_column=config.key_column,
            change_log_table=config.change_log_table,
            page_size=config.page_size,
            column_map=config.column_map,
            name=name,
            timezone=settings.timezone,
            settle_seconds=config.settle_seconds,
            gap_wait_seconds=config.gap_wait_seconds,
            rules=value_rules(settings, config),
        )
    if isinstance(config, CertSourceConfig):
        return CertSource(Path(config.path), name=name, rules=value_rules(settings))
    raise SourceError(f"source {name!r}: unknown kind")  # pragma: no cover - pydantic guards


def source_for_path(
    path: Path,
    fmt: Format = "auto",
    column_map: Mapping[str, str] | None = None,
    id_scope: IdScope = "source",
    *,
    encoding: str = "utf-8",
    settle_seconds: float = 0.0,
    rules: ValueRules | None = None,
    name: str | None = None,
) -> Source:
    """A Source for a path given on the command line (files, or a CERT directory).

    ``encoding`` applies to CSV and JSON Lines files (utf-8, cp949, euc-kr or auto).
    ``settle_seconds``: see FileSource; the default 0 suits one-shot reads (score,
    evaluate), which have no later run to pick up a last line left for later.
    """
    if fmt == "cert" or (fmt == "auto" and path.is_dir() and (path / "logon.csv").exists()):
        return CertSource(path, name=name, rules=rules)
    resolve_files(path, fmt)  # fail now on a missing path, before touching the store
    return FileSource(
        path,
        fmt,
        column_map,
        name=name,
        id_scope=id_scope,
        encoding=encoding,
        settle_seconds=settle_seconds,
        rules=rules,
    )


@dataclass(frozen=True)
class InputOptions:
    """How a command reads events: the same options on ingest, score, train, evaluate.

    ``source`` names a configured ``[sources.NAME]`` to reuse (its column map, value map,
    encoding and date order); ``path`` a file, directory, glob or CERT directory (with a
    file ``source`` too: read that path the way the source reads its own). ``column_map``
    holds ``CUSTOMER=CANONICAL`` pairs, ``value_map`` a TOML or CSV value-map file; both
    add to (and win over) the source's own.
    """

    path: Path | None = None
    source: str | None = None
    format: Format = "auto"
    column_map: tuple[str, ...] = ()
    value_map: Path | None = None
    encoding: str | None = None
    date_order: DateOrder | None = None
    #: Where event ids are unique for a path (a configured source keeps its own).
    id_scope: IdScope | None = None
    #: How long a last line without a line end must stay unchanged before it is read:
    #: 0 suits one-shot reads (score, evaluate); ingest waits (later runs read the rest).
    settle_seconds: float = 0.0

    @property
    def given(self) -> bool:
        """Whether the options name an input at all (a path or a source)."""
        return self.path is not None or self.source is not None

    @property
    def tuned(self) -> bool:
        """Whether the options say how to read (mapping, encoding, date order...)."""
        return bool(
            self.column_map
            or self.value_map
            or self.encoding
            or self.date_order
            or self.id_scope
            or self.format != "auto"
        )


def input_source(settings: Settings, options: InputOptions) -> Source:
    """The one way a command turns its input options into a Source.

    Raises ConfigError for an unknown source name, a path given with a SQL source,
    a bad ``--map`` pair or value-map file, or no input at all.
    """
    pairs = parse_column_map(list(options.column_map))
    values = read_value_map(options.value_map) if options.value_map is not None else None
    if options.source is None:
        if options.path is None:
            raise ConfigError(
                "no input: give a path (--input PATH) or a configured source (--source NAME)"
            )
        rules = value_rules(settings, value_map=values, date_order=options.date_order)
        return source_for_path(
            options.path,
            options.format,
            pairs,
            options.id_scope or "source",
            encoding=options.encoding or "utf-8",
            settle_seconds=options.settle_seconds,
            rules=rules,
        )
    config = settings.sources.get(options.source)
    if config is None:
        known = ", ".join(sorted(settings.sources)) or "none configured"
        raise ConfigError(
            f"--source {options.source!r} is not a configured source ({known})",
            hint="define it as [sources.NAME] in auditlens.toml",
        )
    name = options.source
    update: dict[str, object] = {}
    if isinstance(config, CertSourceConfig):  # CERT's columns and dates are its format's
        if pairs or options.date_order or options.encoding:
            raise ConfigError(
                f"--source {options.source!r} is a CERT source: --map, --date-order and "
                "--encoding do not apply to it"
            )
        path = options.path or Path(config.path)
        rules = value_rules(settings, value_map=values)
        return CertSource(path, name=name if options.path is None else None, rules=rules)
    if isinstance(config, SqlSourceConfig):
        if options.path is not None or options.encoding or options.format != "auto":
            raise ConfigError(
                f"--source {options.source!r} is a SQL source: a path, --format or "
                "--encoding does not apply to it"
            )
    elif options.format == "cert":
        raise ConfigError(f"--format cert: --source {options.source!r} is not a CERT source")
    elif options.path is not None:  # read this path the way the source reads its own
        resolve_files(options.path, _FILE_FORMATS.get(options.format, config.format))
        update["path"] = str(options.path)
        name = f"{config.kind}:{options.path}"  # the source's watermark is for its own path
    update["column_map"] = {**config.column_map, **pairs}
    update["value_map"] = {**config.value_map, **(values or {})}
    update["date_order"] = options.date_order or config.date_order
    if isinstance(config, FileSourceConfig) and options.format != "auto":
        update["format"] = options.format
    if isinstance(config, FileSourceConfig) and options.id_scope is not None:
        update["id_scope"] = options.id_scope
    return make_source(name, config.model_copy(update=update), settings, encoding=options.encoding)


def source_folder(source: Source) -> Path | None:
    """The directory a file or CERT source reads from (for files kept beside the data)."""
    if isinstance(source, CertSource):
        return source.directory
    if isinstance(source, FileSource):
        return Path(source.path)
    return None


def ingest(
    source: Source,
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Clock = utc_now,
    on_batch: Callable[[BatchReport], None] | None = None,
    keep_going: bool = False,
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

    Raises:
        ValidationFailed: a batch had no valid row at all (nothing of it is stored,
            the watermark stays, so the batch is read again once the cause is fixed).
        LakeMismatch: the lake in data_dir is not this store's.
    """
    if store is None:
        with Store.open(settings) as own:
            return ingest(
                source, settings, store=own, clock=clock, on_batch=on_batch, keep_going=keep_going
            )
    report = IngestReport(source=source.name, actions_policy=source.rules.unknown_actions)
    events = store.events
    with events.ingest_lock():
        events.bind_lake(now=clock())
        report.removed_orphans = events.remove_orphans()
        since = events.watermark(source.name)
        known = events.ids()
        try:
            for batch in source.read(since):
                done, valid = _commit(batch, source, since, known, settings, store, clock)
                report.batches.append(done)
                if on_batch is not None:
                    on_batch(done)
                since = batch.watermark
                known = pl.concat([known, valid.get_column(EVENT_ID)])
        except (SourceError, ValidationFailed) as exc:
            if not keep_going:
                raise
            report.error = str(exc)
    return report


def _commit(
    batch: Batch,
    source: Source,
    since: Watermark | None,
    known: pl.Series,
    settings: Settings,
    store: Store,
    clock: Clock,
) -> tuple[BatchReport, pl.DataFrame]:
    """Validate and commit one batch; return its report and the events it stored."""
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
    return done, result.valid


def _notices(batch: Batch) -> tuple[tuple[str, str], ...]:
    english = batch.metadata.get("notice", "")
    korean = batch.metadata.get("notice_ko", english)
    return tuple(zip(english.splitlines(), korean.splitlines(), strict=False))


def validate_batch(
    batch: Batch,
    settings: Settings,
    now: dt.datetime,
    known: pl.Series,
    *,
    rules: ValueRules | None = None,
    stored: Callable[[pl.Series], pl.DataFrame] | None = None,
    id_scope: IdScope = "source",
) -> ValidationResult:
    """Validate one batch with the source's ``rules``; raise ValidationFailed when not a
    single row is usable (or the batch's dates need a date_order).

    ``known`` are the stored event ids; ``stored`` looks those events up so that only an
    identical repeat counts as a duplicate (see :func:`auditlens.validate.validate`).
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
    unreadable = UNREADABLE in batch.metadata
    well_formed = result.accepted + result.redundant + result.reused.height
    if well_formed == 0 and bad.height > 0 and not unreadable:
        examples = "; ".join(
            f"{clip(row[LOCATION])}: {clip(row['reason'])}"
            for row in bad.head(3).iter_rows(named=True)
        )
        raise ValidationFailed(
            f"batch {batch.label or '(unnamed)'}: all {bad.height} rows are "
            f"invalid, nothing was stored — e.g. {examples}",
            hint="fix the column mapping, format or time zone and run again",
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


def quarantined(settings: Settings, *, batch_id: int | None, limit: int) -> pl.DataFrame:
    """Quarantined rows of the store (newest batch first)."""
    with Store.open(settings) as store:
        return store.events.quarantined(batch_id=batch_id, limit=limit)


def parse_column_map(pairs: list[str]) -> dict[str, str]:
    """Parse ``CUSTOMER=CANONICAL`` pairs from the command line."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        customer, sep, canonical = pair.partition("=")
        if not sep or not customer.strip() or not canonical.strip():
            raise ConfigError(
                f"--map {pair!r} is not CUSTOMER=CANONICAL (e.g. login_time=timestamp)"
            )
        if canonical.strip() not in EVENT_COLUMNS:
            raise ConfigError(
                f"--map {pair!r}: {canonical.strip()!r} is not a canonical column "
                f"(one of {', '.join(EVENT_COLUMNS)})"
            )
        mapping[customer.strip()] = canonical.strip()
    return mapping


def sources_to_ingest(settings: Settings, options: InputOptions) -> list[Source]:
    """The input the command line names, else every configured source."""
    if options.given:
        return [input_source(settings, options)]
    if options.tuned:
        raise ConfigError(
            "--map, --value-map, --encoding, --date-order and --format need a PATH or "
            "--source NAME (each configured source has its own settings in auditlens.toml)"
        )
    if not settings.sources:
        raise ConfigError(
            "no input: give a PATH or configure [sources.NAME] in auditlens.toml",
            hint="see auditlens.example.toml",
        )
    return [make_source(name, cfg, settings) for name, cfg in settings.sources.items()]
