"""The e-mail digest's charts as PNG images (matplotlib, Korean font bundled).

Each chart has a ``*_figure`` builder (tests read its texts and bars) and is turned into
PNG bytes by :func:`png`; the digest attaches them as CID images (``reports/digest.py``).
Every label is in the report's language; departments are printed as the data names
them. The same report gives the same bytes: no timestamp is written into the PNG.

Example::

    image = png(trend_figure(data))
"""

from __future__ import annotations

import io
from typing import Final

import matplotlib

matplotlib.use("Agg")  # files only, no screen

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from auditlens.i18n import pick, severity_label
from auditlens.reports.charts import korean_font
from auditlens.reports.labels import SEVERITIES, SEVERITY_COLOURS, department_word
from auditlens.reports.model import ReportData

#: The severities' colours as matplotlib takes them (``#RRGGBB``).
COLOURS: Final[dict[str, str]] = {s: f"#{c}" for s, c in SEVERITY_COLOURS.items()}
#: Width of every chart in inches at :data:`DPI` (640 pixels: a mail column).
WIDTH: Final = 6.4
DPI: Final = 100


def _style() -> None:
    plt.rcParams["font.family"] = korean_font()
    plt.rcParams["axes.unicode_minus"] = False
    plt.rcParams["axes.spines.top"] = False
    plt.rcParams["axes.spines.right"] = False


def _legend(ax: Axes, columns: int) -> None:
    """The legend above the plot, right-aligned (the title is on the left): never over
    a bar or a line."""
    ax.legend(
        ncols=columns,
        fontsize=8,
        frameon=False,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        borderaxespad=0.2,
    )


def png(fig: Figure) -> bytes:
    """``fig`` as PNG bytes (closed afterwards; no creation time in the file)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def trend_figure(data: ReportData) -> Figure:
    """Alerts opened per local day, stacked by severity (``alert_trend.days``)."""
    _style()
    lang = data.lang
    days = data.alert_trend.days
    fig, ax = plt.subplots(figsize=(WIDTH, 2.8), layout="constrained")
    x = list(range(len(days)))
    bottom = [0] * len(days)
    for severity in SEVERITIES:
        heights = [d.by_severity.get(severity, 0) for d in days]
        ax.bar(
            x,
            heights,
            bottom=bottom,
            color=COLOURS[severity],
            label=severity_label(severity, lang),
            width=0.8,
        )
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    step = max(1, len(days) // 10)
    ax.set_xticks(x[::step], [f"{d.day.month}/{d.day.day}" for d in days][::step])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(pick(lang, "alerts", "알림 수"))
    ax.set_title(pick(lang, "Alerts opened per day", "일별 신규 알림"), loc="left")
    _legend(ax, len(SEVERITIES))
    return fig


def departments_figure(data: ReportData) -> Figure:
    """Alerts per department, stacked by severity (``severity_by_department``), the
    department with the most alerts on top."""
    _style()
    lang = data.lang
    table = data.severity_by_department
    # the table's order (most alerts first) from the top down: barh draws the last on top
    names = sorted(table, key=lambda d: (-sum(table[d].values()), d))[::-1]
    height = 1.2 + 0.32 * max(len(names), 1)
    fig, ax = plt.subplots(figsize=(WIDTH, height), layout="constrained")
    left = [0] * len(names)
    for severity in SEVERITIES:
        widths = [table[d].get(severity, 0) for d in names]
        ax.barh(
            [department_word(d, lang) for d in names],
            widths,
            left=left,
            color=COLOURS[severity],
            label=severity_label(severity, lang),
            height=0.7,
        )
        left = [a + w for a, w in zip(left, widths, strict=True)]
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(pick(lang, "alerts", "알림 수"))
    ax.set_title(pick(lang, "Alerts by department", "부서별 알림"), loc="left")
    if names:
        _legend(ax, len(SEVERITIES))
    return fig


def risk_figure(data: ReportData) -> Figure:
    """Each day's mean and highest risk (0-100) over the users scored that day
    (``activity.days``); days without scores are gaps."""
    _style()
    lang = data.lang
    days = data.activity.days
    x = list(range(len(days)))
    fig, ax = plt.subplots(figsize=(WIDTH, 2.6), layout="constrained")
    mean = [d.mean_risk if d.mean_risk is not None else float("nan") for d in days]
    top = [d.max_risk if d.max_risk is not None else float("nan") for d in days]
    for values, colour, label in (
        (top, COLOURS["critical"], pick(lang, "highest", "최고")),
        (mean, COLOURS["low"], pick(lang, "mean", "평균")),
    ):
        ax.plot(x, values, color=colour, marker="o", markersize=3, label=label)
    step = max(1, len(days) // 10)
    ax.set_xticks(x[::step], [f"{d.day.month}/{d.day.day}" for d in days][::step])
    ax.set_ylim(0, 100)
    ax.set_ylabel(pick(lang, "risk (0-100)", "위험도 (0-100)"))
    ax.set_title(pick(lang, "Risk of the users scored each day", "일별 사용자 위험도"), loc="left")
    _legend(ax, 2)
    return fig
