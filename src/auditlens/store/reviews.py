"""The review-samples aggregate: unflagged users a run drew for review (miss-rate
sampling) and each one's verdict.

A run's draw is inserted in one transaction with its audit entry (``monitor/review.py``);
a verdict moves a sample from ``pending`` to ``missed`` or ``clean`` exactly once: the
update names the status it expects, so of two reviewers deciding at once one changes
the row and the other changes nothing (:meth:`ReviewRepository.decide` returns False).

Example::

    sample = store.reviews.get(3)          # ReviewSample(id=3, status='pending', ...)
    store.reviews.counts()                 # {'pending': 4, 'missed': 1, 'clean': 7}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import func, insert, select, update

from auditlens.errors import AuditlensError
from auditlens.store.db import review_samples
from auditlens.store.repository import Repository, utc

#: Every status of a review sample: drawn, then decided once.
REVIEW_STATUSES: Final = ("pending", "missed", "clean")
#: What a reviewer may say of a sample.
Verdict = Literal["missed", "clean"]
VERDICTS: Final[tuple[Verdict, ...]] = ("missed", "clean")


class ReviewNotFound(AuditlensError):
    """No review sample with the given id."""

    hint = "list them with `auditlens review list`"
    ko_hint = "`auditlens review list`로 검토 표본 목록을 확인하십시오"


@dataclass(frozen=True)
class NewSample:
    """One drawn user to store (the run's stored score row of their peak day)."""

    run_id: int
    score_id: int
    user_id: str
    window: dt.date
    risk: float
    severity: str
    population: int


@dataclass(frozen=True)
class ReviewSample:
    """A stored review sample (times in UTC)."""

    id: int
    run_id: int
    score_id: int
    user_id: str
    window: dt.date
    risk: float
    severity: str
    population: int
    drawn_at: dt.datetime
    status: str
    decided_by: str | None
    decided_at: dt.datetime | None
    reason_code: str | None
    note: str | None


class ReviewRepository(Repository):
    """Review samples and their verdicts."""

    def add(self, samples: Sequence[NewSample], now: dt.datetime) -> list[int]:
        """Store ``samples`` as pending (bind to the draw's transaction); their ids."""
        ids: list[int] = []
        with self._writing() as conn:
            for sample in samples:
                result = conn.execute(
                    insert(review_samples).values(
                        **sample.__dict__, drawn_at=utc(now), status="pending"
                    )
                )
                key = result.inserted_primary_key
                ids.append(int(key[0]) if key is not None else 0)
        return ids

    def get(self, sample_id: int) -> ReviewSample:
        """The sample with this id.

        Raises:
            ReviewNotFound: no such sample.
        """
        with self._reading() as conn:
            row = conn.execute(
                select(review_samples).where(review_samples.c.id == sample_id)
            ).first()
        if row is None:
            raise ReviewNotFound(
                f"no review sample #{sample_id}", ko=f"검토 표본 #{sample_id}이(가) 없습니다"
            )
        return _sample(dict(row._mapping))

    def decide(
        self,
        sample_id: int,
        verdict: Verdict,
        *,
        by: str,
        reason_code: str,
        note: str,
        now: dt.datetime,
    ) -> bool:
        """Record ``verdict`` on a pending sample; False when it is no longer pending (a
        second verdict, or another reviewer's at the same moment)."""
        with self._writing() as conn:
            changed = conn.execute(
                update(review_samples)
                .where(review_samples.c.id == sample_id, review_samples.c.status == "pending")
                .values(
                    status=verdict,
                    decided_by=by,
                    decided_at=utc(now),
                    reason_code=reason_code,
                    note=note,
                )
            )
        return changed.rowcount == 1

    def listing(
        self, statuses: Sequence[str] = (), *, limit: int = 50, offset: int = 0
    ) -> tuple[list[ReviewSample], int]:
        """Samples (only ``statuses`` when given), newest draw first; and their total."""
        query = select(review_samples)
        counting = select(func.count()).select_from(review_samples)
        if statuses:
            query = query.where(review_samples.c.status.in_(list(statuses)))
            counting = counting.where(review_samples.c.status.in_(list(statuses)))
        query = query.order_by(review_samples.c.drawn_at.desc(), review_samples.c.id.desc())
        with self._reading() as conn:
            rows = conn.execute(query.limit(limit).offset(offset)).all()
            total = int(conn.execute(counting).scalar_one())
        return [_sample(dict(r._mapping)) for r in rows], total

    def counts(self) -> dict[str, int]:
        """Samples per status (every status present, 0 when none)."""
        with self._reading() as conn:
            found = {
                str(s): int(n)
                for s, n in conn.execute(
                    select(review_samples.c.status, func.count()).group_by(review_samples.c.status)
                )
            }
        return {s: found.get(s, 0) for s in REVIEW_STATUSES} | {
            s: n for s, n in sorted(found.items()) if s not in REVIEW_STATUSES
        }


def _sample(row: dict[str, Any]) -> ReviewSample:
    decided = row["decided_at"]
    return ReviewSample(
        **row
        | {
            "drawn_at": utc(row["drawn_at"]),
            "decided_at": None if decided is None else utc(decided),
            "risk": float(row["risk"]),
        }
    )
