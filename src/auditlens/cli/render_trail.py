"""Printing alerts, their deliveries and decisions, and the audit trail."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from rich.table import Table

from auditlens import pipeline
from auditlens.alerts.reasons import LABELS
from auditlens.cli.common import console
from auditlens.localtime import DEFAULT_ZONE, local_time

if TYPE_CHECKING:
    from auditlens.alerts.triage import Decision
    from auditlens.pipeline.controls import ReconcileReport, RolesReport
    from auditlens.store.audit import AuditEntry
    from auditlens.store.audit_repository import Verification
    from auditlens.store.binding import LakeCheck
    from auditlens.store.outbox import Attempt, OutboxItem


def print_alerts(listing: pipeline.AlertListing, lang: str) -> None:
    """Alerts, newest first, with their state and deliveries; then the outbox counts."""
    table = Table("id", "user", "risk", "severity", "status", "day", "scenario", "deliveries")
    for alert in listing.alerts:
        states: dict[str, int] = {}
        for item in listing.deliveries.get(alert.id, []):
            states[item.status] = states.get(item.status, 0) + 1
        table.add_row(
            str(alert.id),
            alert.user_id,
            f"{alert.risk:.1f}",
            alert.severity,
            alert.status
            + (f" (by {alert.close_requested_by})" if alert.close_requested_by else ""),
            str(alert.window)
            + (
                f" ({pipeline.say(lang, 'tied_days', n=len(alert.windows) - 1)})"
                if len(alert.windows) > 1
                else ""
            ),
            alert.scenario,
            ", ".join(f"{n} {k}" for k, n in sorted(states.items())) or "-",
        )
    console.print(table)
    box = listing.outbox
    console.print(
        f"outbox: {box['pending']} pending, {box['sent']} sent, {box['dead']} dead-lettered, "
        f"{box['cancelled']} cancelled"
    )


def print_alert(detail: pipeline.AlertDetail, lang: str) -> None:
    """One alert: its incident days, reasons, and every detection it absorbed."""
    alert = detail.alert
    console.print(
        f"alert #{alert.id} {alert.user_id}: risk {alert.risk:.1f} ({alert.severity}), "
        f"{alert.status}; days {', '.join(d.isoformat() for d in alert.windows)}",
        highlight=False,
        soft_wrap=True,
    )
    for line in alert.reason_texts(lang)[:5]:
        console.print(f"  - {line}", highlight=False, soft_wrap=True)
    table = Table("kind", "run", "score", "days", "risk", "severity", "top reason")
    for e in detail.evidence:
        top = e["reasons"][0] if e["reasons"] else {}
        table.add_row(
            e["kind"],
            str(e["run_id"]),
            str(e["score_id"]),
            ", ".join(d.isoformat() for d in e["windows"]),
            f"{e['risk']:.1f}",
            e["severity"],
            str(top.get(lang) or top.get("en") or "-"),
        )
    console.print(table)
    states = ", ".join(f"{i.channel} {i.action} {i.status}" for i in detail.deliveries)
    console.print(f"deliveries: {states or '-'}", highlight=False, soft_wrap=True)


def print_decision(decision: Decision, timezone: str = DEFAULT_ZONE) -> None:
    """A triage decision: the new status, its audit entry and what follows from it."""
    alert = decision.alert
    behalf = decision.entry.criteria.get("on_behalf_of")
    console.print(
        f"alert #{alert.id} ({alert.user_id}, {alert.severity}) is now {alert.status}; "
        f"audit entry {decision.entry.seq} by {decision.entry.actor}"
        + (f" on behalf of {behalf}" if behalf else "")
    )
    if decision.awaiting_approval:
        console.print(
            f"four-eyes: another principal with the approver role must approve "
            f"(`auditlens alerts approve {alert.id}`) / 다른 승인자의 승인이 필요합니다"
        )
    if decision.label_candidate:
        console.print("stored as a false-positive label candidate for the supervised model")
    if decision.suppressed_until is not None:
        console.print(
            f"{alert.scenario} alerts for {alert.user_id} suppressed until "
            f"{local_time(decision.suppressed_until, timezone)}"
        )
    if decision.resolves:
        console.print(f"resolve queued for: {', '.join(decision.resolves)}")


def print_reason_codes() -> None:
    """The reason codes a decision can give, with Korean and English labels."""
    table = Table("code", "설명", "meaning")
    for code, (ko, en) in LABELS.items():
        table.add_row(code.value, ko, en)
    console.print(table)


def print_deliveries(
    rows: list[tuple[OutboxItem, list[Attempt]]], timezone: str = DEFAULT_ZONE
) -> None:
    """Outbox deliveries with their attempt counts and last error."""
    table = Table(
        "id", "alert", "channel", "rule", "action", "status", "attempts", "due", "last error"
    )
    for item, attempts in rows:
        table.add_row(
            str(item.id),
            str(item.alert_id),
            item.channel,
            item.rule_id,
            item.action,
            item.status,
            str(len(attempts)),
            local_time(item.not_before, timezone, seconds=True),
            (item.last_error or "")[:80],
        )
    console.print(table)


def print_roles(report: RolesReport, app_role: str) -> None:
    """The SQL giving the app role its grants, and whether it was applied."""
    console.print(f"-- {report.database}", highlight=False, soft_wrap=True)
    for statement in report.sql:
        console.print(f"{statement};", highlight=False, soft_wrap=True)
    if report.applied:
        console.print(f"-- applied: {app_role} can read and append the audit trail, not change it")


def print_verification(result: Verification, lake: LakeCheck) -> None:
    """The event lake's and the audit trail's checks: verified, or where they broke."""
    if lake.ok:
        console.print(f"event lake verified: {lake.parts} parts match their recorded sha256")
    else:
        console.print(f"[bold red]event lake BROKEN:[/] {lake.problem}", soft_wrap=True)
    if result.ok:
        console.print(
            f"audit trail verified: {result.entries} entries; "
            f"head {result.head_seq}:{result.head_hash}; alerts, suppressions and label "
            "candidates match the trail / 감사 로그 검증 완료",
            soft_wrap=True,
        )
        return
    if result.broken_seq is not None:
        console.print(
            f"[bold red]audit trail BROKEN at entry {result.broken_seq}:[/] {result.problem} "
            f"({result.entries} entries verified before it) / 감사 로그 변조 탐지",
            soft_wrap=True,
        )
    if result.mismatches:
        console.print(
            f"[bold red]tables differ from the audit trail ({len(result.mismatches)}):[/] "
            f"{result.mismatches[0]}",
            soft_wrap=True,
        )
        for line in result.mismatches[1:20]:
            console.print(f"  {line}", soft_wrap=True, highlight=False)


def print_reconciliation(report: ReconcileReport) -> None:
    """Rows restored (or restorable) from the trail, and what needs a person."""
    verb = "restored from the trail" if report.applied else "can be restored (--apply)"
    for line in report.fixable:
        console.print(f"{verb}: {line}", highlight=False, soft_wrap=True)
    for line in report.left:
        console.print(f"[yellow]needs a person:[/] {line}", highlight=False, soft_wrap=True)
    if not report.fixable and not report.left:
        console.print("the tables agree with the audit trail / 테이블과 감사 로그 일치")


def print_audit_log(rows: list[AuditEntry], timezone: str) -> None:
    """Audit entries, one line each with their criteria below."""
    for e in rows:
        crit = {k: v for k, v in e.criteria.items() if v not in (None, [], "")}
        about = f" user={e.subject}" if e.subject else ""
        reason = f" reason={e.reason_code}" if e.reason_code else ""
        console.print(
            f"#{e.seq} {local_time(e.at, timezone, seconds=True)} {e.actor} "
            f"[bold]{e.action}[/] {e.target}{about}{reason}" + (f" — {e.note}" if e.note else ""),
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            "    criteria: " + json.dumps(crit, ensure_ascii=False, default=str),
            highlight=False,
            soft_wrap=True,
        )
    if not rows:
        console.print("no audit entries match")
