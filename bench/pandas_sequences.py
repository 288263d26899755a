"""A plain pandas reference of the action-sequence features (``SequenceFeatures``).

The second half of the pandas yardstick (``bench/pandas_reference.py`` has the
behavioural matrix): the same definitions as :mod:`auditlens.features.sequences`, written
the way a data scientist would write them in pandas (``sort_values``, ``groupby`` with
``cumcount``/``cumsum``/``transform``, ``merge``; gensim's Word2Vec as ours uses it; no
row loops but the Word2Vec sentences, which gensim takes as lists):

* sessions: a user's events in time order, cut at a gap over 30 minutes and at local
  midnight; a token is the action (``other`` outside the core vocabulary) with
  ``:high``/``:critical`` for a resource of that sensitivity; every session's steps
  run from ``<s>`` through its tokens to ``</s>``;
* the fitted tables: step counts overall, per peer group (the session's group that day)
  and per user; Word2Vec (skip-gram, 16 dimensions) on 20,000 sessions drawn at random;
  each group's mean session vector;
* each step's probability: the user's own counts of that step on earlier days (once
  seen on 5 of them) smoothed towards the group's (the user's own counts left out),
  smoothed towards everyone's; a session's score is its bits above 3 per step plus 4 x
  the cosine distance of its mean token vector to the mean of the user's earlier
  sessions (the group's for a first one);
* per (user, day): the top session score, the steps with P < 0.01, and the watch-list
  matches (0: the benchmark's context has no watch list, so neither computes any).

Only constants are borrowed from auditlens (``SENSITIVE_RANK``, ``LEVEL_RANK``,
``CORE_ACTIONS``). Word2Vec draws its sample with pandas, not as ours does, so the
vectors (and with them the distances) differ; :func:`sequence_features` takes the token
vectors to use instead, which is how ``pandas_reference.py --sequences`` checks the two
implementations agree on every column.
"""

from __future__ import annotations

import zlib
from typing import Final

import numpy as np
import pandas as pd

from auditlens.features.catalog import LEVEL_RANK, SENSITIVE_RANK
from auditlens.schema import CORE_ACTIONS
from auditlens.vocabulary import OTHER_ACTION

KEYS: Final = ["user_id", "window"]
START: Final = "<s>"
END: Final = "</s>"
GAP_MINUTES: Final = 30.0
ALPHA: Final = 1.0
BETA: Final = 5.0
USUAL_BITS: Final = 3.0
RARE_P: Final = 0.01
HABIT_DAYS: Final = 5
EMBEDDING_WEIGHT: Final = 4.0
VECTOR_SIZE: Final = 16
EPOCHS: Final = 5
TRAINING_SESSIONS: Final = 20_000
DIMS: Final = [f"d{d}" for d in range(VECTOR_SIZE)]
SEQUENCE_COLUMNS: Final = ["seq_anomaly_score", "rare_transition_count", "watchlist_match_count"]


def tokens(ev: pd.DataFrame, gap_minutes: float = GAP_MINUTES) -> pd.DataFrame:
    """``user_id, window, token, session`` per event, in (user, time) order; users and
    tokens as categoricals (the tokens' categories end with <s> and </s>), so that the
    group-bys and merges below work on their codes."""
    level = ev["_level"]
    suffix = np.select(
        [level >= LEVEL_RANK["critical"], level >= SENSITIVE_RANK], [":critical", ":high"], ""
    )
    action = ev["action_type"].where(ev["action_type"].isin(CORE_ACTIONS), OTHER_ACTION)
    token = action.astype(str) + suffix
    words = pd.CategoricalDtype([*sorted(token.unique()), START, END])
    out = pd.DataFrame(
        {
            "user_id": ev["user_id"].astype("category"),
            "timestamp": ev["timestamp"],
            "window": ev["window"],
            "token": token.astype(words),
        }
    ).sort_values(["user_id", "timestamp"], kind="stable", ignore_index=True)
    new = (
        (out["user_id"] != out["user_id"].shift())
        | (out["timestamp"].diff() > pd.Timedelta(minutes=gap_minutes))
        | (out["window"] != out["window"].shift())
    )
    out["session"] = new.cumsum()
    return out.drop(columns="timestamp")


def steps(tok: pd.DataFrame) -> pd.DataFrame:
    """Every step ``a -> b`` of every session, with its session, user and window."""
    inner = tok.assign(a=tok.groupby("session")["token"].shift().fillna(START), b=tok["token"])
    last = tok.drop_duplicates("session", keep="last")
    ends = last.assign(a=last["token"], b=pd.Series(END, last.index, tok["token"].dtype))
    cols = ["session", "user_id", "window", "a", "b"]
    return pd.concat([inner[cols], ends[cols]], ignore_index=True)


