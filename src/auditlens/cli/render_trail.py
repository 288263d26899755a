"""Printing alerts, their deliveries and decisions, and the audit trail."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

from rich.markup import escape

from auditlens import pipeline
from auditlens.alerts.reasons import LABELS, ReasonCode
from auditlens.cli.common import console
from auditlens.cli.tables import Column, feature_label, print_table
from auditlens.i18n import pick, say, severity_label
from auditlens.i18n.words import ALERT_STATUS_KO
from auditlens.localtime import DEFAULT_ZONE, local_time

if TYPE_CHECKING:
    from auditlens.alerts.triage import Decision
    from auditlens.pipeline.controls import ReconcileReport, RolesReport
    from auditlens.store.audit import AuditEntry
    from auditlens.store.audit_repository import Verification
    from auditlens.store.binding import LakeCheck
    from auditlens.store.outbox import Attempt, OutboxItem


#: Statuses in Korean: an alert's from its lifecycle (the words its refusals use too),
#: then a delivery's.
STATUS_WORDS: Final[dict[str, str]] = {
    **ALERT_STATUS_KO,
    "pending": "대기",
    "sent": "발송됨",
    "dead": "발송 실패",
    "cancelled": "취소",
    "held": "보류",
}


def status_label(status: str, lang: str) -> str:
    """An alert's or a delivery's status in ``lang`` (an unknown word stays as it is)."""
    return STATUS_WORDS.get(status, status) if lang == "ko" else status


def print_alerts(listing: pipeline.AlertListing, lang: str) -> None:
    """Alerts, newest first, with their state and deliveries; then the outbox counts."""
    columns = [
        Column("id", justify="right"),
        Column(pick(lang, "user", "사용자")),
        Column(pick(lang, "risk", "위험 점수"), justify="right"),
        Column(pick(lang, "severity", "심각도")),
        Column(pick(lang, "status", "상태"), text=True),
        Column(pick(lang, "day", "일자")),
        Column(pick(lang, "scenario", "유형"), text=True),
        Column(pick(lang, "deliveries", "발송"), text=True),
    ]
    rows = []
    for alert in listing.alerts:
        states: dict[str, int] = {}
        for item in listing.deliveries.get(alert.id, []):
            states[item.status] = states.get(item.status, 0) + 1
        by = ""
        if alert.close_requested_by:
            who = alert.close_requested_by
            by = f" ({who} 요청)" if lang == "ko" else f" (by {who})"
        more = len(alert.windows) - 1
        rows.append(
            [
                str(alert.id),
                alert.user_id,
                f"{alert.risk:.1f}",
                severity_label(alert.severity, lang),
                status_label(alert.status, lang) + by,
                str(alert.window)
                + (f" ({pipeline.say(lang, 'tied_days', n=more)})" if more > 0 else ""),
                feature_label(alert.scenario, lang),
                ", ".join(
                    f"{status_label(k, lang)} {n}건" if lang == "ko" else f"{n} {k}"
                    for k, n in sorted(states.items())
                )
                or "-",
            ]
        )
    print_table(console, columns, rows, lang=lang)
    box = listing.outbox
    console.print(
        say(
            lang,
            "render.outbox",
            pending=box["pending"],
            sent=box["sent"],
            dead=box["dead"],
            cancelled=box["cancelled"],
        ),
        highlight=False,
    )


def print_alert(detail: pipeline.AlertDetail, lang: str) -> None:
    """One alert: its incident days, reasons, and every detection it absorbed."""
    alert = detail.alert
    head = say(
        lang,
        "render.alert_head",
        id=alert.id,
        user=alert.user_id,
        risk=alert.risk,
        severity=severity_label(alert.severity, lang),
        status=status_label(alert.status, lang),
        days=", ".join(d.isoformat() for d in alert.windows),
    )
    console.print(escape(head), highlight=False, soft_wrap=True)
    for line in alert.reason_texts(lang)[:5]:
        console.print(f"  - {escape(line)}", highlight=False, soft_wrap=True)
    columns = [
        Column(pick(lang, "kind", "구분")),
        Column(pick(lang, "run", "실행"), justify="right"),
        Column(pick(lang, "score", "점수 ID"), justify="right"),
        Column(pick(lang, "days", "일자"), text=True),
        Column(pick(lang, "risk", "위험 점수"), justify="right"),
        Column(pick(lang, "severity", "심각도")),
        Column(pick(lang, "top reason", "주요 사유"), text=True),
    ]
    rows = []
    for e in detail.evidence:
        top = e["reasons"][0] if e["reasons"] else {}
        text = top.get(lang) or top.get("en") or feature_label(top.get("feature", "-"), lang)
        rows.append(
            [
                EVIDENCE_WORDS.get(e["kind"], e["kind"]) if lang == "ko" else e["kind"],
                str(e["run_id"]),
                str(e["score_id"]),
                ", ".join(d.isoformat() for d in e["windows"]),
                f"{e['risk']:.1f}",
                severity_label(e["severity"], lang),
                str(text),
            ]
        )
    print_table(console, columns, rows, lang=lang)
    states = ", ".join(
        f"{i.channel} {i.action} {status_label(i.status, lang)}" for i in detail.deliveries
    )
    console.print(
        escape(say(lang, "render.deliveries", states=states or "-")),
        highlight=False,
        soft_wrap=True,
    )


#: The kinds of evidence an alert holds, in Korean.
EVIDENCE_WORDS: Final[dict[str, str]] = {
    "open": "최초 탐지",
    "upgrade": "심각도 상향",
    "absorb": "추가 탐지",
    "duplicate": "중복",
}


def print_decision(decision: Decision, timezone: str = DEFAULT_ZONE, lang: str = "ko") -> None:
    """A triage decision: the new status, its audit entry and what follows from it."""
    alert = decision.alert
    behalf = decision.entry.criteria.get("on_behalf_of")
    console.print(
        escape(
            say(
                lang,
                "render.decision",
                id=alert.id,
                user=alert.user_id,
                severity=severity_label(alert.severity, lang),
                status=status_label(alert.status, lang),
                seq=decision.entry.seq,
                actor=decision.entry.actor,
            )
            + (say(lang, "render.on_behalf", who=behalf) if behalf else "")
        ),
        highlight=False,
    )
    if decision.awaiting_approval:
        console.print(say(lang, "render.four_eyes", id=alert.id), highlight=False)
    if decision.label_candidate:
        console.print(say(lang, "render.label_candidate"), highlight=False)
    if decision.suppressed_until is not None:
        said = say(
            lang,
            "render.suppressed",
            scenario=feature_label(alert.scenario, lang),
            user=alert.user_id,
            until=local_time(decision.suppressed_until, timezone),
        )
        console.print(escape(said), highlight=False)
    if decision.resolves:
        said = say(lang, "render.resolves", channels=", ".join(decision.resolves))
        console.print(escape(said), highlight=False)


def print_reason_codes(lang: str) -> None:
    """The reason codes a decision can give, with their label in ``lang``."""
    columns = [Column(pick(lang, "code", "코드")), Column(pick(lang, "meaning", "설명"), text=True)]
    rows = [[code.value, ko if lang == "ko" else en] for code, (ko, en) in LABELS.items()]
    print_table(console, columns, rows, lang=lang)


def print_deliveries(
    rows: list[tuple[OutboxItem, list[Attempt]]], timezone: str = DEFAULT_ZONE, lang: str = "ko"
) -> None:
    """Outbox deliveries with their attempt counts and last error."""
    columns = [
        Column("id", justify="right"),
        Column(pick(lang, "alert", "알림"), justify="right"),
        Column(pick(lang, "channel", "채널")),
        Column(pick(lang, "rule", "규칙")),
        Column(pick(lang, "action", "동작")),
        Column(pick(lang, "status", "상태")),
        Column(pick(lang, "attempts", "시도"), justify="right"),
        Column(pick(lang, "due", "발송 예정")),
        Column(pick(lang, "last error", "마지막 오류"), text=True),
    ]
    cells = [
        [
            str(item.id),
            str(item.alert_id),
            item.channel,
            item.rule_id,
            item.action,
            status_label(item.status, lang),
            f"{len(attempts)}회" if lang == "ko" else str(len(attempts)),
            local_time(item.not_before, timezone, seconds=True),
            (item.error_text(lang) or "-")[:80],
        ]
        for item, attempts in rows
    ]
    print_table(console, columns, cells, lang=lang)


def print_roles(report: RolesReport, app_role: str, lang: str = "ko") -> None:
    """The SQL giving the app role its grants, and whether it was applied."""
    console.print(f"-- {report.database}", highlight=False, soft_wrap=True, markup=False)
    for statement in report.sql:
        console.print(f"{statement};", highlight=False, soft_wrap=True, markup=False)
    if report.applied:
        console.print(
            say(lang, "render.roles_applied", role=app_role), highlight=False, markup=False
        )


def print_verification(result: Verification, lake: LakeCheck, lang: str = "ko") -> None:
    """The event lake's and the audit trail's checks: verified, or where they broke."""
    if lake.ok:
        console.print(say(lang, "render.lake_ok", n=lake.parts), highlight=False)
    else:
        console.print(
            f"[bold red]{say(lang, 'render.lake_broken')}[/] {escape(lake.problem_text(lang))}",
            soft_wrap=True,
        )
    if result.ok:
        console.print(
            say(
                lang,
                "render.verified",
                n=result.entries,
                seq=result.head_seq,
                hash=result.head_hash,
            ),
            soft_wrap=True,
            highlight=False,
        )
        return
    if result.broken_seq is not None:
        broken = say(lang, "render.verify_broken", seq=result.broken_seq)
        before = say(lang, "render.verified_before", n=result.entries)
        console.print(
            f"[bold red]{broken}[/] {escape(result.problem_text(lang))} {before}", soft_wrap=True
        )
    mismatches = result.mismatch_lines(lang)
    if mismatches:
        differ = say(lang, "render.tables_differ", n=len(mismatches))
        console.print(
            f"[bold red]{differ}[/] {escape(mismatches[0])}",
            soft_wrap=True,
        )
        for line in mismatches[1:20]:
            console.print(f"  {line}", soft_wrap=True, highlight=False, markup=False)


def print_reconciliation(report: ReconcileReport, lang: str = "ko") -> None:
    """Rows restored (or restorable) from the trail, and what needs a person."""
    verb = say(lang, "render.restored" if report.applied else "render.restorable")
    for line in report.fixable:
        console.print(f"{verb}: {line}", highlight=False, soft_wrap=True, markup=False)
    for line in report.left:
        console.print(
            f"[yellow]{say(lang, 'render.needs_person')}[/] {escape(line)}",
            highlight=False,
            soft_wrap=True,
        )
    if not report.fixable and not report.left:
        console.print(say(lang, "render.tables_agree"))


def print_audit_log(rows: list[AuditEntry], timezone: str, lang: str = "ko") -> None:
    """Audit entries, one line each with their criteria below."""
    user, reason_word = pick(lang, "user", "사용자"), pick(lang, "reason", "사유")
    for e in rows:
        crit = {k: v for k, v in e.criteria.items() if v not in (None, [], "")}
        about = f" {user}={e.subject}" if e.subject else ""
        reason = f" {reason_word}={e.reason_code}" if e.reason_code else ""
        if e.reason_code and lang == "ko":
            reason += f"({_reason_label(e.reason_code)})"
        console.print(
            f"#{e.seq} {local_time(e.at, timezone, seconds=True)} {escape(e.actor)} "
            f"[bold]{escape(e.action)}[/] {escape(e.target)}{escape(about)}{escape(reason)}"
            + (f" — {escape(e.note)}" if e.note else ""),
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            f"    {pick(lang, 'criteria', '기준')}: "
            + json.dumps(crit, ensure_ascii=False, default=str),
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    if not rows:
        console.print(say(lang, "render.no_audit"))


def _reason_label(code: str) -> str:
    """The Korean label of a stored reason code (the code itself when it is not one)."""
    try:
        return LABELS[ReasonCode(code)][0]
    except ValueError:
        return code
