"""Learning from past findings: the ensemble beats IsolationForest alone, still finds a
scenario nobody labelled, is calibrated, explains additively, and does not leak."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from auditlens.detect.ensemble import StackedEnsemble
from auditlens.detect.evaluation import (
    expected_calibration_error,
    false_positives_at_recall,
    recall_at_k,
    time_folds,
)
from auditlens.detect.isolation import IsolationDetector
from auditlens.detect.labels import label_windows
from auditlens.detect.supervised import KINDS, SupervisedDetector
from auditlens.errors import AuditlensError
from auditlens.features.base import FeatureContext
from auditlens.features.catalog import ResourceCatalog
from auditlens.features.matrix import HISTORY_DAYS, build_matrix
from auditlens.sources.labels import read_findings
from auditlens.sources.synthetic import GeneratorSpec, generate

TZ = "Asia/Seoul"
HIDDEN = "account_sharing"  # never labelled: only the unsupervised half can find it


@dataclass(frozen=True)
class Split:
    X_train: pl.DataFrame
    y_train: pl.Series
    X_test: pl.DataFrame
    y_test: np.ndarray
    labels: pl.DataFrame
    known_test: np.ndarray  # test rows not of a user of the never-labelled scenario


@pytest.fixture(scope="module")
def split() -> Split:
    # big enough that the claim holds for every seed tried (21, 22, 23), not by luck
    data = generate(GeneratorSpec(users=600, days=60, seed=22, insider_rate=0.08))
    fm = build_matrix(data.events, FeatureContext(catalog=ResourceCatalog.from_frame(data.catalog)))
    X = fm.frame.filter(fm.info[HISTORY_DAYS] >= 7)
    findings = data.labels.with_columns(pl.lit(True).alias("positive"))
    y_all = label_windows(X, findings, TZ)
    y_known = label_windows(X, findings.filter(pl.col("scenario") != HIDDEN), TZ)
    days = sorted(X["window"].unique().to_list())
    train = X["window"] < days[int(len(days) * 0.6)]  # earlier 60% of days trains
    test = ~train & y_all.is_not_null()
    return Split(
        X.filter(train), y_known.filter(train), X.filter(test),
        y_all.filter(test).cast(pl.Int8).to_numpy(), data.labels,
        ~X.filter(test)["user_id"].is_in(
            findings.filter(pl.col("scenario") == HIDDEN)["user_id"].implode()
        ).to_numpy(),
    )  # fmt: skip


@pytest.fixture(scope="module")
def ensemble(split: Split) -> StackedEnsemble:
    models = [SupervisedDetector(k, random_state=1) for k in KINDS]
    return StackedEnsemble(models, seed=1).fit(split.X_train, split.y_train)


def test_ensemble_beats_isolation_forest_and_cuts_false_positives(
    split: Split, ensemble: StackedEnsemble
) -> None:
    iso = IsolationDetector(random_state=1).fit(split.X_train).score(split.X_test)
    ens = ensemble.score(split.X_test)
    assert average_precision_score(split.y_test, ens) > average_precision_score(split.y_test, iso)
    recall = recall_at_k(split.y_test, iso)
    assert false_positives_at_recall(split.y_test, ens, recall) < false_positives_at_recall(
        split.y_test, iso, recall
    )


def test_a_scenario_nobody_labelled_is_still_found(split: Split, ensemble: StackedEnsemble) -> None:
    users = (
        split.X_test.select("user_id")
        .with_columns(pl.Series("s", ensemble.score(split.X_test)))
        .group_by("user_id")
        .agg(pl.col("s").max())
        .with_columns((pl.col("s").rank(descending=True) / pl.len()).alias("pct"))
    )
    hidden = split.labels.filter(pl.col("scenario") == HIDDEN)["user_id"]
    ranks = users.filter(pl.col("user_id").is_in(hidden.implode()))["pct"]
    assert ranks.len() >= 2
    assert ranks.min() <= 0.05  # type: ignore[operator]


def test_ensemble_probabilities_are_calibrated(split: Split, ensemble: StackedEnsemble) -> None:
    # calibrated against what it was taught: the users of the never-labelled scenario are
    # left out (their days are positives no label ever described)
    known = split.known_test
    p = ensemble.score(split.X_test)[known]
    assert expected_calibration_error(split.y_test[known], p) < 0.05


def test_shap_contributions_add_up_to_the_model_output(
    split: Split, ensemble: StackedEnsemble
) -> None:
    rows = split.X_test.sample(60, seed=3)
    contrib, base = ensemble.contributions(rows)
    np.testing.assert_allclose(contrib.sum(axis=1) + base, ensemble.log_odds(rows), atol=1e-4)
    for model in ensemble.supervised_:
        values, b = model.shap(rows)
        np.testing.assert_allclose(values.sum(axis=1) + b, model.margin(rows), atol=1e-4)


def test_shuffled_labels_give_chance_level_scores(split: Split) -> None:
    shuffled = split.y_train.shuffle(seed=7)
    model = SupervisedDetector("random_forest", random_state=1).fit(split.X_train, shuffled)
    auc = roc_auc_score(split.y_test, model.score(split.X_test))
    assert 0.35 < auc < 0.65, auc


def test_label_rule_positive_excluded_and_dismissed_days(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(
        "user_id,scenario,start,end,outcome,case_id\n"
        "a,theft,2026-09-03T00:00:00+09:00,2026-09-05T00:00:00+09:00,confirmed,C-1\n"
        "b,alert,2026-09-02T12:00:00+09:00,2026-09-02T13:00:00+09:00,dismissed,C-2\n"
    )
    findings = read_findings(path, TZ)
    assert findings["positive"].to_list() == [True, False]
    assert findings["case_id"].to_list() == ["C-1", "C-2"]
    days = [dt.date(2026, 9, d) for d in (1, 2, 3, 4, 5)]
    keys = pl.DataFrame({"user_id": ["a"] * 5 + ["b"] * 5 + ["c"] * 5, "window": days * 3})
    labels = label_windows(keys, findings, TZ).to_list()
    assert labels[:5] == [None, None, 1, 1, None]  # a: in the period 1, other days excluded
    assert labels[5:10] == [0, 0, 0, 0, 0]  # b: cleared, and otherwise ordinary
    assert labels[10:] == [0, 0, 0, 0, 0]


def test_unreadable_outcome_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("user_id,scenario,start,end,outcome\nx,s,2026-09-01,2026-09-02,maybe\n")
    with pytest.raises(AuditlensError, match=r"labels.csv:2: outcome 'maybe'"):
        read_findings(path, TZ)


def test_time_folds_never_mix_train_and_test() -> None:
    days = pl.Series([dt.date(2026, 9, 1) + dt.timedelta(days=i) for i in range(30)])
    folds = time_folds(days, n_folds=3)
    assert [f.number for f in folds] == [1, 2, 3]
    assert folds[0].test_from == dt.date(2026, 9, 13)  # the first 40% only trains
    for a, b in itertools.pairwise(folds):
        assert a.test_until == b.test_from  # consecutive, no overlap
    assert folds[-1].test_until == dt.date(2026, 10, 1)
    with pytest.raises(AuditlensError, match="cannot make 3"):
        time_folds(days.head(4), n_folds=3)


def test_false_positives_at_recall_and_ece_on_known_numbers() -> None:
    y = np.array([1, 0, 1, 0, 0, 1])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.1])
    assert recall_at_k(y, s) == pytest.approx(2 / 3)
    assert false_positives_at_recall(y, s, 2 / 3) == 1
    assert false_positives_at_recall(y, s, 1.0) == 3
    assert expected_calibration_error([0, 1], [0.0, 1.0]) == 0.0
    assert expected_calibration_error([0, 0], [0.95, 0.95]) == pytest.approx(0.95)


def test_the_classifiers_read_rows_laid_out_row_by_row(
    split: Split, ensemble: StackedEnsemble
) -> None:
    """Each classifier is handed its matrix in C order (trees read a row's features) and
    scores exactly as on Polars' column-major matrix."""
    rows = split.X_test.head(400)
    for model in ensemble.supervised_:
        laid = model.rows(rows)
        assert laid.flags.c_contiguous
        column_major = model.matrix(rows)
        assert column_major.flags.f_contiguous and not column_major.flags.c_contiguous
        assert np.array_equal(laid, column_major)
        assert np.array_equal(
            model.score(rows), np.asarray(model.model_.predict_proba(column_major)[:, 1])
        )