def word_vectors(tok: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    """Word2Vec token vectors (index: token, columns ``d0..``) fitted on a random sample
    of ``TRAINING_SESSIONS`` sessions."""
    from gensim.models import Word2Vec

    ids = tok["session"].drop_duplicates()
    chosen = ids.sample(min(TRAINING_SESSIONS, len(ids)), random_state=seed)
    lists = tok[tok["session"].isin(chosen)].groupby("session")["token"].agg(list)
    sentences = [[START, *words, END] for words in lists.loc[chosen]]
    w2v = Word2Vec(
        sentences,
        vector_size=VECTOR_SIZE,
        window=3,
        min_count=1,
        sg=1,
        workers=1,
        seed=seed,
        epochs=EPOCHS,
        hashfxn=lambda text: zlib.crc32(text.encode("utf-8")),
    )
    words = list(w2v.wv.index_to_key)
    return pd.DataFrame(np.asarray(w2v.wv[words], dtype=np.float64), index=words, columns=DIMS)


def step_probabilities(st: pd.DataFrame, vocab: int) -> pd.DataFrame:
    """P(b | a) per (user, a, b, window) with steps: the user's habits from earlier days
    smoothed towards the group (the user left out), smoothed towards everyone."""
    # the fitted tables: over all steps
    n = st.groupby(["a", "b"], observed=True).size().rename("n").reset_index()
    n["na"] = n.groupby("a", observed=True)["n"].transform("sum")
    n["p0"] = (n["n"] + ALPHA / vocab) / (n["na"] + ALPHA)
    ng = st.groupby(["peer_group", "a", "b"], observed=True).size().rename("ng").reset_index()
    nga = st.groupby(["peer_group", "a"], observed=True).size().rename("nga").reset_index()
    nu = st.groupby(["user_id", "a", "b"], observed=True).size().rename("nu").reset_index()
    nua = st.groupby(["user_id", "a"], observed=True).size().rename("nua").reset_index()
    # prequential habits: per (user, a, b) the steps on earlier days, once seen on
    # HABIT_DAYS of them; the row total over the b's the user takes from a that day
    daily = (
        st.groupby(["user_id", "a", "b", "window", "peer_group"], observed=True, dropna=False)
        .size()
        .rename("k")
    )
    daily = daily.reset_index().sort_values(["user_id", "a", "b", "window"], ignore_index=True)
    habit = daily.groupby(["user_id", "a", "b"], observed=True)
    seen = habit.cumcount()
    before = habit["k"].cumsum() - daily["k"]
    daily["cu"] = before.where(seen >= HABIT_DAYS, 0)
    daily["cua"] = daily.groupby(["user_id", "window", "a"], observed=True)["cu"].transform("sum")
    daily = (
        daily.merge(n[["a", "b", "p0"]], on=["a", "b"], how="left")
        .merge(ng, on=["peer_group", "a", "b"], how="left")
        .merge(nga, on=["peer_group", "a"], how="left")
        .merge(nu, on=["user_id", "a", "b"], how="left")
        .merge(nua, on=["user_id", "a"], how="left")
    )
    counts = daily[["ng", "nga", "nu", "nua"]].fillna(0)
    group = ((counts["ng"] - counts["nu"]).clip(lower=0) + BETA * daily["p0"]) / (
        (counts["nga"] - counts["nua"]).clip(lower=0) + BETA
    )
    daily["p"] = (daily["cu"] + BETA * group) / (daily["cua"] + BETA)
    return daily[["user_id", "a", "b", "window", "p"]]


def session_distances(
    tok: pd.DataFrame, sessions: pd.DataFrame, vectors: pd.DataFrame
) -> pd.Series:
    """1 - cosine of each session's mean token vector to the mean of the user's earlier
    sessions' (the group's mean session vector for a user's first session)."""
    known = tok[["session", "token"]].merge(vectors, left_on="token", right_index=True)
    vec = known.groupby("session")[DIMS].sum().reindex(sessions.index, fill_value=0.0)
    vec = vec.div(known.groupby("session").size().reindex(sessions.index, fill_value=1), axis=0)
    group_mean = vec.groupby(sessions["peer_group"], observed=True).mean()
    earlier = sessions.groupby("user_id", observed=True).cumcount()
    centre = vec.groupby(sessions["user_id"], observed=True).cumsum() - vec
    centre = centre.div(earlier.where(earlier > 0), axis=0)
    first = earlier == 0
    centre.loc[first] = group_mean.reindex(sessions.loc[first, "peer_group"]).fillna(0.0).to_numpy()
    dot = (vec * centre).sum(axis=1)
    norms = np.sqrt((vec**2).sum(axis=1)) * np.sqrt((centre**2).sum(axis=1))
    return (1.0 - dot / norms).fillna(1.0)


def sequence_features(
    ev: pd.DataFrame,
    groups: pd.DataFrame,
    vectors: pd.DataFrame | None = None,
    seed: int = 7,
) -> pd.DataFrame:
    """Per (user, window): ``SEQUENCE_COLUMNS``, fitted on and scored over ``ev``.

    ``ev``: events as ``pandas_reference.prepare`` returns them; ``groups``: ``user_id,
    window, peer_group`` (``pandas_reference.peer_days``); ``vectors``: token vectors
    (index token, ``VECTOR_SIZE`` columns) in place of fitting Word2Vec.
    """
    tok = tokens(ev)
    groups = groups[[*KEYS, "peer_group"]].astype({"user_id": tok["user_id"].dtype})
    st = steps(tok).merge(groups.astype({"peer_group": "category"}), on=KEYS, how="left")
    vocab = len(tok["token"].cat.categories) + 1  # the tokens, <s>, </s>, one for unknown ones
    p = step_probabilities(st, vocab)
    st = st.merge(p, on=["user_id", "a", "b", "window"], how="left")
    bits = -np.log2(st["p"])
    per_session = pd.DataFrame(
        {
            "excess": (bits - USUAL_BITS).clip(lower=0).groupby(st["session"]).sum(),
            "rare": (st["p"] < RARE_P).groupby(st["session"]).sum(),
        }
    )
    sessions = (
        st.drop_duplicates("session")
        .set_index("session")[["user_id", "window", "peer_group"]]
        .sort_index()
        .join(per_session)
    )
    if vectors is None:
        vectors = word_vectors(tok, seed)
    distance = session_distances(tok, sessions, vectors.set_axis(DIMS, axis=1))
    sessions["score"] = sessions["excess"] + EMBEDDING_WEIGHT * distance
    out = sessions.groupby(KEYS, observed=True).agg(
        seq_anomaly_score=("score", "max"), rare_transition_count=("rare", "sum")
    )
    out["watchlist_match_count"] = 0
    return out.reset_index()
