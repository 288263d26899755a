"""What every dashboard page shares: numbers and times as a person reads them, severity
colours and words, the period picker, and links to a person or an alert.

Numbers follow the reader's language: Korean counts carry their counter (``1,234건``,
``56명``), durations read ``3.2시간``; English ``1,234``, ``3.2 h``. Times are the
deployment zone's local time with the zone named (``2026-09-08 10:00 KST``), as the CLI
prints them (:func:`auditlens.localtime.local_time`).

Example::

    >>> count(1234, "ko"), count(1234, "en"), count(56, "ko", ko_unit="명")
    ('1,234건', '1,234', '56명')
    >>> percent(0.125, "ko"), duration(11520, "ko"), duration(11520, "en")
    ('12.5%', '3.2시간', '3.2 h')
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping
from typing import Final

import streamlit as st

from auditlens.api.routes.common import Context
from auditlens.dashboard.navigation import ALERT_PARAM, USER_PARAM, go, page
from auditlens.i18n import DEFAULT_LANG, Lang, is_lang, pick, severity_label
from auditlens.localtime import local_time
from auditlens.reports.wording import count as count
from auditlens.reports.wording import duration as duration
from auditlens.reports.wording import percent as percent
from auditlens.vocabulary import Severity

#: Session-state key of the chosen language (the sidebar toggle).
LANG_KEY: Final = "lang"
#: What a number that cannot be computed (no data) reads as.
NONE: Final = "—"

#: Severities, least first (charts and filters keep this order).
SEVERITIES: Final[tuple[str, ...]] = tuple(s.value for s in Severity)
#: One colour per severity, for every chart (colour-blind safe: blue → red).
SEVERITY_COLOURS: Final[dict[str, str]] = {
    "low": "#4c78a8",
    "medium": "#f2b134",
    "high": "#e4572e",
    "critical": "#a1172f",
}
#: The same severities as Streamlit text colours (``:red[...]``).
_SEVERITY_TEXT: Final[dict[str, str]] = {
    "low": "blue",
    "medium": "orange",
    "high": "red",
    "critical": "violet",
}


def current_lang() -> Lang:
    """The language this session reads (the sidebar toggle; Korean before it is set)."""
    chosen = st.session_state.get(LANG_KEY)
    return chosen if is_lang(chosen) else DEFAULT_LANG


# --- numbers -------------------------------------------------------------------------------


def number(value: float, lang: str, digits: int = 0) -> str:
    """``value`` with thousands separators and ``digits`` decimals (same in both languages).

    >>> number(1234.5, "ko", 1)
    '1,234.5'
    """
    del lang  # Korean and English both group by thousands with a comma
    return f"{value:,.{digits}f}"


def change(now: float | None, before: float | None, lang: str, *, points: bool = False) -> str:
    """The change from ``before`` to ``now`` for a card's delta: ``+12`` / ``-3.5%p``
    (``points``: percentage points of two fractions); empty when either is missing."""
    del lang  # signs and digits read the same in both languages
    if now is None or before is None:
        return ""
    if points:
        return f"{(now - before) * 100:+.1f}%p"
    delta = now - before
    shown = f"{delta:+,.0f}" if float(delta).is_integer() else f"{delta:+,.1f}"
    return shown


# --- times ---------------------------------------------------------------------------------


def when(moment: dt.datetime, ctx: Context, *, seconds: bool = False) -> str:
    """``moment`` in the deployment zone, labelled (``2026-09-08 10:00 KST``)."""
    return local_time(moment, ctx.zone, seconds=seconds)


def zone_note(ctx: Context) -> str:
    """A caption naming the zone every time on the page is shown in."""
    label = ctx.now.astimezone(zoneinfo.ZoneInfo(ctx.zone)).tzname() or ctx.zone
    return ctx.say(f"Times in {ctx.zone} ({label}).", f"시각은 {ctx.zone}({label}) 기준입니다.")


def today(ctx: Context) -> dt.date:
    """The deployment zone's date now."""
    return ctx.now.astimezone(zoneinfo.ZoneInfo(ctx.zone)).date()


