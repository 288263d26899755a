"""Watch-list patterns: ordered action sequences a compliance officer names, no training.

Syntax (one pattern)::

    view>edit>delete [within 10m] [on sensitivity>=high] [same resource]

Actions are matched in order, not necessarily back to back (other events may come in
between); ``within`` bounds the time from the first to the last matched event (s, m, h);
``on sensitivity>=LEVEL`` requires every matched event to be on a resource of at least
that level; ``same resource`` requires all of them on one resource id. A match always
raises a reason, whatever the models say.

Example::

    >>> p = parse_pattern("tamper", "view>edit>delete within 10m on sensitivity>=high")
    >>> p.actions, p.within, p.min_level
    (('view', 'edit', 'delete'), datetime.timedelta(seconds=600), 2)
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

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

_GRAMMAR: Final = re.compile(
    r"^\s*(?P<actions>[a-z0-9_]+(?:\s*>\s*[a-z0-9_]+)*)"
    r"(?:\s+within\s+(?P<n>\d+)\s*(?P<unit>s|m|h))?"
    r"(?:\s+on\s+sensitivity\s*>=\s*(?P<level>[a-z]+))?"
    r"(?P<same>\s+same\s+resource)?\s*$"
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

    @property
    def text(self) -> str:
        """The pattern written back in its own syntax."""
        out = ">".join(self.actions)
        if self.within is not None:
            out += f" within {int(self.within.total_seconds())}s"
        if self.min_level is not None:
            level = next(k for k, v in LEVEL_RANK.items() if v == self.min_level)
            out += f" on sensitivity>={level}"
        return out + (" same resource" if self.same_resource else "")


def parse_pattern(name: str, text: str) -> WatchPattern:
    """Parse one pattern; raise ConfigError saying what is wrong and the expected form."""
    found = _GRAMMAR.match(text.lower())
    expected = "e.g. 'view>edit>delete within 10m on sensitivity>=high same resource'"
    if found is None:
        raise ConfigError(f"watch-list pattern {name!r}: cannot read {text!r} ({expected})")
    actions = tuple(a.strip() for a in found["actions"].split(">"))
    for action in actions:
        if not re.match(ACTION_PATTERN, action):
            raise ConfigError(f"watch-list pattern {name!r}: {action!r} is not an action name")
        if action not in CORE_ACTIONS:
            raise ConfigError(
                f"watch-list pattern {name!r}: {action!r} is not a canonical action (one of "
                f"{', '.join(sorted(CORE_ACTIONS))}; actions outside the vocabulary are 'other')"
            )
    within = None
    if found["n"] is not None:
        within = dt.timedelta(seconds=int(found["n"]) * _UNITS[found["unit"]])
    level = None
    if found["level"] is not None:
        if found["level"] not in LEVEL_RANK:
            raise ConfigError(
                f"watch-list pattern {name!r}: sensitivity {found['level']!r} is not one of "
                f"{', '.join(LEVEL_RANK)}"
            )
        level = LEVEL_RANK[found["level"]]
    return WatchPattern(name, actions, within, level, found["same"] is not None)


@dataclass(frozen=True)
class Match:
    """One completed match: who, which pattern, when it started and ended."""

    user_id: str
    pattern: str
    start: dt.datetime
    end: dt.datetime
    resource_id: str | None


def find_matches(
    events: pl.DataFrame, patterns: Sequence[WatchPattern], level_column: str
) -> pl.DataFrame:
    """Every event that completes a match, as ``user_id, pattern, start, end, resource_id``.

    ``events`` needs user_id, timestamp, action_type, resource_id and ``level_column``
    (sensitivity rank). One pass per user and pattern over the events that could take
    part (matching action and level): for each prefix of the pattern it keeps the latest
    start of a partial match, which minimises the span of any completion, so a match
    within the time bound is found whenever one exists.
    """
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
