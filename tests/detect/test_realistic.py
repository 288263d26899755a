"""Quality floor on the realistic profile: quiet insiders among benign look-alikes.

The unsupervised model is fitted on the first half of the days and measured on the
second half (data it was not fitted on), at user level, as on the default profile in
test_unsupervised.py. Only insiders whose labelled window reaches the measured days
count as insiders there; the others are left out of the measure.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from auditlens.detect.ensemble import default_unsupervised
from auditlens.features.base import FeatureContext
from auditlens.features.catalog import ResourceCatalog
from auditlens.features.matrix import HISTORY_DAYS, build_matrix
from auditlens.scoring import RiskScale, score_windows, user_peaks
from auditlens.sources.synthetic import GeneratorSpec, generate

START = dt.date(2026, 9, 1)
DAYS = 56
SPLIT = START + dt.timedelta(days=DAYS // 2)
#: User-level ROC-AUC on the measured (later) days. Measured with generator seeds 1-4:
#: 0.774-0.849 (seed 2, the one used here: 0.779); without features/novelty.py
#: 0.617-0.802. The floor leaves room for seed and library-version noise.
ROC_FLOOR = 0.72


@pytest.fixture(scope="module")
def users() -> pl.DataFrame:
    spec = GeneratorSpec(
        users=300, days=DAYS, seed=2, insider_rate=0.06, profile="realistic", start=START
    )
    data = generate(spec)
    ctx = FeatureContext(catalog=ResourceCatalog.from_frame(data.catalog))
    matrix = build_matrix(data.events, ctx)
    frame = matrix.frame.filter(matrix.info.get_column(HISTORY_DAYS) >= 7)
    early = frame.filter(pl.col("window") < SPLIT)
    later = frame.filter(pl.col("window") >= SPLIT)
    model = default_unsupervised(seed=1).fit(early)
    scale = RiskScale().fit(model.score(early))
    peaks = user_peaks(score_windows(later, scale.surprise(model.score(later))))
    ends = data.labels.select(
        "user_id", pl.col("end").dt.convert_time_zone("Asia/Seoul").dt.date().alias("end")
    )
    return (
        peaks.join(ends, on="user_id", how="left")
        .filter(pl.col("end").is_null() | (pl.col("end") >= SPLIT))
        .with_columns(pl.col("end").is_not_null().alias("insider"))
    )


def test_enough_insiders_are_measured(users: pl.DataFrame) -> None:
    assert users["insider"].sum() >= 8 and users.height >= 250


def test_realistic_user_level_roc_auc_meets_the_floor(users: pl.DataFrame) -> None:
    auc = roc_auc_score(users["insider"].to_numpy(), users["risk_score"].to_numpy())
    assert auc >= ROC_FLOOR, f"user-level ROC-AUC {auc:.3f} < {ROC_FLOOR}"
