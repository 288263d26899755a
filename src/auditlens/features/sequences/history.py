"""What the sequence features need to know about users' sessions in earlier windows.

The sequence scores are prequential (a session is scored against the user's *earlier*
sessions) and the watch list matches across days, so a run over one new day needs a
little of the past: :class:`SequenceHistory`, per user

* per step (a → b), in the fitted model's codes: the number of earlier windows with it
  and its total count (the user's habits);
* the number of earlier sessions and the running sum of their vectors, exactly as the
  running sum over all sessions left it (the prequential centroid continues from it);
* the watch-list matcher's partial matches (:func:`watchlist.resume_matches`).

Its size is O(users x distinct steps), not O(events). It is keyed by ``user_id``
strings (its own sorted list), never by a batch's integer codes, holds only numpy
arrays and polars frames (it pickles), and histories of disjoint users merge
(:meth:`SequenceHistory.merged`) and restrict (:meth:`SequenceHistory.restricted`), so
user partitions can each carry their own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from auditlens.features.sequences.kernels import F64, I64, key_space
from auditlens.features.sequences.model import Added, Earlier, SequenceModel
from auditlens.features.sequences.tokens import Sessions
from auditlens.features.watchlist import STATE_COLUMNS
from auditlens.schema import USER_ID


def _ints(values: Iterable[int] = ()) -> I64:
    return np.fromiter(values, dtype=np.int64)


def _position(ordered: pl.Series, names: pl.Series) -> I64:
    """Index of each of ``names`` in the sorted, distinct ``ordered`` (-1: not there)."""
    if ordered.len() == 0:
        return np.full(names.len(), -1, dtype=np.int64)
    pos = ordered.search_sorted(names).to_numpy().astype(np.int64).clip(max=ordered.len() - 1)
    hit = ordered.gather(pos).to_numpy() == names.to_numpy()
    return np.where(hit, pos, -1)


@dataclass(frozen=True, eq=False)
class SequenceHistory:
    """Per user (``users``, sorted): earlier sessions and the running sum of their
    vectors (``vector_size x users``); per (user, step) the earlier windows with the
    step and its count (``step_*``, ascending by user then step ``a · v + b``); the
    watch-list state; the model vocabulary the step codes are in and the last window.
    """

    users: pl.Series
    sessions: I64
    sums: F64
    step_user: I64
    step_ab: I64
    step_days: I64
    step_count: I64
    watch: pl.DataFrame | None
    vocab: tuple[str, ...]
    last_window: dt.date | None

    @classmethod
    def empty(cls) -> SequenceHistory:
        """The history before any event."""
        none = _ints()
        users = pl.Series(USER_ID, [], dtype=pl.String)
        return cls(users, none, np.zeros((0, 0)), none, none, none, none, None, (), None)

    def check(self, model: SequenceModel, first_window: dt.date | None) -> None:
        """Raise ValueError unless the history goes with ``model`` and ends before
        ``first_window`` (the first window of the events to continue it with)."""
        if self.vocab and tuple(model.vocab_) != self.vocab:
            raise ValueError("the sequence history was kept with another fitted model")
        if None not in (first_window, self.last_window) and first_window <= self.last_window:  # type: ignore[operator]
            raise ValueError(
                f"events from {first_window} do not follow the sequence history "
                f"(which ends on {self.last_window})"
            )

    def earlier(self, model: SequenceModel, seq: Sessions) -> Earlier:
        """What the history holds about the users of ``seq``, in its user codes."""
        if self.users.len() == 0:
            return Earlier()
        v = model.vocab_size_
        batch = pl.Series(USER_ID, seq.users, dtype=pl.String)
        mapped = _position(batch, self.users)  # ascending where present: keys stay sorted
        owner = mapped[self.step_user]
        keep = owner >= 0
        key = owner[keep] * (v * v) + self.step_ab[keep]
        there = np.flatnonzero(mapped >= 0)
        sessions = np.zeros(batch.len(), dtype=np.int64)
        sessions[mapped[there]] = self.sessions[there]
        sums = np.zeros((self.sums.shape[0], batch.len()))
        sums[:, mapped[there]] = self.sums[:, there]
        return Earlier(key, self.step_days[keep], self.step_count[keep], sessions, sums)

    def extended(
        self,
        model: SequenceModel,
        seq: Sessions,
        added: Added,
        watch: pl.DataFrame,
        last_window: dt.date | None,
    ) -> SequenceHistory:
        """The history after the sessions ``seq`` (which ``added`` sums up)."""
        if seq.sessions == 0:
            return self
        v = model.vocab_size_
        batch = pl.Series(USER_ID, seq.users, dtype=pl.String).gather(added.users)
        users, into = self.users, _position(self.users, batch)
        was = np.arange(users.len())
        if (into < 0).any():  # new users: the union of both, sorted
            users = pl.concat([self.users, batch]).unique().sort()
            was, into = _position(users, self.users), _position(users, batch)
        old = was[self.step_user] * (v * v) + self.step_ab
        mine = np.searchsorted(added.users, added.step_key // (v * v))
        new = into[mine] * (v * v) + added.step_key % (v * v)
        key_space(users.len(), v, v)
        pos = np.searchsorted(old, new)
        hit = np.flatnonzero(pos < old.size)
        hit = hit[old[pos[hit]] == new[hit]]
        days, count = self.step_days.copy(), self.step_count.copy()
        days[pos[hit]] += added.step_days[hit]
        count[pos[hit]] += added.step_count[hit]
        miss = np.ones(new.size, dtype=np.bool_)
        miss[hit] = False
        at = pos[miss]
        keys = np.insert(old, at, new[miss])
        days = np.insert(days, at, added.step_days[miss])
        count = np.insert(count, at, added.step_count[miss])
        sessions = np.zeros(users.len(), dtype=np.int64)
        sums = np.zeros((model.vector_size, users.len()))
        sessions[was] = self.sessions
        if self.sums.size:
            sums[:, was] = self.sums
        sessions[into] = added.sessions
        sums[:, into] = added.sums
        last = self.last_window if last_window is None else last_window
        return SequenceHistory(
            users, sessions, sums, keys // (v * v), keys % (v * v), days, count,
            watch, tuple(model.vocab_), last,
        )  # fmt: skip

    @classmethod
    def merged(cls, histories: Sequence[SequenceHistory]) -> SequenceHistory:
        """One history of the disjoint user sets of ``histories`` (user partitions).

        Raises:
            ValueError: a user is in two of them, or they were kept with other models.
        """
        parts = [h for h in histories if h.users.len() or h.watch is not None]
        if not parts:
            return cls.empty()
        vocabs = {h.vocab for h in parts if h.vocab}
        if len(vocabs) > 1:
            raise ValueError("sequence histories kept with different models cannot merge")
        users = pl.concat([h.users for h in parts])
        if users.n_unique() != users.len():
            raise ValueError("sequence histories to merge share users")
        order = users.arg_sort().to_numpy()
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        offsets = np.cumsum([0, *(h.users.len() for h in parts)])
        owner = np.concatenate(
            [rank[o + h.step_user] for o, h in zip(offsets, parts, strict=False)]
        )
        ab = np.concatenate([h.step_ab for h in parts])
        steps = np.lexsort((ab, owner))
        dims = max(h.sums.shape[0] for h in parts)
        sums = np.concatenate(
            [h.sums if h.sums.size else np.zeros((dims, h.users.len())) for h in parts], axis=1
        )
        watches = [h.watch for h in parts if h.watch is not None]
        ends = [h.last_window for h in parts if h.last_window is not None]
        return cls(
            users.gather(order),
            np.concatenate([h.sessions for h in parts])[order],
            sums[:, order],
            owner[steps],
            ab[steps],
            np.concatenate([h.step_days for h in parts])[steps],
            np.concatenate([h.step_count for h in parts])[steps],
            _sorted_watch(pl.concat(watches)) if watches else None,
            vocabs.pop() if vocabs else (),
            max(ends) if ends else None,
        )

    def restricted(self, users: Iterable[str]) -> SequenceHistory:
        """The history of ``users`` only (those it holds)."""
        wanted = pl.Series(USER_ID, list(users), dtype=pl.String)
        keep = self.users.is_in(wanted.implode()).to_numpy()
        index = np.cumsum(keep) - 1
        step = keep[self.step_user]
        watch = self.watch
        if watch is not None:
            watch = watch.filter(pl.col(USER_ID).is_in(wanted.implode()))
        return SequenceHistory(
            self.users.filter(pl.Series(keep)),
            self.sessions[keep],
            self.sums[:, keep] if self.sums.size else self.sums,
            index[self.step_user[step]],
            self.step_ab[step],
            self.step_days[step],
            self.step_count[step],
            watch,
            self.vocab,
            self.last_window,
        )

    def equals(self, other: SequenceHistory) -> bool:
        """True when both hold the same values (bit for bit)."""
        arrays = ("sessions", "sums", "step_user", "step_ab", "step_days", "step_count")
        same_watch = (self.watch is None) == (other.watch is None) and (
            self.watch is None or other.watch is None or self.watch.equals(other.watch)
        )
        return (
            self.users.equals(other.users)
            and all(np.array_equal(getattr(self, a), getattr(other, a)) for a in arrays)
            and same_watch
            and (self.vocab, self.last_window) == (other.vocab, other.last_window)
        )


def _sorted_watch(watch: pl.DataFrame) -> pl.DataFrame:
    """The watch-list state in its canonical row order."""
    return watch.select(STATE_COLUMNS).sort(*STATE_COLUMNS[:-1], nulls_last=True)
