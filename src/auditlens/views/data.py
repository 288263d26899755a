"""The health of the data: quarantined rows by kind of reason and possible log tampering,
for a period.

The counts are those of :func:`auditlens.views.kpis.kpis` (``quarantined_rows``,
``tamper_findings``: rows quarantined and findings recorded on the period's local days);
this view splits them by kind. A quarantined row with several reasons counts once under
each of its kinds (:func:`auditlens.validate.quarantine_kinds`).

Example::

    with Store.open(settings) as store:
        health = data_health(store, date(2026, 9, 1), date(2026, 9, 30))
        health.quarantine_by_kind    # {'timestamp:unreadable': 3, 'user_id:missing': 1}
        ingestion(store, date(2026, 9, 1), date(2026, 9, 30)).watermark  # the data it rests on
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Final

import polars as pl
from pydantic import Field
from sqlalchemy import func, select

from auditlens.schema import TIMESTAMP
from auditlens.store.db import ingest_batches, quarantine, tamper_findings
from auditlens.store.repo import Store
from auditlens.validate import quarantine_kinds
from auditlens.views.common import DEFAULT_ZONE, ViewModel, period_bounds, utc

#: The most recent findings :func:`data_health` lists.
RECENT: Final = 20


class FindingView(ViewModel):
    """One possible log-tampering finding."""

    id: int
    kind: str = Field(description="tamper.py finding kind (finding_label for words)")
    source: str
    op: str
    table_name: str | None
    row_key: str | None
    event_id: str | None
    changed_at: dt.datetime | None
    detected_at: dt.datetime


class DataHealth(ViewModel):
    """Quarantine and tampering of one period."""

    start: dt.date
    end: dt.date
    zone: str
    quarantined_rows: int = Field(description="as kpis() counts them")
    quarantine_by_kind: dict[str, int] = Field(
        description="kind (field:kind) -> rows with a reason of that kind, most first"
    )
    tamper_findings: int = Field(description="as kpis() counts them")
    tamper_by_kind: dict[str, int] = Field(description="finding kind -> findings, most first")
    recent_findings: tuple[FindingView, ...] = Field(description=f"the {RECENT} newest")


def data_health(
    store: Store, start: dt.date, end: dt.date, *, zone: str = DEFAULT_ZONE
) -> DataHealth:
    """Rows quarantined and findings recorded from ``start`` to ``end`` (local days, both
    included), by kind, with the newest findings."""
    lower, upper = period_bounds(start, end, zone)
    in_period = (quarantine.c.quarantined_at >= lower) & (quarantine.c.quarantined_at < upper)
    found_in = (tamper_findings.c.detected_at >= lower) & (tamper_findings.c.detected_at < upper)
    with store.engine.connect() as conn:
        reasons = conn.execute(
            select(quarantine.c.reason, func.count()).where(in_period).group_by(quarantine.c.reason)
        ).all()
        kinds = conn.execute(
            select(tamper_findings.c.kind, func.count())
            .where(found_in)
            .group_by(tamper_findings.c.kind)
        ).all()
        recent = conn.execute(
            select(tamper_findings)
            .where(found_in)
            .order_by(tamper_findings.c.detected_at.desc(), tamper_findings.c.id.desc())
            .limit(RECENT)
        ).all()
    by_kind = reason_kinds((str(reason), int(n)) for reason, n in reasons)
    rows = sum(int(n) for _, n in reasons)
    tampered = Counter({str(kind): int(n) for kind, n in kinds})
    return DataHealth(
        start=start,
        end=end,
        zone=zone,
        quarantined_rows=rows,
        quarantine_by_kind=_ranked(by_kind),
        tamper_findings=sum(tampered.values()),
        tamper_by_kind=_ranked(tampered),
        recent_findings=tuple(
            FindingView(
                id=int(r.id),
                kind=str(r.kind),
                source=str(r.source),
                op=str(r.op),
                table_name=r.table_name,
                row_key=r.row_key,
                event_id=r.event_id,
                changed_at=None if r.changed_at is None else utc(r.changed_at),
                detected_at=utc(r.detected_at),
            )
            for r in recent
        ),
    )


def reason_kinds(reasons: Iterable[tuple[str, int]]) -> Counter[str]:
    """Quarantined rows per kind from ``(stored reason, rows)`` counts: a row with several
    reasons counts once under each of its kinds."""
    by_kind: Counter[str] = Counter()
    for reason, n in reasons:
        for kind in dict.fromkeys(quarantine_kinds(reason)):  # once per row and kind
            by_kind[kind] += n
    return by_kind


def _ranked(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


class SourceIngest(ViewModel):
    """One source's part of a period: its events and the batches that brought them."""

    source: str
    events: int = Field(description="stored events of the period from this source")
    batches: int = Field(description="ingest batches holding events of the period")
    batch_id: int = Field(description="the newest of them")
    watermark: str = Field(description="that batch's source watermark")


class Ingestion(ViewModel):
    """Where a period's events came from, and the data a report of it rests on: the
    newest ingest batch holding events of the period (a later batch with none of its
    events changes none of its figures)."""

    start: dt.date
    end: dt.date
    zone: str
    sources: tuple[SourceIngest, ...] = Field(description="sources with events, by name")
    batch_id: int | None = Field(description="newest batch holding events of the period")
    watermark: str | None = Field(description="that batch's source watermark")
    committed_at: dt.datetime | None


def ingestion(store: Store, start: dt.date, end: dt.date, *, zone: str = DEFAULT_ZONE) -> Ingestion:
    """The sources whose events fall on the local days ``start`` .. ``end`` (their events
    add up to ``coverage().events``), and the newest batch holding such events."""
    lower, upper = period_bounds(start, end, zone)
    batches = ingest_batches.c
    overlapping = (batches.min_ts < upper) & (batches.max_ts >= lower)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(batches.id, batches.source, batches.watermark_after, batches.committed_at)
            .where(overlapping)
            .order_by(batches.id)
        ).all()
    stamp = pl.col(TIMESTAMP)
    sources = []
    for source in sorted({str(r.source) for r in rows}):
        mine = [r for r in rows if r.source == source]
        events = (
            store.events.scan(source)
            .filter((stamp >= lower) & (stamp < upper))
            .select(pl.len())
            .collect()
            .item()
        )
        sources.append(
            SourceIngest(
                source=source,
                events=int(events),
                batches=len(mine),
                batch_id=int(mine[-1].id),
                watermark=str(mine[-1].watermark_after),
            )
        )
    newest = rows[-1] if rows else None
    return Ingestion(
        start=start,
        end=end,
        zone=zone,
        sources=tuple(sources),
        batch_id=None if newest is None else int(newest.id),
        watermark=None if newest is None else str(newest.watermark_after),
        committed_at=None if newest is None else utc(newest.committed_at),
    )
