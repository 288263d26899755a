"""Where a change-log read stands: the highest change id read and the gaps below it.

Late commits. ``change_id`` is allocated when a row is written, not when its transaction
commits: a transaction that took id 104 may commit after id 105 was read. The source
therefore remembers every *gap* in the ids it has read (in the watermark, as id ranges) and
reads each gap again on every later read until the gap is filled or can no longer be:

- PostgreSQL: with each gap it keeps the snapshot's ``xmax`` at the time it saw the gap.
  Once ``txid_snapshot_xmin(txid_current_snapshot())`` has passed it, every transaction
  that could still have been writing into the gap has ended (committed or rolled back);
  the gap is read one last time and then forgotten. So a late commit is read exactly once
  however long its transaction stays open. Assumes the id is taken by the statement that
  writes the change-log row (a column default or trigger) from a sequence with
  ``CACHE 1`` (PostgreSQL's default): a session caching ids could hand out a lower id
  later, in a transaction that started after the gap was seen.
- Other databases: a gap is read again for ``gap_wait_seconds`` after it was first seen
  (default one hour), then forgotten; a transaction that commits later than that after a
  higher id was read is missed. SQLite serialises writers, so it has no late commits.

Gaps are normal (rollbacks, sequence caches) and cost one extra indexed query per page
while they are remembered. A late row is read once: its gap is removed when it is read,
in the same watermark that is committed with it. ``settle_seconds`` (default 0) still
holds back rows newer than ``now - settle_seconds`` for those who want it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.engine import Connection

from auditlens.errors import SourceError
from auditlens.sources.base import Watermark

#: How long a gap is re-read on databases other than PostgreSQL (seconds).
GAP_WAIT_SECONDS: Final = 3600.0


@dataclass(frozen=True)
class Gap:
    """Change ids ``lo..hi`` not seen yet; ``horizon``: PostgreSQL snapshot xmax when seen,
    or (other databases) the Unix time it was first seen."""

    lo: int
    hi: int
    horizon: float


@dataclass
class Position:
    """Where reading stands: the highest id read and the gaps below it."""

    after: int | None
    gaps: list[Gap]

    def watermark(self) -> Watermark:
        body: dict[str, Any] = {"change_id": self.after}
        if self.gaps:
            body["gaps"] = [[g.lo, g.hi, g.horizon] for g in self.gaps]
        return Watermark(json.dumps(body))


def parse_position(since: Watermark | None) -> Position:
    if since is None:
        return Position(None, [])
    try:
        body = json.loads(since.value)
        value = body["change_id"]
        if isinstance(value, bool) or not isinstance(value, int | None):
            raise TypeError(value)
        gaps = [Gap(int(lo), int(hi), float(h)) for lo, hi, h in body.get("gaps", [])]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SourceError(
            f"watermark {since.value!r} is not a change-log position",
            hint='expected JSON like {"change_id": 123}; reset the source to read from the start',
            ko=f"저장된 워터마크가 변경 로그 위치가 아닙니다: {since.value!r}",
            ko_hint='{"change_id": 123} 형식의 JSON이어야 합니다. 처음부터 읽으려면 소스를 '
            "초기화하십시오",
        ) from None
    return Position(value, gaps)


def pg_snapshot(conn: Connection, which: str) -> float | None:
    """``xmin`` or ``xmax`` of the current PostgreSQL snapshot (64-bit transaction ids)."""
    fn = "txid_snapshot_xmin" if which == "xmin" else "txid_snapshot_xmax"
    value = conn.execute(text(f"SELECT {fn}(txid_current_snapshot())")).scalar()
    return None if value is None else float(value)


def remaining_gaps(gaps: list[Gap], found: list[int]) -> list[Gap]:
    """``gaps`` without the ids just read (a range may split in two)."""
    if not found:
        return list(gaps)
    read = sorted(set(found))
    out: list[Gap] = []
    for gap in gaps:
        lo = gap.lo
        for cid in (c for c in read if gap.lo <= c <= gap.hi):
            if cid > lo:
                out.append(Gap(lo, cid - 1, gap.horizon))
            lo = cid + 1
        if lo <= gap.hi:
            out.append(Gap(lo, gap.hi, gap.horizon))
    return out


def new_gaps(after: int | None, ids: list[int], seen_at: float | None) -> list[Gap]:
    """Ids skipped between ``after`` and the ids just read (sorted ascending)."""
    horizon = 0.0 if seen_at is None else seen_at
    out: list[Gap] = []
    prev = after if after is not None else 0
    for cid in ids:
        if cid > prev + 1:
            out.append(Gap(prev + 1, cid - 1, horizon))
        prev = max(prev, cid)
    return out
