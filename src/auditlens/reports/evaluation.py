"""The evaluation report: what `auditlens evaluate` found, as Markdown and as JSON.

Written for a model-risk reviewer and for management: a plain summary first (what was
measured, on how many people and days, the headline figures with their 95% intervals,
the caveats), the method after. Korean or English by the language setting. The pipeline
computes an :class:`EvaluationFindings`; nothing here computes a metric or touches a file.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from auditlens.detect.bootstrap import Intervals
from auditlens.detect.evaluation import Fold, Metrics
from auditlens.reports.evaluation_text import interval_of, model_name, say, span

Curve = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]


@dataclass(frozen=True)
class Scope:
    """What the evaluation covered: people, days, and how many had a confirmed finding."""

    users: int
    days: int
    first_day: dt.date
    last_day: dt.date
    labelled_users: int
    positive_windows: int
    min_users: int


@dataclass(frozen=True)
class EvaluationFindings:
    """Everything the evaluation report shows.

    ``pooled`` holds each model's metrics over the pooled test folds (window level),
    ``per_fold`` the same per fold, ``user_level`` each user's highest test score;
    ``recall_target`` is the recall at which false positives are compared, ``ece`` the
    ensemble's calibration error (None without an ensemble), ``chosen`` the classifiers'
    hyper-parameters, ``fallback`` why only the unsupervised models were evaluated, and
    ``curves`` each model's (recall, precision) points. ``intervals`` and
    ``user_intervals`` are the 95% bootstrap intervals (over users) of ``pooled`` and
    ``user_level``; ``scope`` what was covered; ``language`` ko or en.
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
    intervals: dict[str, Intervals] = field(default_factory=dict)
    user_intervals: dict[str, Intervals] = field(default_factory=dict)
    scope: Scope | None = None
    bootstrap_seconds: float = 0.0
    language: str = "en"


def evaluation_payload(findings: EvaluationFindings) -> dict[str, Any]:
    """The findings as JSON-ready plain data (what ``evaluation.json`` holds)."""
    scope = findings.scope
    return {
        "fold_kind": _fold_kind(findings),
        "folds": [
            {"fold": f.number, "test_from": str(f.test_from), "test_until": str(f.test_until)}
            | ({} if f.test_users is None else {"test_users": len(f.test_users)})
            for f in findings.folds
        ],
        "scope": None if scope is None else asdict(scope),
        "small_sample_warning": small_sample_warning(findings),
        "recall_target": findings.recall_target,
        "ece_ensemble": findings.ece,
        "chosen_params": findings.chosen,
        "fallback": findings.fallback,
        "pooled": {n: m.as_dict() for n, m in findings.pooled.items()},
        "per_fold": {n: [m.as_dict() for m in ms] for n, ms in findings.per_fold.items()},
        "user_level": {n: m.as_dict() for n, m in findings.user_level.items()},
        "intervals_95": {
            "method": "bootstrap over users, percentile",
            "pooled": {n: ci.as_dict() for n, ci in findings.intervals.items()},
            "user_level": {n: ci.as_dict() for n, ci in findings.user_intervals.items()},
        },
    }


def evaluation_json(findings: EvaluationFindings) -> str:
    """The text of ``evaluation.json``."""
    return json.dumps(evaluation_payload(findings), indent=2, default=str)


def small_sample_warning(findings: EvaluationFindings) -> str | None:
    """The loud warning when fewer people than the documented minimum have a confirmed
    finding, in the findings' language; None when there are enough (or no scope)."""
    scope = findings.scope
    if scope is None or scope.labelled_users >= scope.min_users:
        return None
    return say(findings.language, "small_sample", n=scope.labelled_users, need=scope.min_users)


def fallback_text(positives: int, need: int, lang: str) -> str:
    """Why only the unsupervised models were evaluated."""
    return say(lang, "fallback", n=positives, need=need)