# --- severities ----------------------------------------------------------------------------


def severity_word(value: str, lang: str) -> str:
    """A severity as a word of ``lang`` (``높음``/``high``)."""
    return severity_label(value, lang)


def severity_text(value: str, lang: str) -> str:
    """A severity as coloured Markdown (``:red[높음]``)."""
    colour = _SEVERITY_TEXT.get(value, "gray")
    return f":{colour}[{severity_word(value, lang)}]"


# --- periods -------------------------------------------------------------------------------


def period_picker(ctx: Context, *, key: str = "period", days: int = 30) -> tuple[dt.date, dt.date]:
    """A date-range input (default: the ``days`` local days up to today); returns
    ``(start, end)``, both included. While only a first day is picked, that day alone."""
    last = today(ctx)
    default = (last - dt.timedelta(days=days - 1), last)
    chosen = st.date_input(
        ctx.say("Period", "기간"),
        value=default,
        key=key,
        format="YYYY-MM-DD",
        help=ctx.say(
            "Local days in the deployment's time zone, both included.",
            "배포 시간대의 날짜이며 양 끝을 포함합니다.",
        ),
    )
    if isinstance(chosen, tuple | list):
        picked = [d for d in chosen if isinstance(d, dt.date)]
        if not picked:
            return default
        return (min(picked), max(picked))
    if isinstance(chosen, dt.date):
        return (chosen, chosen)
    return default


def period_text(start: dt.date, end: dt.date, lang: str) -> str:
    """A period as words: ``2026-09-01 ~ 2026-09-30`` / ``2026-09-01 to 2026-09-30``
    (one day alone when start and end are the same day).

    >>> period_text(dt.date(2026, 9, 1), dt.date(2026, 9, 30), "ko")
    '2026-09-01 ~ 2026-09-30'
    """
    if start == end:
        return start.isoformat()
    return pick(lang, f"{start} to {end}", f"{start} ~ {end}")


def previous_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The period of the same length just before ``start`` .. ``end``.

    >>> previous_period(dt.date(2026, 9, 8), dt.date(2026, 9, 14))
    (datetime.date(2026, 9, 1), datetime.date(2026, 9, 7))
    """
    length = (end - start).days + 1
    return (start - dt.timedelta(days=length), start - dt.timedelta(days=1))


# --- links ---------------------------------------------------------------------------------


def link_to_person(user_shown: str, label: str | None = None) -> None:
    """A link to the person page of ``user_shown`` (a user id or pseudonym, as the
    reader sees it: the person page resolves it the same way the API does)."""
    st.page_link(
        page("person", current_lang()),
        label=label or user_shown,
        query_params={USER_PARAM: user_shown},
    )


def link_to_alert(alert_id: int, label: str | None = None) -> None:
    """A link to alert ``alert_id`` in the alert queue."""
    lang = current_lang()
    st.page_link(
        page("alerts", lang),
        label=label or pick(lang, f"Alert {alert_id}", f"알림 {alert_id}"),
        query_params={ALERT_PARAM: str(alert_id)},
    )


def link_to_queue(label: str, query: Mapping[str, str | list[str]]) -> None:
    """A link to the alert queue filtered by ``query`` (:func:`~auditlens.dashboard.
    queue_link.queue_query`)."""
    st.page_link(page("alerts", current_lang()), label=label, query_params=dict(query))


def go_to_person(user_shown: str) -> None:
    """Open the person page of ``user_shown`` now (after a click in a table or chart)."""
    go("person", current_lang(), {USER_PARAM: user_shown})


def go_to_alert(alert_id: int) -> None:
    """Open alert ``alert_id`` in the alert queue now."""
    go("alerts", current_lang(), {ALERT_PARAM: str(alert_id)})
