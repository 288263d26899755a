"""Action-sequence anomaly: sessions as token sequences, a smoothed Markov model and
Word2Vec action embeddings, scored per session and summarised per (user, window).

* **Sessions**: a user's events split where the gap exceeds ``gap`` (30 min). A token
  is the action, with the resource's sensitivity when it is high or critical
  (``edit:high``), so "edit" and "edit a customer database" are different words.
* **Next-action model**: P(next | previous) for *this user*, backed off to *their peer
  group*, backed off to everyone (hierarchical additive smoothing:
  P_user = (c_user(a,b) + β·P_group) / (c_user(a) + β), and the same from group to
  global). The user's counts are *prequential*: only sessions before the scored one
  count, so an order the user never showed before is surprising the first time, and
  repeated insider sessions cannot make themselves look normal from the future.
* **Embeddings**: gensim Word2Vec (skip-gram, fixed seed, one worker, deterministic
  hashing) learns token vectors; a session is the mean of its token vectors and its
  distance is 1 - cosine to the mean of the user's earlier sessions (the group's when
  the user has none yet).
* **Session score** = total surprisal above ``usual_bits`` per transition
  (Σ max(0, -log2 P - usual_bits)) + ``embedding_weight`` x distance: long runs of
  unlikely steps, not one odd click, make a session stand out.

Per (user, window): ``seq_anomaly_score`` (highest session score that day),
``rare_transition_count`` (steps with P < ``rare_p``) and, for reasons, the most
surprising session's tokens and start time.

Implementation: everything runs on integer codes. :func:`tokenise` sorts on one integer
key and returns ``user_id`` and ``_token`` as Enums (codes plus their sorted categories).
The model encodes each step (a → b) as one integer, computes P once per distinct (user,
a, b, window) after one sort of the steps, looks its tables up by integer keys and sums
per session with numpy; token strings are built only for the vocabulary, the Word2Vec
sample and the sessions shown in reasons. The fitted tables keep their string-keyed
form, so models saved before still load and score.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Final, Self

import numpy as np
import numpy.typing as npt
import polars as pl
from gensim.models import Word2Vec

from auditlens.features.base import KEYS, LEVEL, WINDOW, FeatureContext, FeatureSet
from auditlens.features.catalog import SENSITIVE_RANK
from auditlens.features.peers import PEER_GROUP, peer_groups
from auditlens.features.watchlist import WatchPattern, find_matches
from auditlens.schema import ACTION_TYPE, CORE_ACTIONS, TIMESTAMP, USER_ID
from auditlens.vocabulary import OTHER_ACTION

SESSION: Final = "_session"
WORD: Final = "_token"
CODE: Final = "_code"
START: Final = "<s>"
END: Final = "</s>"
#: Columns of the per-window summary kept for reasons (not model inputs).
SEQ_TOKENS: Final = "_seq_tokens"
SEQ_START: Final = "_seq_start"
SEQ_WATCH: Final = "_seq_watch"

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
_SUFFIX: Final = ("", ":high", ":critical")  # token of level class 0, 1, 2
_UNIT_US: Final = {"ns": 1000.0, "us": 1.0, "ms": 0.001}
_KEY_LIMIT: Final = 1 << 62  # mixed-radix int64 keys must stay below this
_BLOCK: Final = 1 << 15  # sessions summed together (their sums stay in cache)
_LOOP_GROUPS: Final = 20_000  # up to this many users: one running sum per user


def stable_hash(text: str) -> int:
    """Process-independent string hash for Word2Vec's initial vectors (reproducibility)."""
    return zlib.crc32(text.encode("utf-8"))