def false_positive_comparison(pooled: dict[str, Metrics], recall: float, lang: str = "en") -> str:
    """ "At the same recall the ensemble raises N false positives against M: K fewer (or
    more)", or "" when the ensemble was not evaluated."""
    if "ensemble" not in pooled or "isolation_forest" not in pooled:
        return ""
    fp_if = pooled["isolation_forest"].false_positives_at_recall or 0
    fp_en = pooled["ensemble"].false_positives_at_recall or 0
    return say(
        lang,
        "fewer" if fp_en <= fp_if else "more",
        recall=f"{recall:.0%}",
        ensemble=f"{fp_en:,}",
        forest=f"{fp_if:,}",
        diff=f"{abs(fp_if - fp_en):,}",
        share=f"{abs(fp_if - fp_en) / max(fp_if, 1):.0%}",
    )


def _cell(value: float, interval: tuple[float, float] | None, percent: bool) -> str:
    text = f"{value:.1%}" if percent else f"{value:.3f}"
    shown = span(interval, percent)
    return f"{text} ({shown})" if shown else text


def evaluation_markdown(findings: EvaluationFindings) -> str:
    """The text of ``evaluation.md``: warning, summary, results with intervals, method."""
    lang = findings.language
    lines = [f"# {say(lang, 'title')}", ""]
    warning = small_sample_warning(findings)
    if warning:
        lines += [f"> **{say(lang, 'warning')}: {warning}**", ""]
    lines += _summary(findings)
    lines += _pooled_section(findings)
    lines += ["", f"### {say(lang, 'user_level')}", ""]
    lines += [f"| {say(lang, 'model')} | ROC-AUC | PR-AUC | {say(lang, 'prec_k')} |"]
    lines += ["|---|---|---|---|"]
    for name, m in findings.user_level.items():
        ci = findings.user_intervals.get(name)
        lines.append(
            f"| {model_name(lang, name)} | {_cell(m.roc_auc, interval_of(ci, 'roc_auc'), False)} | "
            f"{_cell(m.pr_auc, interval_of(ci, 'pr_auc'), False)} | "
            f"{_cell(m.precision_at_k, interval_of(ci, 'precision_at_k'), True)} |"
        )
    return "\n".join(lines + _method(findings)) + "\n"


def _headline_model(findings: EvaluationFindings) -> str | None:
    for name in ("ensemble", "unsupervised", "isolation_forest"):
        if name in findings.user_level:
            return name
    return None


def _summary(findings: EvaluationFindings) -> list[str]:
    lang, scope = findings.language, findings.scope
    lines = [f"## {say(lang, 'summary')}", "", say(lang, "measured")]
    if scope is not None:
        lines += [
            "",
            "- "
            + say(
                lang,
                "covered",
                users=f"{scope.users:,}",
                days=scope.days,
                first=scope.first_day,
                last=scope.last_day,
                test_from=findings.folds[0].test_from,
                test_until=findings.folds[-1].test_until - dt.timedelta(days=1),
                labelled=scope.labelled_users,
                windows=f"{scope.positive_windows:,}",
            ),
        ]
    name = _headline_model(findings)
    if name is not None:
        users, ci = findings.user_level[name], findings.user_intervals.get(name)
        pooled, pci = findings.pooled.get(name), findings.intervals.get(name)
        lines.append(
            "- "
            + say(
                lang,
                "headline",
                model=model_name(lang, name),
                tested=users.positives,
                roc=_cell(users.roc_auc, interval_of(ci, "roc_auc"), False),
            )
        )
        prec = _cell(users.precision_at_k, interval_of(ci, "precision_at_k"), True)
        lines.append("- " + say(lang, "headline_top", prec=prec))
        if pooled is not None:
            lines.append(
                "- "
                + say(
                    lang,
                    "headline_windows",
                    det5=_cell(
                        pooled.detection_at_5pct_fpr,
                        interval_of(pci, "detection_at_5pct_fpr"),
                        True,
                    ),
                    det10=_cell(
                        pooled.detection_at_10pct_fpr,
                        interval_of(pci, "detection_at_10pct_fpr"),
                        True,
                    ),
                )
            )
    if findings.ece is not None:
        ece_ci = findings.intervals.get("ensemble")
        lines.append("- " + say(lang, "ece", ece=_ece(findings.ece, ece_ci)))
    lines += ["", f"**{say(lang, 'caveats')}**", ""]
    if findings.fallback:
        lines.append(f"- **{say(lang, 'fallback_label')}:** {findings.fallback}.")
    lines += [f"- {say(lang, key)}" for key in ("caveat_intervals", "caveat_labels", "caveat_time")]
    return lines


