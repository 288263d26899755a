"""Action-sequence model: planted tampering sessions rank at the top, a user whose job is
editing is not flagged for editing, and a saved model scores identically."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import pickle
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import gensim.models
import joblib
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from auditlens.features.base import FeatureContext, prepare
from auditlens.features.catalog import ResourceCatalog
from auditlens.features.matrix import MatrixBuilder
from auditlens.features.peers import peer_groups
from auditlens.features.sequences import SequenceFeatures, SequenceModel, tokenise
from auditlens.features.sequences.kernels import (
    LOOP_GROUPS,
    POLARS_COLUMNS,
    POLARS_RUN,
    cumsum_by,
)
from auditlens.features.sequences.tokens import Sessions
from auditlens.features.watchlist import parse_pattern
from auditlens.sources.synthetic import GeneratorSpec, SyntheticData, generate
from tests.features.test_features import CTX, at, events


@pytest.fixture(scope="module")
def org() -> tuple[SyntheticData, pl.DataFrame, pl.DataFrame, FeatureContext]:
    data = generate(GeneratorSpec(users=400, days=40, seed=11, insider_rate=0.04))
    ctx = FeatureContext(catalog=ResourceCatalog.from_frame(data.catalog))
    prepared = prepare(data.events, ctx)
    return data, prepared, peer_groups(prepared, ctx), ctx


def test_planted_tampering_sessions_rank_in_the_top_two_percent(
    org: tuple[SyntheticData, pl.DataFrame, pl.DataFrame, FeatureContext],
) -> None:
    data, prepared, groups, _ = org
    tokens = tokenise(prepared)
    scored = SequenceModel(seed=3).fit(tokens, groups).score(tokens, groups)
    tamper = data.labels.filter(pl.col("scenario") == "tampering_sequence").select(
        "user_id", pl.col("start").alias("ls"), pl.col("end").alias("le")
    )
    assert tamper.height >= 2
    ranked = scored.with_columns(
        (pl.col("session_score").rank(descending=True) / pl.len()).alias("pct"),
        pl.col("tokens").list.eval(pl.element().str.starts_with("delete:")).list.sum().alias("nd"),
    )
    # a planted session: in the insider's window, with a run of sensitive deletions
    planted = ranked.join(tamper, on="user_id").filter(
        (pl.col("start") >= pl.col("ls")) & (pl.col("start") < pl.col("le")) & (pl.col("nd") >= 5)
    )
    assert planted.height >= 4
    assert planted["pct"].max() <= 0.02, planted.select("user_id", "start", "pct")


def _job(
    user: str, dept: str, role: str, day: int, acts: list[str], resource: str
) -> list[dict[str, Any]]:
    rows = [{"user": user, "t": at(day, 9), "action": "login", "dept": dept, "role": role}]
    rows += [
        {
            "user": user,
            "t": at(day, 10, k),
            "action": a,
            "resource": resource,
            "dept": dept,
            "role": role,
        }
        for k, a in enumerate(acts)
    ]
    return rows


def test_an_editor_by_trade_is_not_flagged_for_editing_but_a_newcomer_to_it_is() -> None:
    rows: list[dict[str, Any]] = []
    for day in range(1, 22):
        for i in range(6):  # DBAs: view, edit, edit, delete on the customer DB, every day
            rows += _job(f"dba{i}", "it", "dba", day, ["view", "edit", "edit", "delete"] * 3,
                         "db/customer/cards")  # fmt: skip
        for i in range(6):  # marketers: view and download campaign files
            acts = ["view", "download"] * 3
            if i == 0 and day == 21:  # ... until one of them rewrites customer records
                acts = ["view", "edit", "edit", "delete"] * 3
            rows += _job(f"mkt{i}", "marketing", "staff", day, acts,
                         "db/customer/cards" if acts[1] == "edit" else "fileshare/a")  # fmt: skip
    prepared = prepare(events(rows), CTX)
    groups = peer_groups(prepared, CTX)
    tokens = tokenise(prepared)
    scored = SequenceModel().fit(tokens, groups).score(tokens, groups)
    last = scored.filter(pl.col("window") == dt.date(2026, 9, 21)).sort("session_score")
    by_user = dict(zip(last["user_id"], last["session_score"], strict=True))
    assert max(by_user[f"dba{i}"] for i in range(6)) < 0.25 * by_user["mkt0"]
    assert by_user["mkt0"] == last["session_score"].max()


def test_saved_sequence_model_scores_identically_and_is_reproducible(
    org: tuple[SyntheticData, pl.DataFrame, pl.DataFrame, FeatureContext], tmp_path: Path
) -> None:
    _, prepared, groups, _ = org
    tokens = tokenise(prepared.filter(pl.col("user_id") < "U0100"))
    model = SequenceModel(seed=5).fit(tokens, groups)
    joblib.dump(model, tmp_path / "seq.joblib")
    again = joblib.load(tmp_path / "seq.joblib")
    assert_frame_equal(model.score(tokens, groups), again.score(tokens, groups))
    twin = SequenceModel(seed=5).fit(tokens, groups)  # same data and seed, same vectors
    assert_frame_equal(model.vectors_, twin.vectors_)


def test_a_loaded_model_looks_its_count_tables_up_without_working_them_out_again(
    org: tuple[SyntheticData, pl.DataFrame, pl.DataFrame, FeatureContext],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The count tables as arrays are worked out when the model is fitted and saved with
    it (a daily run loads the model and scores one day: issue 17)."""
    _, prepared, groups, _ = org
    tokens = tokenise(prepared.filter(pl.col("user_id") < "U0100"))
    model = SequenceModel(seed=5).fit(tokens, groups)
    expected = model.score(tokens, groups)
    joblib.dump(model, tmp_path / "seq.joblib")
    again = joblib.load(tmp_path / "seq.joblib")
    assert len(again.__dict__["_coded_tables"]) == 5
    worked_out: list[str] = []
    coded = SequenceModel._coded

    def counting(self: SequenceModel, col: str) -> Any:
        if col not in self.__dict__.get("_coded_tables", {}):
            worked_out.append(col)
        return coded(self, col)

    monkeypatch.setattr(SequenceModel, "_coded", counting)
    assert_frame_equal(again.score(tokens, groups), expected)
    assert worked_out == []
    # a model saved before the arrays were kept: every table a frame, worked out on use
    state = dict(model.__dict__)
    del state["_coded_tables"]
    old = SequenceModel.__new__(SequenceModel)
    old.__setstate__(_round_trip(state))
    assert_frame_equal(old.score(tokens, groups), expected)
    assert sorted(worked_out) == ["na0", "ng", "nga", "nu", "nua"]
    # one saved with the arrays beside each frame (the frame first in each entry)
    worked_out.clear()
    state = dict(model.__dict__)
    tables = {"na0": "global_rows_", "ng": "group_counts_", "nga": "group_rows_"}
    tables |= {"nu": "user_counts_", "nua": "user_rows_"}
    state["_coded_tables"] = {
        c: (state[tables[c]], *found) for c, found in model.__dict__["_coded_tables"].items()
    }
    older = SequenceModel.__new__(SequenceModel)
    older.__setstate__(_round_trip(state))
    assert_frame_equal(older.score(tokens, groups), expected)
    assert worked_out == []


