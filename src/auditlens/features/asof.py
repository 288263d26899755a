"""Counts "as of a day" over spells of group membership: how many users of a group had
done something by that day.

A user's *spell* in a group runs from the day they joined it (their first day, a move,
or a fallback group filling up) to the day of their next spell, exclusive. Peer features
compare a user-day with the members of the user's group *on that day*, counting only
what those members had done up to that day, so that a day's features never depend on
later events: the matrix of all days equals the matrix built day by day
(features/history.py).

>>> import datetime as dt
>>> d = dt.date(2026, 10, 1)
>>> spells = pl.DataFrame({"user_id": ["a", "b", "b"], "window": [d, d, d.replace(day=3)],
...     "peer_group": ["x", "x", "y"]})
>>> firsts = pl.DataFrame({"user_id": ["a", "b"], "kind": ["usb", "usb"],
...     "first": [d.replace(day=2), d]})
>>> queries = pl.DataFrame({"peer_group": ["x", "x", "x"], "kind": ["usb"] * 3,
...     "window": [d, d.replace(day=2), d.replace(day=3)]})
>>> counts_asof(spells, firsts, queries, ["kind"]).to_list()
[1, 2, 1]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import polars as pl

from auditlens.features.base import WINDOW
from auditlens.schema import DEPARTMENT, ROLE, USER_ID

PEER_GROUP = "peer_group"
_TO = "_to"
_AT = "_at"
_DELTA = "_delta"
_COUNT = "_count"


def spell_ends(spells: pl.DataFrame) -> pl.DataFrame:
    """``spells`` (user_id, window, peer_group) with ``_to``: the start of the user's next
    spell (null for the current one)."""
    same_user = pl.col(USER_ID).eq_missing(pl.col(USER_ID).shift(-1))
    return spells.sort(USER_ID, WINDOW).with_columns(
        pl.when(same_user).then(pl.col(WINDOW).shift(-1)).alias(_TO)
    )


def counts_asof(
    spells: pl.DataFrame,
    firsts: pl.DataFrame | None,
    queries: pl.DataFrame,
    keys: Sequence[str] = (),
    ends: pl.DataFrame | None = None,
) -> pl.Series:
    """Per row of ``queries`` (peer_group, keys..., window): how many users were in that
    group on that day and had their ``first`` (per user and keys) on or before it.

    ``firsts`` None counts every member (a user counts from the start of each spell).
    Integer counts from +1/-1 steps summed in day order: exact, whatever the order of
    the input rows. ``ends``: ``spell_ends(spells)`` when the caller has it already.
    """
    ends = spell_ends(spells) if ends is None else ends
    return answer_asof(count_line(ends, firsts, keys), queries, keys)


def count_line(
    ends: pl.DataFrame, firsts: pl.DataFrame | None, keys: Sequence[str] = ()
) -> pl.LazyFrame:
    """The counts of :func:`counts_asof` as a line per group (and keys): ``peer_group,
    keys..., window, _count`` from each day a count changes (lazy: the caller's one query
    runs it, or :meth:`PeerDays.members` keeps it)."""
    keys = list(keys)
    if firsts is None:
        joined = ends.lazy().with_columns(pl.col(WINDOW).alias(_AT))
    else:
        joined = (
            ends.lazy()
            .join(firsts.lazy(), on=USER_ID, how="inner")
            .with_columns(pl.max_horizontal(WINDOW, "first").alias(_AT))
        )
    live = joined.filter(pl.col(_TO).is_null() | (pl.col(_AT) < pl.col(_TO)))
    steps = pl.concat(
        [
            live.select(PEER_GROUP, *keys, pl.col(_AT).alias(WINDOW), pl.lit(1).alias(_DELTA)),
            live.filter(pl.col(_TO).is_not_null()).select(
                PEER_GROUP, *keys, pl.col(_TO).alias(WINDOW), pl.lit(-1).alias(_DELTA)
            ),
        ]
    )
    return (
        steps.group_by(PEER_GROUP, *keys, WINDOW)
        .agg(pl.col(_DELTA).sum())
        .sort(PEER_GROUP, *keys, WINDOW)
        .with_columns(pl.col(_DELTA).cum_sum().over(PEER_GROUP, *keys).alias(_COUNT))
        .select(PEER_GROUP, *keys, WINDOW, _COUNT)
        .sort(WINDOW)
    )


def answer_asof(
    line: pl.LazyFrame | pl.DataFrame, queries: pl.DataFrame, keys: Sequence[str] = ()
) -> pl.Series:
    """Per row of ``queries`` (peer_group, keys..., window): the ``line``'s count on that
    day (one query: the line is computed, unless given as a frame, and read at once)."""
    keys = list(keys)
    asked = queries.lazy().select(PEER_GROUP, *keys, WINDOW).with_row_index("_q").sort(WINDOW)
    found = asked.join_asof(
        line.lazy(),
        on=WINDOW,
        by=[PEER_GROUP, *keys],
        strategy="backward",
        check_sortedness=False,
    ).sort("_q")
    counts = found.select(pl.col(_COUNT).fill_null(0).cast(pl.Int64)).collect()
    return counts.to_series().alias(_COUNT)


@dataclass(frozen=True)
class PeerDays:
    """Peer groups day by day.

    ``groups``: ``user_id, window, peer_group`` of every user-day with events;
    ``spells``: ``user_id, window, peer_group``, the day each user's group became what it
    is (first day, move, a fallback group filling up), for every user seen;
    ``counts``: ``user_id, department, role, _n``, the events per user and (department,
    role) up to the last day: with ``spells``, what the next days continue from.
    """

    groups: pl.DataFrame
    spells: pl.DataFrame
    counts: pl.DataFrame

    @staticmethod
    def empty() -> PeerDays:
        """Before the first day."""
        keyed = {USER_ID: pl.String, WINDOW: pl.Date, PEER_GROUP: pl.String}
        counts = {USER_ID: pl.String, DEPARTMENT: pl.String, ROLE: pl.String, "_n": pl.UInt32}
        return PeerDays(pl.DataFrame(schema=keyed), pl.DataFrame(schema=keyed),
                        pl.DataFrame(schema=counts))  # fmt: skip

    def keep_counts(self) -> PeerDays:
        """What the next days continue from: the spells and counts (no user-days)."""
        return PeerDays(self.groups.clear(), self.spells, self.counts)

    def of_users(self, users: pl.DataFrame) -> pl.DataFrame:
        """``groups`` of the users in ``users`` (a frame with ``user_id``)."""
        # the Series' unique: a frame's unique row-encodes the column first (5x the cost
        # over a run's 10M events)
        present = users.get_column(USER_ID).unique().to_frame()
        return self.groups.join(present, on=USER_ID, how="semi")

    def __getstate__(self) -> dict[str, pl.DataFrame]:
        """The three frames (a history is pickled: the cached lines are not kept)."""
        return {"groups": self.groups, "spells": self.spells, "counts": self.counts}

    @cached_property
    def ends(self) -> pl.DataFrame:
        """``spell_ends(spells)``, computed once (the peer passes ask it several times)."""
        return spell_ends(self.spells)

    @cached_property
    def _member_line(self) -> pl.DataFrame:
        """The members of each group day by day (:meth:`members` asks it several times)."""
        return count_line(self.ends, None).collect()

    def members(self, keys: pl.DataFrame) -> pl.Series:
        """Per row of ``keys`` (peer_group, window): the group's members that day."""
        return answer_asof(self._member_line, keys)
