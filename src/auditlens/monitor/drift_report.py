"""The drift report as one self-contained HTML page (``auditlens monitor drift --html``):
no script, no font or stylesheet from the network, charts as inline SVG; headings in
Korean and English.

It shows the run (id, when, model sha256 and registry version, thresholds), the score and
alert-rate drift, every feature's PSI and KS worst first with drifted ones marked, small
reference-vs-run distributions of the score and the drifted (else the top) features, and
the recent runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

from auditlens.config import MonitoringConfig
from auditlens.features.docs import doc_for
from auditlens.localtime import local_time
from auditlens.monitor.drift import RISK, Bins
from auditlens.views.drift import DriftMeasure, DriftSummary, RunDrift

#: Feature distributions drawn at most (drifted first, then by PSI).
CHARTS: Final = 8
REFERENCE_COLOUR: Final = "#5b7fa6"
RUN_COLOUR: Final = "#e07b39"
DRIFT_COLOUR: Final = "#c0392b"

_WHY: Final = {
    "no_reference": (
        "its model was saved before auditlens kept a training reference; refit to measure",
        "모델이 학습 기준을 보관하기 전에 저장되었습니다. 새로 학습하면 측정됩니다",
    ),
    "too_few_rows": (
        "fewer new windows than drift_min_rows: too few to say",
        "새 구간이 drift_min_rows보다 적어 판단하기 어렵습니다",
    ),
    "not_recorded": (
        "the run was stored before auditlens measured drift",
        "auditlens가 드리프트를 측정하기 전에 저장된 실행입니다",
    ),
}

_STYLE: Final = """
body{font-family:"Noto Sans KR","Malgun Gothic","Apple SD Gothic Neo","NanumGothic",
sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid
#ddd;padding-bottom:4px}.ko{color:#555;font-weight:normal}
table{border-collapse:collapse;font-size:13px}td,th{padding:4px 10px;border-bottom:1px solid #eee;
text-align:right;white-space:nowrap}th{background:#f6f6f6}td:first-child,th:first-child{text-align:left;white-space:normal}
.meta td{text-align:left}.drift{color:#c0392b;font-weight:bold}.ok{color:#2e7d32}
.banner{padding:10px 14px;border-radius:6px;margin:14px 0;font-size:14px}
.bad{background:#fdecea;border:1px solid #f5c6cb}.good{background:#edf7ee;border:1px solid #c8e6c9}
.none{background:#fff8e1;border:1px solid #ffe082}
.charts{display:flex;flex-wrap:wrap;gap:14px}.chart{border:1px solid #eee;padding:6px}
.chart h3{font-size:13px;margin:2px 0 4px}.legend span{display:inline-block;width:10px;height:10px;
margin:0 4px 0 10px}.small{font-size:12px;color:#666}
"""


def render_html(
    drift: RunDrift,
    history: Sequence[DriftSummary],
    bins: dict[str, Bins],
    thresholds: MonitoringConfig,
    zone: str,
) -> str:
    """The report's HTML text (``bins``: the charts' data by measure name; may be empty)."""
    parts = [
        "<!DOCTYPE html><html lang='ko'><head><meta charset='utf-8'>",
        f"<title>auditlens drift — run {drift.run_id}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Drift report <span class='ko'>드리프트 보고서</span> — run {drift.run_id}</h1>",
        _meta(drift, thresholds, zone),
        _banner(drift),
    ]
    if drift.measured:
        parts += [
            _heading("Score and alert rate", "점수 및 경보 비율"),
            _score_table(drift),
            _charts([m for m in (drift.score,) if m is not None], bins),
            _heading("Features, worst first", "특성별 드리프트 (심한 순)"),
            _feature_table(drift),
            _heading(
                "Distributions: training reference vs this run", "분포 비교: 학습 기준 대 이번 실행"
            ),
            _legend(),
            _charts(_charted(drift), bins),
        ]
    parts += [_heading("Recent runs", "최근 실행"), _history(history, zone)]
    parts.append(
        "<p class='small'>PSI: population stability index (0.1 watch, 0.2 act); KS: "
        "largest gap between the two cumulative distributions. A measure has drifted when "
        "PSI or KS reaches its threshold and the KS p-value is below 0.01 divided by the "
        "number of measures. / PSI는 분포 안정성 지수, KS는 두 누적분포의 최대 차이입니다. "
        "PSI 또는 KS가 임계값 이상이고 KS p값이 0.01을 측정 수로 나눈 값보다 작으면 "
        "드리프트로 표시합니다.</p></body></html>"
    )
    return "\n".join(parts)


def _heading(en: str, ko: str) -> str:
    return f"<h2>{escape(en)} <span class='ko'>{escape(ko)}</span></h2>"


def _meta(drift: RunDrift, thresholds: MonitoringConfig, zone: str) -> str:
    version = "—" if drift.model_version is None else f"v{drift.model_version}"
    rows = [
        ("Run / 실행", f"{drift.run_id} · {local_time(drift.finished_at, zone)}"),
        ("Model / 모델", f"{drift.model_sha256[:12]} · {version}"),
        ("Windows compared / 비교한 구간", _count(drift.windows)),
        (
            "Measured at / 측정 시각",
            "—" if drift.measured_at is None else local_time(drift.measured_at, zone),
        ),
        (
            "Thresholds / 임계값",
            f"PSI ≥ {thresholds.drift_psi:g} · KS ≥ {thresholds.drift_ks:g} · alert rate x "
            f"{thresholds.drift_alert_rate:g} · min rows {thresholds.drift_min_rows:,}",
        ),
    ]
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table class='meta'>{body}</table>"


def _banner(drift: RunDrift) -> str:
    if not drift.measured:
        en, ko = _WHY.get(drift.unmeasured_reason or "", _WHY["not_recorded"])
        return (
            f"<div class='banner none'><b>Drift not measured</b>: {escape(en)}.<br>"
            f"<b>드리프트 미측정</b>: {escape(ko)}.</div>"
        )
    drifted = [m for m in drift.measures if m.drifted]
    if not drifted:
        return (
            f"<div class='banner good'><b>No drift</b>: {drift.features_measured} features, "
            "the score and the alert rate are within the thresholds.<br><b>드리프트 없음</b>: "
            f"특성 {drift.features_measured}개, 점수, 경보 비율이 모두 임계값 안에 있습니다.</div>"
        )
    names = ", ".join(escape(m.name) for m in drifted[:8]) + ("…" if len(drifted) > 8 else "")
    return (
        f"<div class='banner bad'><b>{len(drifted)} measure(s) drifted</b> "
        f"({drift.features_drifted} of {drift.features_measured} features): {names}<br>"
        f"<b>드리프트 {len(drifted)}건</b> (특성 {drift.features_measured}개 중 "
        f"{drift.features_drifted}개)</div>"
    )


def _score_table(drift: RunDrift) -> str:
    head = (
        "<tr><th>measure / 지표</th><th>reference / 기준</th><th>this run / 이번 실행</th>"
        "<th>PSI</th><th>KS</th><th>p</th><th>ratio / 배율</th><th></th></tr>"
    )
    rows = []
    if drift.score is not None:
        s = drift.score
        rows.append(
            f"<tr><td>risk (mean) / 위험도 평균</td><td>{number(s.reference_value)}</td>"
            f"<td>{number(s.current_value)}</td><td>{number(s.psi)}</td><td>{number(s.ks)}</td>"
            f"<td>{p_value(s.ks_pvalue)}</td><td>—</td><td>{_mark(s)}</td></tr>"
        )
    if drift.alert_rate is not None:
        a = drift.alert_rate
        rows.append(
            f"<tr><td>alert rate / 경보 비율</td><td>{percent(a.reference_value)}</td>"
            f"<td>{percent(a.current_value)}</td><td>—</td><td>—</td><td>{p_value(a.ks_pvalue)}</td>"
            f"<td>x{number(a.ratio)}</td><td>{_mark(a)}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _feature_table(drift: RunDrift) -> str:
    head = (
        "<tr><th>feature / 특성</th><th>PSI</th><th>KS</th><th>p</th>"
        "<th>reference mean / 기준 평균</th><th>run mean / 이번 평균</th><th></th></tr>"
    )
    rows = [
        f"<tr><td>{_label(m.name)}</td><td>{_bar(m)}</td><td>{number(m.ks)}</td>"
        f"<td>{p_value(m.ks_pvalue)}</td><td>{number(m.reference_value)}</td>"
        f"<td>{number(m.current_value)}</td><td>{_mark(m)}</td></tr>"
        for m in drift.measures
        if m.kind == "feature"
    ]
    return f"<table>{head}{''.join(rows)}</table>"


def _charted(drift: RunDrift) -> list[DriftMeasure]:
    features = [m for m in drift.measures if m.kind == "feature"]
    return features[:CHARTS]  # measures come drifted first, then by PSI


def _legend() -> str:
    return (
        f"<p class='legend small'><span style='background:{REFERENCE_COLOUR}'></span>"
        f"training reference / 학습 기준<span style='background:{RUN_COLOUR}'></span>"
        "this run / 이번 실행 (share of rows per bin / 구간별 비율)</p>"
    )


def _charts(measures: Sequence[DriftMeasure], bins: dict[str, Bins]) -> str:
    shown = [(m, bins[m.name]) for m in measures if m.name in bins]
    if not shown:
        return (
            "<p class='small'>No distribution kept for this run. / 이 실행의 분포 자료가 "
            "없습니다.</p>"
            if measures
            else ""
        )
    return "<div class='charts'>" + "".join(_chart(m, b) for m, b in shown) + "</div>"


def _chart(measure: DriftMeasure, binned: Bins) -> str:
    """Grouped bars (reference, run) per bin, with the bin labels under them."""
    width, height, top, bottom, left = 340, 170, 8, 46, 30
    n = len(binned.labels)
    peak = max(max(binned.reference), max(binned.current), 1e-9)
    slot = (width - left - 6) / n
    bar = max(slot * 0.38, 1.0)
    plot = height - top - bottom
    svg = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='{escape(measure.name)}'>",
        f"<line x1='{left}' y1='{top + plot}' x2='{width - 4}' y2='{top + plot}' stroke='#999'/>",
        f"<text x='{left - 4}' y='{top + 8}' font-size='9' text-anchor='end'>"
        f"{peak * 100:.0f}%</text>",
    ]
    for i, label in enumerate(binned.labels):
        x = left + i * slot + slot * 0.1
        for j, (share, colour) in enumerate(
            ((binned.reference[i], REFERENCE_COLOUR), (binned.current[i], RUN_COLOUR))
        ):
            h = plot * share / peak
            svg.append(
                f"<rect x='{x + j * bar:.1f}' y='{top + plot - h:.1f}' width='{bar:.1f}' "
                f"height='{h:.1f}' fill='{colour}'><title>{escape(label)}: "
                f"{share * 100:.1f}%</title></rect>"
            )
        cx = x + bar
        svg.append(
            f"<text x='{cx:.1f}' y='{top + plot + 10}' font-size='8' text-anchor='end' "
            f"transform='rotate(-40 {cx:.1f} {top + plot + 10})'>{escape(label)}</text>"
        )
    svg.append("</svg>")
    title = "risk (score) / 위험도" if measure.name == RISK else _label(measure.name)
    mark = " <span class='drift'>● drifted / 드리프트</span>" if measure.drifted else ""
    return (
        f"<div class='chart'><h3>{title}{mark}</h3>{''.join(svg)}<div class='small'>"
        f"PSI {number(measure.psi)} · KS {number(measure.ks)}</div></div>"
    )


def _history(history: Sequence[DriftSummary], zone: str) -> str:
    head = (
        "<tr><th>run / 실행</th><th>finished / 완료</th><th>features drifted / 드리프트 특성"
        "</th><th>score PSI / 점수 PSI</th><th>alert-rate ratio / 경보 비율 배율</th>"
        "<th></th></tr>"
    )
    rows = []
    for h in history:
        state = (
            "not measured / 미측정"
            if not h.measured
            else ("<span class='drift'>drifted / 드리프트</span>" if h.drifted else "ok / 정상")
        )
        rows.append(
            f"<tr><td>{h.run_id}</td><td>{escape(local_time(h.finished_at, zone))}</td>"
            f"<td>{h.features_drifted} / {h.features_measured}</td><td>{number(h.score_psi)}</td>"
            f"<td>{number(h.alert_rate_ratio)}</td><td>{state}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _label(column: str) -> str:
    try:
        doc = doc_for(column)
    except KeyError:
        return f"<code>{escape(column)}</code>"
    return (
        f"<code>{escape(column)}</code><br><span class='small'>{escape(doc.en)} · "
        f"{escape(doc.ko)}</span>"
    )


def _bar(measure: DriftMeasure) -> str:
    value = measure.psi
    if value is None:
        return "—"
    width = min(value / 0.5, 1.0) * 60
    return (
        f"<svg width='62' height='8' style='margin-right:6px'><rect width='{width:.1f}' "
        f"height='8' fill='{DRIFT_COLOUR if measure.drifted else REFERENCE_COLOUR}'/></svg>"
        f"{number(value)}"
    )


def _mark(measure: DriftMeasure) -> str:
    if measure.drifted:
        return "<span class='drift'>● drifted / 드리프트</span>"
    return "<span class='ok'>ok / 정상</span>"


def number(value: float | None, missing: str = "—") -> str:
    """A measure's value to three significant digits (``missing`` for none)."""
    return missing if value is None else f"{value:.3g}"


def percent(value: float | None, missing: str = "—") -> str:
    """A share as a percentage with two decimals (``missing`` for none)."""
    return missing if value is None else f"{value * 100:.2f}%"


def p_value(value: float | None, missing: str = "—") -> str:
    """A p-value: scientific below 0.001, else three decimals (``missing`` for none)."""
    return missing if value is None else (f"{value:.1e}" if value < 0.001 else f"{value:.3f}")


def _count(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"
