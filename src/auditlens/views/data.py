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
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Final

from pydantic import Field
from sqlalchemy import func, select

from auditlens.store.db import quarantine, tamper_findings
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