def _round_trip(value: Any) -> Any:
    """``value`` pickled and read back (bytes this test made)."""
    return pickle.loads(pickle.dumps(value))  # noqa: S301


def test_a_saved_model_holds_its_per_user_tables_as_arrays_only(
    org: tuple[SyntheticData, pl.DataFrame, pl.DataFrame, FeatureContext], tmp_path: Path
) -> None:
    """The per-user count tables are most of a model file (issue 17: every run and every
    explanation loads it): saved once, as arrays; their frames, read from a loaded
    model, are the fitted ones."""
    _, prepared, groups, _ = org
    tokens = tokenise(prepared.filter(pl.col("user_id") < "U0100"))
    model = SequenceModel(seed=5).fit(tokens, groups)
    saved = pickle.dumps(model)
    with_frames = pickle.dumps(model.__dict__)  # every attribute, the frames included
    assert len(saved) < len(with_frames) - model.user_counts_.estimated_size() // 2
    state = _round_trip(model).__dict__
    assert "user_counts_" not in state and "user_rows_" not in state
    assert "group_counts_" in state  # (small: kept as it is)
    again = _round_trip(model)
    assert_frame_equal(again.user_counts_, model.user_counts_)
    assert_frame_equal(again.user_rows_, model.user_rows_)
    assert_frame_equal(again.score(tokens, groups), model.score(tokens, groups))
    with pytest.raises(AttributeError):
        _ = SequenceModel().user_counts_  # not fitted: no table, no arrays


