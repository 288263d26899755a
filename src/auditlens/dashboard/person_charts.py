"""The person page's charts (Plotly): the risk timeline with each point's model, the
contributions of a day's reasons as a waterfall, the day against the person's own usual
and their peers', and a session as a sequence of steps.

Every chart takes the reader's language and labels its axes in it; times are local to
the deployment's zone and say which zone. Functions return a figure and draw nothing, so
they are tested without Streamlit.
"""

from __future__ import annotations

import datetime as dt
import statistics
import zoneinfo
from collections.abc import Sequence
from typing import Any, Final

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from auditlens.dashboard.charts import DAY_TICKS
from auditlens.dashboard.widgets import SEVERITY_COLOURS, severity_word
from auditlens.features.catalog import LEVEL_RANK, SENSITIVE_RANK
from auditlens.features.docs import doc_for, token_words
from auditlens.i18n import pick
from auditlens.scoring import SEVERITY_CUTOFFS
from auditlens.views import HistoryDay, ReasonView, SessionStep, SessionView
from auditlens.vocabulary import Severity

#: Characters of a model's sha256 shown (as `auditlens models` prints them).
SHA_SHOWN: Final = 12
#: Line styles told apart without colour (one per model version, cycling).
_DASHES: Final = ("solid", "dot", "dash", "longdash", "dashdot")


