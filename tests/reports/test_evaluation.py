"""The evaluation report renders typed findings: tables, comparison, fallback, JSON."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np

from auditlens.detect.evaluation import Fold, Metrics
from auditlens.reports.evaluation import (
    EvaluationFindings,
    evaluation_json,
    evaluation_markdown,
    false_positive_comparison,
)


def _metrics(pr_auc: float, fp: int) -> Metrics:
    return Metrics(100, 10, 0.9, pr_auc, 0.5, 0.6, 0.4, fp, 0.7)


def _findings(*, fallback: str | None = None, ensemble: bool = True) -> EvaluationFindings:
    pooled = {"isolation_forest": _metrics(0.5, 12), "unsupervised": _metrics(0.55, 10)}
    if ensemble:
        pooled["ensemble"] = _metrics(0.7, 5)
    curve = (np.array([0.0, 1.0]), np.array([1.0, 0.0]))
    return EvaluationFindings(
        folds=[Fold(1, dt.date(2026, 9, 10), dt.date(2026, 9, 15))],
        recall_target=0.7,
        ece=0.0123 if ensemble else None,
        chosen={"lightgbm": {"num_leaves": 15}} if ensemble else {},
        fallback=fallback,
        pooled=pooled,
        per_fold={n: [m, m] for n, m in pooled.items()},
        user_level={"unsupervised": _metrics(0.6, 3)},
        curves={n: curve for n in pooled},
    )


def test_markdown_has_every_section_and_the_comparison() -> None:
    text = evaluation_markdown(_findings())
    assert text.startswith("# Evaluation / 평가 (time-aware)\n")
    assert "| 1 | 2026-09-10 | 2026-09-15 |" in text
    assert "| ensemble | 0.900 | 0.700 | 50.0% | 60.0% | 40.0% | 5 |" in text
    assert (
        "**At the same recall (70%) the ensemble raises 5 false positives against "
        "IsolationForest's 12: 7 fewer (58%).**"
    ) in text
    assert "Calibration error (ECE, 10 bins) of the ensemble: 0.0123" in text
    assert "| unsupervised | 0.900 | 0.600 | 40.0% |" in text
    assert "- ensemble: 0.700, 0.700" in text
    assert '- lightgbm: `{"num_leaves": 15}`' in text
    assert "Fallback" not in text


def test_fallback_is_said_and_nothing_compared() -> None:
    findings = _findings(fallback="only 3 labelled positive windows", ensemble=False)
    text = evaluation_markdown(findings)
    assert "**Fallback:** only 3 labelled positive windows." in text
    assert "At the same recall" not in text
    assert "Calibration error" not in text
    assert "Chosen hyper-parameters" not in text
    assert false_positive_comparison(findings.pooled, 0.7) == ""


def test_json_holds_the_same_findings() -> None:
    payload = json.loads(evaluation_json(_findings()))
    assert payload["folds"] == [{"fold": 1, "test_from": "2026-09-10", "test_until": "2026-09-15"}]
    assert payload["recall_target"] == 0.7
    assert payload["ece_ensemble"] == 0.0123
    assert payload["pooled"]["ensemble"]["false_positives_at_recall"] == 5
    assert len(payload["per_fold"]["unsupervised"]) == 2
    assert payload["chosen_params"] == {"lightgbm": {"num_leaves": 15}}