def test_sequence_columns_join_the_matrix_and_explain_with_the_session() -> None:
    rows: list[dict[str, Any]] = []
    for day in range(1, 12):
        rows += _job("u", "finance", "staff", day, ["view", "download"] * 2, "fileshare/a")
    rows += _job("u", "finance", "staff", 12, ["view", "edit", "delete"] * 3, "fileshare/finance/x")
    ctx = FeatureContext(
        catalog=CTX.catalog,
        watchlist=(parse_pattern("tamper", "view>edit>delete within 10m on sensitivity>=high"),),
    )
    builder = MatrixBuilder()
    fm = builder.fit_transform(events(rows), ctx)
    assert {"seq_anomaly_score", "rare_transition_count", "watchlist_match_count"} <= set(
        fm.feature_columns
    )
    assert not any(c.startswith("_") for c in fm.feature_columns)
    day12 = fm.frame.filter(pl.col("window") == dt.date(2026, 9, 12))
    assert day12["watchlist_match_count"].item() == 3
    assert day12["seq_anomaly_score"].item() > fm.frame["seq_anomaly_score"].head(11).max()  # type: ignore[operator]
    info = fm.info.filter(pl.col("window") == dt.date(2026, 9, 12))
    assert info["_seq_tokens"].item() == " ".join(["view:high edit:high delete:high"] * 3)
    assert info["_seq_watch"].item() == "tamper"
    sequences = builder.sets_[-1]
    assert isinstance(sequences, SequenceFeatures) and sequences.fitted_model() is not None


def _reference_tokens(prepared: pl.DataFrame, gap_minutes: float = 30.0) -> pl.DataFrame:
    """Tokens the plain way: a string per event, sorted by the user_id strings."""
    level = pl.col("_level")
    suffix = pl.when(level >= 3).then(pl.lit("critical")).otherwise(pl.lit("high"))
    word = pl.when(level >= 2).then(pl.format("{}:{}", "action_type", suffix))
    gap = pl.duration(microseconds=int(gap_minutes * 60_000_000))
    new = (
        (pl.col("user_id") != pl.col("user_id").shift(1)).fill_null(True)
        | ((pl.col("timestamp") - pl.col("timestamp").shift(1)) > gap).fill_null(True)
        | (pl.col("window") != pl.col("window").shift(1)).fill_null(True)  # local midnight
    )
    return prepared.sort("user_id", "timestamp", maintain_order=True).select(
        "user_id",
        "timestamp",
        "window",
        word.otherwise(pl.col("action_type")).alias("_token"),
        new.cum_sum().cast(pl.Int64).alias("_session"),
    )


def test_tokenise_matches_string_tokens_and_string_frames_score_the_same(
    org: tuple[SyntheticData, pl.DataFrame, pl.DataFrame, FeatureContext],
) -> None:
    _, prepared, groups, _ = org
    part = prepared.filter(pl.col("user_id") < "U0060")
    tokens = tokenise(part)
    assert isinstance(tokens.schema["_token"], pl.Enum)  # integer codes + sorted words
    as_text = tokens.with_columns(pl.col("user_id", "_token").cast(pl.String))
    assert_frame_equal(as_text, _reference_tokens(part))
    model = SequenceModel(seed=2).fit(tokens, groups)
    assert model.vocab_ == [*sorted(as_text["_token"].unique()), "<s>", "</s>"]
    # a frame with plain String columns (e.g. tokens built elsewhere) is read the same way
    assert_frame_equal(model.score(as_text, groups), model.score(tokens, groups))
    assert_frame_equal(SequenceModel(seed=2).fit(as_text, groups).user_counts_, model.user_counts_)