def tokenise(prepared: pl.DataFrame, gap_minutes: float = 30.0) -> pl.DataFrame:
    """Events in time order per user, with ``_session`` ids and ``_token`` words.

    Columns ``user_id, timestamp, window, _token, _session``; sessions are numbered from
    1 in (user, time) order. ``user_id`` and ``_token`` are Enums whose categories are
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
    lo, hi = prepared.select(time.min().alias("lo"), time.max().alias("hi")).row(0)
    lo, span = (0, 1) if lo is None else (lo, hi - lo + 1)
    if users.len() * span < _KEY_LIMIT:  # one int64 key: (user, time) order, stable
        rows = rows.sort(user * span + (time - lo), maintain_order=True)
    else:
        rows = rows.sort(user, time, maintain_order=True)
    new = (user != user.shift(1)).fill_null(True) | ((time - time.shift(1)) > gap).fill_null(True)
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
        # a session belongs to the window it started in
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


# --- integer helpers ---------------------------------------------------------------------


def _categories(column: pl.Series) -> tuple[list[str], I64]:
    """Sorted categories of a String or Enum column and each row's index into them."""
    if not isinstance(column.dtype, pl.Enum):
        column = column.cast(pl.Enum(column.unique().drop_nulls().sort()))
    dtype = column.dtype
    if not isinstance(dtype, pl.Enum):  # pragma: no cover - the cast above made it one
        raise TypeError(f"{column.name} is {dtype}, not an Enum")
    return dtype.categories.to_list(), column.to_physical().cast(pl.Int64).to_numpy()


def _space(*radices: int) -> int:
    """The number of cells of a mixed-radix int64 key; raises when it could overflow."""
    total = 1
    for radix in radices:
        total *= max(radix, 1)
    if total >= _KEY_LIMIT:
        raise ValueError(f"sequence key space too large ({total:,} cells)")
    return total


def _key(*parts: tuple[I64, int]) -> I64:
    """Mixed-radix int64 key of (values, radix) parts, most significant first."""
    _space(*(radix for _, radix in parts))
    key = parts[0][0].astype(np.int64)  # a copy
    for values, radix in parts[1:]:
        key *= radix
        key += values
    return key


def _starts(ordered: I64) -> npt.NDArray[np.bool_]:
    """True where a run of equal values begins."""
    new = np.empty(ordered.size, dtype=np.bool_)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    return new


def _sum_by(keys: I64, values: I64 | None = None) -> tuple[I64, I64]:
    """Distinct keys (ascending) and the sum of ``values`` (or the count) per key."""
    if keys.size == 0:
        return keys, keys.copy()
    size = int(keys.max()) + 1
    if size <= 4 * keys.size + (1 << 20):  # dense: bincount
        seen = np.bincount(keys, minlength=size)
        distinct = np.flatnonzero(seen)
        if values is None:
            return distinct, seen[distinct].astype(np.int64)
        sums = np.bincount(keys, weights=values, minlength=size)  # integers < 2**53: exact
        return distinct, sums[distinct].astype(np.int64)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.flatnonzero(_starts(ordered))
    data = np.ones_like(keys) if values is None else values[order]
    return ordered[starts], np.add.reduceat(data, starts).astype(np.int64)


def _totals(keys: I64, values: I64) -> I64:
    """Per row: the sum of ``values`` over the rows with the same key (exact integers)."""
    if keys.size and int(keys.max()) < 4 * keys.size + (1 << 20):  # dense: bincount
        return np.bincount(keys, weights=values)[keys].astype(np.int64)  # exact below 2**53
    distinct, sums = _sum_by(keys, values)
    return sums[np.searchsorted(distinct, keys)]


def _cumsum_by(first: I64, values: F64) -> F64:
    """Running sums along the columns of ``values``, restarting at each ``first`` column
    (sequential adds, as a per-group cumulative sum does them)."""
    columns = values.shape[1]
    lengths = np.diff(np.r_[first, columns])
    if first.size <= _LOOP_GROUPS:  # one cumsum per group
        out = np.empty_like(values)
        for lo, hi in zip(first.tolist(), (first + lengths).tolist(), strict=True):
            np.cumsum(values[:, lo:hi], axis=1, out=out[:, lo:hi])
        return out
    # many groups: lay the columns out position by position, longest groups first, so
    # the groups with more than k columns are the first count[k] of the k-th run
    order = np.argsort(-lengths, kind="stable")
    count = np.searchsorted(-lengths[order], -np.arange(int(lengths.max())), "left")
    offset = np.r_[0, np.cumsum(count)]
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    group = np.repeat(np.arange(first.size), lengths)
    slot = offset[np.arange(columns) - first[group]] + rank[group]
    laid = np.empty_like(values)
    laid[:, slot] = values
    for k in range(1, count.size):
        n = int(count[k])
        laid[:, offset[k] : offset[k] + n] += laid[:, offset[k - 1] : offset[k - 1] + n]
    return laid[:, slot]


