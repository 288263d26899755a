"""The fitted sequence model: smoothed next-action probabilities and token embeddings.

See :mod:`auditlens.features.sequences` for the definitions. The fitted tables keep
their string-keyed form, so models saved before still load and score.
"""

from __future__ import annotations

from typing import Self

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
    stable_hash,
)
from auditlens.schema import TIMESTAMP, USER_ID


def _table(owner: dict[str, pl.Series], a: I64, b: I64 | None, name: str, n: I64) -> pl.DataFrame:
    """A count table as the model keeps it: ``[owner,] a, [b,] name``."""
    codes = {"a": a.astype(np.int32)} | ({} if b is None else {"b": b.astype(np.int32)})
    return pl.DataFrame(owner | codes | {name: n})


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
        present = np.bincount(seq.code, minlength=len(seq.words)) > 0
        self.vocab_ = [*(w for w, p in zip(seq.words, present, strict=True) if p), START, END]
        self.vocab_size_ = v = len(self.vocab_) + 1  # one more for tokens first seen later
        ab, s = self._steps(seq)
        # each user's (a, b) counts; the group and global tables are their sums
        key_space(len(seq.users), v, v)
        keys, nu = sum_by(seq.user[s] * (v * v) + ab)
        owner, ab = keys // (v * v), keys % (v * v)
        names = seq.group_of(groups)
        labels = names.unique().sort(nulls_last=True)  # a null group (unlisted users) last
        group = names.cast(pl.Enum(labels.drop_nulls())).to_physical().cast(pl.Int64)
        group_of_user = group.fill_null(labels.len() - 1).to_numpy()
        user = pl.Series(seq.users, dtype=pl.String)
        self.user_counts_ = _table({USER_ID: user.gather(owner)}, ab // v, ab % v, "nu", nu)
        ua, nua = sum_by(keys // v, nu)
        self.user_rows_ = _table({USER_ID: user.gather(ua // v)}, ua % v, None, "nua", nua)
        gab, ng = sum_by(group_of_user[owner] * (v * v) + ab, nu)
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
        self.group_centroids_ = self._centroids(seq, group_of_user, labels)
        return self

    def _centroids(self, seq: Sessions, group_of_user: I64, labels: pl.Series) -> pl.DataFrame:
        """``peer_group`` and the mean session vector ``c<dim>`` of each group's sessions.

        Summed in session order per group (bincount), so the same sessions give the same
        bits every time (a group_by's mean adds in whatever order its threads meet them).
        """
        vectors = self._session_vectors(seq)
        code = group_of_user[seq.user]
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

        ``groups`` maps ``user_id`` to ``peer_group`` for the scored users.
        """
        n = seq.sessions
        if n == 0:
            empty = np.zeros(0)
            return empty, empty, np.zeros(0, dtype=np.int64), empty
        p, run, s = self._probabilities(seq, groups)
        bits = -pl.Series(p).log(2).to_numpy()
        step_bits = bits[run]
        surprise = np.maximum(step_bits - self.usual_bits, 0.0)
        excess = np.bincount(s, surprise, minlength=n).astype(np.float64)
        nll = np.bincount(s, step_bits, minlength=n) / (seq.size + 1)
        rare = np.bincount(s[(p < self.rare_p)[run]], minlength=n).astype(np.int64)
        return excess, nll, rare, self._distances(seq, groups)

    def _probabilities(self, seq: Sessions, groups: pl.DataFrame) -> tuple[F64, I64, I64]:
        """P(b | a) of each distinct (user, a, b, window) of the sessions, each step's row
        in that table and each step's session (steps in table order)."""
        v = self.vocab_size_
        ab, s = self._steps(seq)
        lo = int(seq.day.min())
        days = int(seq.day.max()) - lo + 1
        # distinct (user, a, b, window) rows (a session counts in its first window),
        # windows ascending within each (user, a, b): sort the steps by that key
        cells = key_space(len(seq.users), v, v, days)
        key = ab * days
        key += (seq.user * (v * v * days) + seq.day - lo)[s]
        if cells * seq.sessions < KEY_LIMIT:  # one int64 column: key and session
            key *= seq.sessions
            key += s
            key.sort()
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
        # prequential habits: counts from earlier windows, once seen on habit_days windows
        new = run_starts(uab)
        pair = np.cumsum(new) - 1  # each row's (user, a, b)
        first = np.flatnonzero(new)
        before = np.cumsum(k) - k
        before -= before[first][pair]
        cu = np.where(np.arange(uab.size) - first[pair] >= self.habit_days, before, 0)
        ua = uab // v
        cua = totals_by(mixed_key((ua // v, len(seq.users)), (day, days), (ua % v, v)), cu)
        # P_group of each (user, a, b) from the model's tables, looked up by integer keys
        uab = uab[first]
        user, ab, a = uab // (v * v), uab % (v * v), (uab // v) % v
        glob = self.global_
        glob_keys = glob["a"].cast(pl.Int64).to_numpy() * v + glob["b"].cast(pl.Int64).to_numpy()
        p0 = lookup(glob_keys, glob["p0"].to_numpy(), ab, np.nan)
        na0 = lookup(*self._rows(self.global_rows_, "na0", None, []), a, 0)
        labels = sorted(self.group_rows_[PEER_GROUP].drop_nulls().unique().to_list())
        index = {g: i for i, g in enumerate(labels)}
        names = seq.group_of(groups).to_list()
        group = np.array([-1 if g is None else index.get(g, -1) for g in names], dtype=np.int64)
        group = group[user]
        ng_table = self._rows(self.group_counts_, "ng", PEER_GROUP, labels)
        ng = lookup(*ng_table, np.where(group >= 0, group * v * v + ab, -1), 0)
        nga_table = self._rows(self.group_rows_, "nga", PEER_GROUP, labels)
        nga = lookup(*nga_table, np.where(group >= 0, group * v + a, -1), 0)
        nu = lookup(*self._rows(self.user_counts_, "nu", USER_ID, seq.users), uab, 0)
        nua = lookup(*self._rows(self.user_rows_, "nua", USER_ID, seq.users), uab // v, 0)
        p0 = np.where(np.isnan(p0), (self.alpha / float(v)) / (na0 + self.alpha), p0)
        pg = (np.maximum(ng - nu, 0) + self.beta * p0) / (np.maximum(nga - nua, 0) + self.beta)
        return (cu + self.beta * pg[pair]) / (cua + self.beta), run, s

    def _rows(
        self, frame: pl.DataFrame, col: str, owner: str | None, names: list[str]
    ) -> tuple[I64, I64]:
        """A count table's integer keys ((owner ·) a (· b)) and counts; unknown owners dropped."""
        v = self.vocab_size_
        key = frame["a"].cast(pl.Int64)
        if "b" in frame.columns:
            key = key * v + frame["b"].cast(pl.Int64)
        counts = frame[col]
        if owner is not None:
            index = frame[owner].replace_strict(
                names, range(len(names)), default=-1, return_dtype=pl.Int64
            )
            radix = v * v if "b" in frame.columns else v
            keep = index >= 0
            key, counts = (index * radix + key).filter(keep), counts.filter(keep)
        return key.to_numpy(), counts.to_numpy()

    def _dims(self) -> list[str]:
        return [f"v{d}" for d in range(self.vector_size)]

    def _session_vectors(self, seq: Sessions) -> F64:
        """Mean token vector of each session (unknown tokens left out), as a
        ``vector_size x sessions`` array: one contiguous row per dimension."""
        for source, vectors in seq.vectors:
            if source is self.vectors_:  # the model that was just fitted on these sessions
                return vectors
        vectors = self._mean_vectors(seq)
        seq.vectors.append((self.vectors_, vectors))
        return vectors

    def _mean_vectors(self, seq: Sessions) -> F64:
        row = {w: i for i, w in enumerate(self.vectors_.get_column(WORD).to_list())}
        table = np.zeros((self.vector_size, len(row) + 1))  # last column: unknown, zero
        table[:, :-1] = np.array(self.vectors_["_vec"].to_list(), dtype=np.float64).T
        codes = np.array([row.get(w, len(row)) for w in seq.words], dtype=np.int64)[seq.code]
        # bincount adds each session's token vectors one by one in token order (from 0.0),
        # the same additions as a running sum, so the sums are exact and reproducible
        sums = np.empty((self.vector_size, seq.sessions))
        for d in range(self.vector_size):
            sums[d] = np.bincount(seq.session, weights=table[d][codes], minlength=seq.sessions)
        known = np.add.reduceat((codes < len(row)).astype(np.float64), seq.first)
        sums /= np.maximum(known, 1.0)
        return sums

    def _distances(self, seq: Sessions, groups: pl.DataFrame) -> F64:
        """1 - cosine to the user's earlier sessions' mean (the group's for a first one)."""
        vectors = self._session_vectors(seq)
        centroids = self.group_centroids_.filter(pl.col(PEER_GROUP).is_not_null())
        by_group = (
            seq.group_of(groups)
            .to_frame()
            .join(centroids, on=PEER_GROUP, how="left", maintain_order="left")
            .select([pl.col(f"c{c}").fill_null(0.0) for c in self._dims()])
            .to_numpy()
            .T
        )
        # prequential centroid: mean of the user's earlier session vectors
        new = np.r_[True, seq.user[1:] != seq.user[:-1]]
        first = np.flatnonzero(new)
        before = np.arange(seq.sessions) - first[np.cumsum(new) - 1]
        centre = cumsum_by(first, vectors)
        centre -= vectors
        centre /= np.maximum(before, 1)
        alone = np.flatnonzero(before == 0)
        centre[:, alone] = by_group[:, seq.user[alone]]
        dot, norm_v, norm_c = vectors[0] * centre[0], vectors[0] ** 2, centre[0] ** 2
        for d in range(1, self.vector_size):  # dimension by dimension: deterministic sums
            dot += vectors[d] * centre[d]
            norm_v += vectors[d] ** 2
            norm_c += centre[d] ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            distance = 1.0 - dot / (np.sqrt(norm_v) * np.sqrt(norm_c))
        return np.where(np.isnan(distance), 1.0, distance)
