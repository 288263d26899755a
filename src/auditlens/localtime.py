"""Times as a person reads them: in the configured zone, always labelled with it.

Every time the command line prints (audit entries, delivery due times, suppressions)
goes through :func:`local_time`, so none is printed in UTC beside another in KST, and
none without its zone.

Example::

    >>> import datetime as dt
    >>> local_time(dt.datetime(2026, 9, 8, 1, 0, tzinfo=dt.UTC), "Asia/Seoul")
    '2026-09-08 10:00 KST'
    >>> local_time(dt.datetime(2026, 9, 8, 1, 0, 5), "Asia/Seoul", seconds=True)  # naive = UTC
    '2026-09-08 10:00:05 KST'
    >>> local_time(dt.datetime(2026, 9, 8, 1, 0, tzinfo=dt.UTC), "Asia/Dubai")
    '2026-09-08 05:00 UTC+04'
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

#: The zone used when none is configured (``Settings.timezone``'s default).
DEFAULT_ZONE = "Asia/Seoul"


def local_time(moment: dt.datetime, zone: str = DEFAULT_ZONE, *, seconds: bool = False) -> str:
    """``moment`` as 'YYYY-MM-DD HH:MM[:SS] ZONE' in ``zone`` (``KST``, ``CET``…).

    A naive ``moment`` is taken as UTC (the store keeps UTC); a zone without a customary
    abbreviation is labelled by its offset (``UTC+04``).
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    here = moment.astimezone(zoneinfo.ZoneInfo(zone))
    label = here.tzname() or zone
    if not label[0].isalpha():  # "+04": tzdata has no abbreviation for this zone
        label = f"UTC{label}"
    shown = f"{here:%Y-%m-%d %H:%M:%S}" if seconds else f"{here:%Y-%m-%d %H:%M}"
    return f"{shown} {label}"