def _table(owner: dict[str, pl.Series], a: I64, b: I64 | None, name: str, n: I64) -> pl.DataFrame:
    """A count table as the model keeps it: ``[owner,] a, [b,] name``."""
    codes = {"a": a.astype(np.int32)} | ({} if b is None else {"b": b.astype(np.int32)})
    return pl.DataFrame(owner | codes | {name: n})


def _lookup(keys: I64, values: npt.NDArray[Any], queries: I64, fill: float) -> npt.NDArray[Any]:
    """The value of each query's key (``fill`` when absent or negative); keys distinct."""
    out = np.full(queries.shape, fill, dtype=values.dtype)
    valid = queries >= 0
    if keys.size == 0 or not valid.any():
        return out
    size = max(int(keys.max()), int(queries.max())) + 1
    if size <= 4 * (keys.size + queries.size) + (1 << 20):  # dense table
        table = np.full(size, fill, dtype=values.dtype)
        table[keys] = values
        out[valid] = table[queries[valid]]
        return out
    order = np.argsort(keys)
    ordered = keys[order]
    pos = np.searchsorted(ordered, queries).clip(max=ordered.size - 1)
    hit = valid & (ordered[pos] == queries)
    out[hit] = values[order][pos[hit]]
    return out


@dataclass(frozen=True)
class _Seq:
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
    def of(cls, tokens: pl.DataFrame) -> _Seq:
        users, user = _categories(tokens.get_column(USER_ID))
        words, code = _categories(tokens.get_column(WORD))
        ids = tokens.get_column(SESSION).to_numpy()
        first = np.flatnonzero(_starts(ids)).astype(np.int64)
        size = np.diff(np.r_[first, ids.size]).astype(np.int64)
        day = tokens.get_column(WINDOW).to_physical().cast(pl.Int64).to_numpy()[first]
        session = np.repeat(np.arange(first.size), size)
        return cls(tokens, users, words, code, first, size, user[first], day, session)

    @property
    def sessions(self) -> int:
        """How many sessions."""
        return int(self.first.size)

    def group_of(self, groups: pl.DataFrame) -> pl.Series:
        """Each user's peer group (null when ``groups`` does not list the user)."""
        table = groups.select(USER_ID, PEER_GROUP).unique(USER_ID, keep="first")
        users = pl.DataFrame({USER_ID: pl.Series(self.users, dtype=pl.String)})
        return users.join(table, on=USER_ID, how="left", maintain_order="left")[PEER_GROUP]

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
        return self._fit(_Seq.of(tokens), groups)

    def _fit(self, seq: _Seq, groups: pl.DataFrame) -> Self:
        present = np.bincount(seq.code, minlength=len(seq.words)) > 0
        self.vocab_ = [*(w for w, p in zip(seq.words, present, strict=True) if p), START, END]
        self.vocab_size_ = v = len(self.vocab_) + 1  # one more for tokens first seen later
        ab, s = self._steps(seq)
        # each user's (a, b) counts; the group and global tables are their sums
        _space(len(seq.users), v, v)
        keys, nu = _sum_by(seq.user[s] * (v * v) + ab)
        owner, ab = keys // (v * v), keys % (v * v)
        names = seq.group_of(groups)
        labels = names.unique().sort(nulls_last=True)  # a null group (unlisted users) last
        group = names.cast(pl.Enum(labels.drop_nulls())).to_physical().cast(pl.Int64)
        group_of_user = group.fill_null(labels.len() - 1).to_numpy()
        user = pl.Series(seq.users, dtype=pl.String)
        self.user_counts_ = _table({USER_ID: user.gather(owner)}, ab // v, ab % v, "nu", nu)
        ua, nua = _sum_by(keys // v, nu)
        self.user_rows_ = _table({USER_ID: user.gather(ua // v)}, ua % v, None, "nua", nua)
        gab, ng = _sum_by(group_of_user[owner] * (v * v) + ab, nu)
        group = labels.gather(gab // (v * v))
        self.group_counts_ = _table({PEER_GROUP: group}, gab // v % v, gab % v, "ng", ng)
        ga, nga = _sum_by(gab // v, ng)
        self.group_rows_ = _table({PEER_GROUP: labels.gather(ga // v)}, ga % v, None, "nga", nga)
        pairs, n = _sum_by(ab, nu)
        a, na = _sum_by(pairs // v, n)
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
        self.group_centroids_ = (
            self._frame_of(self._session_vectors(seq))
            .with_columns(names.gather(seq.user).alias(PEER_GROUP))
            .group_by(PEER_GROUP)
            .agg([pl.col(c).mean().alias(f"c{c}") for c in self._dims()])
        )
        return self

    def _fit_vectors(self, seq: _Seq) -> None:
        """Word2Vec on (a sample of) the sessions, as ``vectors_``."""
        chosen = np.arange(seq.sessions)
        if seq.sessions > self.max_training_sessions:  # the rows DataFrame.sample picks
            every = pl.DataFrame({"_i": pl.int_range(seq.sessions, eager=True)})
            chosen = every.sample(self.max_training_sessions, seed=self.seed)["_i"].to_numpy()
        words = np.array(seq.words, dtype=object)
        sentences = [
            [START, *words[seq.code[f : f + n]].tolist(), END]
            for f, n in zip(seq.first[chosen].tolist(), seq.size[chosen].tolist(), strict=True)
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
        words, codes = _categories(tokens.get_column(WORD))
        lut = self._codes(words)
        return tokens.with_columns(pl.Series(CODE, lut[codes].astype(np.int32)))

    def _codes(self, words: list[str]) -> I64:
        """Vocabulary code of each of ``words`` (unknown = ``len(vocab_)``)."""
        index = {w: i for i, w in enumerate(self.vocab_)}
        return np.array([index.get(w, len(self.vocab_)) for w in words], dtype=np.int64)

    def _steps(self, seq: _Seq) -> tuple[I64, I64]:
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
        seq = _Seq.of(tokens)
        excess, nll, rare, distance = self._session_scores(seq, groups)
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

    def _session_scores(self, seq: _Seq, groups: pl.DataFrame) -> tuple[F64, F64, I64, F64]:
        """Per session: excess bits, mean bits per step, rare steps and distance."""
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

    def _probabilities(self, seq: _Seq, groups: pl.DataFrame) -> tuple[F64, I64, I64]:
        """P(b | a) of each distinct (user, a, b, window) of the sessions, each step's row
        in that table and each step's session (steps in table order)."""
        v = self.vocab_size_
        ab, s = self._steps(seq)
        lo = int(seq.day.min())
        days = int(seq.day.max()) - lo + 1
        # distinct (user, a, b, window) rows (a session counts in its first window),
        # windows ascending within each (user, a, b): sort the steps by that key
        cells = _space(len(seq.users), v, v, days)
        key = ab * days
        key += (seq.user * (v * v * days) + seq.day - lo)[s]
        if cells * seq.sessions < _KEY_LIMIT:  # one int64 column: key and session
            key *= seq.sessions
            key += s
            key.sort()
            s = key % seq.sessions
            key //= seq.sessions
        else:
            ordered = pl.DataFrame({"k": key, "s": s}).sort("k")
            key, s = ordered["k"].to_numpy(), ordered["s"].to_numpy()
        new = _starts(key)
        run: I64 = np.cumsum(new, dtype=np.int64)
        run -= 1
        rows = np.flatnonzero(new)
        k = np.diff(np.r_[rows, key.size])
        uab, day = np.divmod(key[rows], days)
        # prequential habits: counts from earlier windows, once seen on habit_days windows
        new = _starts(uab)
        pair = np.cumsum(new) - 1  # each row's (user, a, b)
        first = np.flatnonzero(new)
        before = np.cumsum(k) - k
        before -= before[first][pair]
        cu = np.where(np.arange(uab.size) - first[pair] >= self.habit_days, before, 0)
        ua = uab // v
        cua = _totals(_key((ua // v, len(seq.users)), (day, days), (ua % v, v)), cu)
        # P_group of each (user, a, b) from the model's tables, looked up by integer keys
        uab = uab[first]
        user, ab, a = uab // (v * v), uab % (v * v), (uab // v) % v
        glob = self.global_
        glob_keys = glob["a"].cast(pl.Int64).to_numpy() * v + glob["b"].cast(pl.Int64).to_numpy()
        p0 = _lookup(glob_keys, glob["p0"].to_numpy(), ab, np.nan)
        na0 = _lookup(*self._rows(self.global_rows_, "na0", None, []), a, 0)
        labels = sorted(self.group_rows_[PEER_GROUP].drop_nulls().unique().to_list())
        index = {g: i for i, g in enumerate(labels)}
        names = seq.group_of(groups).to_list()
        group = np.array([-1 if g is None else index.get(g, -1) for g in names], dtype=np.int64)
        group = group[user]
        ng_table = self._rows(self.group_counts_, "ng", PEER_GROUP, labels)
        ng = _lookup(*ng_table, np.where(group >= 0, group * v * v + ab, -1), 0)
        nga_table = self._rows(self.group_rows_, "nga", PEER_GROUP, labels)
        nga = _lookup(*nga_table, np.where(group >= 0, group * v + a, -1), 0)
        nu = _lookup(*self._rows(self.user_counts_, "nu", USER_ID, seq.users), uab, 0)
        nua = _lookup(*self._rows(self.user_rows_, "nua", USER_ID, seq.users), uab // v, 0)
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

    def _frame_of(self, vectors: F64) -> pl.DataFrame:
        return pl.DataFrame({c: vectors[i] for i, c in enumerate(self._dims())})

    def _session_vectors(self, seq: _Seq) -> F64:
        """Mean token vector of each session (unknown tokens left out), as a
        ``vector_size x sessions`` array: one contiguous row per dimension."""
        for source, vectors in seq.vectors:
            if source is self.vectors_:  # the model that was just fitted on these sessions
                return vectors
        vectors = self._mean_vectors(seq)
        seq.vectors.append((self.vectors_, vectors))
        return vectors

    def _mean_vectors(self, seq: _Seq) -> F64:
        row = {w: i for i, w in enumerate(self.vectors_.get_column(WORD).to_list())}
        table = np.zeros((self.vector_size, len(row) + 1))  # last column: unknown, zero
        table[:, :-1] = np.array(self.vectors_["_vec"].to_list(), dtype=np.float64).T
        codes = np.array([row.get(w, len(row)) for w in seq.words], dtype=np.int64)[seq.code]
        # sessions longest first, then add each session's k-th token vector for k = 0, 1, …
        # (in blocks of sessions that stay in cache): every session's sum is formed token
        # by token in order, as a running sum would be
        order = np.argsort(-seq.size, kind="stable")
        first, size = seq.first[order], seq.size[order]
        sums = np.empty((self.vector_size, seq.sessions))
        step = np.empty(_BLOCK)
        for lo in range(0, seq.sessions, _BLOCK):
            block_first, block = first[lo : lo + _BLOCK], sums[:, lo : lo + _BLOCK]
            longer = np.searchsorted(-size[lo : lo + _BLOCK], -np.arange(size[lo]), "left")
            for k, n in enumerate(longer.tolist()):  # n: sessions with more than k tokens
                cell = codes[block_first[:n] + k]
                for d in range(self.vector_size):
                    if k == 0:
                        table[d].take(cell, out=block[d, :n])
                    else:
                        table[d].take(cell, out=step[:n])
                        block[d, :n] += step[:n]
        known = np.add.reduceat((codes < len(row)).astype(np.float64), seq.first)
        out = np.empty_like(sums)
        out[:, order] = sums
        out /= np.maximum(known, 1.0)
        return out

    def _distances(self, seq: _Seq, groups: pl.DataFrame) -> F64:
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
        centre = _cumsum_by(first, vectors)
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


class SequenceFeatures(FeatureSet):
    """Columns: seq_anomaly_score, rare_transition_count, watchlist_match_count (plus the
    most surprising session's tokens/start and watch-list matches, for reasons)."""

    name = "sequences"

    def __init__(
        self, model: SequenceModel | None = None, patterns: tuple[WatchPattern, ...] = ()
    ) -> None:
        self.model = model
        self.patterns = patterns

    def transform(self, events: pl.DataFrame, ctx: FeatureContext) -> pl.DataFrame:
        """Fit the sequence model on ``events`` when none was given, then summarise."""
        groups = peer_groups(events, ctx)
        model = self.model or ctx.sequence_model
        gap = model.gap_minutes if model else ctx.session_gap_minutes
        seq = _Seq.of(tokenise(events, gap))
        if model is None:
            model = SequenceModel(gap_minutes=gap, seed=ctx.seed)._fit(seq, groups)
        self.fitted_ = model
        daily = self._daily(model, seq, groups)
        patterns = self.patterns or ctx.watchlist
        matches = find_matches(events, patterns, LEVEL)
        watch = (
            matches.with_columns(
                pl.col("end").dt.convert_time_zone(ctx.calendar.timezone).dt.date().alias(WINDOW)
            )
            .group_by(*KEYS)
            .agg(
                pl.len().cast(pl.Int64).alias("watchlist_match_count"),
                pl.col("pattern").unique().sort().str.join(", ").alias(SEQ_WATCH),
            )
        )
        return (
            daily.join(watch, on=list(KEYS), how="left")
            .with_columns(pl.col("watchlist_match_count").fill_null(0))
            .select(
                *KEYS,
                "seq_anomaly_score",
                "rare_transition_count",
                "watchlist_match_count",
                SEQ_TOKENS,
                SEQ_START,
                SEQ_WATCH,
            )
            .sort(*KEYS)
        )

    @staticmethod
    def _daily(model: SequenceModel, seq: _Seq, groups: pl.DataFrame) -> pl.DataFrame:
        """Per (user, window): the top session score, its tokens and start, rare steps."""
        stamp = seq.frame.get_column(TIMESTAMP)
        if seq.sessions == 0:
            return pl.DataFrame(
                schema={
                    USER_ID: pl.String,
                    WINDOW: pl.Date,
                    "seq_anomaly_score": pl.Float64,
                    "rare_transition_count": pl.Int64,
                    SEQ_TOKENS: pl.String,
                    SEQ_START: stamp.dtype,
                }
            )
        excess, _, rare, distance = model._session_scores(seq, groups)
        score = excess + model.embedding_weight * distance
        lo = int(seq.day.min())
        block = _key((seq.user, len(seq.users)), (seq.day - lo, int(seq.day.max()) - lo + 1))
        order = np.argsort(block, kind="stable")  # sessions are in (user, time) order already
        block = block[order]
        new = np.r_[True, block[1:] != block[:-1]]
        starts, ids = np.flatnonzero(new), np.cumsum(new) - 1
        # the first session with the top score, NaN counting as the top (as a sort would)
        rank = np.where(np.isnan(score), np.inf, score)[order]
        hits = np.flatnonzero(rank == np.maximum.reduceat(rank, starts)[ids])
        best = order[hits[np.r_[True, ids[hits][1:] != ids[hits][:-1]]]]
        return pl.DataFrame(
            {
                USER_ID: pl.Series(seq.users, dtype=pl.String).gather(seq.user[best]),
                WINDOW: pl.Series(seq.day[best]).cast(pl.Int32).cast(pl.Date),
                "seq_anomaly_score": score[best],
                "rare_transition_count": np.add.reduceat(rare[order], starts),
                SEQ_TOKENS: seq.token_text(best),
                SEQ_START: stamp.gather(seq.first[best]),
            }
        )
