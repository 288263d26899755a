"""Which lake files hold which committed batches, compacted or not.

A batch's events are in the part it was ingested to (``ingest_batches.lake_part``) until
a compaction moves them (store/compaction.py): then they are rows ``first_row ..
first_row + rows - 1`` of a compacted part (``lake_segments``). A compacted part holds
consecutive batches of one source in batch order, so the batches of a range (after,
upto] are one contiguous row range of it: a :class:`Slice`.

Example::

    with engine.connect() as conn:
        current_files(conn)                 # ['part-a.parquet', 'part-c1.parquet', ...]
        slices(conn, upto=120)              # [Slice('part-c1.parquet', 0, 5000), ...]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from auditlens.store.db import ingest_batches, lake_segments


@dataclass(frozen=True)
class Slice:
    """Rows ``start .. start + rows - 1`` of lake file ``part``; ``rows`` None: all of it."""

    part: str
    start: int = 0
    rows: int | None = None

    @property
    def whole(self) -> bool:
        """True when the slice is the whole file."""
        return self.rows is None


def _batches(
    conn: Connection, *, source: str | None, after: int | None, upto: int | None
) -> list[tuple[int, str, str | None, int | None, int | None]]:
    """(batch id, ingested part, compacted part, first row, rows) of the committed batches
    with events, oldest first."""
    joined = ingest_batches.outerjoin(
        lake_segments, lake_segments.c.batch_id == ingest_batches.c.id
    )
    query = (
        select(
            ingest_batches.c.id,
            ingest_batches.c.lake_part,
            lake_segments.c.part,
            lake_segments.c.first_row,
            lake_segments.c.rows,
        )
        .select_from(joined)
        .where(ingest_batches.c.lake_part.is_not(None))
    )
    if source is not None:
        query = query.where(ingest_batches.c.source == source)
    if after is not None:
        query = query.where(ingest_batches.c.id > after)
    if upto is not None:
        query = query.where(ingest_batches.c.id <= upto)
    return [
        (int(i), str(p), None if c is None else str(c), f, n)
        for i, p, c, f, n in conn.execute(query.order_by(ingest_batches.c.id))
    ]


def current_files(conn: Connection, *, source: str | None = None) -> list[str]:
    """The lake files holding committed batches (of ``source``), each once, in the order
    of their first batch (:func:`slices` gives the events of a batch range exactly)."""
    seen: dict[str, None] = {}
    for _, ingested, compacted, _, _ in _batches(conn, source=source, after=None, upto=None):
        seen.setdefault(compacted or ingested, None)
    return list(seen)


def slices(
    conn: Connection,
    *,
    source: str | None = None,
    after: int | None = None,
    upto: int | None = None,
) -> list[Slice]:
    """Exactly the events of the committed batches after ``after`` up to ``upto`` (of
    ``source``), as file slices in the order of their first batch."""
    spans: dict[str, list[int]] = {}  # file -> [first row, end row] (-1, -1: the whole file)
    for _, ingested, compacted, first, rows in _batches(
        conn, source=source, after=after, upto=upto
    ):
        if compacted is None:
            spans.setdefault(ingested, [-1, -1])
            continue
        start, end = int(first or 0), int(first or 0) + int(rows or 0)
        span = spans.setdefault(compacted, [start, end])
        span[0], span[1] = min(span[0], start), max(span[1], end)
    totals = _compacted_rows(conn, [f for f, (a, _) in spans.items() if a >= 0])
    out = []
    for part, (start, end) in spans.items():
        whole = start < 0 or (start == 0 and end == totals.get(part))
        out.append(Slice(part) if whole else Slice(part, start, end - start))
    return out


def _compacted_rows(conn: Connection, parts: Iterable[str]) -> dict[str, int]:
    """Rows of each compacted part (the sum of its segments)."""
    wanted = list(parts)
    if not wanted:
        return {}
    query = (
        select(lake_segments.c.part, func.sum(lake_segments.c.rows))
        .where(lake_segments.c.part.in_(wanted))
        .group_by(lake_segments.c.part)
    )
    return {str(p): int(n) for p, n in conn.execute(query)}