def _ece(value: float, ci: Intervals | None) -> str:
    shown = span(None if ci is None else ci.ece)
    return f"{value:.4f}" + (f" ({shown})" if shown else "")


def _pooled_section(findings: EvaluationFindings) -> list[str]:
    lang, target = findings.language, findings.recall_target
    lines = [
        "",
        f"## {say(lang, 'results')}",
        "",
        say(lang, "interval_note"),
        "",
        f"### {say(lang, 'pooled', recall=f'{target:.0%}')}",
        "",
        f"| {say(lang, 'model')} | ROC-AUC | PR-AUC | {say(lang, 'det5')} | {say(lang, 'det10')} "
        f"| {say(lang, 'prec_k')} | {say(lang, 'fp_at', recall=f'{target:.0%}')} |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in findings.pooled.items():
        ci = findings.intervals.get(name)
        lines.append(
            f"| {model_name(lang, name)} | {_cell(m.roc_auc, interval_of(ci, 'roc_auc'), False)} | "
            f"{_cell(m.pr_auc, interval_of(ci, 'pr_auc'), False)} | "
            f"{_cell(m.detection_at_5pct_fpr, interval_of(ci, 'detection_at_5pct_fpr'), True)} | "
            f"{_cell(m.detection_at_10pct_fpr, interval_of(ci, 'detection_at_10pct_fpr'), True)} | "
            f"{_cell(m.precision_at_k, interval_of(ci, 'precision_at_k'), True)} | "
            f"{m.false_positives_at_recall} |"
        )
    comparison = false_positive_comparison(findings.pooled, target, lang)
    if comparison:
        lines += ["", f"**{comparison}**"]
    if findings.ece is not None:
        lines += [
            "",
            say(lang, "ece_line", ece=_ece(findings.ece, findings.intervals.get("ensemble"))),
        ]
    return lines


def _fold_kind(findings: EvaluationFindings) -> str:
    """``users`` for person-grouped folds, else ``time``."""
    return "users" if findings.folds and findings.folds[0].test_users is not None else "time"


def _method(findings: EvaluationFindings) -> list[str]:
    lang = findings.language
    any_ci = next(iter(findings.intervals.values()), None)
    lines = ["", f"## {say(lang, 'method')}", ""]
    if _fold_kind(findings) == "users":
        lines += [say(lang, "method_user_folds"), ""]
        lines += [f"| {say(lang, 'fold')} | {say(lang, 'test_people')} |", "|---|---|"]
        lines += [f"| {f.number} | {len(f.test_users or ())} |" for f in findings.folds]
    else:
        lines += [say(lang, "method_folds"), ""]
        lines += [f"| {say(lang, 'fold')} | {say(lang, 'test_from')} | {say(lang, 'test_until')} |"]
        lines += ["|---|---|---|"]
        lines += [f"| {f.number} | {f.test_from} | {f.test_until} |" for f in findings.folds]
    lines += ["", say(lang, "method_labels"), "", say(lang, "method_user_level")]
    if any_ci is not None:
        lines += [
            "",
            say(
                lang,
                "method_bootstrap",
                resamples=any_ci.resamples,
                seconds=f"{findings.bootstrap_seconds:.1f}",
            ),
        ]
    lines += ["", say(lang, "method_fp", recall=f"{findings.recall_target:.0%}")]
    lines += ["", f"### {say(lang, 'per_fold')}", ""]
    for name, ms in findings.per_fold.items():
        lines.append(f"- {model_name(lang, name)}: " + ", ".join(f"{m.pr_auc:.3f}" for m in ms))
    if findings.chosen:
        lines += ["", f"### {say(lang, 'chosen')}", ""]
        lines += [f"- {k}: `{json.dumps(v)}`" for k, v in findings.chosen.items()]
    return lines
