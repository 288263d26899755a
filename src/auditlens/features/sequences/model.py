# size: the fitted model's tables, its fit and its prequential scoring belong together.
"""The fitted sequence model: smoothed next-action probabilities and token embeddings.

See :mod:`auditlens.features.sequences` for the definitions. The fitted tables keep
their string-keyed form, so models saved before still load and score; a saved model
holds the per-user ones as integer-keyed arrays only (half the file), their frames
rebuilt when read.

Scoring is prequential: a session's user counts and centroid come from the user's
*earlier* sessions. :meth:`SequenceModel.session_scores_after` takes what sessions in
earlier windows left (:class:`Earlier`, in the batch's user codes) and returns what the
scored ones add (:class:`Added`), so a run over one new day scores exactly as a run
over all days does (``features.sequences.history`` keeps these between runs).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Final, Self

import numpy as np
import polars as pl

from auditlens.features.base import WINDOW
from auditlens.features.peers import PEER_GROUP
from auditlens.features.sequences.kernels import (
    F64,
    I64,
    KEY_LIMIT,
    categories,
    cumsum_by,
    in_threads,
    key_space,
    lookup,
    mixed_key,
    run_starts,
    sum_by,
    totals_by,
)
from auditlens.features.sequences.tokens import (
    CODE,
    END,
    SESSION,
    START,
    WORD,
    Sessions,
    by_users,
    stable_hash,
)
from auditlens.schema import TIMESTAMP, USER_ID


def _none() -> I64:
    return np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Earlier:
    """What a batch's users' sessions in earlier windows left, in the batch's user codes.

    ``step_key`` (user · v² + a · v + b, ascending, v = ``vocab_size_``) with the number
    of earlier windows having that step and its total count; per batch user the number
    of earlier sessions and the running sum of their vectors (``vector_size x users``).
    """

    step_key: I64 = field(default_factory=_none)
    step_days: I64 = field(default_factory=_none)
    step_count: I64 = field(default_factory=_none)
    sessions: I64 = field(default_factory=_none)  # empty: no user has earlier sessions
    sums: F64 = field(default_factory=lambda: np.zeros((0, 0)))

    def steps_of(self, keys: I64) -> tuple[I64, I64]:
        """Earlier windows and total count of each of ``keys`` (0 when never seen)."""
        days, count = np.zeros(keys.size, np.int64), np.zeros(keys.size, np.int64)
        if self.step_key.size and keys.size:
            pos = np.searchsorted(self.step_key, keys).clip(max=self.step_key.size - 1)
            hit = self.step_key[pos] == keys
            days[hit], count[hit] = self.step_days[pos[hit]], self.step_count[pos[hit]]
        return days, count

    def sessions_of(self, users: I64) -> I64:
        """Earlier sessions of each of the batch ``users``."""
        if self.sessions.size == 0:
            return np.zeros(users.size, np.int64)
        return self.sessions[users]


@dataclass(frozen=True)
class Added:
    """What a batch's sessions add, in its user codes: per distinct step ``step_key``
    (ascending) the windows and count it adds; per user with sessions (``users``,
    ascending) the number of sessions and the running vector sum *after* the batch."""

    step_key: I64
    step_days: I64
    step_count: I64
    users: I64
    sessions: I64
    sums: F64

    @staticmethod
    def joined(parts: list[Added]) -> Added:
        """What runs of users (in order, as :meth:`Sessions.split` cuts them) add, as one."""

        def rows(name: str) -> I64:
            column: I64 = np.concatenate([getattr(part, name) for part in parts])
            return column

        sums = np.concatenate([part.sums for part in parts], axis=1)
        key, days, count = rows("step_key"), rows("step_days"), rows("step_count")
        return Added(key, days, count, rows("users"), rows("sessions"), sums)


def _table(owner: dict[str, pl.Series], a: I64, b: I64 | None, name: str, n: I64) -> pl.DataFrame:
    """A count table as the model keeps it: ``[owner,] a, [b,] name``."""
    codes = {"a": a.astype(np.int32)} | ({} if b is None else {"b": b.astype(np.int32)})
    return pl.DataFrame(owner | codes | {name: n})


#: The fitted count tables :meth:`SequenceModel._group_prior` looks up, by count column:
#: the attribute holding the table, its owner column (None: a global table) and whether
#: its rows are pairs (``a``, ``b``) rather than single tokens ``a``.
_COUNT_TABLES: Final = {
    "na0": ("global_rows_", None, False),
    "ng": ("group_counts_", PEER_GROUP, True),
    "nga": ("group_rows_", PEER_GROUP, False),
    "nu": ("user_counts_", USER_ID, True),
    "nua": ("user_rows_", USER_ID, False),
}
#: The per-user tables, which a saved model holds only as arrays (:meth:`_coded`; most
#: of the file: 18 of 36 MB at 5,250 users): their string-keyed frames are rebuilt from
#: those when read (:meth:`SequenceModel.__getattr__`).
_AS_ARRAYS: Final = ("nu", "nua")


class SequenceModel:
    """Fitted priors (global and per peer group) and token embeddings; see module doc."""

    def __init__(
        self,
        *,
        gap_minutes: float = 30.0,
        alpha: float = 1.0,
        beta: float = 5.0,
        usual_bits: float = 3.0,
        rare_p: float = 0.01,
        habit_days: int = 5,
        embedding_weight: float = 4.0,
        vector_size: int = 16,
        epochs: int = 5,
        max_training_sessions: int = 20_000,
        seed: int = 7,
    ) -> None:
        self.gap_minutes = gap_minutes
        self.alpha = alpha
        self.beta = beta
        self.usual_bits = usual_bits
        self.rare_p = rare_p
        self.habit_days = habit_days
        self.embedding_weight = embedding_weight
        self.vector_size = vector_size
        self.epochs = epochs
        self.max_training_sessions = max_training_sessions
        self.seed = seed

    def fit(self, tokens: pl.DataFrame, groups: pl.DataFrame) -> Self:
        """Learn global and peer-group transition probabilities and token vectors."""
        return self.fit_sessions(Sessions.of(tokens), groups)

    def fit_sessions(self, seq: Sessions, groups: pl.DataFrame) -> Self:
        """:meth:`fit` on sessions already tokenised (SequenceFeatures scores them next)."""
        self.__dict__.pop("_coded_tables", None)  # (of an earlier fit)
        present = np.bincount(seq.code, minlength=len(seq.words)) > 0
        self.vocab_ = [*(w for w, p in zip(seq.words, present, strict=True) if p), START, END]
        self.vocab_size_ = v = len(self.vocab_) + 1  # one more for tokens first seen later
        names = seq.session_groups(groups)
        labels = names.unique().sort(nulls_last=True)  # a null group (unlisted users) last
        group = names.cast(pl.Enum(labels.drop_nulls())).to_physical().cast(pl.Int64)
        group_of_session = group.fill_null(labels.len() - 1).to_numpy()
        key_space(len(seq.users), v, v)
        key_space(labels.len(), v, v)
        # each user's (a, b) counts (the global tables are their sums) and each group's
        # (each step counts in its session's group: of its user and window), counted in
        # pieces of whole users (integer counts: the same whatever the pieces)
        keys, nu, gab, ng = self._step_counts(seq, group_of_session)
        owner, ab = keys // (v * v), keys % (v * v)
        user = pl.Series(seq.users, dtype=pl.String)
        self.user_counts_ = _table({USER_ID: user.gather(owner)}, ab // v, ab % v, "nu", nu)
        ua, nua = sum_by(keys // v, nu)
        self.user_rows_ = _table({USER_ID: user.gather(ua // v)}, ua % v, None, "nua", nua)
        group = labels.gather(gab // (v * v))
        self.group_counts_ = _table({PEER_GROUP: group}, gab // v % v, gab % v, "ng", ng)
        ga, nga = sum_by(gab // v, ng)
        self.group_rows_ = _table({PEER_GROUP: labels.gather(ga // v)}, ga % v, None, "nga", nga)
        pairs, n = sum_by(ab, nu)
        a, na = sum_by(pairs // v, n)
        self.global_rows_ = _table({}, a, None, "na0", na)
        self.global_ = (
            _table({}, pairs // v, pairs % v, "n", n)
            .with_columns(pl.Series("na", na[np.searchsorted(a, pairs // v)]))
            .select(
                "a",
                "b",
                ((pl.col("n") + self.alpha / v) / (pl.col("na") + self.alpha)).alias("p0"),
            )
        )
        self._fit_vectors(seq)
        self.group_centroids_ = self._centroids(seq, group_of_session, labels)
        for col in _COUNT_TABLES:  # kept with the model: see _coded
            self._coded(col)
        return self

    def _step_counts(self, seq: Sessions, group_of_session: I64) -> tuple[I64, I64, I64, I64]:
        """The distinct (user, a, b) step keys (user · v² + a · v + b, ascending) of the
        sessions and their counts, and the same by the sessions' groups
        (``group_of_session``: each session's group code): counted over pieces of whole
        users (tokens.by_users: arrays of a piece's size, not of every step) on the
        cores' threads, then added up."""
        v = self.vocab_size_
        pieces = by_users(seq)
        offsets = np.cumsum([0, *(piece.sessions for piece in pieces)]).tolist()

        def counted(i: int) -> tuple[I64, I64, I64, I64]:
            piece = pieces[i]
            base = int(piece.user.min()) if piece.sessions else 0
            steps, s = self._steps(piece)
            # keys from the piece's lowest user code (a table of its users only), then shifted
            keys, nu = sum_by((piece.user - base)[s] * (v * v) + steps)
            keys += base * (v * v)
            group = group_of_session[offsets[i] : offsets[i + 1]]
            gab, ng = sum_by(group[s] * (v * v) + steps)
            return keys, nu, gab, ng

        found = in_threads(counted, range(len(pieces)))
        keys, nu = (np.concatenate([f[i] for f in found]) for i in range(2))
        if keys.size > 1 and not (keys[1:] > keys[:-1]).all():  # (users not in code order)
            keys, nu = sum_by(keys, nu)
        gab, ng = sum_by(*(np.concatenate([f[i] for f in found]) for i in (2, 3)))
        return keys, nu, gab, ng

    def __getstate__(self) -> dict[str, Any]:
        """What pickling saves: every attribute but the per-user count tables held as
        arrays too (:data:`_AS_ARRAYS`), whose frames :meth:`__getattr__` rebuilds."""
        state = dict(self.__dict__)
        coded = state.get("_coded_tables", {})
        for col in _AS_ARRAYS:
            if col in coded:
                state.pop(_COUNT_TABLES[col][0], None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restore a pickled model; one saved before kept each count table's frame in
        its arrays' entry (dropped here: the frame is the attribute)."""
        coded = state.get("_coded_tables")
        if coded:
            state["_coded_tables"] = {c: found[-3:] for c, found in coded.items()}
        self.__dict__.update(state)

    def __getattr__(self, name: str) -> Any:
        """A per-user count table a saved model holds only as arrays, rebuilt from them
        (the same frame the fit made: rows by owner, ``a``, ``b``) and kept."""
        col = next((c for c in _AS_ARRAYS if _COUNT_TABLES[c][0] == name), None)
        coded = self.__dict__.get("_coded_tables", {})
        if col is None or col not in coded:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        keys, counts, owners = coded[col]
        v = self.vocab_size_
        owner, rest = np.divmod(keys, self._radix(col))
        a, b = (rest // v, rest % v) if _COUNT_TABLES[col][2] else (rest, None)
        table = _table({USER_ID: owners.gather(owner)}, a, b, col, counts)
        self.__dict__[name] = table
        return table

    def _centroids(self, seq: Sessions, group_of_session: I64, labels: pl.Series) -> pl.DataFrame:
        """``peer_group`` and the mean session vector ``c<dim>`` of each group's sessions.

        Summed in session order per group (bincount), so the same sessions give the same
        bits every time (a group_by's mean adds in whatever order its threads meet them).
        """
        vectors = self._session_vectors(seq)
        code = group_of_session
        n = np.bincount(code, minlength=labels.len())
        sums = np.stack([np.bincount(code, vectors[d], labels.len()) for d in range(len(vectors))])
        present = np.flatnonzero(n > 0)
        means = sums[:, present] / n[present]
        return pl.DataFrame(
            {PEER_GROUP: labels.gather(present)}
            | {f"c{c}": means[d] for d, c in enumerate(self._dims())}
        )

    def _fit_vectors(self, seq: Sessions) -> None:
        """Word2Vec on (a sample of) the sessions, as ``vectors_``."""
        from gensim.models import Word2Vec  # imported only to fit

        chosen = np.arange(seq.sessions)
        if seq.sessions > self.max_training_sessions:  # the rows DataFrame.sample picks
            every = pl.DataFrame({"_i": pl.int_range(seq.sessions, eager=True)})
            chosen = every.sample(self.max_training_sessions, seed=self.seed)["_i"].to_numpy()
        # every chosen session's tokens in one gather, then cut into sentences
        sizes = seq.size[chosen]
        ends = np.cumsum(sizes)
        rows = np.repeat(seq.first[chosen] - ends + sizes, sizes) + np.arange(int(sizes.sum()))
        flat = np.array(seq.words, dtype=object)[seq.code[rows]].tolist()
        sentences = [
            [START, *flat[e - n : e], END]
            for e, n in zip(ends.tolist(), sizes.tolist(), strict=True)
        ]
        w2v = Word2Vec(
            sentences,
            vector_size=self.vector_size,
            window=3,
            min_count=1,
            sg=1,
            workers=1,
            seed=self.seed,
            epochs=self.epochs,
            hashfxn=stable_hash,
        )
        known = list(w2v.wv.index_to_key)
        self.vectors_ = pl.DataFrame(
            {WORD: known, "_vec": [w2v.wv[w].astype(np.float64).tolist() for w in known]}
        )

    # --- scoring ---------------------------------------------------------------------

    def encode(self, tokens: pl.DataFrame) -> pl.DataFrame:
        """``tokens`` plus ``_code``: each token's index in the vocabulary (unknown = last)."""
        words, codes = categories(tokens.get_column(WORD))
        lut = self._codes(words)
        return tokens.with_columns(pl.Series(CODE, lut[codes].astype(np.int32)))

    def _codes(self, words: list[str]) -> I64:
        """Vocabulary code of each of ``words`` (unknown = ``len(vocab_)``)."""
        index = {w: i for i, w in enumerate(self.vocab_)}
        return np.array([index.get(w, len(self.vocab_)) for w in words], dtype=np.int64)

    def _steps(self, seq: Sessions) -> tuple[I64, I64]:
        """Every step (a → b) of every session as ``a·vocab_size_ + b``, with its session's
        index: first each event's step (from <s> or the previous token), then each
        session's step to </s>."""
        v, start, end = self.vocab_size_, len(self.vocab_) - 2, len(self.vocab_) - 1
        b = self._codes(seq.words)[seq.code]
        n = b.size
        ab = np.empty(n + seq.sessions, dtype=np.int64)
        ab[1:n] = b[:-1]
        ab[seq.first] = start
        ab[:n] *= v
        ab[:n] += b
        ab[n:] = b[seq.first + seq.size - 1] * v + end
        return ab, np.concatenate([seq.session, np.arange(seq.sessions)])

    def score(self, tokens: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
        """One row per session, in order: ``_session, user_id, window, start, tokens`` and
        its ``excess_bits, nll_bits, rare_steps, distance, session_score``."""
        seq = Sessions.of(tokens)
        excess, nll, rare, distance = self.session_scores(seq, groups)
        return pl.DataFrame(
            {
                SESSION: tokens.get_column(SESSION).gather(seq.first),
                USER_ID: pl.Series(seq.users, dtype=pl.String).gather(seq.user),
                WINDOW: pl.Series(seq.day).cast(pl.Int32).cast(pl.Date),
                "start": tokens.get_column(TIMESTAMP).gather(seq.first),
                "tokens": seq.token_lists(),
                "excess_bits": excess,
                "nll_bits": nll,
                "rare_steps": rare,
                "distance": distance,
                "session_score": excess + self.embedding_weight * distance,
            }
        )

    def session_scores(self, seq: Sessions, groups: pl.DataFrame) -> tuple[F64, F64, I64, F64]:
        """Per session: excess bits, mean bits per step, rare steps and distance.

        ``groups`` maps ``user_id`` (and ``window``, when it has that column) to
        ``peer_group`` for the scored users.
        """
        excess, nll, rare, distance, _ = self.session_scores_after(seq, groups, Earlier())
        return excess, nll, rare, distance

    def session_scores_after(
        self, seq: Sessions, groups: pl.DataFrame, earlier: Earlier
    ) -> tuple[F64, F64, I64, F64, Added]:
        """:meth:`session_scores` of sessions that follow the ``earlier`` ones (all in
        later windows), and what they add to them."""
        n = seq.sessions
        if n == 0:
            empty, none = np.zeros(0), np.zeros(0, dtype=np.int64)
            nothing = Added(none, none, none, none, none, np.zeros((self.vector_size, 0)))
            return empty, empty, none, empty, nothing
        names = seq.session_groups(groups)
        pieces = by_users(seq)
        if len(pieces) == 1:
            return self._scores_after(seq, names, earlier)
        self._session_vectors(seq)  # once (by pieces), so that each piece has its slice
        offsets = np.cumsum([0, *(piece.sessions for piece in pieces)]).tolist()
        named = [names.slice(lo, hi - lo) for lo, hi in itertools.pairwise(offsets)]
        found = in_threads(
            lambda i: self._scores_after(pieces[i], named[i], earlier), range(len(pieces))
        )
        excess, nll, rare, distance = (np.concatenate([f[i] for f in found]) for i in range(4))
        return excess, nll, rare, distance, Added.joined([f[4] for f in found])

    def _scores_after(
        self, seq: Sessions, names: pl.Series, earlier: Earlier
    ) -> tuple[F64, F64, I64, F64, Added]:
        """:meth:`session_scores_after` of sessions with their peer groups ``names``."""
        n = seq.sessions
        p, run, s, steps = self._probabilities(seq, names, earlier)
        bits = -pl.Series(p).log(2).to_numpy()
        step_bits = bits[run]
        surprise = np.maximum(step_bits - self.usual_bits, 0.0)
        excess = np.bincount(s, surprise, minlength=n).astype(np.float64)
        nll = np.bincount(s, step_bits, minlength=n) / (seq.size + 1)
        rare = np.bincount(s[(p < self.rare_p)[run]], minlength=n).astype(np.int64)
        distance, users, sessions, sums = self._distances(seq, names, earlier)
        return excess, nll, rare, distance, Added(*steps, users, sessions, sums)

    def _probabilities(
        self, seq: Sessions, names: pl.Series, earlier: Earlier
    ) -> tuple[F64, I64, I64, tuple[I64, I64, I64]]:
        """P(b | a) of each distinct (user, a, b, window) of the sessions, each step's row
        in that table and each step's session (steps in table order); and per distinct
        (user, a, b) its key, windows and count (what the sessions add to ``earlier``).
        ``names``: each session's peer group."""
        v = self.vocab_size_
        ab, s = self._steps(seq)
        lo = int(seq.day.min())
        days = int(seq.day.max()) - lo + 1
        # distinct (user, a, b, window) rows, windows ascending within each (user, a, b):
        # sort the steps by that key
        cells = key_space(len(seq.users), v, v, days)
        key = ab * days
        key += (seq.user * (v * v * days) + seq.day - lo)[s]
        if cells * seq.sessions < KEY_LIMIT:  # one int64 column: key and session
            key *= seq.sessions
            key += s
            # the same values whichever sort; numpy's stable one (timsort) takes the runs
            # the steps come in (sessions in user order, each user's steps in time order):
            # 0.27 s against 0.81 s for quicksort over 11M steps
            key.sort(kind="stable")
            s = key % seq.sessions
            key //= seq.sessions
        else:
            ordered = pl.DataFrame({"k": key, "s": s}).sort("k")
            key, s = ordered["k"].to_numpy(), ordered["s"].to_numpy()
        new = run_starts(key)
        run: I64 = np.cumsum(new, dtype=np.int64)
        run -= 1
        rows = np.flatnonzero(new)
        k = np.diff(np.r_[rows, key.size])
        uab, day = np.divmod(key[rows], days)
        # prequential habits: counts from earlier windows (earlier batches' too), once
        # seen on habit_days windows
        new = run_starts(uab)
        pair = np.cumsum(new) - 1  # each row's (user, a, b)
        first = np.flatnonzero(new)
        before = np.cumsum(k) - k
        before -= before[first][pair]
        seen = np.arange(uab.size) - first[pair]  # earlier windows of this batch
        had_days, had = earlier.steps_of(uab[first])
        seen += had_days[pair]
        before += had[pair]
        cu = np.where(seen >= self.habit_days, before, 0)
        ua = uab // v
        cua = totals_by(mixed_key((ua // v, len(seq.users)), (day, days), (ua % v, v)), cu)
        added = (uab[first], np.diff(np.r_[first, uab.size]), np.add.reduceat(k, first))
        # P_group once per run of rows with the same (user, a, b) and group (one run per
        # (user, a, b) unless the user's group changes between windows)
        group = self._group_codes(names)[s[rows]]
        same = np.empty(uab.size, dtype=np.bool_)
        same[:1] = False
        np.equal(group[1:], group[:-1], out=same[1:])
        fresh = np.flatnonzero(new | ~same)
        spans = np.diff(np.r_[fresh, uab.size])
        pg = np.repeat(self._group_prior(seq, uab[fresh], group[fresh]), spans)
        return (cu + self.beta * pg) / (cua + self.beta), run, s, added

    def _group_codes(self, names: pl.Series) -> I64:
        """Index of each peer group name among the fitted groups (-1: none, unknown)."""
        labels = sorted(self.group_rows_[PEER_GROUP].drop_nulls().unique().to_list())
        codes = names.cast(pl.String).replace_strict(
            labels, range(len(labels)), default=-1, return_dtype=pl.Int64
        )
        return codes.fill_null(-1).to_numpy()

    def _group_prior(self, seq: Sessions, uab: I64, group: I64) -> F64:
        """P_group of each (user, a, b) row from the model's tables, looked up by integer
        keys; ``group``: the row's peer group code (-1: none), the user's counts left out."""
        v = self.vocab_size_
        ab, a = uab % (v * v), (uab // v) % v
        glob = self.global_
        glob_keys = glob["a"].cast(pl.Int64).to_numpy() * v + glob["b"].cast(pl.Int64).to_numpy()
        p0 = lookup(glob_keys, glob["p0"].to_numpy(), ab, np.nan)
        na0 = self._count("na0", [], group, a)
        labels = sorted(self.group_rows_[PEER_GROUP].drop_nulls().unique().to_list())
        ng = self._count("ng", labels, group, ab)
        nga = self._count("nga", labels, group, a)
        user = uab // (v * v)
        nu = self._count("nu", seq.users, user, ab)
        nua = self._count("nua", seq.users, user, a)
        p0 = np.where(np.isnan(p0), (self.alpha / float(v)) / (na0 + self.alpha), p0)
        pg: F64 = (np.maximum(ng - nu, 0) + self.beta * p0) / (np.maximum(nga - nua, 0) + self.beta)
        return pg

    def _count(self, col: str, names: list[str], who: I64, key: I64) -> I64:
        """The count ``col`` of each query in its fitted count table: its owner is
        ``names[who]`` (none when ``who`` < 0; ignored for a global table) and its key is
        a (· b); 0 when the table has no such row."""
        keys, counts, owners = self._coded(col)
        query = key.copy()
        owner = _COUNT_TABLES[col][1]
        if owner is not None:  # the batch's names to the table's owners, then the rows
            where = pl.Series(names, dtype=pl.String).replace_strict(
                owners, range(owners.len()), default=-1, return_dtype=pl.Int64
            )
            row = np.r_[where.to_numpy(), -1][who]  # who = -1: the appended -1
            query = np.where(row >= 0, row * self._radix(col) + key, -1)
        out = np.zeros(query.size, dtype=np.int64)
        asked = np.flatnonzero(query >= 0)
        if keys.size == 0 or asked.size == 0:
            return out
        pos = np.searchsorted(keys, query[asked]).clip(max=keys.size - 1)
        hit = keys[pos] == query[asked]
        out[asked[hit]] = counts[pos[hit]]
        return out

    def _radix(self, col: str) -> int:
        """What an owner's index is multiplied by in the keys of ``col``'s table: the
        number of distinct (a, b) pairs or of tokens a."""
        v = self.vocab_size_
        return v * v if _COUNT_TABLES[col][2] else v

    def _coded(self, col: str) -> tuple[I64, I64, pl.Series]:
        """The count table of ``col`` as arrays: keys ((owner ·) a (· b), the owner its
        index among the table's distinct owners), ascending, their counts and those
        owners. Worked out once per fitted table, when the model is fitted, and pickled
        with it (the per-user tables only so: :data:`_AS_ARRAYS`): a run over one day
        must not re-read every user's table (~0.1 CPU-s at 5,000 users; a model saved
        without them works them out on first use)."""
        cache: dict[str, tuple[I64, I64, pl.Series]]
        cache = self.__dict__.setdefault("_coded_tables", {})
        found = cache.get(col)
        if found is not None:
            return found
        name, owner, pairs = _COUNT_TABLES[col]
        frame: pl.DataFrame = getattr(self, name)
        v = self.vocab_size_
        key = frame["a"].cast(pl.Int64)
        if pairs:
            key = key * v + frame["b"].cast(pl.Int64)
        counts = frame[col].cast(pl.Int64)
        owners = pl.Series([], dtype=pl.String)
        if owner is not None:  # rows of no owner (the null group) are never looked up
            named = frame[owner].is_not_null()
            key, counts = key.filter(named), counts.filter(named)
            column = frame[owner].filter(named)
            owners = column.unique(maintain_order=True)
            index = column.replace_strict(owners, range(owners.len()), return_dtype=pl.Int64)
            key = index * self._radix(col) + key
        keys = key.to_numpy()
        order = np.argsort(keys, kind="stable")
        cache[col] = (keys[order], counts.to_numpy()[order], owners)
        return cache[col]

    def _dims(self) -> list[str]:
        return [f"v{d}" for d in range(self.vector_size)]

    def _session_vectors(self, seq: Sessions) -> F64:
        """Mean token vector of each session (unknown tokens left out), as a
        ``vector_size x sessions`` array: one contiguous row per dimension."""
        for source, vectors in seq.vectors:
            if source is self.vectors_:  # the model that was just fitted on these sessions
                return vectors
        # per session from its own tokens: the pieces' vectors side by side are the same
        pieces = by_users(seq)
        vectors = np.concatenate(in_threads(self._mean_vectors, pieces), axis=1)
        seq.vectors.append((self.vectors_, vectors))
        return vectors

    def _mean_vectors(self, seq: Sessions) -> F64:
        row = {w: i for i, w in enumerate(self.vectors_.get_column(WORD).to_list())}
        table = np.zeros((self.vector_size, len(row) + 1))  # last column: unknown, zero
        table[:, :-1] = np.array(self.vectors_["_vec"].to_list(), dtype=np.float64).T
        codes = np.array([row.get(w, len(row)) for w in seq.words], dtype=np.int64)[seq.code]
        # bincount adds each session's token vectors one by one in token order (from 0.0),
        # the same additions as a running sum, so the sums are exact and reproducible; each
        # dimension's token values are taken into one reused array (every code indexes the
        # table, so "clip" moves none), not a fresh 80 MB array a dimension for the kernel
        # to zero: 0.68 against 0.76 CPU-s for 10M tokens (medians of twelve alternating)
        sums = np.empty((self.vector_size, seq.sessions))
        weights = np.empty(codes.size)
        for d in range(self.vector_size):
            table[d].take(codes, out=weights, mode="clip")
            sums[d] = np.bincount(seq.session, weights=weights, minlength=seq.sessions)
        known = np.add.reduceat((codes < len(row)).astype(np.float64), seq.first)
        sums /= np.maximum(known, 1.0)
        return sums

    def _distances(
        self, seq: Sessions, names: pl.Series, earlier: Earlier
    ) -> tuple[F64, I64, I64, F64]:
        """1 - cosine to the user's earlier sessions' mean (the group's for a first one);
        and per user with sessions (ascending) the sessions and running sum after them.

        The running sum continues ``earlier.sums``: it is put before the user's first
        session and the additions go on from it, the same adds in the same order as over
        all sessions, so the bits are those of a run over all days."""
        vectors = self._session_vectors(seq)
        new = np.r_[True, seq.user[1:] != seq.user[:-1]]
        first = np.flatnonzero(new)
        owner = np.cumsum(new) - 1
        users = seq.user[first]
        had = earlier.sessions_of(users)
        carried = np.flatnonzero(had > 0)
        shift = np.zeros(first.size, dtype=np.int64)
        shift[carried] = 1
        start = first + np.cumsum(shift) - shift  # each user's first column, sums included
        laid = vectors
        if carried.size:
            laid = np.insert(vectors, first[carried], earlier.sums[:, users[carried]], axis=1)
        running = cumsum_by(start, laid)
        sums = running[:, np.r_[start[1:], laid.shape[1]] - 1]
        if carried.size:
            keep = np.ones(laid.shape[1], dtype=np.bool_)
            keep[start[carried]] = False
            running = running[:, keep]
        # prequential centroid: mean of the user's earlier session vectors
        before = np.arange(seq.sessions) - first[owner] + had[owner]
        centre = running - vectors
        centre /= np.maximum(before, 1)
        alone = np.flatnonzero(before == 0)
        centroids = self.group_centroids_.filter(pl.col(PEER_GROUP).is_not_null())
        by_group = (
            names.gather(alone)
            .to_frame()
            .join(centroids, on=PEER_GROUP, how="left", maintain_order="left")
            .select([pl.col(f"c{c}").fill_null(0.0) for c in self._dims()])
            .to_numpy()
            .T
        )
        centre[:, alone] = by_group
        dot, norm_v, norm_c = vectors[0] * centre[0], vectors[0] ** 2, centre[0] ** 2
        for d in range(1, self.vector_size):  # dimension by dimension: deterministic sums
            dot += vectors[d] * centre[d]
            norm_v += vectors[d] ** 2
            norm_c += centre[d] ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            distance = 1.0 - dot / (np.sqrt(norm_v) * np.sqrt(norm_c))
        after = had + np.diff(np.r_[first, seq.sessions])
        return np.where(np.isnan(distance), 1.0, distance), users, after, sums
