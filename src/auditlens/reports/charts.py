"""Charts for people: SHAP summary (beeswarm) and per-user waterfall, PR curves.

Every label is in the report's language (``lang``: titles, axes, legend; feature names
come from the caller, e.g. ``features.docs``). Each chart has a ``*_figure`` builder that
returns the matplotlib figure (tests read its texts) and a function that saves it.

Korean labels need a Korean font; none is assumed on the machine. The NanumGothic files
shipped inside the ``koreanize-matplotlib`` package (a registry dependency) are
registered with matplotlib directly — without importing that package, which changes
global settings on import.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no screen

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
from matplotlib import font_manager
from matplotlib.figure import Figure

from auditlens.errors import AuditlensError
from auditlens.features.docs import doc_for
from auditlens.i18n import pick

FONT_FAMILY = "NanumGothic"


def korean_font() -> str:
    """Register the bundled NanumGothic fonts once; return the family name."""
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise AuditlensError(
            "the koreanize-matplotlib package (bundled Korean font) is not installed",
            hint="reinstall auditlens: pip install -e .",
            ko="koreanize-matplotlib 패키지(한글 글꼴 포함)가 설치되어 있지 않습니다",
            ko_hint="auditlens를 다시 설치하십시오: pip install -e .",
        )
    fonts = Path(next(iter(spec.submodule_search_locations))) / "fonts"
    known = {f.fname for f in font_manager.fontManager.ttflist}
    for path in sorted(fonts.glob("*.ttf")):
        if str(path) not in known:
            font_manager.fontManager.addfont(str(path))
    return FONT_FAMILY


def feature_labels(columns: Sequence[str], lang: str) -> list[str]:
    """How each feature column is named on a chart, in ``lang`` (``features.docs``)."""
    return [pick(lang, doc_for(c).en, doc_for(c).ko) for c in columns]


def _style() -> None:
    plt.rcParams["font.family"] = korean_font()
    plt.rcParams["axes.unicode_minus"] = False


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)
    return path


def beeswarm(
    contributions: npt.NDArray[np.float64],
    values: npt.NDArray[np.float64],
    names: Sequence[str],
    path: Path,
    *,
    title: str,
    lang: str = "ko",
    top: int = 15,
) -> Path:
    """Save :func:`beeswarm_figure` to ``path``."""
    return _save(
        beeswarm_figure(contributions, values, names, title=title, lang=lang, top=top), path
    )


def beeswarm_figure(
    contributions: npt.NDArray[np.float64],
    values: npt.NDArray[np.float64],
    names: Sequence[str],
    *,
    title: str,
    lang: str = "ko",
    top: int = 15,
) -> Figure:
    """SHAP-style summary: one row per feature (largest mean |contribution| first), a dot
    per window at its contribution, coloured by the feature's value (low blue, high red)."""
    _style()
    order = np.argsort(-np.abs(contributions).mean(axis=0))[:top][::-1]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(order) + 1.5))
    rng = np.random.default_rng(0)
    for row, j in enumerate(order):
        v = values[:, j]
        span = np.ptp(v) or 1.0
        colour = (v - v.min()) / span
        jitter = rng.uniform(-0.25, 0.25, v.size)
        ax.scatter(contributions[:, j], row + jitter, c=colour, cmap="coolwarm", s=8, alpha=0.7)
    ax.set_yticks(range(len(order)), [names[j] for j in order])
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel(pick(lang, "contribution (log-odds)", "기여도 (로그 오즈)"))
    ax.set_title(title)
    return fig


def waterfall(
    contributions: npt.NDArray[np.float64],
    names: Sequence[str],
    base: float,
    path: Path,
    *,
    title: str,
    lang: str = "ko",
    top: int = 10,
) -> Path:
    """Save :func:`waterfall_figure` to ``path``."""
    return _save(
        waterfall_figure(contributions, names, base, title=title, lang=lang, top=top), path
    )


def waterfall_figure(
    contributions: npt.NDArray[np.float64],
    names: Sequence[str],
    base: float,
    *,
    title: str,
    lang: str = "ko",
    top: int = 10,
) -> Figure:
    """One window: bars from the base log-odds, feature by feature, to the final value."""
    _style()
    order = np.argsort(-np.abs(contributions))[:top]
    rest = float(contributions.sum() - contributions[order].sum())
    other = pick(lang, "other features", "기타 특성")
    labels = [names[j] for j in order] + ([other] if abs(rest) > 1e-12 else [])
    steps = [float(contributions[j]) for j in order] + ([rest] if abs(rest) > 1e-12 else [])
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(steps) + 1.5))
    level = base
    for row, step in enumerate(steps):
        ax.barh(row, step, left=level, color="#c0392b" if step > 0 else "#2e86c1")
        ax.text(level + step, row, f" {step:+.2f}", va="center", fontsize=8)
        level += step
    ax.set_yticks(range(len(steps)), labels)
    ax.invert_yaxis()
    ax.axvline(base, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xlabel(
        pick(
            lang,
            f"log-odds (base {base:+.2f} → {level:+.2f})",
            f"로그 오즈 (기준 {base:+.2f} → {level:+.2f})",
        )
    )
    ax.set_title(title)
    return fig


def pr_curves(
    curves: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]],
    path: Path,
    *,
    title: str,
    lang: str = "ko",
    names: dict[str, str] | None = None,
) -> Path:
    """Save :func:`pr_curves_figure` to ``path``."""
    return _save(pr_curves_figure(curves, title=title, lang=lang, names=names), path)


def pr_curves_figure(
    curves: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]],
    *,
    title: str,
    lang: str = "ko",
    names: dict[str, str] | None = None,
) -> Figure:
    """Precision-recall curves, one line per model: {name: (recall, precision)};
    ``names`` gives a model's label in the legend (else its key)."""
    _style()
    fig, ax = plt.subplots(figsize=(7, 5))
    for name, (recall, precision) in curves.items():
        ax.plot(recall, precision, label=(names or {}).get(name, name))
    ax.set_xlabel(pick(lang, "recall", "재현율"))
    ax.set_ylabel(pick(lang, "precision", "정밀도"))
    ax.set_title(title)
    ax.legend()
    return fig
