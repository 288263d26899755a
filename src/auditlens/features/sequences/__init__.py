"""Action-sequence anomaly: sessions as token sequences, a smoothed Markov model and
Word2Vec action embeddings, scored per session and summarised per (user, window).

* **Sessions**: a user's events split where the gap exceeds ``gap`` (30 min) and at
  local midnight (a session lies in one window, so a window depends only on events up
  to the end of its day). A token
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

Incremental runs: :meth:`SequenceFeatures.transform_after` scores the windows of new
events from them and a :class:`SequenceHistory` (what earlier windows left: habits,
running session-vector sums, partial watch-list matches) and returns the history
extended by them; the columns are bit for bit those a transform over all events gives
for those windows (``transform`` is ``transform_after`` from the empty history).

Modules: ``tokens`` (sessions and their integer view), ``kernels`` (the numeric inner
loops), ``model`` (:class:`SequenceModel`), ``history`` (:class:`SequenceHistory`);
this one holds the FeatureSet. Everything
runs on integer codes: :func:`tokenise` sorts on one integer key and returns ``user_id``
and ``_token`` as Enums (codes plus their sorted categories). The model encodes each
step (a → b) as one integer, computes P once per distinct (user, a, b, window) after
one sort of the steps, looks its tables up by integer keys and sums per session with
numpy; token strings are built only for the vocabulary, the Word2Vec sample and the
sessions shown in reasons. The fitted tables keep their string-keyed form, so models
saved before still load and score.
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Self

import numpy as np
import polars as pl

from auditlens.features.base import KEYS, LEVEL, WINDOW, FeatureContext, FeatureSet, NotFitted
from auditlens.features.peers import peer_groups
from auditlens.features.sequences.history import SequenceHistory
from auditlens.features.sequences.kernels import mixed_key
from auditlens.features.sequences.model import Added, Earlier, SequenceModel
from auditlens.features.sequences.tokens import WORD, Sessions, stable_hash, tokenise
from auditlens.features.watchlist import WatchPattern, resume_matches
from auditlens.schema import TIMESTAMP, USER_ID

__all__ = [
    "SEQ_START",
    "SEQ_TOKENS",
    "SEQ_WATCH",
    "WORD",
    "SequenceFeatures",
    "SequenceHistory",
    "SequenceModel",
    "stable_hash",
    "tokenise",
]

#: Columns of the per-window summary kept for reasons (not model inputs).
SEQ_TOKENS: Final = "_seq_tokens"
SEQ_START: Final = "_seq_start"
SEQ_WATCH: Final = "_seq_watch"


class SequenceFeatures(FeatureSet):
    """Columns: seq_anomaly_score, rare_transition_count, watchlist_match_count (plus the
    most surprising session's tokens/start and watch-list matches, for reasons).

    Stateful: ``fit`` learns ``model_`` (a :class:`SequenceModel`, with the context's
    session gap and seed); ``transform`` scores sessions with it. ``patterns`` (empty:
    the context's watch list) are matched at transform time.
    """

    name = "sequences"
    stateful = True
    model_: SequenceModel

    def __init__(self, patterns: tuple[WatchPattern, ...] = ()) -> None:
        self.patterns = patterns

    def fit(self, events: pl.DataFrame, ctx: FeatureContext) -> Self:
        """Fit the sequence model on the sessions of ``events`` (prepared)."""
        self._fit(events, ctx)
        return self

    def transform(
        self, events: pl.DataFrame, ctx: FeatureContext, *, sessions: Sessions | None = None
    ) -> pl.DataFrame:
        """Score the sessions of ``events`` with the fitted model and summarise per window
        (``sessions``: :meth:`sessions` of ``events``, cut already)."""
        return self.transform_after(events, ctx, SequenceHistory.empty(), sessions=sessions)[0]

    def sessions(self, events: pl.DataFrame, ctx: FeatureContext, *, fitting: bool) -> Sessions:
        """The sessions of ``events`` (prepared; keys and peer groups not needed) as
        :meth:`fit_transform` (``fitting``: the context's gap) or :meth:`transform` (the
        fitted model's) cuts them."""
        gap = ctx.session_gap_minutes if fitting else self.fitted_model().gap_minutes
        return Sessions.of(tokenise(events, gap))

    def transform_after(
        self,
        events: pl.DataFrame,
        ctx: FeatureContext,
        history: SequenceHistory,
        groups: pl.DataFrame | None = None,
        *,
        sessions: Sessions | None = None,
    ) -> tuple[pl.DataFrame, SequenceHistory]:
        """:meth:`transform` of ``events`` (prepared, all in windows after ``history``'s),
        continuing ``history``: the rows a transform over the earlier events and these
        gives for these windows, and the history extended by them.

        ``groups``: ``user_id, peer_group`` or ``user_id, window, peer_group`` (a user's
        group by day); None = :func:`peers.peer_groups` of ``events``. ``sessions``:
        :meth:`sessions` of ``events``, if cut already. From
        :meth:`SequenceHistory.empty` this is the full transform and its history.

        Raises:
            ValueError: ``events`` do not follow ``history`` or it was kept with another
                fitted model.
        """
        model = self.fitted_model()
        first = events.get_column(WINDOW).min() if events.height else None
        history.check(model, first if isinstance(first, dt.date) else None)
        groups = peer_groups(events, ctx) if groups is None else groups
        seq = self.sessions(events, ctx, fitting=False) if sessions is None else sessions
        return self._summarise(model, seq, groups, events, ctx, history)

    def fit_transform(
        self, events: pl.DataFrame, ctx: FeatureContext, *, sessions: Sessions | None = None
    ) -> pl.DataFrame:
        """Fit and transform, tokenising the events once (``sessions``: :meth:`sessions`
        of ``events`` with ``fitting``, if cut already)."""
        seq, groups = self._fit(events, ctx, sessions)
        return self._summarise(self.model_, seq, groups, events, ctx, SequenceHistory.empty())[0]

    def fitted_model(self) -> SequenceModel:
        """The model ``fit`` learned; raises NotFitted before ``fit``."""
        model: SequenceModel | None = getattr(self, "model_", None)
        if model is None:
            raise NotFitted(
                "the sequence features are not fitted: call fit (or fit_transform) first",
                ko="작업 순서 특성이 아직 학습되지 않았습니다: 먼저 fit(또는 fit_transform)을 "
                "호출하십시오",
            )
        return model

    def _fit(
        self, events: pl.DataFrame, ctx: FeatureContext, seq: Sessions | None = None
    ) -> tuple[Sessions, pl.DataFrame]:
        groups = peer_groups(events, ctx)
        gap = ctx.session_gap_minutes
        seq = self.sessions(events, ctx, fitting=True) if seq is None else seq
        self.model_ = SequenceModel(gap_minutes=gap, seed=ctx.seed).fit_sessions(seq, groups)
        return seq, groups

    def _summarise(
        self,
        model: SequenceModel,
        seq: Sessions,
        groups: pl.DataFrame,
        events: pl.DataFrame,
        ctx: FeatureContext,
        history: SequenceHistory,
    ) -> tuple[pl.DataFrame, SequenceHistory]:
        """The daily summary of the scored sessions joined with the watch-list matches,
        and ``history`` extended by them."""
        daily, added = self._daily(model, seq, groups, history.earlier(model, seq))
        patterns = self.patterns or ctx.watchlist
        matches, state = resume_matches(events, patterns, LEVEL, ctx.calendar, history.watch)
        last = events.get_column(WINDOW).max() if events.height else None
        after = history.extended(
            model, seq, added, state, last if isinstance(last, dt.date) else None
        )
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
        frame = (
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
        return frame, after

    @staticmethod
    def _daily(
        model: SequenceModel, seq: Sessions, groups: pl.DataFrame, earlier: Earlier
    ) -> tuple[pl.DataFrame, Added]:
        """Per (user, window): the top session score, its tokens and start, rare steps;
        and what the sessions add to the ``earlier`` ones."""
        stamp = seq.frame.get_column(TIMESTAMP)
        excess, _, rare, distance, added = model.session_scores_after(seq, groups, earlier)
        if seq.sessions == 0:
            empty = pl.DataFrame(
                schema={
                    USER_ID: pl.String,
                    WINDOW: pl.Date,
                    "seq_anomaly_score": pl.Float64,
                    "rare_transition_count": pl.Int64,
                    SEQ_TOKENS: pl.String,
                    SEQ_START: stamp.dtype,
                }
            )
            return empty, added
        score = excess + model.embedding_weight * distance
        lo = int(seq.day.min())
        block = mixed_key((seq.user, len(seq.users)), (seq.day - lo, int(seq.day.max()) - lo + 1))
        order = np.argsort(block, kind="stable")  # sessions are in (user, time) order already
        block = block[order]
        new = np.r_[True, block[1:] != block[:-1]]
        starts, ids = np.flatnonzero(new), np.cumsum(new) - 1
        # the first session with the top score, NaN counting as the top (as a sort would)
        rank = np.where(np.isnan(score), np.inf, score)[order]
        hits = np.flatnonzero(rank == np.maximum.reduceat(rank, starts)[ids])
        best = order[hits[np.r_[True, ids[hits][1:] != ids[hits][:-1]]]]
        daily = pl.DataFrame(
            {
                USER_ID: pl.Series(seq.users, dtype=pl.String).gather(seq.user[best]),
                WINDOW: pl.Series(seq.day[best]).cast(pl.Int32).cast(pl.Date),
                "seq_anomaly_score": score[best],
                "rare_transition_count": np.add.reduceat(rare[order], starts),
                SEQ_TOKENS: seq.token_text(best),
                SEQ_START: stamp.gather(seq.first[best]),
            }
        )
        return daily, added
