"""evaluation.md and the charts speak one language: English with no Hangul, or Korean."""

from __future__ import annotations

import re
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from auditlens.reports import charts
from auditlens.reports.evaluation import evaluation_markdown, fallback_text
from tests.reports.test_evaluation import _scoped

HANGUL = re.compile(r"[\uac00-\ud7a3]")
#: Words that are the same in both languages: figures' names, model and classifier ids
#: in the method's code spans, dates and numbers.
NEUTRAL = re.compile(
    r"`[^`]*`|ROC-AUC|PR-AUC|ECE|IsolationForest|SHAP|k|prec@k|det@\d+%|FP@\d+%|"
    r"lightgbm|xgboost|random_forest|[\d.,:%()~\-+|#*>/=@ ]+"
)
COLUMNS = ["login_count", "bulk_action_count", "peer_z_sensitive_access_count"]


def _report(lang: str) -> str:
    findings = _scoped(3, lang)  # below the minimum of people: the warning is shown too
    findings = replace(findings, fallback=fallback_text(4, 10, lang))
    return evaluation_markdown(findings)


def test_english_report_has_no_hangul() -> None:
    text = _report("en")
    assert not HANGUL.search(text), HANGUL.findall(text)[:10]
    assert "## Summary" in text and "**Fallback:** only 4 labelled positive windows" in text


def test_korean_report_is_korean_prose() -> None:
    text = _report("ko")
    assert text.index("## 요약") < text.index("## 방법")  # plain summary first, method after
    for line in text.splitlines():
        if not line.strip() or set(line) <= set("|-"):
            continue
        # every line with words carries Hangul; a line without is only figures and ids
        if not HANGUL.search(line):
            assert not NEUTRAL.sub("", line).strip(), f"English in the Korean report: {line!r}"
    for model in ("isolation_forest", "unsupervised", "ensemble"):
        assert f"| {model} |" not in text and f"- {model}:" not in text
    assert "| 스태킹 앙상블 |" in text and "| 비지도 모델 |" in text
    assert "**대체 평가:** 확인된 이상 일자가 4개뿐이라" in text


def _texts(fig: Figure) -> list[str]:
    """Every text a person sees on the figure: titles, axis labels, ticks, legend, notes."""
    found = []
    for ax in fig.axes:
        found += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        found += [t.get_text() for t in ax.get_yticklabels() + ax.get_xticklabels()]
        found += [t.get_text() for t in ax.texts]
        legend = ax.get_legend()
        if legend is not None:
            found += [t.get_text() for t in legend.get_texts()]
    plt.close(fig)
    return [t for t in found if t]


def _figures(lang: str) -> dict[str, list[str]]:
    rng = np.random.default_rng(0)
    contrib = rng.normal(size=(20, len(COLUMNS)))
    values = rng.uniform(size=(20, len(COLUMNS)))
    names = charts.feature_labels(COLUMNS, lang)
    curve = (np.array([0.0, 0.5, 1.0]), np.array([1.0, 0.6, 0.2]))
    return {
        "beeswarm": _texts(charts.beeswarm_figure(contrib, values, names, title="t", lang=lang)),
        "waterfall": _texts(
            charts.waterfall_figure(contrib[0], names, -2.0, title="t", lang=lang, top=2)
        ),
        "pr": _texts(
            charts.pr_curves_figure(
                {"ensemble": curve},
                title="t",
                lang=lang,
                names={"ensemble": "스태킹 앙상블" if lang == "ko" else "stacked ensemble"},
            )
        ),
    }


def test_english_charts_have_no_hangul_and_english_feature_names() -> None:
    figures = _figures("en")
    for name, texts in figures.items():
        assert not [t for t in texts if HANGUL.search(t)], (name, texts)
    assert "logins" in figures["beeswarm"]  # the SHAP rows are the English feature names
    assert "sensitive-resource accesses (vs peer group)" in figures["beeswarm"]
    assert "other features" in figures["waterfall"]
    assert {"recall", "precision", "stacked ensemble"} <= set(figures["pr"])


@pytest.mark.parametrize("chart", ["beeswarm", "waterfall", "pr"])
def test_korean_charts_are_labelled_in_korean(chart: str) -> None:
    texts = [t for t in _figures("ko")[chart] if t != "t"]
    words = [t for t in texts if re.search(r"[a-z]{3,}", t)]  # acronyms (USB) are fine
    assert not words, words  # no English word on a Korean chart
    assert any(HANGUL.search(t) for t in texts)
    if chart == "beeswarm":
        assert "로그인 횟수" in texts