def test_tokenise_events_in_time_order_as_in_any_other_order(
    org: tuple[SyntheticData, pl.DataFrame, pl.DataFrame, FeatureContext],
) -> None:
    """Events in time order are put in (user, time) order by a stable sort by user alone,
    events in any other order by their (user, time) key: the same tokens and sessions,
    a user's events at the same instant in the order they came either way."""
    _, prepared, _, _ = org
    part = prepared.filter(pl.col("user_id") < "U0080")
    # whole minutes: many of a user's events share an instant (ties)
    tied = part.with_columns(pl.col("timestamp").dt.truncate("1m"))
    in_time = tied.sort("timestamp", maintain_order=True)
    # users' blocks backwards, each user's events in the order they came
    by_user = in_time.sort("user_id", descending=True, maintain_order=True)
    assert in_time.get_column("timestamp").is_sorted()
    assert not by_user.get_column("timestamp").is_sorted()
    users = pl.col("user_id").cast(pl.String)
    ties = in_time.group_by("user_id", "timestamp").len().get_column("len").max()
    assert isinstance(ties, int) and ties > 1
    expected = _reference_tokens(in_time)
    for order in (in_time, by_user):
        tokens = tokenise(order).with_columns(users, pl.col("_token").cast(pl.String))
        assert_frame_equal(tokens, expected)


def _sessions(tokens: pl.DataFrame) -> list[dict[str, Any]]:
    """Sessions in order: id, user, window (of the first event) and words."""
    out: dict[int, dict[str, Any]] = {}
    text = tokens.with_columns(pl.col("user_id", "_token").cast(pl.String))
    for r in text.iter_rows(named=True):
        fresh = {"id": r["_session"], "user": r["user_id"], "window": r["window"], "words": []}
        out.setdefault(r["_session"], fresh)["words"].append(r["_token"])
    return list(out.values())


