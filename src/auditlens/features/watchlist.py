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
from typing import Any, Final

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


#: Columns of a matcher's state: per pattern (name and text), user and key (the resource
#: for ``same resource`` patterns, else null) the latest start of a partial match of the
#: pattern's first ``slot + 1`` actions.
STATE_COLUMNS: Final = ("pattern", "text", USER_ID, "key", "slot", "start")
_Held = dict[str, dict[object, list[dt.datetime | None]]]


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
    return _match(events, patterns, level_column, calendar, None, keep=False)[0]


def resume_matches(
    events: pl.DataFrame,
    patterns: Sequence[WatchPattern],
    level_column: str,
    calendar: BusinessCalendar | None = None,
    state: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`find_matches` over ``events`` that all come after the events ``state`` was
    left by (None: no earlier events), and the state after them (``STATE_COLUMNS``).

    The matches are those completed in ``events`` that a pass over all the events would
    find, including matches begun earlier (a pattern without ``within`` may span days).
    A pattern is known by its name and text, so a changed pattern starts afresh. Partial
    matches older than a pattern's ``within`` before the last event are dropped: no
    later event can complete them.
    """
    return _match(events, patterns, level_column, calendar, state, keep=True)


def _match(
    events: pl.DataFrame,
    patterns: Sequence[WatchPattern],
    level_column: str,
    calendar: BusinessCalendar | None,
    state: pl.DataFrame | None,
    *,
    keep: bool,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The matches, and with ``keep`` the state after them (else an empty frame)."""
    stamp = events.schema[TIMESTAMP]
    schema: dict[str, pl.DataType | type[pl.DataType]] = {
        "pattern": pl.String,
        "text": pl.String,
        USER_ID: pl.String,
        "key": pl.String,
        "slot": pl.Int32,
        "start": stamp,
    }
    if state is not None:
        state = state.with_columns(pl.col("start").cast(stamp))
    if any(p.needs_calendar for p in patterns):
        if calendar is None:
            raise ValueError("off_hours / on holiday patterns need the business calendar")
        events = events.with_columns(*_time_flags(events, calendar))
    rows: list[tuple[str, str, dt.datetime, dt.datetime, str | None]] = []
    kept: list[pl.DataFrame] = []
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
        mine = None
        if state is not None:
            mine = state.filter(pl.col("pattern") == pattern.name, pl.col("text") == pattern.text)
        held = _held(mine, part, len(pattern.actions))
        rows += _scan(part, pattern, held)
        if keep:
            kept.append(_kept(mine, held, pattern, events.get_column(TIMESTAMP).max(), schema))
    matches = pl.DataFrame(
        rows,
        schema={
            USER_ID: pl.String,
            "pattern": pl.String,
            "start": stamp,
            "end": stamp,
            RESOURCE_ID: pl.String,
        },
        orient="row",
    )
    after = pl.DataFrame(schema=schema)
    if kept:  # one row order for the same state, however it was reached
        after = pl.concat(kept).unique().sort(*STATE_COLUMNS[:-1], nulls_last=True)
    return matches, after


def _held(state: pl.DataFrame | None, part: pl.DataFrame, k: int) -> _Held:
    """The partial matches ``state`` holds for the users of ``part``: user → key → the
    latest start of each prefix."""
    held: _Held = {}
    if state is None or state.height == 0 or part.height == 0:
        return held
    users = part.select(pl.col(USER_ID).unique())
    mine = state.join(users, on=USER_ID, how="semi")
    for user, key, slot, start in mine.select(USER_ID, "key", "slot", "start").iter_rows():
        held.setdefault(user, {}).setdefault(key, [None] * k)[slot] = start
    return held


def _scan(part: pl.DataFrame, pattern: WatchPattern, held: _Held) -> list[tuple[Any, ...]]:
    """The matches ``part`` (a pattern's candidate events, by user and time) completes,
    continuing the partial matches ``held`` and leaving those after it there."""
    rows: list[tuple[Any, ...]] = []
    if part.height == 0:
        return rows
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
            current = users[i]
            best = held.setdefault(current, {})
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
                kept = state[j]
                if kept is None or start > kept:
                    state[j] = start
    return rows


def _kept(
    state: pl.DataFrame | None,
    held: _Held,
    pattern: WatchPattern,
    last: object,
    schema: dict[str, pl.DataType | type[pl.DataType]],
) -> pl.DataFrame:
    """A pattern's state after the events: the earlier rows of the users the events did
    not touch, and the partial matches ``held`` now has (those ``within`` can no longer
    complete left out)."""
    name, text = pattern.name, pattern.text
    rows = [
        (name, text, user, key, slot, start)
        for user, keys in held.items()
        for key, starts in keys.items()
        for slot, start in enumerate(starts)
        if start is not None
    ]
    fresh = pl.DataFrame(rows, schema=schema, orient="row")
    if state is not None and state.height:
        touched = pl.DataFrame({USER_ID: list(held)}, schema={USER_ID: pl.String})
        fresh = pl.concat([state.join(touched, on=USER_ID, how="anti"), fresh])
    if pattern.within is not None and isinstance(last, dt.datetime):
        fresh = fresh.filter(pl.col("start") >= last - pattern.within)
    return fresh
