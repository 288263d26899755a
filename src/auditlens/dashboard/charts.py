"""The Overview's Plotly figures, built from read-model values (no store access here).

Every mark carries what it counts in ``customdata`` — ``[kind, ...values]`` — so a click
on it (``st.plotly_chart(on_select=...)``) names the list behind it: :func:`drill_of`
turns the clicked points into a :class:`Drill`. The heat map is drawn with square
markers rather than a Plotly heatmap trace because heatmap cells cannot be selected.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import plotly.graph_objects as go

from auditlens.dashboard.labels import department_label, scenario_label
from auditlens.dashboard.widgets import SEVERITIES, SEVERITY_COLOURS, severity_word
from auditlens.i18n import pick
from auditlens.views import Activity, AlertTrend

#: The most scenarios the scenario mix draws (the scenario filter offers every one).
TOP_SCENARIOS: Final = 12
#: Day axes read as numbers (Plotly's own labels are English month names: "Nov 14").
DAY_TICKS: Final = "%Y-%m-%d"
SHORT_DAY_TICKS: Final = "%m-%d"
_LAYOUT: Final[dict[str, Any]] = {
    "margin": {"l": 8, "r": 8, "t": 36, "b": 8},
    "height": 340,
    "legend": {"orientation": "h", "y": -0.15},
    "clickmode": "event+select",
    "dragmode": False,
}


@dataclass(frozen=True)
class Drill:
    """The list behind a click: alerts (``kind="alerts"``) or the riskiest users
    (``kind="risks"``) of ``days`` (None: the whole period), narrowed to the clicked
    departments, severities, scenarios (empty: the page's own filters)."""

    kind: Literal["alerts", "risks"]
    days: tuple[dt.date, dt.date] | None = None
    departments: tuple[str, ...] = field(default=())
    severities: tuple[str, ...] = field(default=())
    scenarios: tuple[str, ...] = field(default=())

    def as_state(self) -> dict[str, Any]:
        """The drill as plain values (kept in session state, set by tests)."""
        return {
            "kind": self.kind,
            "days": None if self.days is None else [d.isoformat() for d in self.days],
            "departments": list(self.departments),
            "severities": list(self.severities),
            "scenarios": list(self.scenarios),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Drill:
        """The drill :meth:`as_state` made."""
        days = state.get("days")
        return cls(
            kind="risks" if state.get("kind") == "risks" else "alerts",
            days=None
            if not days
            else (dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[1])),
            departments=tuple(state.get("departments", ())),
            severities=tuple(state.get("severities", ())),
            scenarios=tuple(state.get("scenarios", ())),
        )


def drill_of(points: Iterable[Mapping[str, Any]]) -> Drill | None:
    """The list behind the clicked (or lasso-selected) ``points`` of one chart; None
    when nothing known is selected. Several points widen the list to all of them."""
    marks = [list(p["customdata"]) for p in points if p.get("customdata")]
    if not marks:
        return None
    kind = marks[0][0]
    days = sorted({dt.date.fromisoformat(m[1]) for m in marks if kind in ("day", "risk")})
    span = (days[0], days[-1]) if days else None
    if kind == "day":  # [day, iso, severity]
        return Drill("alerts", span, severities=_unique(m[2] for m in marks))
    if kind == "risk":  # [risk, iso]
        return Drill("risks", span)
    if kind == "cell":  # [cell, department, severity]
        return Drill(
            "alerts",
            departments=_unique(m[1] for m in marks),
            severities=_unique(m[2] for m in marks),
        )
    if kind == "scenario":  # [scenario, name]
        return Drill("alerts", scenarios=_unique(m[1] for m in marks))
    return None


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(values)))