def _oracle(
    model: SequenceModel,
    fit: tuple[pl.DataFrame, pl.DataFrame],
    scored: tuple[pl.DataFrame, pl.DataFrame],
) -> pl.DataFrame:
    """Session scores computed step by step from the module doc's definitions, for a
    model fitted on ``fit`` (tokens, groups) and scoring ``scored`` (tokens, groups)."""
    fitted, todo = _sessions(fit[0]), _sessions(scored[0])
    vocab = [*sorted({w for s in fitted for w in s["words"]}), "<s>", "</s>"]
    assert vocab == model.vocab_
    v, code = len(vocab) + 1, {w: i for i, w in enumerate(vocab)}  # unknown: len(vocab)
    fit_group, group = (
        dict(f.select("user_id", "peer_group").iter_rows()) for f in (fit[1], scored[1])
    )

    def steps(words: list[str]) -> list[tuple[int, int]]:
        return list(itertools.pairwise(code.get(w, len(vocab)) for w in ["<s>", *words, "</s>"]))

    # fitted counts of (a, b) and of a (b = None): everyone's, per group, per user
    n = Counter[tuple[Any, ...]]()
    for s in fitted:
        for a, b in steps(s["words"]):
            for owner in ((), ("group", fit_group.get(s["user"])), ("user", s["user"])):
                n[(*owner, a, b)] += 1
                n[(*owner, a, None)] += 1
    days: dict[tuple[Any, ...], Counter[dt.date]] = defaultdict(Counter)  # scored steps by day
    after: dict[tuple[Any, ...], set[int]] = defaultdict(set)  # b's after a, per user and day
    for s in todo:
        for a, b in steps(s["words"]):
            days[s["user"], a, b][s["window"]] += 1
            after[s["user"], s["window"], a].add(b)

    def habit(user: str, day: dt.date, a: int, b: int) -> int:  # prequential user count
        earlier = [c for d, c in days[user, a, b].items() if d < day]
        return sum(earlier) if len(earlier) >= model.habit_days else 0

    vectors = {w: np.array(x) for w, x in model.vectors_.iter_rows()}
    centroids = {r[0]: np.array(r[1:]) for r in model.group_centroids_.iter_rows()}
    zero, alpha, beta = np.zeros(model.vector_size), model.alpha, model.beta
    history: dict[str, list[Any]] = defaultdict(list)
    rows = []
    for s in todo:
        user, g, day = s["user"], group.get(s["user"]), s["window"]
        bits, rare = [], 0
        for a, b in steps(s["words"]):
            p0 = (n[a, b] + alpha / v) / (n[a, None] + alpha)
            if g is None:  # no group: the global prior
                pg = p0
            else:  # the group without the user
                others = max(n["group", g, a, b] - n["user", user, a, b], 0)
                others_a = max(n["group", g, a, None] - n["user", user, a, None], 0)
                pg = (others + beta * p0) / (others_a + beta)
            cua = sum(habit(user, day, a, x) for x in after[user, day, a])
            p = (habit(user, day, a, b) + beta * pg) / (cua + beta)
            bits.append(-math.log2(p))
            rare += p < model.rare_p
        known = [vectors[w] for w in s["words"] if w in vectors]
        vec = np.sum(known, axis=0) / len(known) if known else zero
        earlier = history[user]
        first = zero if g is None else centroids.get(g, zero)  # the group's, for a first one
        centre = np.mean(earlier, axis=0) if earlier else first
        earlier.append(vec)
        with np.errstate(invalid="ignore", divide="ignore"):
            distance = 1 - vec @ centre / (np.linalg.norm(vec) * np.linalg.norm(centre))
        distance = 1.0 if math.isnan(distance) else float(distance)
        excess = sum(max(0.0, x - model.usual_bits) for x in bits)
        score = excess + model.embedding_weight * distance
        rows.append((s["id"], excess, sum(bits) / len(bits), rare, distance, score))
    cols = ["_session", "excess_bits", "nll_bits", "rare_steps", "distance", "session_score"]
    return pl.DataFrame(rows, schema=cols, orient="row")


def test_session_scores_follow_the_documented_model() -> None:
    data = generate(GeneratorSpec(users=24, days=12, seed=5))
    ctx = FeatureContext(catalog=ResourceCatalog.from_frame(data.catalog))
    prepared = prepare(data.events, ctx)
    # one group per user (the model's arithmetic, not the groups day by day, is tested)
    groups = peer_groups(prepared, ctx).group_by("user_id").agg(pl.col("peer_group").last())
    # fitted on the first week without "print" (an unknown token later), scored on all
    # of it with one user missing from the groups
    first_week = pl.col("window") < pl.col("window").min() + dt.timedelta(days=7)
    fit = tokenise(prepared.filter(first_week & (pl.col("action_type") != "print")))
    model = SequenceModel(habit_days=2, seed=4).fit(fit, groups)
    scored = tokenise(prepared)
    listed = groups.filter(pl.col("user_id") != groups["user_id"][3])
    got = model.score(scored, listed).sort("_session")
    want = _oracle(model, (fit, groups), (scored, listed))
    assert got["_session"].to_list() == want["_session"].to_list()
    assert got["rare_steps"].to_list() == want["rare_steps"].to_list()
    assert got["rare_steps"].sum() > 0 and (got["excess_bits"] > 0).sum() > 0
    for col in ("excess_bits", "nll_bits", "distance", "session_score"):
        np.testing.assert_allclose(got[col].to_numpy(), want[col].to_numpy(), rtol=1e-9, atol=1e-12)


