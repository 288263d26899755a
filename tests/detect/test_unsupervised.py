"""Unsupervised detection on planted insider scenarios: quality floor, reasons, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from auditlens.detect.base import ModelError, load_detector
from auditlens.detect.ensemble import MeanSurpriseEnsemble, default_unsupervised
from auditlens.detect.explain import explain
from auditlens.detect.isolation import IsolationDetector
from auditlens.detect.tail import TailDetector
from auditlens.scoring import RiskScale, score_windows, user_peaks
from tests.detect.conftest import Planted

ROC_FLOOR = 0.90

#: Which named features must explain each planted scenario (at least one of them).
SCENARIO_FEATURES = {
    "after_hours_theft": {"off_hours_sensitive_count", "off_hours_action_count",
                          "off_hours_action_ratio", "bulk_vs_baseline", "bulk_action_count",
                          "usb_connect_count", "last_activity_hour", "seq_anomaly_score"},
    "privilege_misuse": {"new_sensitive_resource_count", "failed_access_count",
                         "weighted_resource_score", "sensitive_access_count"},
    "tampering_sequence": {"delete_count", "delete_vs_baseline", "sensitive_change_count",
                           "seq_anomaly_score", "rare_transition_count"},
    "departing_mass_download": {"bulk_vs_baseline", "bulk_action_count"},
    "account_sharing": {"new_host_count", "new_src_ip_count", "distinct_hosts",
                        "failed_login_count", "failed_login_burst", "login_count"},
}  # fmt: skip


def _user_scores(planted: Planted, raw: np.ndarray) -> pl.DataFrame:
    scale = RiskScale().fit(raw)
    users = user_peaks(score_windows(planted.frame, scale.surprise(raw)))
    return users.join(
        planted.data.labels.select("user_id", "scenario"), on="user_id", how="left"
    ).with_columns(pl.col("scenario").is_not_null().alias("insider"))


@pytest.fixture(scope="module")
def model(planted: Planted) -> MeanSurpriseEnsemble:
    return default_unsupervised(seed=1).fit(planted.frame)


def test_user_level_roc_auc_meets_the_floor(planted: Planted, model: MeanSurpriseEnsemble) -> None:
    users = _user_scores(planted, model.score(planted.frame))
    auc = roc_auc_score(users["insider"].to_numpy(), users["risk_score"].to_numpy())
    assert auc >= ROC_FLOOR, f"user-level ROC-AUC {auc:.3f} < {ROC_FLOOR}"
    # the riskiest tenth of users holds most insiders
    top = users.head(users.height // 10)
    assert top["insider"].sum() >= 0.6 * users["insider"].sum()


def test_isolation_forest_alone_also_meets_the_floor(planted: Planted) -> None:
    raw = IsolationDetector(random_state=1).fit(planted.frame).score(planted.frame)
    users = _user_scores(planted, raw)
    assert roc_auc_score(users["insider"].to_numpy(), users["risk_score"].to_numpy()) >= ROC_FLOOR


def test_every_scenario_is_explained_by_a_named_feature(
    planted: Planted, model: MeanSurpriseEnsemble
) -> None:
    raw = model.score(planted.frame)
    users = _user_scores(planted, raw).filter(pl.col("insider"))
    keyed = planted.frame.with_row_index("_i")
    found: dict[str, bool] = {}
    for r in users.iter_rows(named=True):
        idx = keyed.filter(
            (pl.col("user_id") == r["user_id"]) & (pl.col("window") == r["peak_window"])
        )["_i"]
        reasons = explain(model, planted.frame[idx], planted.info[idx])[0]
        named = {x.feature.removeprefix("peer_z_") for x in reasons}
        hit = bool(named & SCENARIO_FEATURES[r["scenario"]])
        found[r["scenario"]] = found.get(r["scenario"], False) or hit
        for x in reasons:
            assert x.ko and x.en and "본인 평균" in x.ko and "own average" in x.en
    assert found == dict.fromkeys(SCENARIO_FEATURES, True)


def test_saved_model_scores_identically(
    planted: Planted, model: MeanSurpriseEnsemble, tmp_path: Path
) -> None:
    digest = model.save(tmp_path / "m.joblib")
    again = load_detector(tmp_path / "m.joblib", expected_sha256=digest)
    np.testing.assert_array_equal(again.score(planted.frame), model.score(planted.frame))
    with pytest.raises(ModelError, match="changed or replaced"):
        load_detector(tmp_path / "m.joblib", expected_sha256="0" * 64)


def test_same_seed_same_model_and_missing_columns_are_refused(planted: Planted) -> None:
    a = IsolationDetector(random_state=5).fit(planted.frame).score(planted.frame.head(200))
    b = IsolationDetector(random_state=5).fit(planted.frame).score(planted.frame.head(200))
    np.testing.assert_array_equal(a, b)
    tail = TailDetector().fit(planted.frame)
    with pytest.raises(ModelError, match="bulk_action_count"):
        tail.score(planted.frame.drop("bulk_action_count"))
