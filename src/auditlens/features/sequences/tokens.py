"""Sessions as token sequences: :func:`tokenise` and the integer view of its result.

A session is a user's run of events in one window (local calendar day) with no gap over
``gap_minutes``: a session never spans two windows, so a window's sessions depend only on
events up to the end of that day (an incremental run computes them from that day alone).
A token is the action, with the resource's sensitivity when it is high or critical (``edit:high``).
:func:`tokenise` sorts on one integer key and returns ``user_id`` and ``_token`` as
Enums (codes plus their sorted categories), so :class:`Sessions` and the model work on
integer codes.
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import polars as pl

from auditlens.features.base import LEVEL, WINDOW
from auditlens.features.catalog import SENSITIVE_RANK
from auditlens.features.peers import PEER_GROUP
from auditlens.features.sequences.kernels import (
    F64,
    I64,
    KEY_LIMIT,
    categories,
    run_starts,
    usable_cores,
)
from auditlens.schema import ACTION_TYPE, CORE_ACTIONS, TIMESTAMP, USER_ID
from auditlens.vocabulary import OTHER_ACTION

SESSION: Final = "_session"
WORD: Final = "_token"
CODE: Final = "_code"
START: Final = "<s>"
END: Final = "</s>"
_SUFFIX: Final = ("", ":high", ":critical")  # token of level class 0, 1, 2
_UNIT_US: Final = {"ns": 1000.0, "us": 1.0, "ms": 0.001}
#: From this many sessions on, the model works on them in pieces of whole users, spread
#: over the usable cores.
PARALLEL_SESSIONS: Final = 100_000
#: About this many events a piece (at least one piece per usable core): a piece's arrays
#: (int64 per step, ~4 MB) stay below glibc's mmap threshold (32 MiB at most), so the
#: memory a piece frees is reused by the next instead of going back to the kernel and
#: being faulted in and zeroed again. Scoring 10M events' sessions (bench: the sequence
#: model's session_scores_after) in 2 pieces took 1.8-3.0 kernel CPU-s of 4.5-5.8; in
#: 8-32 pieces 0.2-0.5 of 3.1-3.6, the same arrays to the bit.
PIECE_EVENTS: Final = 500_000


def stable_hash(text: str) -> int:
    """Process-independent string hash for Word2Vec's initial vectors (reproducibility)."""
    return zlib.crc32(text.encode("utf-8"))


