"""The evaluation report renders typed findings: tables, comparison, fallback, JSON."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import numpy as np
import pytest

from auditlens.detect.bootstrap import Intervals
from auditlens.detect.evaluation import Fold, Metrics
from auditlens.reports.evaluation import (
    EvaluationFindings,
    Scope,
    evaluation_json,
    evaluation_markdown,
    false_positive_comparison,
    small_sample_warning,
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
    assert text.startswith("# Detection model evaluation\n")
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


CI = Intervals(
    1000, 998, (0.85, 0.95), (0.6, 0.8), (0.4, 0.6), (0.5, 0.7), (0.3, 0.5), (0.01, 0.03)
)


def _scoped(labelled: int, language: str) -> EvaluationFindings:
    base = _findings()
    scope = Scope(
        users=150,
        days=32,
        first_day=dt.date(2026, 9, 1),
        last_day=dt.date(2026, 10, 2),
        labelled_users=labelled,
        positive_windows=40,
        min_users=10,
    )
    return replace(
        base,
        intervals={n: CI for n in base.pooled},
        user_intervals={"unsupervised": CI},
        scope=scope,
        bootstrap_seconds=1.5,
        language=language,
    )


@pytest.mark.parametrize(
    ("language", "title", "warning", "summary", "method"),
    [
        (
            "en",
            "# Detection model evaluation",
            "> **Warning: only 3 people",
            "## Summary",
            "## Method",
        ),
        (
            "ko",
            "# 탐지 모델 평가 보고서",
            "> **경고: 감사에서 확인된 내부자가 3명뿐",
            "## 요약",
            "## 방법",
        ),
    ],
)
def test_few_people_are_warned_first_then_summary_then_method(
    language: str, title: str, warning: str, summary: str, method: str
) -> None:
    text = evaluation_markdown(_scoped(3, language))
    lines = [line for line in text.splitlines() if line]
    assert lines[0] == title and lines[1].startswith(warning)
    assert text.index(summary) < text.index(method)
    assert ".py" not in text and "detect/" not in text  # no pointers into the source
    assert small_sample_warning(_scoped(3, language)) is not None
    assert small_sample_warning(_scoped(10, language)) is None
    assert "> **" not in evaluation_markdown(_scoped(10, language))


def test_korean_report_reads_korean() -> None:
    text = evaluation_markdown(_scoped(12, "ko"))
    for english in ("Summary", "Method", "Caveats", "fewer", "Calibration", "Per fold", "model |"):
        assert english not in text, english
    assert "사용자 150명, 32일 (2026-09-01 ~ 2026-10-02)" in text
    assert "IsolationForest의 12건보다 7건 (58%) 적습니다" in text
    assert "1000번" in text


def test_intervals_are_in_the_cells_the_summary_and_the_json() -> None:
    findings = _scoped(12, "en")
    text = evaluation_markdown(findings)
    assert (
        "| ensemble | 0.900 (0.85-0.95) | 0.700 (0.60-0.80) | 50.0% (40-60%) | "
        "60.0% (50-70%) | 40.0% (30-50%) | 5 |"
    ) in text
    assert "| unsupervised | 0.900 (0.85-0.95) | 0.600 (0.60-0.80) | 40.0% (30-50%) |" in text
    assert "Calibration error (ECE, 10 bins) of the ensemble: 0.0123 (0.01-0.03)" in text
    assert "ROC-AUC 0.900 (0.85-0.95)" in text.split("## Results")[0]  # headline figures
    assert "resampled with replacement 1000 times" in text
    payload = json.loads(evaluation_json(findings))
    ci = payload["intervals_95"]
    assert ci["pooled"]["ensemble"]["roc_auc"] == [0.85, 0.95]
    assert ci["pooled"]["ensemble"]["resamples"] == 1000
    assert ci["user_level"]["unsupervised"]["ece"] == [0.01, 0.03]
    assert payload["scope"]["labelled_users"] == 12
    assert payload["small_sample_warning"] is None
