"""shadow_comparison (`auditlens model compare`) on a constructed case whose figures are
known by hand, and the champions record behind model_versions' ``active``."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from scipy.stats import spearmanr

from auditlens.store.champions import Champion
from auditlens.store.repo import Store
from auditlens.store.scores import RunRecord
from auditlens.views import model_versions, shadow_comparison
from auditlens.views.shadow import capacity_cut
from tests.alerts.conftest import T0
from tests.views.conftest import SHA_A, SHA_B, act, model, open_alert

DAY = dt.date(2026, 9, 7)
CHALLENGER = "c" * 64


def _run(store: Store, champion: dict[str, float], challenger: dict[str, float]) -> int:
    """A run with capacity 2: each user one day at ``champion`` risk (plus a quieter day
    before it), and the challenger's rows for the same windows (flagged by the rule)."""
    users = sorted(champion)
    keys = pl.DataFrame(
        {
            "user_id": [u for u in users for _ in (0, 1)],
            "window": [d for _ in users for d in (DAY - dt.timedelta(days=1), DAY)],
        }
    )
    mine = [x for u in users for x in (champion[u] / 2, champion[u])]
    frame = keys.with_columns(
        pl.lit(0.1).alias("raw_score"),
        pl.lit(1.0).alias("surprise"),
        pl.Series("risk", mine),
        pl.Series("decayed_risk", mine),
        pl.lit("low").alias("severity"),
        pl.lit("[]").alias("reasons"),
        pl.lit("f" * 64).alias("feature_hash"),
        pl.lit(SHA_A).alias("model_sha256"),
        pl.lit("c0ffee").alias("config_hash"),
        pl.lit(1).alias("data_batch_id"),
    )
    record = RunRecord(
        started_at=T0,
        finished_at=T0,
        model_sha256=SHA_A,
        config_hash="c0ffee",
        data_batch_id=1,
        events=10,
        windows=frame.height,
        reason_method="surprise",
        capacity=2,
        capacity_cutoff=None,
        model_version=1,
    )
    run_id = store.scores.commit_run(record, frame)
    theirs = [x for u in users for x in (challenger[u] / 3, challenger[u])]
    shadow = keys.with_columns(pl.Series("decayed_risk", theirs))
    flagged = capacity_cut(shadow, 2).filter(pl.col("flagged")).get_column("user_id")
    rows = shadow.with_columns(
        pl.lit(2).alias("model_version"),
        pl.lit(CHALLENGER).alias("model_sha256"),
        pl.col("decayed_risk").alias("risk"),
        pl.lit("low").alias("severity"),
        pl.col("user_id").is_in(flagged.implode()).cast(pl.Int32).alias("flagged"),
        pl.lit("[]").alias("reasons"),
    )
    assert store.shadow.add(run_id, rows) == rows.height
    return run_id


def test_compare_counts_flags_overlap_rank_and_triage_outcomes(store: Store) -> None:
    assert shadow_comparison(store).overall is None
    model(store, SHA_A, "ensemble")
    # capacity 2: the champion flags a (90) and b (80); the challenger c (95) and a (60)
    first = _run(
        store,
        {"a": 90.0, "b": 80.0, "c": 70.0, "d": 10.0},
        {"a": 60.0, "b": 20.0, "c": 95.0, "d": 10.0},
    )
    # alerts of the run: a confirmed, b dismissed, d closed for another reason
    at = T0 + dt.timedelta(hours=1)
    confirmed = open_alert(store, user="a", run_id=first, severity="high")
    act(store, confirmed, "close", "kim", at, reason="confirmed")
    dismissed = open_alert(store, user="b", run_id=first, severity="high")
    act(store, dismissed, "dismiss", "kim", at, reason="false_positive")
    other = open_alert(store, user="d", run_id=first, severity="high")
    act(store, other, "close", "kim", at, reason="remediated")
    # a second run: both models flag both users, ranked the other way round
    second = _run(store, {"e": 50.0, "f": 40.0}, {"e": 40.0, "f": 50.0})

    found = shadow_comparison(store)
    assert [r.run_id for r in found.runs] == [second, first]  # newest first
    newer, one = found.runs
    assert (one.users, one.champion_only, one.challenger_only, one.both) == (4, 1, 1, 1)
    assert one.jaccard == pytest.approx(1 / 3)
    # ranks champion a4 b3 c2 d1, challenger a3 b2 c4 d1: rho = 1 - 6*6/(4*15) = 0.4
    assert one.rank_correlation == pytest.approx(0.4)
    assert (one.confirmed, one.confirmed_champion, one.confirmed_challenger) == (1, 1, 1)
    # b: flagged by the champion (an alert dismissed), not by the challenger (avoided)
    assert (one.dismissed, one.dismissed_avoided_champion, one.dismissed_avoided_challenger) == (
        1,
        0,
        1,
    )
    assert (one.capacity, one.champion_version, one.champion_sha256) == (2, 1, SHA_A)
    assert (one.challenger_version, one.challenger_sha256) == (2, CHALLENGER)
    assert (newer.both, newer.jaccard, newer.confirmed, newer.rank_correlation) == (2, 1.0, 0, None)

    overall = found.overall
    assert overall is not None and found.challengers == (CHALLENGER,)
    assert (overall.users, overall.champion_only, overall.challenger_only, overall.both) == (
        6,
        1,
        1,
        3,
    )
    assert overall.jaccard == pytest.approx(3 / 5)
    pooled = spearmanr([90, 80, 70, 10, 50, 40], [60, 20, 95, 10, 40, 50]).statistic
    assert overall.rank_correlation == pytest.approx(pooled)
    assert (overall.confirmed, overall.dismissed, overall.dismissed_avoided_challenger) == (1, 1, 1)

    only = shadow_comparison(store, runs=1)
    assert [r.run_id for r in only.runs] == [second]
    assert only.overall is not None and only.overall.users == 2


def test_model_versions_follow_the_newest_champion_row(store: Store) -> None:
    model(store, SHA_A, "ensemble")
    model(store, SHA_B, "ensemble")
    # no champion recorded: the newest ensemble, as before
    assert [(m.sha256, m.active) for m in model_versions(store)] == [(SHA_B, True), (SHA_A, False)]
    store.champions.record(Champion(1, SHA_A, "train", "kim", T0))
    assert [(m.sha256, m.active) for m in model_versions(store)] == [(SHA_B, False), (SHA_A, True)]
    store.champions.record(Champion(2, SHA_B, "promote", "park", T0 + dt.timedelta(hours=1)))
    assert store.models.in_force() is not None and store.models.in_force().sha256 == SHA_B  # type: ignore[union-attr]
    store.champions.record(Champion(1, SHA_A, "rollback", "lee", T0 + dt.timedelta(hours=2)))
    assert [m.active for m in model_versions(store)] == [False, True]
    newest = store.champions.newest()
    assert newest is not None and (newest.model_version, newest.action, newest.at) == (
        1,
        "rollback",
        T0 + dt.timedelta(hours=2),
    )
    # an unsupervised model fitted to replace the champion (run --refit --unsupervised)
    model(store, "d" * 64, "unsupervised", replaces=SHA_A)
    assert [m.active for m in model_versions(store)] == [True, False, False]
    with pytest.raises(ValueError, match="unknown champion action"):
        store.champions.record(Champion(1, SHA_A, "crowned", "lee", T0))
