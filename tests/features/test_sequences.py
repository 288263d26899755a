"""Action-sequence model: planted tampering sessions rank at the top, a user whose job is
editing is not flagged for editing, and a saved model scores identically."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import joblib
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from auditlens.features.base import FeatureContext, prepare
from auditlens.features.catalog import ResourceCatalog
from auditlens.features.matrix import build_matrix
from auditlens.features.peers import peer_groups
from auditlens.features.sequences import SequenceModel, tokenise
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


def test_sequence_columns_join_the_matrix_and_explain_with_the_session() -> None:
    rows: list[dict[str, Any]] = []
    for day in range(1, 12):
        rows += _job("u", "finance", "staff", day, ["view", "download"] * 2, "fileshare/a")
    rows += _job("u", "finance", "staff", 12, ["view", "edit", "delete"] * 3, "fileshare/finance/x")
    ctx = FeatureContext(
        catalog=CTX.catalog,
        watchlist=(parse_pattern("tamper", "view>edit>delete within 10m on sensitivity>=high"),),
    )
    fm = build_matrix(events(rows), ctx)
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
    assert fm.sequence_model is not None
