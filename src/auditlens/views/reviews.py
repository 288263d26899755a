"""The miss-rate review samples as the API, the CLI and the dashboard list them
(``monitor/review.py`` draws and decides them).

Example::

    with Store.open(settings) as store:
        pending = review_list(store, ("pending",), Page())
        pending.items[0].user_id, pending.total
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydantic import Field

from auditlens.store.repo import Store
from auditlens.store.reviews import ReviewSample
from auditlens.views.common import Page, PageOf, ViewModel, page_of


class ReviewRow(ViewModel):
    """One drawn user and what a reviewer said of them."""

    id: int
    run_id: int
    user_id: str
    day: dt.date = Field(description="the user's peak day in the run that drew them")
    risk: float = Field(description="their peak risk then (below the capacity cut)")
    severity: str
    population: int = Field(description="unflagged users the run drew from")
    drawn_at: dt.datetime
    status: str = Field(description="pending, missed or clean")
    decided_by: str | None
    decided_at: dt.datetime | None
    reason_code: str | None
    note: str | None


def review_list(store: Store, statuses: Sequence[str], page: Page) -> PageOf[ReviewRow]:
    """Review samples (only ``statuses`` when given), newest draw first."""
    found, total = store.reviews.listing(statuses, limit=page.limit, offset=page.offset)
    return page_of([review_row(s) for s in found], total, page)


def review_row(sample: ReviewSample) -> ReviewRow:
    """A stored sample as a row."""
    return ReviewRow(
        id=sample.id,
        run_id=sample.run_id,
        user_id=sample.user_id,
        day=sample.window,
        risk=sample.risk,
        severity=sample.severity,
        population=sample.population,
        drawn_at=sample.drawn_at,
        status=sample.status,
        decided_by=sample.decided_by,
        decided_at=sample.decided_at,
        reason_code=sample.reason_code,
        note=sample.note,
    )
