"""Printing a run's drift (`auditlens monitor drift`): the run, the verdict, the score and
alert rate, then every feature worst first with the drifted ones marked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from auditlens.cli.common import console
from auditlens.cli.tables import Column, feature_label, print_table
from auditlens.i18n import pick
from auditlens.localtime import local_time
from auditlens.monitor.drift_report import number, p_value, percent

if TYPE_CHECKING:
    from auditlens.pipeline.drift import DriftReport
    from auditlens.views.drift import DriftMeasure

#: Feature rows printed at most (the HTML report lists every one).
SHOWN: Final = 20


def print_drift(report: DriftReport, lang: str) -> None:
    """Print ``report`` in ``lang``."""
    from auditlens.pipeline.drift import unmeasured_text

    drift, limits = report.drift, report.settings.monitoring
    zone = report.settings.timezone
    version = "" if drift.model_version is None else f" (v{drift.model_version})"
    _say(
        pick(
            lang,
            f"run {drift.run_id} · finished {local_time(drift.finished_at, zone)} · "
            f"model {drift.model_sha256[:12]}{version}",
            f"실행 {drift.run_id} · 완료 {local_time(drift.finished_at, zone)} · "
            f"모델 {drift.model_sha256[:12]}{version}",
        )
    )
    _say(
        pick(
            lang,
            f"thresholds: PSI >= {limits.drift_psi:g}, KS >= {limits.drift_ks:g}, alert rate "
            f"x{limits.drift_alert_rate:g}, at least {limits.drift_min_rows:,} windows",
            f"임계값: PSI {limits.drift_psi:g} 이상, KS {limits.drift_ks:g} 이상, 경보 비율 "
            f"{limits.drift_alert_rate:g}배, 구간 최소 {limits.drift_min_rows:,}개",
        )
    )
    if not drift.measured:
        _say(
            unmeasured_text(
                lang,
                drift.unmeasured_reason or "",
                drift.windows,
                limits.drift_min_rows,
                drift.model_sha256,
            )
        )
    else:
        drifted = [m for m in drift.measures if m.drifted]
        windows = f"{drift.windows or 0:,}"
        _say(
            pick(
                lang,
                f"{len(drifted)} measure(s) drifted; {drift.features_drifted} of "
                f"{drift.features_measured} features ({windows} new windows compared)",
                f"드리프트 {len(drifted)}건: 특성 {drift.features_measured}개 중 "
                f"{drift.features_drifted}개 (새 구간 {windows}개 비교)",
            )
        )
        _score_lines(drift.score, drift.alert_rate, lang)
        _features(report, lang)
    if report.html is not None:
        _say(pick(lang, f"wrote {report.html}", f"{report.html}을(를) 썼습니다"))


def _score_lines(score: DriftMeasure | None, rate: DriftMeasure | None, lang: str) -> None:
    if score is not None:
        _say(
            pick(
                lang,
                f"score (risk): PSI {_num(score.psi)}, KS {_num(score.ks)} — {_mark(score, lang)}",
                f"점수(위험도): PSI {_num(score.psi)}, KS {_num(score.ks)} — {_mark(score, lang)}",
            )
        )
    if rate is not None:
        ref, cur = _pct(rate.reference_value), _pct(rate.current_value)
        _say(
            pick(
                lang,
                f"alert rate: {cur} of windows vs {ref} in training (x{_num(rate.ratio)}) — "
                f"{_mark(rate, lang)}",
                f"경보 비율: 구간의 {cur} (학습 때 {ref}, {_num(rate.ratio)}배) — "
                f"{_mark(rate, lang)}",
            )
        )


def _features(report: DriftReport, lang: str) -> None:
    features = [m for m in report.drift.measures if m.kind == "feature"]
    rows = [
        [
            feature_label(m.name, lang),
            _num(m.psi),
            _num(m.ks),
            _p(m.ks_pvalue),
            _mark(m, lang),
        ]
        for m in features[:SHOWN]
    ]
    print_table(
        console,
        [
            Column(pick(lang, "feature", "특성"), text=True),
            Column("PSI", justify="right"),
            Column("KS", justify="right"),
            Column("p", justify="right"),
            Column(pick(lang, "drift", "드리프트")),
        ],
        rows,
        title=pick(lang, "features, worst first", "특성별 드리프트 (심한 순)"),
        lang=lang,
    )
    if len(features) > SHOWN:
        _say(
            pick(
                lang,
                f"... and {len(features) - SHOWN} more (--html lists every one)",
                f"... 외 {len(features) - SHOWN}개 (--html 보고서에 모두 있음)",
            )
        )


def _mark(measure: DriftMeasure, lang: str) -> str:
    if measure.drifted:
        return pick(lang, "DRIFTED", "드리프트")
    return pick(lang, "ok", "정상")


def _say(text: str) -> None:
    console.print(text, highlight=False, soft_wrap=True, markup=False)


def _num(value: float | None) -> str:
    return number(value, "-")


def _pct(value: float | None) -> str:
    return percent(value, "-")


def _p(value: float | None) -> str:
    return p_value(value, "-")
