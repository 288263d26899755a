"""Re-identification jobs as plain functions (what `auditlens reidentify` calls).

The acting principal is the OS account (``who_am_i``) looked up in ``[principals]``;
``as_name`` lets an admin act on someone's behalf (recorded as such). The rules are in
auditlens/privacy/reidentify.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from auditlens.config import Settings
from auditlens.identity import Acting, Directory, cli_acting
from auditlens.pipeline.ingestion import Clock, utc_now
from auditlens.privacy.reidentify import (
    decide_reidentification,
    expire_due,
    request_reidentification,
    reveal,
)
from auditlens.store.reidentifications import Reidentification
from auditlens.store.repo import Store


@dataclass(frozen=True)
class Revealed:
    """The person behind one alert, shown to the requester of a live grant."""

    alert_id: int
    user_id: str
    request: Reidentification


def _acting(settings: Settings, as_name: str | None, who_am_i: Callable[[], str] | None) -> Acting:
    return cli_acting(Directory.from_settings(settings), as_name, who_am_i=who_am_i)


def reidentify_request(
    settings: Settings,
    alert_id: int,
    *,
    reason: str,
    as_name: str | None = None,
    clock: Clock = utc_now,
    who_am_i: Callable[[], str] | None = None,
) -> Reidentification:
    """Ask to see the person behind alert ``alert_id`` (an analyst; reason required)."""
    acting = _acting(settings, as_name, who_am_i)
    with Store.open(settings) as store:
        return request_reidentification(store, acting, alert_id, reason, now=clock())


def reidentify_decide(
    settings: Settings,
    request_id: int,
    *,
    grant: bool,
    note: str = "",
    as_name: str | None = None,
    clock: Clock = utc_now,
    who_am_i: Callable[[], str] | None = None,
) -> Reidentification:
    """Grant (for ``privacy.reidentify_ttl_minutes``) or deny a request (a different
    approver)."""
    acting = _acting(settings, as_name, who_am_i)
    ttl = dt.timedelta(minutes=settings.privacy.reidentify_ttl_minutes)
    with Store.open(settings) as store:
        return decide_reidentification(store, acting, request_id, grant, note, now=clock(), ttl=ttl)


def reidentify_show(
    settings: Settings,
    alert_id: int,
    *,
    as_name: str | None = None,
    clock: Clock = utc_now,
    who_am_i: Callable[[], str] | None = None,
) -> Revealed:
    """The user id behind alert ``alert_id``, for the requester of a live grant."""
    acting = _acting(settings, as_name, who_am_i)
    now = clock()
    with Store.open(settings) as store:
        user_id = reveal(store, acting, alert_id, now)
        live = [
            r
            for r in store.reidentifications.find(alert_id=alert_id, statuses=("granted",))
            if r.live(now) and r.requested_by == acting.effective.id
        ]
        return Revealed(alert_id, user_id, live[0])


def reidentify_list(
    settings: Settings,
    *,
    alert_id: int | None = None,
    statuses: tuple[str, ...] = (),
    limit: int = 50,
    clock: Clock = utc_now,
    who_am_i: Callable[[], str] | None = None,
) -> list[Reidentification]:
    """Requests, newest first (grants that ran out are recorded as expired first).

    Only known principals may list (no user ids are shown)."""
    _acting(settings, None, who_am_i)
    with Store.open(settings) as store:
        expire_due(store, clock())
        return store.reidentifications.find(alert_id=alert_id, statuses=statuses, limit=limit)