def tokenise(prepared: pl.DataFrame, gap_minutes: float = 30.0) -> pl.DataFrame:
    """Events in time order per user, with ``_session`` ids and ``_token`` words.

    Columns ``user_id, timestamp, window, _token, _session``; sessions are numbered from
    1 in (user, time) order. A new session starts at a new user, after a gap over
    ``gap_minutes`` and when the window changes (local midnight), so no session uses a
    later day's events. ``user_id`` and ``_token`` are Enums whose categories are
    the sorted users and tokens, so the model works on their integer codes.
    """
    users = prepared.get_column(USER_ID).unique().drop_nulls().sort()
    actions = prepared.get_column(ACTION_TYPE).unique().drop_nulls().sort()
    stamp = prepared.schema[TIMESTAMP]
    unit = stamp.time_unit if isinstance(stamp, pl.Datetime) else "us"
    gap = int(int(gap_minutes * 60_000_000) * _UNIT_US[unit])
    level = pl.col(LEVEL)
    level_class = (
        pl.when(level >= SENSITIVE_RANK).then(pl.when(level >= 3).then(2).otherwise(1)).otherwise(0)
    )
    rows = prepared.lazy().select(
        pl.col(USER_ID).cast(pl.Enum(users)),
        TIMESTAMP,
        WINDOW,
        (
            pl.col(ACTION_TYPE).cast(pl.Enum(actions)).to_physical().cast(pl.Int64) * 3
            + level_class
        ).alias("_c"),
    )
    user, time = pl.col(USER_ID).to_physical().cast(pl.Int64), pl.col(TIMESTAMP).to_physical()
    stamps = prepared.get_column(TIMESTAMP)
    if stamps.null_count() == 0 and stamps.is_sorted():
        # events in time order (as logs come): a stable sort by user alone keeps each
        # user's events in that order, the order the (user, time) sort gives, ties kept
        # as they come (tokenise of 10M events: 1.34 CPU-s against 1.43, medians of five)
        rows = rows.sort(user, maintain_order=True)
    else:
        rows = _by_user_and_time(rows, prepared, users.len())
    new = (
        (user != user.shift(1)).fill_null(True)
        | ((time - time.shift(1)) > gap).fill_null(True)
        | (pl.col(WINDOW) != pl.col(WINDOW).shift(1)).fill_null(True)
    )
    frame = rows.with_columns(new.cum_sum().cast(pl.Int64).alias(SESSION)).collect()
    combos = frame.get_column("_c").to_numpy()
    present = np.flatnonzero(np.bincount(combos, minlength=3 * actions.len()))
    # an action outside the vocabulary (kept with unknown_actions = "keep") is 'other'
    spoken = [a if a in CORE_ACTIONS else OTHER_ACTION for a in actions.to_list()]
    names = [spoken[int(c) // 3] + _SUFFIX[int(c) % 3] for c in present]
    words = sorted(set(names))
    position = {w: i for i, w in enumerate(words)}
    lut = np.zeros(3 * actions.len() + 1, dtype=np.int64)
    lut[present] = [position[n] for n in names]
    word = pl.Series(WORD, words, pl.Enum(words)).gather(lut[combos])
    return frame.select(USER_ID, TIMESTAMP, WINDOW).with_columns(word, frame.get_column(SESSION))


def _by_user_and_time(rows: pl.LazyFrame, prepared: pl.DataFrame, users: int) -> pl.LazyFrame:
    """``rows`` (``user_id`` an Enum of the ``users`` sorted users) in (user, time) order,
    stable, whatever order ``prepared``'s events come in."""
    user, time = pl.col(USER_ID).to_physical().cast(pl.Int64), pl.col(TIMESTAMP).to_physical()
    lo, hi = prepared.select(time.min().alias("lo"), time.max().alias("hi")).row(0)
    lo, span = (0, 1) if lo is None else (lo, hi - lo + 1)
    if users * span < KEY_LIMIT:  # one int64 key: (user, time) order, stable
        return rows.sort(user * span + (time - lo), maintain_order=True)
    return rows.sort(user, time, maintain_order=True)


def sessions_of(tokens: pl.DataFrame) -> pl.DataFrame:
    """One row per session: id, user, window and start of its first event, token list."""
    return (
        tokens.group_by(SESSION, maintain_order=True)
        .agg(
            pl.col(USER_ID).first().cast(pl.String),
            pl.col(WINDOW).first(),
            pl.col(TIMESTAMP).first().alias("start"),
            pl.col(WORD).cast(pl.String).alias("tokens"),
        )
        .sort(SESSION)
    )


def transitions_of(codes: pl.DataFrame, start: int, end: int) -> pl.DataFrame:
    """Each distinct step (a → b) of each session with its count ``k``, on token codes.

    ``codes`` has ``_session, user_id, window, _code`` in session order (as
    :func:`tokenise` returns it plus a ``_code`` column); ``start``/``end`` are the codes
    of <s> and </s>, which mark each session's ends.
    """
    seq = codes.lazy().select(SESSION, USER_ID, WINDOW, CODE)
    first = (pl.col(SESSION) != pl.col(SESSION).shift(1)).fill_null(True)
    last = (pl.col(SESSION) != pl.col(SESSION).shift(-1)).fill_null(True)
    steps = seq.with_columns(
        pl.when(first).then(pl.lit(start, pl.Int32)).otherwise(pl.col(CODE).shift(1)).alias("a"),
        pl.col(CODE).alias("b"),
        # a session lies in one window (tokenise cuts at midnight); its first event's
        pl.when(first).then(pl.col(WINDOW)).forward_fill().alias(WINDOW),
        last.alias("_last"),
    )
    ends = steps.filter(pl.col("_last")).with_columns(
        pl.col("b").alias("a"), pl.lit(end, pl.Int32).alias("b")
    )
    cols = [SESSION, USER_ID, WINDOW, "a", "b"]
    return (
        pl.concat([steps.select(cols), ends.select(cols)])
        .group_by(cols)
        .agg(pl.len().cast(pl.Int64).alias("k"))
        .collect()
    )


@dataclass(frozen=True)
class Sessions:
    """A tokenised frame as integer arrays; sessions are contiguous and in order."""

    frame: pl.DataFrame
    users: list[str]
    words: list[str]
    code: I64  # per event: index into ``words``
    first: I64  # per session: row of its first event
    size: I64  # per session: its number of events
    user: I64  # per session: index into ``users``
    day: I64  # per session: its window (days since 1970-01-01)
    session: I64  # per event: index of its session
    #: session vectors already computed, with the ``vectors_`` frame they came from
    vectors: list[tuple[pl.DataFrame, F64]] = field(default_factory=list)

    @classmethod
    def of(cls, tokens: pl.DataFrame) -> Sessions:
        users, user = categories(tokens.get_column(USER_ID))
        words, code = categories(tokens.get_column(WORD))
        ids = tokens.get_column(SESSION).to_numpy()
        first = np.flatnonzero(run_starts(ids)).astype(np.int64)
        size = np.diff(np.r_[first, ids.size]).astype(np.int64)
        day = tokens.get_column(WINDOW).to_physical().cast(pl.Int64).to_numpy()[first]
        session = np.repeat(np.arange(first.size), size)
        return cls(tokens, users, words, code, first, size, user[first], day, session)

    @property
    def sessions(self) -> int:
        """How many sessions."""
        return int(self.first.size)

    def split(self, parts: int) -> list[Sessions]:
        """These sessions cut into up to ``parts`` runs of whole users, about equal in
        events, in order; each has the same ``users`` and ``words`` (the same codes), its
        own rows of every array, and the slice of each session vector already computed.

        Everything the model computes per user (counts before a session, running vector
        sums) is the same on a run as on all sessions, so the runs can be scored apart.
        """
        n = self.sessions
        if parts <= 1 or n == 0:
            return [self]
        starts = np.flatnonzero(run_starts(self.user))  # each user's first session
        events = self.code.size
        at = np.searchsorted(self.first[starts], np.arange(1, parts) * events / parts)
        cuts = np.unique(np.r_[0, starts[np.minimum(at, starts.size - 1)], n])
        cuts = cuts[(cuts > 0) & (cuts < n)]
        bounds = np.r_[0, cuts, n].tolist()
        return [self._rows(lo, hi) for lo, hi in itertools.pairwise(bounds)]

    def _rows(self, lo: int, hi: int) -> Sessions:
        """Sessions ``lo`` to ``hi`` (exclusive) and their events."""
        e0 = int(self.first[lo])
        e1 = int(self.first[hi]) if hi < self.sessions else self.code.size
        return Sessions(
            self.frame.slice(e0, e1 - e0),
            self.users,
            self.words,
            self.code[e0:e1],
            self.first[lo:hi] - e0,
            self.size[lo:hi],
            self.user[lo:hi],
            self.day[lo:hi],
            self.session[e0:e1] - lo,
            [(source, vectors[:, lo:hi]) for source, vectors in self.vectors],
        )

    def group_of(self, groups: pl.DataFrame) -> pl.Series:
        """Each user's peer group (null when ``groups`` does not list the user)."""
        table = groups.select(USER_ID, PEER_GROUP).unique(USER_ID, keep="first")
        users = pl.DataFrame({USER_ID: pl.Series(self.users, dtype=pl.String)})
        return users.join(table, on=USER_ID, how="left", maintain_order="left")[PEER_GROUP]

    def session_groups(self, groups: pl.DataFrame) -> pl.Series:
        """Each session's peer group: its user's, or, when ``groups`` has a ``window``
        column (a user's group may change by day), that of (its user, its window); null
        when ``groups`` does not list it."""
        if WINDOW not in groups.columns:
            return self.group_of(groups).gather(self.user)
        table = groups.select(USER_ID, WINDOW, PEER_GROUP).unique([USER_ID, WINDOW], keep="first")
        keys = pl.DataFrame(
            {
                USER_ID: pl.Series(self.users, dtype=pl.String).gather(self.user),
                WINDOW: pl.Series(self.day).cast(pl.Int32).cast(pl.Date),
            }
        )
        table = table.with_columns(pl.col(WINDOW).cast(pl.Date))
        return keys.join(table, on=[USER_ID, WINDOW], how="left", maintain_order="left")[PEER_GROUP]

    def token_text(self, sessions: I64) -> pl.Series:
        """The given sessions' tokens joined with spaces."""
        lengths = self.size[sessions]
        rows = np.repeat(self.first[sessions] - np.cumsum(lengths) + lengths, lengths)
        rows += np.arange(rows.size)
        owner = np.repeat(np.arange(sessions.size), lengths)
        return self._lists(owner, rows).list.join(" ")

    def token_lists(self) -> pl.Series:
        """Every session's tokens as a list of strings."""
        return self._lists(self.session, np.arange(self.code.size))

    def _lists(self, owner: I64, rows: I64) -> pl.Series:
        """The tokens of event ``rows`` as lists by ``owner`` (ascending, as given)."""
        words = pl.Series(WORD, self.words, dtype=pl.Enum(self.words)).gather(self.code[rows])
        part = pl.DataFrame([pl.Series("_s", owner).set_sorted(), words])
        lists = part.group_by("_s", maintain_order=True).agg(WORD).get_column(WORD)
        return lists.cast(pl.List(pl.String))


def by_users(seq: Sessions) -> list[Sessions]:
    """``seq`` in pieces of whole users (:meth:`Sessions.split`) from
    ``PARALLEL_SESSIONS`` sessions on, of about ``PIECE_EVENTS`` events each and at least
    one per usable core (kernels.in_threads runs them on that many threads); else
    ``[seq]``."""
    if seq.sessions < PARALLEL_SESSIONS:
        return [seq]
    return seq.split(max(usable_cores(), -(-seq.code.size // PIECE_EVENTS)))
