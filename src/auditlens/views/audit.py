"""Audit-trail views: search the trail, and whether it verifies.

The trail may live in its own database (``audit_store_url``): both views read it there
through ``store.audit`` / ``store.audit_engine``.

Example::

    with Store.open(settings) as store:
        found = audit_search(store, AuditFilters(actor="kim"), Page(limit=100))
        status = audit_status(store)      # AuditStatus(ok=True, entries=1234, ...)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from pydantic import Field
from sqlalchemy import func, select

from auditlens.identity import normalise
from auditlens.store.audit import AuditEntry, entry_of, timestamp
from auditlens.store.db import audit_log
from auditlens.store.replay import replay
from auditlens.store.repo import Store
from auditlens.views.common import DEFAULT_ZONE, Page, PageOf, ViewModel, day_bounds, page_of


class AuditFilters(ViewModel):
    """Which trail entries to find (every filter optional, all must hold)."""

    actor: str | None = Field(default=None, description="principal id (compared normalised)")
    actions: tuple[str, ...] = Field(default=(), description="empty: every action")
    subject: str | None = Field(default=None, description="the monitored user")
    target: str | None = Field(default=None, description="e.g. alert:7")
    start: dt.date | None = Field(default=None, description="on or after this local day")
    end: dt.date | None = Field(default=None, description="on or before this local day")


class AuditEntryView(ViewModel):
    """One entry of the hash-chained trail."""

    seq: int
    at: dt.datetime
    actor: str
    action: str
    target: str
    subject: str | None
    reason_code: str
    note: str
    criteria: dict[str, Any]
    prev_hash: str
    hash: str


class AuditStatus(ViewModel):
    """The trail's verification, computed when asked: the hash chain, then the alert,
    suppression and label tables replayed from it (store/replay.py)."""

    ok: bool
    checked_at: dt.datetime
    entries: int = Field(description="entries whose links hold (the chain's length when ok)")
    head_seq: int
    head_hash: str = Field(description="keep it elsewhere: an anchor for a later verify")
    broken_seq: int | None
    problem: str
    mismatches: tuple[str, ...]
    table_missing: bool
    separate_database: bool


def audit_search(
    store: Store, filters: AuditFilters, page: Page, *, zone: str = DEFAULT_ZONE
) -> PageOf[AuditEntryView]:
    """Trail entries matching ``filters``, newest first (by sequence number)."""
    query = select(audit_log)
    if filters.actor is not None:
        query = query.where(audit_log.c.actor == normalise(filters.actor))
    if filters.actions:
        query = query.where(audit_log.c.action.in_(filters.actions))
    if filters.subject is not None:
        query = query.where(audit_log.c.subject == filters.subject)
    if filters.target is not None:
        query = query.where(audit_log.c.target == filters.target)
    lower, upper = day_bounds(filters.start, filters.end, zone)
    if lower is not None:  # stored times are one canonical UTC text: they sort as times
        query = query.where(audit_log.c.at >= timestamp(lower))
    if upper is not None:
        query = query.where(audit_log.c.at < timestamp(upper))
    with store.audit_engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(query.subquery())).scalar_one())
        rows = conn.execute(
            query.order_by(audit_log.c.seq.desc()).limit(page.limit).offset(page.offset)
        ).all()
    return page_of([entry_view(entry_of(dict(r._mapping))) for r in rows], total, page)


def entry_view(entry: AuditEntry) -> AuditEntryView:
    """A stored entry as a view."""
    return AuditEntryView(**dataclasses.asdict(entry))


def audit_status(store: Store, *, now: dt.datetime | None = None) -> AuditStatus:
    """Verify the trail now: every hash link, then the tables replayed from the trail —
    what ``auditlens audit verify`` checks without anchors or checkpoints."""
    result = store.audit.verify()
    mismatches = (
        ()
        if result.table_missing
        else tuple(str(m) for m in replay(store.engine, store.audit_engine))
    )
    return AuditStatus(
        ok=result.broken_seq is None and not mismatches,
        checked_at=now or dt.datetime.now(dt.UTC),
        entries=result.entries,
        head_seq=result.head_seq,
        head_hash=result.head_hash,
        broken_seq=result.broken_seq,
        problem=result.problem,
        mismatches=mismatches,
        table_missing=result.table_missing,
        separate_database=store.trail.separate,
    )