def test_running_sums_restart_per_group_on_every_path() -> None:
    rng = np.random.default_rng(3)
    # one cumsum per group, position by position, or by Polars (long runs, many columns)
    shapes = ((1, 30), (5, 30), (LOOP_GROUPS + 1, 30), (LOOP_GROUPS + 1, 2 * POLARS_RUN + 4))
    for groups, longest in shapes:
        lengths = rng.integers(1, longest, groups)
        first = np.r_[0, np.cumsum(lengths)[:-1]]
        values = rng.normal(size=(3, int(lengths.sum())))
        want = np.concatenate(
            [np.cumsum(values[:, f : f + n], axis=1) for f, n in zip(first, lengths, strict=True)],
            axis=1,
        )
        assert np.array_equal(cumsum_by(first, values), want)  # the same adds, in order
    # (the last shape took the Polars path)
    assert lengths.sum() >= max(POLARS_COLUMNS, POLARS_RUN * lengths.size)


def _running_mean_vectors(model: SequenceModel, seq: Sessions) -> np.ndarray:
    """Session mean vectors as the model computed them before bincount: sessions longest
    first, each session's k-th token vector added for k = 0, 1, …, dimension by
    dimension (the reference for bit-identical sums)."""
    row = {w: i for i, w in enumerate(model.vectors_.get_column("_token").to_list())}
    table = np.zeros((model.vector_size, len(row) + 1))
    table[:, :-1] = np.array(model.vectors_["_vec"].to_list(), dtype=np.float64).T
    codes = np.array([row.get(w, len(row)) for w in seq.words], dtype=np.int64)[seq.code]
    order = np.argsort(-seq.size, kind="stable")
    first, size = seq.first[order], seq.size[order]
    sums = np.empty((model.vector_size, seq.sessions))
    longer = np.searchsorted(-size, -np.arange(size[0]), "left")
    for k, n in enumerate(longer.tolist()):
        cell = codes[first[:n] + k]
        for d in range(model.vector_size):
            if k == 0:
                sums[d, :n] = table[d][cell]
            else:
                sums[d, :n] += table[d][cell]
    known = np.add.reduceat((codes < len(row)).astype(np.float64), seq.first)
    out = np.empty_like(sums)
    out[:, order] = sums
    return out / np.maximum(known, 1.0)


def test_session_vectors_are_the_running_sums_bit_for_bit(
    org: tuple[SyntheticData, pl.DataFrame, pl.DataFrame, FeatureContext],
) -> None:
    _, prepared, groups, _ = org
    tokens = tokenise(prepared)
    fitted_on = tokens.filter(pl.col("window") < dt.date(2026, 9, 20))
    model = SequenceModel(seed=5).fit(fitted_on, groups)  # later tokens may be unknown
    seq = Sessions.of(tokens)
    assert int(seq.size.max()) > 8  # long sessions: a pairwise sum would differ
    expected = _running_mean_vectors(model, seq)
    got = model._mean_vectors(seq)
    assert np.array_equal(got, expected)
    assert np.array_equal(np.signbit(got), np.signbit(expected))


def test_word2vec_sentences_are_the_sampled_sessions_in_order(
    org: tuple[SyntheticData, pl.DataFrame, pl.DataFrame, FeatureContext],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, prepared, groups, _ = org
    tokens = tokenise(prepared.filter(pl.col("user_id") < "U0060"))
    seq = Sessions.of(tokens)
    small = SequenceModel(seed=5, max_training_sessions=300)
    sentences: list[list[str]] = []
    real = gensim.models.Word2Vec

    class Recorder(real):  # type: ignore[misc, valid-type]
        def __init__(self, sentences_in: list[list[str]], **kwargs: Any) -> None:
            sentences.extend(sentences_in)
            super().__init__(sentences_in, **kwargs)

    monkeypatch.setattr(gensim.models, "Word2Vec", Recorder)  # records, then trains
    small.fit_sessions(seq, groups)
    every = pl.DataFrame({"_i": pl.int_range(seq.sessions, eager=True)})
    chosen = every.sample(300, seed=5)["_i"].to_list()
    words = tokens.get_column("_token").cast(pl.String).to_list()
    expected = [
        ["<s>", *words[int(seq.first[i]) : int(seq.first[i] + seq.size[i])], "</s>"] for i in chosen
    ]
    assert sentences == expected
