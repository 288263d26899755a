"""`auditlens monitor quality` and `auditlens review`: detection quality from triage and
the miss-rate review samples (docs/monitoring.md, *Precision and recall*).

The figures are ``views.quality``'s (the API and reports read the same function); a
verdict goes through ``monitor.review.decide_sample`` as the acting principal — the OS
account looked up in ``[principals]``, ``--as`` for an admin — like every CLI decision.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable

from auditlens.config import Settings
from auditlens.errors import check_choices
from auditlens.identity import Directory, cli_acting
from auditlens.monitor.review import Verdict, decide_sample
from auditlens.pipeline.ingestion import utc_now
from auditlens.store.repo import Store
from auditlens.store.reviews import REVIEW_STATUSES
from auditlens.views import Page, PageOf, Quality, ReviewRow, quality, review_list
from auditlens.views.quality import last_weeks

Clock = Callable[[], dt.datetime]


def quality_report(settings: Settings, *, weeks: int = 4, clock: Clock | None = None) -> Quality:
    """Precision per ISO week and scenario and the miss-rate estimate of the last
    ``weeks`` ISO weeks (this one included), in the configured time zone."""
    today = (clock or utc_now)().astimezone(zoneinfo.ZoneInfo(settings.timezone)).date()
    start, end = last_weeks(today, weeks)
    with Store.open(settings) as store:
        return quality(store, start, end, zone=settings.timezone)


def list_reviews(
    settings: Settings, *, statuses: tuple[str, ...] = (), limit: int = 50
) -> PageOf[ReviewRow]:
    """Review samples, newest draw first (only ``statuses`` when given).

    Raises:
        ConfigError: a status that is not pending, missed or clean.
    """
    check_choices(statuses, REVIEW_STATUSES, what="review status", what_ko="검토 상태")
    with Store.open(settings) as store:
        return review_list(store, statuses, Page(limit=limit))


def decide_review(
    settings: Settings,
    sample_id: int,
    verdict: str,
    *,
    reason: str,
    note: str = "",
    as_name: str | None = None,
    clock: Clock = utc_now,
    who_am_i: Callable[[], str] | None = None,
) -> Verdict:
    """Record the acting principal's verdict (missed or clean) on a review sample."""
    acting = cli_acting(Directory.from_settings(settings), as_name, who_am_i=who_am_i)
    with Store.open(settings) as store:
        return decide_sample(
            store, sample_id, verdict, by=acting, reason=reason, note=note, now=clock()
        )
