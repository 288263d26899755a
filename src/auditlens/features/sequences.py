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
"""

from __future__ import annotations

import zlib
from typing import Final, Self

import numpy as np
import polars as pl
from gensim.models import Word2Vec

from auditlens.features.base import KEYS, LEVEL, WINDOW, FeatureContext, FeatureSet
from auditlens.features.catalog import SENSITIVE_RANK
from auditlens.features.peers import PEER_GROUP, peer_groups
from auditlens.features.watchlist import WatchPattern, find_matches
from auditlens.schema import ACTION_TYPE, TIMESTAMP, USER_ID

SESSION: Final = "_session"
WORD: Final = "_token"
CODE: Final = "_code"
START: Final = "<s>"
END: Final = "</s>"
#: Columns of the per-window summary kept for reasons (not model inputs).
SEQ_TOKENS: Final = "_seq_tokens"
SEQ_START: Final = "_seq_start"
SEQ_WATCH: Final = "_seq_watch"


def stable_hash(text: str) -> int:
    """Process-independent string hash for Word2Vec's initial vectors (reproducibility)."""
    return zlib.crc32(text.encode("utf-8"))


def tokenise(prepared: pl.DataFrame, gap_minutes: float = 30.0) -> pl.DataFrame:
    """Events in time order per user, with ``_session`` ids and ``_token`` words."""
    level = pl.col(LEVEL)
    token = (
        pl.when(level >= SENSITIVE_RANK)
        .then(
            pl.concat_str(
                pl.col(ACTION_TYPE),
                pl.lit(":"),
                pl.when(level >= 3).then(pl.lit("critical")).otherwise(pl.lit("high")),
            )
        )
        .otherwise(pl.col(ACTION_TYPE))
    )
    gap = pl.duration(microseconds=int(gap_minutes * 60_000_000))
    new = (pl.col(USER_ID) != pl.col(USER_ID).shift(1)).fill_null(True) | (
        (pl.col(TIMESTAMP) - pl.col(TIMESTAMP).shift(1)) > gap
    ).fill_null(True)
    return (
        prepared.lazy()
        .select(USER_ID, TIMESTAMP, WINDOW, ACTION_TYPE, LEVEL)
        .sort(USER_ID, TIMESTAMP, maintain_order=True)
        .with_columns(token.alias(WORD), new.cum_sum().cast(pl.Int64).alias(SESSION))
        .collect()
    )


