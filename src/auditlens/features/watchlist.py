"""Watch-list patterns: ordered action sequences a compliance officer names, no training.

Syntax (one pattern: the actions, then any of the conditions, in any order)::

    view>edit>delete [within 10m] [on sensitivity>=high] [same resource] [off_hours] [on holiday]

Actions are matched in order, not necessarily back to back (other events may come in
between); ``within`` bounds the time from the first to the last matched event (s, m, h);
``on sensitivity>=LEVEL`` requires every matched event to be on a resource of at least
that level; ``same resource`` requires all of them on one resource id; ``off_hours``
requires every matched event outside business time (before or after business hours, or
on a day off — the same rule as the off-hours feature); ``on holiday`` requires every
matched event on a day off (weekend, public or company holiday). A match always raises a
reason, whatever the models say.

Example::

    >>> p = parse_pattern("야간반출", "view>download>export within 30m off_hours")
    >>> p.actions, p.within, p.off_hours, p.on_holiday
    (('view', 'download', 'export'), datetime.timedelta(seconds=1800), True, False)
    >>> parse_pattern("tamper", "view>edit>delete on holiday on sensitivity>=high").text
    'view>edit>delete on sensitivity>=high on holiday'
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

from auditlens.calendar import BusinessCalendar
from auditlens.errors import ConfigError
from auditlens.features.catalog import LEVEL_RANK
from auditlens.schema import (
    ACTION_PATTERN,
    ACTION_TYPE,
    CORE_ACTIONS,
    RESOURCE_ID,
    TIMESTAMP,
    USER_ID,
)
from auditlens.vocabulary import OTHER_ACTION

_ACTIONS: Final = re.compile(r"^\s*(?P<actions>[a-z0-9_]+(?:\s*>\s*[a-z0-9_]+)*)")
_CONDITION: Final = re.compile(
    r"\s+(?:within\s+(?P<n>\d+)\s*(?P<unit>s|m|h)"
    r"|on\s+sensitivity\s*>=\s*(?P<level>[a-z]+)"
    r"|(?P<same>same\s+resource)"
    r"|(?P<off>off[_ ]hours)"
    r"|(?P<holiday>on\s+holidays?))"
)
_UNITS: Final = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class WatchPattern:
    """A parsed watch-list pattern."""

    name: str
    actions: tuple[str, ...]
    within: dt.timedelta | None = None
    min_level: int | None = None  # sensitivity rank, 0 = low .. 3 = critical
    same_resource: bool = False
    off_hours: bool = False
    on_holiday: bool = False

    @property
    def text(self) -> str:
        """The pattern written back in its own syntax."""
        out = ">".join(self.actions)
        if self.within is not None:
            out += f" within {int(self.within.total_seconds())}s"
        if self.min_level is not None:
            level = next(k for k, v in LEVEL_RANK.items() if v == self.min_level)
            out += f" on sensitivity>={level}"
        out += " same resource" if self.same_resource else ""
        out += " off_hours" if self.off_hours else ""
        return out + (" on holiday" if self.on_holiday else "")

    @property
    def needs_calendar(self) -> bool:
        """True when a condition depends on business hours or days off."""
        return self.off_hours or self.on_holiday


def parse_pattern(name: str, text: str) -> WatchPattern:
    """Parse one pattern; raise ConfigError saying what is wrong and the expected form."""
    lowered = text.lower()
    head = _ACTIONS.match(lowered)
    conditions: dict[str, str] = {}
    position = head.end() if head else 0
    while head is not None and position < len(lowered.rstrip()):
        found = _CONDITION.match(lowered, position)
        if found is None:
            break
        for key, value in found.groupdict().items():
            if value is not None:
                conditions[key] = value
        position = found.end()
    if head is None or position < len(lowered.rstrip()):
        raise ConfigError(
            f"watch-list pattern {name!r}: cannot read {text!r} (e.g. 'view>edit>delete "
            "within 10m on sensitivity>=high same resource off_hours on holiday')",
            ko=f"감시 패턴 {name!r}: {text!r}을(를) 읽을 수 없습니다 (예: 'view>edit>delete "
            "within 10m on sensitivity>=high same resource off_hours on holiday')",
        )
    actions = tuple(a.strip() for a in head["actions"].split(">"))
    for action in actions:
        _check_action(name, action)
    within = None
    if "n" in conditions:
        within = dt.timedelta(seconds=int(conditions["n"]) * _UNITS[conditions["unit"]])
    level = None
    if "level" in conditions:
        if conditions["level"] not in LEVEL_RANK:
            raise ConfigError(
                f"watch-list pattern {name!r}: sensitivity {conditions['level']!r} is not one "
                f"of {', '.join(LEVEL_RANK)}",
                ko=f"감시 패턴 {name!r}: 민감도 {conditions['level']!r}은(는) "
                f"{', '.join(LEVEL_RANK)} 중 하나여야 합니다",
            )
        level = LEVEL_RANK[conditions["level"]]
    return WatchPattern(
        name,
        actions,
        within,
        level,
        same_resource="same" in conditions,
        off_hours="off" in conditions,
        on_holiday="holiday" in conditions,
    )


def _check_action(name: str, action: str) -> None:
    """Raise ConfigError unless ``action`` is a canonical action name."""
    if not re.match(ACTION_PATTERN, action):
        raise ConfigError(
            f"watch-list pattern {name!r}: {action!r} is not an action name",
            ko=f"감시 패턴 {name!r}: {action!r}은(는) 작업 이름이 아닙니다",
        )
    if action not in CORE_ACTIONS:
        canonical = ", ".join(sorted(CORE_ACTIONS))
        raise ConfigError(
            f"watch-list pattern {name!r}: {action!r} is not a canonical action (one of "
            f"{canonical}; actions outside the vocabulary are 'other')",
            ko=f"감시 패턴 {name!r}: {action!r}은(는) 표준 작업이 아닙니다 ({canonical} 중 "
            "하나; 어휘에 없는 작업은 'other')",
        )


_OFF_HOURS: Final = "_watch_off_hours"
_DAY_OFF: Final = "_watch_day_off"


def _time_flags(events: pl.DataFrame, calendar: BusinessCalendar) -> list[pl.Expr]:
    """Per event: outside business time? on a day off (weekend or holiday)?"""
    stamps = events.get_column(TIMESTAMP)
    first, last = stamps.min(), stamps.max()
    years = (
        range(first.year - 1, last.year + 2)
        if isinstance(first, dt.datetime) and isinstance(last, dt.datetime)
        else range(0)
    )
    local = calendar.local_expr(TIMESTAMP)
    day_off = local.dt.weekday().is_in(sorted(calendar.weekend)) | local.dt.date().is_in(
        sorted(calendar.holidays(years))
    )
    return [
        calendar.off_hours_expr(TIMESTAMP, years).alias(_OFF_HOURS),
        day_off.alias(_DAY_OFF),
    ]


@dataclass(frozen=True)
class Match:
    """One completed match: who, which pattern, when it started and ended."""

    user_id: str
    pattern: str
    start: dt.datetime
    end: dt.datetime
    resource_id: str | None


def find_matches(
    events: pl.DataFrame,
    patterns: Sequence[WatchPattern],
    level_column: str,
    calendar: BusinessCalendar | None = None,
) -> pl.DataFrame:
    """Every event that completes a match, as ``user_id, pattern, start, end, resource_id``.

    ``events`` needs user_id, timestamp, action_type, resource_id and ``level_column``
    (sensitivity rank); ``calendar`` is needed by ``off_hours`` / ``on holiday``
    patterns. One pass per user and pattern over the events that could take part
    (matching action, level and time of day): for each prefix of the pattern it keeps the
    latest start of a partial match, which minimises the span of any completion, so a
    match within the time bound is found whenever one exists.

    Raises:
        ValueError: a pattern needs business hours and no calendar was given.
    """
    if any(p.needs_calendar for p in patterns):
        if calendar is None:
            raise ValueError("off_hours / on holiday patterns need the business calendar")
        events = events.with_columns(*_time_flags(events, calendar))
    rows: list[tuple[str, str, dt.datetime, dt.datetime, str | None]] = []
    # an action outside the vocabulary (unknown_actions = "keep") counts as 'other'
    action = (
        pl.when(pl.col(ACTION_TYPE).is_in(sorted(CORE_ACTIONS)))
        .then(pl.col(ACTION_TYPE))
        .otherwise(pl.lit(OTHER_ACTION))
    )
    for pattern in patterns:
        if OTHER_ACTION in pattern.actions:
            events = events.with_columns(action.alias(ACTION_TYPE))
        wanted = pl.col(ACTION_TYPE).is_in(list(pattern.actions))
        if pattern.min_level is not None:
            wanted = wanted & (pl.col(level_column).fill_null(-1) >= pattern.min_level)
        if pattern.off_hours:
            wanted = wanted & pl.col(_OFF_HOURS)
        if pattern.on_holiday:
            wanted = wanted & pl.col(_DAY_OFF)
        part = (
            events.lazy()
            .filter(wanted)
            .select(USER_ID, TIMESTAMP, ACTION_TYPE, RESOURCE_ID)
            .sort(USER_ID, TIMESTAMP, maintain_order=True)
            .collect()
        )
        if part.height == 0:
            continue
        users = part.get_column(USER_ID).to_list()
        times = part.get_column(TIMESTAMP).to_list()
        acts = part.get_column(ACTION_TYPE).to_list()
        res = part.get_column(RESOURCE_ID).to_list()
        limit = pattern.within
        k = len(pattern.actions)
        positions = {a: [j for j, x in enumerate(pattern.actions) if x == a] for a in set(acts)}
        best: dict[object, list[dt.datetime | None]] = {}
        current = None
        for i in range(len(users)):
            if users[i] != current:
                current, best = users[i], {}
            key = res[i] if pattern.same_resource else None
            state = best.setdefault(key, [None] * k)
            t = times[i]
            for j in reversed(positions.get(acts[i], [])):  # descending: one event, one slot
                start = t if j == 0 else state[j - 1]
                if start is None or (limit is not None and t - start > limit):
                    continue
                if j == k - 1:
                    rows.append((users[i], pattern.name, start, t, res[i]))
                else:
                    held = state[j]
                    if held is None or start > held:
                        state[j] = start
    return pl.DataFrame(
        rows,
        schema={
            USER_ID: pl.String,
            "pattern": pl.String,
            "start": events.schema[TIMESTAMP],
            "end": events.schema[TIMESTAMP],
            RESOURCE_ID: pl.String,
        },
        orient="row",
    )