def _layout(fig: Any, title: str, height: int = 320) -> Any:
    fig.update_layout(
        title={"text": title, "x": 0.0},
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def own_baseline(days: Sequence[HistoryDay]) -> float | None:
    """The person's usual risk over ``days``: the median of the days' risks (None: no day).

    >>> d = [HistoryDay(day=dt.date(2026, 9, n), risk=r, day_risk=r, severity=Severity.LOW,
    ...                 run_id=1, model_sha256="a" * 64) for n, r in ((1, 10.0), (2, 90.0))]
    >>> own_baseline(d + d[:1])
    10.0
    """
    return statistics.median(d.risk for d in days) if days else None


def risk_timeline(days: Sequence[HistoryDay], lang: str, *, alert_from: Severity) -> Any:
    """Risk per day, one line per model version (hover: run and model), points coloured by
    severity, the own baseline (median) and the alerting threshold as dashed lines."""
    fig = go.Figure()
    versions = list(dict.fromkeys(d.model_sha256 for d in days))
    for n, sha in enumerate(versions):
        mine = [d for d in days if d.model_sha256 == sha]
        fig.add_trace(
            go.Scatter(
                x=[d.day for d in mine],
                y=[d.risk for d in mine],
                mode="lines+markers",
                name=pick(lang, f"model {sha[:SHA_SHOWN]}", f"모델 {sha[:SHA_SHOWN]}"),
                line={"dash": _DASHES[n % len(_DASHES)], "color": "#555555"},
                marker={"color": [SEVERITY_COLOURS[d.severity] for d in mine], "size": 9},
                customdata=[
                    [severity_word(d.severity, lang), d.run_id, d.model_sha256[:SHA_SHOWN]]
                    for d in mine
                ],
                hovertemplate=pick(
                    lang,
                    "%{x}<br>risk %{y:.1f} (%{customdata[0]})<br>run %{customdata[1]}, "
                    "model %{customdata[2]}<extra></extra>",
                    "%{x}<br>위험도 %{y:.1f} (%{customdata[0]})<br>실행 %{customdata[1]}, "
                    "모델 %{customdata[2]}<extra></extra>",
                ),
            )
        )
    usual = own_baseline(days)
    if usual is not None:
        fig.add_hline(
            y=usual,
            line_dash="dash",
            line_color="#4c78a8",
            annotation_text=pick(lang, f"own usual {usual:.1f}", f"본인 평소 {usual:.1f}"),
        )
    cutoff = SEVERITY_CUTOFFS.get(alert_from)  # low has no lower bound: every day alerts
    if cutoff is not None:
        fig.add_hline(
            y=cutoff,
            line_dash="dot",
            line_color=SEVERITY_COLOURS[alert_from],
            annotation_text=pick(lang, f"alerts from {cutoff:.0f}", f"알림 기준 {cutoff:.0f}"),
            annotation_position="bottom right",
        )
    fig.update_yaxes(title=pick(lang, "risk (0-100)", "위험도 (0-100)"), range=[0, 100])
    fig.update_xaxes(title=pick(lang, "day", "날짜"), tickformat=DAY_TICKS)
    return _layout(fig, pick(lang, "Risk per day", "일별 위험도"))


def _label(reason: ReasonView, lang: str) -> str:
    return reason.label_ko if lang == "ko" else reason.label_en


def feature_label(feature: str, lang: str) -> str:
    """A feature column by its name in ``lang`` (the column itself when undocumented)."""
    try:
        doc = doc_for(feature)
    except KeyError:
        return feature
    return doc.ko if lang == "ko" else doc.en


def reason_items(reasons: Sequence[ReasonView], lang: str) -> list[tuple[str, float]]:
    """The stored reasons' contributions by feature name (those that have one)."""
    return [(_label(r, lang), r.contribution) for r in reasons if r.contribution is not None]


def contribution_waterfall(
    items: Sequence[tuple[str, float]], unit: str, lang: str, title: str | None = None
) -> Any:
    """Contributions ``(feature name, value)`` as a waterfall, largest first, to their total.

    ``unit`` is the run's: ``log_odds`` (SHAP values of the supervised model) or
    ``surprise`` (the unsupervised ensemble's tail surprise, in bits)."""
    ordered = sorted(items, key=lambda item: -abs(item[1]))
    names: list[str] = []
    for name, _ in ordered:  # Plotly merges equal category names: keep each bar
        names.append(name if name not in names else f"{name} ({names.count(name) + 1})")
    values = [float(v) for _, v in ordered]
    fig = go.Figure(
        go.Waterfall(
            orientation="h",
            y=[*names, pick(lang, "total", "합계")],
            x=[*values, sum(values)],
            measure=[*(["relative"] * len(values)), "total"],
            text=[f"{v:+.2f}" for v in values] + [f"{sum(values):.2f}"],
            textposition="outside",
        )
    )
    fig.update_yaxes(autorange="reversed")
    what = (
        pick(lang, "SHAP value (log-odds)", "SHAP 값 (로그 오즈)")
        if unit == "log_odds"
        else pick(lang, "tail surprise (bits)", "이례성 (비트)")
    )
    fig.update_xaxes(title=what)
    return _layout(fig, title or pick(lang, "What raised the risk", "위험도를 높인 요인"))


def baseline_bars(reasons: Sequence[ReasonView], lang: str) -> Any:
    """Each reason's value that day beside the person's own average and the peer group's
    (the averages the detector compared it with): one small chart per reason, each on its
    own scale (a count and a score do not share an axis)."""
    compared = [r for r in reasons if r.value is not None]
    series = [
        pick(lang, "that day", "당일"),
        pick(lang, "own average", "본인 평균"),
        pick(lang, "peer average", "동료 평균"),
    ]
    fig = make_subplots(
        rows=1, cols=max(1, len(compared)), subplot_titles=[_label(r, lang) for r in compared]
    )
    for n, reason in enumerate(compared, start=1):
        fig.add_trace(
            go.Bar(
                x=series,
                y=[reason.value, reason.own_average, reason.peer_average],
                marker_color=["#e4572e", "#4c78a8", "#72b7b2"],
                name=_label(reason, lang),
                showlegend=False,
            ),
            row=1,
            col=n,
        )
    return _layout(fig, pick(lang, "Against own usual and peers", "본인 평소·동료와 비교"))


def session_steps(session: SessionView, lang: str, zone: str) -> Any:
    """One session as its steps in time order: a marker per step labelled with the action,
    joined by a line; hover shows the resource and the pause before it."""
    tz = zoneinfo.ZoneInfo(zone)
    times = [s.at.astimezone(tz) for s in session.steps]
    words = [step_words(s, lang) for s in session.steps]
    fig = go.Figure(
        go.Scatter(
            x=times,
            y=list(range(1, len(times) + 1)),
            mode="lines+markers+text",
            text=words,
            textposition="middle right",
            marker={"size": 10, "color": "#a1172f" if session.flagged else "#4c78a8"},
            customdata=[[s.resource_id or "-", _pause(s.gap_seconds, lang)] for s in session.steps],
            hovertemplate="%{x|%H:%M:%S} %{text}<br>%{customdata[0]}<br>"
            "%{customdata[1]}<extra></extra>",
        )
    )
    label = times[0].tzname() if times else zone
    fig.update_xaxes(title=pick(lang, f"time ({label})", f"시각 ({label})"), tickformat="%H:%M")
    fig.update_yaxes(title=pick(lang, "step", "단계"), autorange="reversed")
    start = times[0].strftime("%H:%M") if times else ""
    return _layout(
        fig,
        pick(
            lang,
            f"Session {session.number} from {start} ({len(times)} steps)",
            f"세션 {session.number}: {start} 시작 ({len(times)}단계)",
        ),
        height=max(260, 28 * len(times) + 120),
    )


def step_words(step: SessionStep, lang: str) -> str:
    """A step as the sequence reason words it: the action, ``(민감)``/``(sensitive)`` on a
    high or critical resource (features/docs.py ``token_words``)."""
    sensitive = step.sensitivity is not None and LEVEL_RANK[step.sensitivity] >= SENSITIVE_RANK
    return token_words(f"{step.action}:{step.sensitivity}" if sensitive else step.action, lang)


def _pause(seconds: float | None, lang: str) -> str:
    if seconds is None:
        return pick(lang, "first step", "첫 단계")
    if seconds < 60:
        return pick(lang, f"{seconds:.0f} s after the previous", f"이전 단계 후 {seconds:.0f}초")
    minutes = seconds / 60
    return pick(lang, f"{minutes:.0f} min after the previous", f"이전 단계 후 {minutes:.0f}분")


def day_marker(fig: Any, day: dt.date) -> Any:
    """``fig`` with the chosen day marked by a vertical line."""
    fig.add_vline(x=day.isoformat(), line_width=1, line_color="#a1172f")
    return fig