def sessions_of(tokens: pl.DataFrame) -> pl.DataFrame:
    """One row per session: id, user, window and start of its first event, token list."""
    return (
        tokens.group_by(SESSION, maintain_order=True)
        .agg(
            pl.col(USER_ID).first(),
            pl.col(WINDOW).first(),
            pl.col(TIMESTAMP).first().alias("start"),
            pl.col(WORD).alias("tokens"),
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
        self.vocab_ = [*sorted(tokens.get_column(WORD).unique().to_list()), START, END]
        self.vocab_size_ = len(self.vocab_) + 1  # one more for tokens first seen later
        steps = self._steps(tokens).join(groups, on=USER_ID, how="left")
        c0 = steps.group_by("a", "b").agg(pl.col("k").sum().alias("n"))
        a0 = steps.group_by("a").agg(pl.col("k").sum().alias("na"))
        self.global_ = (
            c0.join(a0, on="a")
            .with_columns(
                ((pl.col("n") + self.alpha / self.vocab_size_) / (pl.col("na") + self.alpha)).alias(
                    "p0"
                )
            )
            .select("a", "b", "p0")
        )
        self.global_rows_ = a0.select("a", pl.col("na").alias("na0"))
        self.group_counts_ = steps.group_by(PEER_GROUP, "a", "b").agg(pl.col("k").sum().alias("ng"))
        self.group_rows_ = steps.group_by(PEER_GROUP, "a").agg(pl.col("k").sum().alias("nga"))
        # each user's share of the group counts: a user is compared with the *others*
        # (in a small group one insider's own steps would otherwise make them "usual")
        self.user_counts_ = steps.group_by(USER_ID, "a", "b").agg(pl.col("k").sum().alias("nu"))
        self.user_rows_ = steps.group_by(USER_ID, "a").agg(pl.col("k").sum().alias("nua"))
        sessions = sessions_of(tokens)
        if sessions.height > self.max_training_sessions:
            sessions = sessions.sample(self.max_training_sessions, seed=self.seed)
        sentences = [[START, *s, END] for s in sessions["tokens"].to_list()]
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
        words = list(w2v.wv.index_to_key)
        self.vectors_ = pl.DataFrame(
            {WORD: words, "_vec": [w2v.wv[w].astype(np.float64).tolist() for w in words]}
        )
        self.group_centroids_ = self._centroids(
            self._session_vectors(tokens).join(groups, on=USER_ID, how="left"), PEER_GROUP
        )
        return self

    # --- scoring ---------------------------------------------------------------------

    def encode(self, tokens: pl.DataFrame) -> pl.DataFrame:
        """``tokens`` plus ``_code``: each token's index in the vocabulary (unknown = last)."""
        vocab = pl.Series(WORD, self.vocab_, dtype=pl.String)
        codes = pl.int_range(len(self.vocab_), dtype=pl.Int32, eager=True)
        return tokens.with_columns(
            pl.col(WORD)
            .replace_strict(vocab, codes, default=len(self.vocab_), return_dtype=pl.Int32)
            .alias(CODE)
        )

    def _steps(self, tokens: pl.DataFrame) -> pl.DataFrame:
        start, end = len(self.vocab_) - 2, len(self.vocab_) - 1
        return transitions_of(self.encode(tokens), start, end)

    def score(self, tokens: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
        """Per session: ``nll_bits``, ``rare_steps``, ``distance``, ``session_score``."""
        steps = self._probabilities(tokens, groups)
        bits = -pl.col("p").log(2)
        k = pl.col("k")
        per_session = steps.group_by(SESSION).agg(
            ((bits - self.usual_bits).clip(lower_bound=0) * k).sum().alias("excess_bits"),
            ((bits * k).sum() / k.sum()).alias("nll_bits"),
            k.filter(pl.col("p") < self.rare_p).sum().cast(pl.Int64).alias("rare_steps"),
        )
        distance = self._distances(tokens, groups)
        return (
            sessions_of(tokens)
            .join(per_session, on=SESSION, how="left")
            .join(distance, on=SESSION, how="left")
            .with_columns(
                (
                    pl.col("excess_bits")
                    + self.embedding_weight * pl.col("distance").fill_null(0.0)
                ).alias("session_score")
            )
        )

    def _probabilities(self, tokens: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
        steps = self._steps(tokens).lazy().join(groups.lazy(), on=USER_ID, how="left")
        # prequential user habits: a step counts for the user only from days before the
        # session's day, and only once it was seen on ``habit_days`` distinct days — a
        # few repeats (an insider's second and third session) do not make it "usual"
        per = (
            steps.group_by(USER_ID, WINDOW, "a", "b")
            .agg(pl.col("k").sum())
            .sort(USER_ID, WINDOW)
            .with_columns(
                (pl.col("k").cum_sum().over(USER_ID, "a", "b") - pl.col("k")).alias("_before"),
                pl.int_range(pl.len()).over(USER_ID, "a", "b").alias("_days"),
            )
            .with_columns(
                pl.when(pl.col("_days") >= self.habit_days)
                .then(pl.col("_before"))
                .otherwise(0)
                .alias("cu")
            )
        )
        per_a = per.group_by(USER_ID, WINDOW, "a").agg(pl.col("cu").sum().alias("cua"))
        table = {
            name: getattr(self, name).lazy()
            for name in ("global_", "global_rows_", "group_counts_", "group_rows_")
        } | {"user_counts_": self.user_counts_.lazy(), "user_rows_": self.user_rows_.lazy()}
        v = float(self.vocab_size_)
        p0 = pl.coalesce(pl.col("p0"), (self.alpha / v) / (pl.col("na0").fill_null(0) + self.alpha))
        others = pl.col("ng").fill_null(0) - pl.col("nu").fill_null(0)
        others_a = pl.col("nga").fill_null(0) - pl.col("nua").fill_null(0)
        pg = (others.clip(lower_bound=0) + self.beta * p0) / (
            others_a.clip(lower_bound=0) + self.beta
        )
        pu = (pl.col("cu").fill_null(0) + self.beta * pl.col("pg")) / (
            pl.col("cua").fill_null(0) + self.beta
        )
        return (
            steps.join(
                per.select(USER_ID, WINDOW, "a", "b", "cu"),
                on=[USER_ID, WINDOW, "a", "b"],
                how="left",
            )
            .join(per_a, on=[USER_ID, WINDOW, "a"], how="left")
            .join(table["global_"], on=["a", "b"], how="left")
            .join(table["global_rows_"], on="a", how="left")
            .join(table["group_counts_"], on=[PEER_GROUP, "a", "b"], how="left")
            .join(table["group_rows_"], on=[PEER_GROUP, "a"], how="left")
            .join(table["user_counts_"], on=[USER_ID, "a", "b"], how="left")
            .join(table["user_rows_"], on=[USER_ID, "a"], how="left")
            .with_columns(pg.alias("pg"))
            .with_columns(pu.alias("p"))
            .select(SESSION, USER_ID, "a", "b", "k", "p")
            .collect()
        )

    def _session_vectors(self, tokens: pl.DataFrame) -> pl.DataFrame:
        """Mean token vector of each session (tokens contiguous per session)."""
        words = self.vectors_.get_column(WORD).to_list()
        matrix = np.vstack([np.zeros(self.vector_size), np.array(self.vectors_["_vec"].to_list())])
        known = pl.Series(WORD, words, dtype=pl.String)
        codes = (
            tokens.get_column(WORD)
            .replace_strict(known, pl.int_range(1, known.len() + 1, eager=True), default=0)
            .to_numpy()
        )
        sessions = tokens.get_column(SESSION).to_numpy()
        starts = np.flatnonzero(np.r_[True, sessions[1:] != sessions[:-1]])
        known_counts = np.add.reduceat((codes > 0).astype(np.float64), starts)
        sums = np.add.reduceat(matrix[codes], starts, axis=0)
        means = sums / np.maximum(known_counts, 1.0)[:, None]
        frame = pl.DataFrame({f"v{d}": means[:, d] for d in range(self.vector_size)}).with_columns(
            pl.Series(SESSION, sessions[starts]),
            pl.Series(USER_ID, tokens.get_column(USER_ID).gather(starts)),
        )
        return frame.select(SESSION, USER_ID, pl.exclude(SESSION, USER_ID))

    def _centroids(self, vectors: pl.DataFrame, by: str) -> pl.DataFrame:
        dims = [f"v{d}" for d in range(self.vector_size)]
        return vectors.group_by(by).agg([pl.col(c).mean().alias(f"c{c}") for c in dims])

    def _distances(self, tokens: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
        dims = [f"v{d}" for d in range(self.vector_size)]
        vectors = self._session_vectors(tokens).sort(USER_ID, SESSION)
        # prequential centroid: mean of the user's earlier session vectors
        n_before = pl.int_range(pl.len()).over(USER_ID).cast(pl.Float64)
        own = vectors.with_columns(
            [
                ((pl.col(c).cum_sum().over(USER_ID) - pl.col(c)) / n_before).alias(f"c{c}")
                for c in dims
            ]
        ).with_columns(n_before.alias("_n"))
        own = own.join(groups, on=USER_ID, how="left").join(
            self.group_centroids_, on=PEER_GROUP, how="left", suffix="_g"
        )
        centre = [
            pl.when(pl.col("_n") > 0)
            .then(pl.col(f"c{c}"))
            .otherwise(pl.col(f"c{c}_g"))
            .fill_null(0.0)
            for c in dims
        ]
        dot = pl.sum_horizontal([pl.col(c) * x for c, x in zip(dims, centre, strict=True)])
        norm_v = pl.sum_horizontal([pl.col(c) ** 2 for c in dims]).sqrt()
        norm_c = pl.sum_horizontal([x**2 for x in centre]).sqrt()
        cosine = dot / (norm_v * norm_c)
        return own.select(SESSION, (1.0 - cosine).fill_nan(1.0).fill_null(1.0).alias("distance"))


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
        tokens = tokenise(events, gap)
        if model is None:
            model = SequenceModel(gap_minutes=gap, seed=ctx.seed).fit(tokens, groups)
        self.fitted_ = model
        scored = model.score(tokens, groups)
        daily = (
            scored.sort("session_score", descending=True, maintain_order=True)
            .group_by(*KEYS)
            .agg(
                pl.col("session_score").first().alias("seq_anomaly_score"),
                pl.col("rare_steps").sum().cast(pl.Int64).alias("rare_transition_count"),
                pl.col("tokens").first().list.join(" ").alias(SEQ_TOKENS),
                pl.col("start").first().alias(SEQ_START),
            )
        )
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
