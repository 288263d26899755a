"""The Overview's KPI cards: this period against the previous one of the same length.

Each card shows one number of the read model as it is (:func:`auditlens.views.kpis`,
:func:`auditlens.views.activity`) — formatted, never recomputed — with its change since
the previous period. :func:`card_values` is what the cards show, so a test can hold
them against the read model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import streamlit as st

from auditlens.api.routes.common import Context
from auditlens.dashboard.widgets import (
    SEVERITIES,
    change,
    count,
    duration,
    percent,
    severity_word,
)
from auditlens.views import Activity, Kpis

Colour = Literal["normal", "inverse", "off"]


@dataclass(frozen=True)
class Card:
    """One KPI card: label, shown value, change since the previous period, help."""

    key: str
    label: str
    value: str
    delta: str
    colour: Colour
    help: str


@dataclass(frozen=True)
class Period:
    """The figures of one period."""

    kpis: Kpis
    activity: Activity


def _open(k: Kpis) -> int:
    return k.alerts - k.ended


@dataclass(frozen=True)
class _Counted:
    key: str
    en: str
    ko: str
    figure: Callable[[Period], int]
    colour: Colour
    help_en: str
    help_ko: str
    people: bool = False


#: The count cards of the first row.
_COUNTS = (
    _Counted("users", "Users monitored", "모니터링 사용자",
             lambda p: p.activity.users_monitored, "off",
             "Users with a risk score on a day of the period.",
             "기간 중 하루라도 위험 점수가 산출된 사용자 수.", people=True),
    _Counted("events", "Events", "이벤트", lambda p: p.activity.events, "off",
             "Stored events whose time falls in the period.",
             "시각이 기간 안에 있는 저장된 이벤트 수."),
    _Counted("alerts", "Alerts", "알림", lambda p: p.kpis.alerts, "inverse",
             "Alerts opened in the period.", "기간 중 생성된 알림 수."),
    _Counted("open", "Open", "처리 중", lambda p: _open(p.kpis), "inverse",
             "The period's alerts not yet closed or dismissed.",
             "기간의 알림 중 아직 종결·기각되지 않은 알림 수."),
    _Counted("ended", "Closed or dismissed", "종결·기각", lambda p: p.kpis.ended, "normal",
             "The period's alerts now closed or dismissed.",
             "기간의 알림 중 종결 또는 기각된 알림 수."),
)  # fmt: skip


def _severity_count(severity: str) -> _Counted:
    return _Counted(
        f"severity_{severity}",
        f"Alerts: {severity_word(severity, 'en')}",
        f"알림: {severity_word(severity, 'ko')}",
        lambda p: p.kpis.by_severity.get(severity, 0),
        "inverse",
        "Alerts of this severity opened in the period.",
        "기간 중 생성된 이 심각도의 알림 수.",
    )


def card_values(ctx: Context, now: Period, before: Period) -> list[Card]:
    """Every card of the Overview, in order."""
    lang, say = ctx.lang, ctx.say
    cards = [_count_card(ctx, c, now, before) for c in _COUNTS]
    ttc_now = now.kpis.time_to_close.median_seconds
    ttc_before = before.kpis.time_to_close.median_seconds
    cards.append(
        Card(
            "time_to_close",
            say("Median time to close", "종결까지 중앙값"),
            duration(ttc_now, lang),
            _hours_change(ttc_now, ttc_before, lang),
            "inverse",
            say(
                "From opening to the decision that ended it (docs/kpis.md).",
                "생성부터 알림을 끝낸 처리까지 걸린 시간의 중앙값.",
            ),
        )
    )
    rate_now, rate_before = now.kpis.dismissal_rate, before.kpis.dismissal_rate
    cards.append(
        Card(
            "dismissal_rate",
            say("Dismissal rate", "기각률"),
            percent(rate_now, lang),
            change(rate_now, rate_before, lang, points=True),
            "off",
            say("Dismissed / (closed + dismissed).", "기각 / (종결 + 기각)."),
        )
    )
    cards.extend(_count_card(ctx, _severity_count(s), now, before) for s in SEVERITIES)
    return cards


def _count_card(ctx: Context, counted: _Counted, now: Period, before: Period) -> Card:
    value, previous = counted.figure(now), counted.figure(before)
    units = {"ko_unit": "명", "en_unit": "users"} if counted.people else {}
    return Card(
        counted.key,
        ctx.say(counted.en, counted.ko),
        count(value, ctx.lang, **units),
        change(value, previous, ctx.lang),
        counted.colour,
        ctx.say(counted.help_en, counted.help_ko),
    )


def _hours_change(now: float | None, before: float | None, lang: str) -> str:
    if now is None or before is None:
        return ""
    shown = duration(abs(now - before), lang)
    return f"+{shown}" if now >= before else f"-{shown}"


def show_cards(ctx: Context, now: Period, before: Period) -> None:
    """The cards in three rows: volume, handling, severities."""
    cards = card_values(ctx, now, before)
    for row in (cards[:4], cards[4:7], cards[7:]):
        for column, card in zip(st.columns(len(row)), row, strict=True):
            column.metric(
                card.label,
                card.value,
                card.delta or None,
                delta_color=card.colour,
                help=card.help,
                border=True,
            )
