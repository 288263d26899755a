"""Links to a filtered alert queue: ``/alerts?department=sales&severity=high&start=...``.

The alert queue reads its filters from the query as well as from its widgets, so another
page (the Overview's list behind a chart click) can send a reader to exactly that list:

- ``status``, ``department``, ``severity``, ``scenario``: repeat for several values; a
  severity is exact (``severity=high&severity=critical`` for high and above), as the
  Overview's filter; ``unknown`` is the department of alerts without one;
- ``start``, ``end``: the local days the alerts were opened on, ``YYYY-MM-DD``, both
  included (one alone: that day to today, or the 30 days up to it).

A link sets the widgets once, when it is new to the session; what the reader changes
afterwards stays. A value that names nothing (a mistyped status, a date that is not one) is
left out and said.

Example::

    >>> scope = AlertScope(departments=("sales",), severities=(Severity.HIGH,))
    >>> queue_query(dt.date(2026, 9, 1), dt.date(2026, 9, 30), scope, ("open",))
    {'status': ['open'], 'department': ['sales'], 'severity': ['high'], 'scenario': [], \
'start': '2026-09-01', 'end': '2026-09-30'}
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from auditlens.store.alerts import ALERT_STATUSES
from auditlens.views import AlertScope
from auditlens.vocabulary import Severity

#: The query parameters the alert queue reads (with ``alert``: navigation.ALERT_PARAM).
LIST_PARAMS: Final = ("status", "department", "severity", "scenario")
DAY_PARAMS: Final = ("start", "end")
QUEUE_PARAMS: Final = (*LIST_PARAMS, *DAY_PARAMS)
#: Days a period reaches back from an ``end`` given alone (the period picker's default).
DEFAULT_DAYS: Final = 30


def queue_query(
    start: dt.date | None,
    end: dt.date | None,
    scope: AlertScope | None,
    statuses: Sequence[str] = (),
) -> dict[str, str | list[str]]:
    """The query of a link to the queue of alerts opened ``start``..``end`` in ``scope``
    with ``statuses`` (empty: none named, the queue's default)."""
    wanted = scope or AlertScope()
    query: dict[str, str | list[str]] = {
        "status": list(statuses),
        "department": list(wanted.departments),
        "severity": [s.value for s in wanted.severities],
        "scenario": list(wanted.scenarios),
    }
    if start is not None:
        query["start"] = start.isoformat()
    if end is not None:
        query["end"] = end.isoformat()
    return query


@dataclass(frozen=True)
class QueueLink:
    """The filters a link asks for (None: the link does not name that filter) and the
    values it gave that name nothing."""

    statuses: tuple[str, ...] | None = None
    departments: tuple[str, ...] | None = None
    severities: tuple[str, ...] | None = None
    scenarios: tuple[str, ...] | None = None
    period: tuple[dt.date, dt.date] | None = None
    ignored: tuple[str, ...] = field(default=())


def _day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


def read_link(query: Mapping[str, Sequence[str]], today: dt.date) -> QueueLink:
    """What the query parameters ``query`` (name -> every value given) ask of the queue.

    >>> read_link({"severity": ["high", "huge"], "start": ["2026-09-01"]}, dt.date(2026, 9, 8))
    QueueLink(statuses=None, departments=None, severities=('high',), scenarios=None, \
period=(datetime.date(2026, 9, 1), datetime.date(2026, 9, 8)), ignored=('severity=huge',))
    """
    ignored: list[str] = []

    def values(name: str, allowed: Sequence[str] | None = None) -> tuple[str, ...] | None:
        given = [v.strip() for v in query.get(name, ()) if v.strip()]
        if not given:
            return None
        kept = [v for v in given if allowed is None or v in allowed]
        ignored.extend(f"{name}={v}" for v in given if v not in kept)
        return tuple(dict.fromkeys(kept)) or None  # nothing known named: as if not given

    statuses = values("status", ALERT_STATUSES)
    severities = values("severity", [s.value for s in Severity])
    departments, scenarios = values("department"), values("scenario")
    days: dict[str, dt.date | None] = {}
    for name in DAY_PARAMS:
        given = [v for v in query.get(name, ()) if v.strip()]
        days[name] = _day(given[-1]) if given else None
        if given and days[name] is None:
            ignored.append(f"{name}={given[-1]}")
    start, end = days["start"], days["end"]
    period = None
    if start is not None or end is not None:
        last = end or max(today, start or today)
        first = start or last - dt.timedelta(days=DEFAULT_DAYS - 1)
        period = (min(first, last), max(first, last))
    return QueueLink(statuses, departments, severities, scenarios, period, tuple(ignored))
