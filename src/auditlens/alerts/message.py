"""What an alert says, in Korean or English, before a channel shapes it into its format.

Example::

    >>> msg = render(alert, "en", "http://dash/?user={user_id}&date={window}")
    >>> msg.title
    '[HIGH] Risky behaviour: U0042 (Risk 82)'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from auditlens.i18n import severity_label
from auditlens.store.alerts import Alert

LABELS: Final[dict[str, dict[str, str]]] = {
    "ko": {
        "title": "위험 행위 탐지",
        "user": "사용자",
        "risk": "위험도",
        "severity": "심각도",
        "day": "일자",
        "days": "일자 (최고 위험 동일)",
        "department": "부서",
        "reasons": "주요 사유",
        "open": "사용자 페이지 열기",
        "alert": "알림",
        "digest": "위험 행위 알림 요약",
        "count": "건",
        "resolved": "알림 종료",
        "to": "담당",
    },
    "en": {
        "title": "Risky behaviour",
        "user": "User",
        "risk": "Risk",
        "severity": "Severity",
        "day": "Day",
        "days": "Days (tied at the peak)",
        "department": "Department",
        "reasons": "Top reasons",
        "open": "Open the user's page",
        "alert": "Alert",
        "digest": "Risky-behaviour alert digest",
        "count": "alerts",
        "resolved": "Alert closed",
        "to": "For",
    },
}


@dataclass(frozen=True)
class Message:
    """A channel-neutral message: a title, labelled facts, reason lines and a link."""

    title: str
    facts: list[tuple[str, str]]
    lines: list[str]
    lines_title: str
    link: str | None
    link_text: str
    severity: str
    recipients: list[str]

    def plain_text(self) -> str:
        """The whole message as plain text (e-mail body, console, fallbacks)."""
        parts = [self.title, ""]
        parts += [f"{name}: {value}" for name, value in self.facts]
        if self.lines:
            parts += ["", f"{self.lines_title}:"] + [f"- {line}" for line in self.lines]
        if self.link:
            parts += ["", f"{self.link_text}: {self.link}"]
        return "\n".join(parts)


def link_for(alert: Alert, template: str | None) -> str | None:
    """The link to the alerted user's page (None when no template is configured)."""
    if not template:
        return None
    return template.format(user_id=alert.user_id, window=alert.window, alert_id=alert.id)


def render(
    alert: Alert,
    lang: str,
    link_template: str | None = None,
    recipients: Sequence[str] = (),
) -> Message:
    """The message announcing ``alert`` in ``lang`` (ko or en)."""
    words = LABELS[_lang(lang)]
    severity = severity_label(alert.severity, _lang(lang))
    facts = [
        (words["user"], alert.user_id),
        (words["risk"], f"{alert.risk:.1f} / 100"),
        (words["severity"], severity),
        (words["day"], alert.window.isoformat())
        if len(alert.windows) <= 1
        else (words["days"], ", ".join(d.isoformat() for d in alert.windows)),
    ]
    if alert.department:
        facts.append((words["department"], alert.department))
    facts.append((words["alert"], f"#{alert.id}"))
    if recipients:
        facts.append((words["to"], ", ".join(recipients)))
    return Message(
        title=f"[{alert.severity.upper()}] {words['title']}: {alert.user_id} "
        f"({words['risk']} {alert.risk:.0f})",
        facts=facts,
        lines=alert.reason_texts(_lang(lang))[:3],
        lines_title=words["reasons"],
        link=link_for(alert, link_template),
        link_text=words["open"],
        severity=alert.severity,
        recipients=list(recipients),
    )


def render_digest(
    alerts: Sequence[Alert],
    lang: str,
    link_template: str | None = None,
    recipients: Sequence[str] = (),
) -> Message:
    """One message listing several alerts (daily digests), riskiest first."""
    words = LABELS[_lang(lang)]
    ordered = sorted(alerts, key=lambda a: (-a.risk, a.id))
    lines = []
    for alert in ordered:
        reasons = alert.reason_texts(_lang(lang))
        link = link_for(alert, link_template)
        lines.append(
            f"#{alert.id} {alert.user_id} {words['risk']} {alert.risk:.0f} "
            f"({alert.severity}, {alert.window})"
            + (f" — {reasons[0]}" if reasons else "")
            + (f" <{link}>" if link else "")
        )
    worst = ordered[0].severity if ordered else "low"
    return Message(
        title=f"{words['digest']}: {len(ordered)}{words['count'] if lang == 'ko' else ''}"
        + ("" if lang == "ko" else f" {words['count']}"),
        facts=[(words["to"], ", ".join(recipients))] if recipients else [],
        lines=lines,
        lines_title=words["alert"],
        link=None,
        link_text=words["open"],
        severity=worst,
        recipients=list(recipients),
    )


def _lang(lang: str) -> str:
    return lang if lang in LABELS else "en"
