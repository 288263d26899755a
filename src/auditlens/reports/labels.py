"""Words and figures every report format shares: the KPI rows of the executive summary,
severity colours, and the words for statuses, scenarios and departments — the
dashboard's words (one vocabulary), so a report and the dashboard name things alike.

:data:`KPI_ROWS` is what a summary shows, in order: each row reads one number of the
:class:`~auditlens.reports.model.ReportData` (this period and the previous one) exactly as
the view returned it; only durations are turned from seconds into hours.

Example::

    >>> [row.key for row in KPI_ROWS][:3]
    ['users', 'events', 'alerts']
    >>> status_word("dismissed", "ko"), scenario_word("unexplained", "en")
    ('오탐 기각', 'unexplained')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from auditlens.features.docs import doc_for
from auditlens.i18n import pick, severity_label
from auditlens.i18n.words import ALERT_STATUS_KO
from auditlens.views import UNKNOWN_DEPARTMENT, Coverage, Kpis
from auditlens.views.reasons import UNEXPLAINED
from auditlens.vocabulary import Severity

#: Severities, least severe first (tables and charts keep this order).
SEVERITIES: Final[tuple[str, ...]] = tuple(s.value for s in Severity)
#: One colour per severity (the dashboard's: colour-blind safe, blue to red), RRGGBB.
SEVERITY_COLOURS: Final[dict[str, str]] = {
    "low": "4C78A8",
    "medium": "F2B134",
    "high": "E4572E",
    "critical": "A1172F",
}
Kind = Literal["count", "rate", "hours"]


def hours(seconds: float | None) -> float | None:
    """A duration in hours (reports show triage times in hours)."""
    return None if seconds is None else seconds / 3600


@dataclass(frozen=True)
class KpiRow:
    """One row of the executive summary: a number of this period and the previous one."""

    key: str
    ko: str
    en: str
    kind: Kind
    read: Callable[[Kpis, Coverage], float | int | None]
    #: True when a rise is bad news (alerts, dismissals): arrows are coloured by it.
    rise_is_bad: bool = False

    def label(self, lang: str) -> str:
        """The row's label in ``lang``."""
        return pick(lang, self.en, self.ko)


def _severity_row(severity: str) -> KpiRow:
    return KpiRow(
        f"alerts_{severity}",
        f"알림 ({severity_label(severity, 'ko')})",
        f"alerts ({severity})",
        "count",
        lambda k, c: k.by_severity.get(severity, 0),
        rise_is_bad=True,
    )


#: The KPIs a summary shows, in order (docs/kpis.md defines each number).
KPI_ROWS: Final[tuple[KpiRow, ...]] = (
    KpiRow("users", "모니터링 사용자", "users monitored", "count", lambda k, c: c.users_monitored),
    KpiRow("events", "이벤트", "events", "count", lambda k, c: c.events),
    KpiRow("alerts", "알림", "alerts", "count", lambda k, c: k.alerts, rise_is_bad=True),
    *(_severity_row(s) for s in reversed(SEVERITIES)),
    KpiRow("open", "처리 중", "still open", "count", lambda k, c: k.alerts - k.ended, True),
    KpiRow("closed", "종결", "closed", "count", lambda k, c: k.closed),
    KpiRow("dismissed", "오탐 기각", "dismissed", "count", lambda k, c: k.dismissed),
    KpiRow(
        "dismissal_rate", "기각률", "dismissal rate", "rate", lambda k, c: k.dismissal_rate, True
    ),
    KpiRow(
        "confirmed_rate", "위반 확인율", "confirmed rate", "rate", lambda k, c: k.confirmed_rate
    ),
    KpiRow(
        "first_action_hours",
        "첫 조치까지 (중앙값, 시간)",
        "time to first action (median, hours)",
        "hours",
        lambda k, c: hours(k.time_to_first_action.median_seconds),
        rise_is_bad=True,
    ),
    KpiRow(
        "close_hours",
        "종결까지 (중앙값, 시간)",
        "time to close (median, hours)",
        "hours",
        lambda k, c: hours(k.time_to_close.median_seconds),
        rise_is_bad=True,
    ),
    KpiRow("four_eyes", "2인 승인 종결", "four-eyes closes", "count", lambda k, c: k.four_eyes),
    KpiRow(
        "quarantined",
        "격리된 행",
        "rows quarantined",
        "count",
        lambda k, c: k.quarantined_rows,
        True,
    ),
    KpiRow(
        "tamper",
        "로그 변조 의심",
        "possible tampering",
        "count",
        lambda k, c: k.tamper_findings,
        True,
    ),
)


def status_word(status: str | None, lang: str) -> str:
    """An alert status in ``lang`` (the dashboard's words: 신규, 확인, 오탐 기각…)."""
    if status is None:
        return "-"
    return pick(lang, status.replace("_", " "), ALERT_STATUS_KO.get(status, status))


def scenario_word(scenario: str, lang: str) -> str:
    """A scenario as its feature's name (``unexplained``: no reason)."""
    if scenario == UNEXPLAINED:
        return pick(lang, "unexplained", "사유 없음")
    try:
        doc = doc_for(scenario)
    except KeyError:  # a feature this version does not document (an older model's)
        return scenario
    return pick(lang, doc.en, doc.ko)


def department_word(department: str | None, lang: str) -> str:
    """A department as recorded (``unknown``/미상 when none was)."""
    if department is None or department == UNKNOWN_DEPARTMENT:
        return pick(lang, "unknown", "미상")
    return department


def severity_word(severity: str, lang: str) -> str:
    """A severity in ``lang``: 심각 / critical."""
    return severity_label(severity, lang)
