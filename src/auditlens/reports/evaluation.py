"""The evaluation report: what `auditlens evaluate` found, as Markdown and as JSON.

The pipeline computes an :class:`EvaluationFindings` and writes what these functions
render; nothing here computes a metric or touches a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from auditlens.detect.evaluation import Fold, Metrics

Curve = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]


@dataclass(frozen=True)
class EvaluationFindings:
    """Everything the evaluation report shows.

    ``pooled`` holds each model's metrics over the pooled test folds (window level),
    ``per_fold`` the same per fold, ``user_level`` each user's highest test score;
    ``recall_target`` is the recall at which false positives are compared, ``ece`` the
    ensemble's calibration error (None without an ensemble), ``chosen`` the classifiers'
    hyper-parameters, ``fallback`` why only the unsupervised models were evaluated, and
    ``curves`` each model's (recall, precision) points.
    """

    folds: list[Fold]
    recall_target: float
    ece: float | None
    chosen: dict[str, dict[str, Any]]
    fallback: str | None
    pooled: dict[str, Metrics]
    per_fold: dict[str, list[Metrics]]
    user_level: dict[str, Metrics]
    curves: dict[str, Curve]


def evaluation_payload(findings: EvaluationFindings) -> dict[str, Any]:
    """The findings as JSON-ready plain data (what ``evaluation.json`` holds)."""
    return {
        "folds": [
            {"fold": f.number, "test_from": str(f.test_from), "test_until": str(f.test_until)}
            for f in findings.folds
        ],
        "recall_target": findings.recall_target,
        "ece_ensemble": findings.ece,
        "chosen_params": findings.chosen,
        "fallback": findings.fallback,
        "pooled": {n: m.as_dict() for n, m in findings.pooled.items()},
        "per_fold": {n: [m.as_dict() for m in ms] for n, ms in findings.per_fold.items()},
        "user_level": {n: m.as_dict() for n, m in findings.user_level.items()},
    }


def evaluation_json(findings: EvaluationFindings) -> str:
    """The text of ``evaluation.json``."""
    return json.dumps(evaluation_payload(findings), indent=2, default=str)


def false_positive_comparison(pooled: dict[str, Metrics], recall: float) -> str:
    """ "At the same recall the ensemble raises N false positives against M: K fewer (or
    more)", or "" when the ensemble was not evaluated."""
    if "ensemble" not in pooled or "isolation_forest" not in pooled:
        return ""
    fp_if = pooled["isolation_forest"].false_positives_at_recall or 0
    fp_en = pooled["ensemble"].false_positives_at_recall or 0
    change = "fewer" if fp_en <= fp_if else "more"
    return (
        f"At the same recall ({recall:.0%}) the ensemble raises {fp_en:,} false positives "
        f"against IsolationForest's {fp_if:,}: {abs(fp_if - fp_en):,} {change} "
        f"({abs(fp_if - fp_en) / max(fp_if, 1):.0%})."
    )


def evaluation_markdown(findings: EvaluationFindings) -> str:
    """The text of ``evaluation.md``: folds, pooled and user-level tables, per-fold PR-AUC
    and the chosen hyper-parameters."""
    lines = [
        "# Evaluation / 평가 (time-aware)",
        "",
        "Each fold trains on earlier days and tests on the following block of days; no "
        "(user, window) is ever in both. Windows of a labelled user outside their labelled "
        "period are excluded (see detect/labels.py).",
        "",
    ]
    if findings.fallback:
        lines += [f"**Fallback:** {findings.fallback}.", ""]
    lines += ["| fold | test from | test until |", "|---|---|---|"]
    lines += [f"| {f.number} | {f.test_from} | {f.test_until} |" for f in findings.folds]
    lines += _pooled_section(findings)
    lines += ["", "## User level (each user's highest test score)", ""]
    lines += ["| model | ROC-AUC | PR-AUC | precision@k |", "|---|---|---|---|"]
    for name, m in findings.user_level.items():
        lines.append(f"| {name} | {m.roc_auc:.3f} | {m.pr_auc:.3f} | {m.precision_at_k:.1%} |")
    lines += ["", "## Per fold (PR-AUC)", ""]
    for name, ms in findings.per_fold.items():
        lines.append(f"- {name}: " + ", ".join(f"{m.pr_auc:.3f}" for m in ms))
    if findings.chosen:
        lines += ["", "## Chosen hyper-parameters (best mean PR-AUC over the folds)", ""]
        lines += [f"- {k}: `{json.dumps(v)}`" for k, v in findings.chosen.items()]
    return "\n".join(lines) + "\n"


def _pooled_section(findings: EvaluationFindings) -> list[str]:
    target = findings.recall_target
    lines = [
        "",
        f"## Pooled over the test folds (window level); FP at recall {target:.0%} = the "
        "recall IsolationForest alone reaches when flagging as many windows as there are "
        "positives",
        "",
        "| model | ROC-AUC | PR-AUC | det. @5% FPR | det. @10% FPR | precision@k | "
        f"false positives @ recall {target:.0%} |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in findings.pooled.items():
        lines.append(
            f"| {name} | {m.roc_auc:.3f} | {m.pr_auc:.3f} | {m.detection_at_5pct_fpr:.1%} | "
            f"{m.detection_at_10pct_fpr:.1%} | {m.precision_at_k:.1%} | "
            f"{m.false_positives_at_recall} |"
        )
    comparison = false_positive_comparison(findings.pooled, target)
    if comparison:
        lines += ["", f"**{comparison}**"]
    if findings.ece is not None:
        lines += ["", f"Calibration error (ECE, 10 bins) of the ensemble: {findings.ece:.4f}"]
    return lines