def alert_trend_figure(trend: AlertTrend, lang: str) -> go.Figure:
    """Alerts opened per day, stacked by severity."""
    figure = go.Figure()
    days = [d.day for d in trend.days]
    for severity in SEVERITIES:
        figure.add_bar(
            x=days,
            y=[d.by_severity.get(severity, 0) for d in trend.days],
            name=severity_word(severity, lang),
            marker_color=SEVERITY_COLOURS[severity],
            customdata=[["day", d.isoformat(), severity] for d in days],
            hovertemplate="%{x|%Y-%m-%d}: %{y}<extra>%{fullData.name}</extra>",
        )
    figure.update_layout(
        barmode="stack",
        title=pick(lang, "Alerts opened per day", "일별 신규 알림"),
        xaxis={"tickformat": SHORT_DAY_TICKS},
        yaxis_title=pick(lang, "alerts", "알림 수"),
        **_LAYOUT,
    )
    return figure


def risk_trend_figure(activity: Activity, lang: str) -> go.Figure:
    """Each day's mean and highest risk (0-100) over the users scored that day."""
    figure = go.Figure()
    days = [d.day for d in activity.days]
    custom = [["risk", d.isoformat()] for d in days]
    for name, values, colour in (
        (pick(lang, "mean risk", "평균 위험도"), [d.mean_risk for d in activity.days], "#4c78a8"),
        (pick(lang, "highest risk", "최고 위험도"), [d.max_risk for d in activity.days], "#a1172f"),
    ):
        figure.add_scatter(
            x=days,
            y=values,
            name=name,
            mode="lines+markers",
            line={"color": colour},
            customdata=custom,
            hovertemplate="%{x|%Y-%m-%d}: %{y:.1f}<extra>%{fullData.name}</extra>",
        )
    figure.update_layout(
        title=pick(lang, "Risk per day (users scored)", "일별 위험도 (점수 산출 사용자)"),
        xaxis={"tickformat": SHORT_DAY_TICKS},
        yaxis={"range": [0, 105], "title": pick(lang, "risk 0-100", "위험도 0-100")},
        **_LAYOUT,
    )
    return figure


def heatmap_figure(trend: AlertTrend, lang: str) -> go.Figure:
    """Alerts per department and severity: one square per cell, darker for more."""
    cells = trend.by_department_severity
    departments = list(cells)
    xs, ys, counts, custom = [], [], [], []
    for department in departments:
        for severity in SEVERITIES:
            xs.append(severity_word(severity, lang))
            ys.append(department_label(department, lang))
            counts.append(cells[department].get(severity, 0))
            custom.append(["cell", department, severity])
    top = max(counts, default=0) or 1
    figure = go.Figure(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers+text",
            text=[str(n) for n in counts],
            textfont={"color": ["#ffffff" if n > top * 0.55 else "#222222" for n in counts]},
            marker={
                "symbol": "square",
                "size": 38,
                "color": counts,
                "cmin": 0,
                "cmax": top,
                "colorscale": "Reds",
                "line": {"width": 1, "color": "#dddddd"},
            },
            customdata=custom,
            hovertemplate="%{y} · %{x}: %{text}<extra></extra>",
        )
    )
    figure.update_layout(
        title=pick(lang, "Alerts by department and severity", "부서·심각도별 알림"),
        xaxis={
            "categoryorder": "array",
            "categoryarray": [severity_word(s, lang) for s in SEVERITIES],
        },
        yaxis={"autorange": "reversed"},
        **{**_LAYOUT, "height": max(260, 44 * len(departments) + 90)},
    )
    return figure


def scenario_figure(by_scenario: Mapping[str, int], lang: str) -> go.Figure:
    """The alerts' scenarios, most frequent first (the :data:`TOP_SCENARIOS` largest)."""
    ranked: Sequence[tuple[str, int]] = sorted(by_scenario.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = list(ranked[:TOP_SCENARIOS])[::-1]  # the largest on top
    figure = go.Figure(
        go.Bar(
            x=[n for _, n in shown],
            y=[scenario_label(s, lang) for s, _ in shown],
            orientation="h",
            marker_color="#4c78a8",
            customdata=[["scenario", s] for s, _ in shown],
            hovertemplate="%{y}: %{x}<extra></extra>",
        )
    )
    figure.update_layout(
        title=pick(lang, "Scenario mix", "시나리오 구성"),
        **{**_LAYOUT, "height": max(260, 28 * len(shown) + 90)},
    )
    return figure
