"""Alert views: the triage queue and one alert with its evidence, deliveries and decisions.

Decisions are read from the audit trail (target ``alert:ID``), which is where triage
records them (alerts/triage.py): the trail is the record, not a copy of it. It may live
in a separate database (``audit_store_url``); the view reads it there.

Example::

    with Store.open(settings) as store:
        queue = alert_queue(store, AlertFilters(statuses=("open",)), Page())
        detail = alert_detail(store, queue.items[0].id)
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Final

from pydantic import Field
from sqlalchemy import case, func, select

from auditlens.alerts.reasons import LABELS, ReasonCode
from auditlens.store.alerts import AlertNotFound, AlertStatus
from auditlens.store.audit import AuditEntry
from auditlens.store.db import alerts
from auditlens.store.repo import Store
from auditlens.views.common import (
    DEFAULT_ZONE,
    NotFound,
    Page,
    PageOf,
    ViewModel,
    day_bounds,
    page_of,
    utc,
)
from auditlens.views.reasons import ReasonView, reason_views
from auditlens.views.scope import UNKNOWN_DEPARTMENT, AlertScope, within
from auditlens.vocabulary import Severity

#: Trail actions that are a person's decision on an alert (alerts/triage.py).
DECISION_ACTIONS: Final[tuple[str, ...]] = (
    "acknowledge",
    "escalate",
    "dismiss",
    "close",
    "request_close",
    "approve",
    "reopen",
)


class AlertFilters(ViewModel):
    """Which alerts to list (every filter optional, all must hold)."""

    start: dt.date | None = Field(default=None, description="opened on or after this day")
    end: dt.date | None = Field(default=None, description="opened on or before this day")
    statuses: tuple[AlertStatus, ...] = Field(default=(), description="empty: every status")
    min_severity: Severity | None = None
    department: str | None = None
    scenario: str | None = None
    user_id: str | None = None
    scope: AlertScope | None = Field(
        default=None, description="departments, exact severities, scenarios (the KPIs' scope)"
    )


class AlertRow(ViewModel):
    """An alert as the queue lists it."""

    id: int
    user_id: str
    department: str | None
    day: dt.date = Field(description="the incident's first day")
    days: tuple[dt.date, ...] = Field(description="every day of the incident")
    risk: float
    severity: Severity
    scenario: str
    status: str
    run_id: int
    model_sha256: str
    created_at: dt.datetime
    updated_at: dt.datetime


class AttemptView(ViewModel):
    """One attempt to deliver."""

    attempt: int
    at: dt.datetime
    ok: bool
    status_code: int | None
    error: str | None


class DeliveryView(ViewModel):
    """One delivery of the alert to one channel."""

    id: int
    channel: str
    rule_id: str
    action: str = Field(description="trigger or resolve")
    status: str = Field(description="pending, sent, dead or cancelled")
    attempts: int
    due: dt.datetime = Field(description="not before this time (UTC)")
    sent_at: dt.datetime | None
    last_error: str | None
    created_at: dt.datetime
    attempt_log: tuple[AttemptView, ...]


class DecisionView(ViewModel):
    """One person's decision on the alert, as the audit trail records it."""

    seq: int = Field(description="the audit entry's sequence number")
    at: dt.datetime
    actor: str = Field(description="the authenticated principal who acted")
    on_behalf_of: str | None
    action: str
    reason_code: str
    reason_ko: str
    reason_en: str
    note: str
    from_status: str | None
    to_status: str | None


class EvidenceView(ViewModel):
    """One detection the alert absorbed (kind: open, absorb, upgrade, duplicate)."""

    kind: str
    run_id: int
    score_id: int
    days: tuple[dt.date, ...]
    risk: float
    severity: Severity
    scenario: str
    model_sha256: str
    added_at: dt.datetime


class AlertDetail(ViewModel):
    """One alert with everything about it."""

    alert: AlertRow
    reasons: tuple[ReasonView, ...]
    close_requested_by: str | None
    close_requested_via: str | None
    evidence: tuple[EvidenceView, ...]
    deliveries: tuple[DeliveryView, ...]
    decisions: tuple[DecisionView, ...]


class AlertFacets(ViewModel):
    """The values the queue's filters can take: every department and scenario alerted on."""

    departments: tuple[str, ...]
    scenarios: tuple[str, ...]


def alert_facets(store: Store) -> AlertFacets:
    """The departments (``unknown`` for alerts without one: AlertScope's word) and scenarios
    of the stored alerts, sorted (filter choices)."""
    with store.engine.connect() as conn:
        departments = conn.execute(select(alerts.c.department).distinct()).scalars().all()
        scenarios = conn.execute(select(alerts.c.scenario).distinct()).scalars().all()
    named = sorted({UNKNOWN_DEPARTMENT if d is None else str(d) for d in departments})
    return AlertFacets(departments=tuple(named), scenarios=tuple(sorted(map(str, scenarios))))


def alert_queue(
    store: Store, filters: AlertFilters, page: Page, *, zone: str = DEFAULT_ZONE
) -> PageOf[AlertRow]:
    """Alerts matching ``filters``: most severe first, then riskiest, then oldest (id).

    The period is the local days the alerts were opened on (as :func:`~auditlens.views.
    kpis.kpis` counts them), so a queue and the KPIs of one period agree.
    """
    query = select(alerts)
    lower, upper = day_bounds(filters.start, filters.end, zone)
    if lower is not None:
        query = query.where(alerts.c.created_at >= lower)
    if upper is not None:
        query = query.where(alerts.c.created_at < upper)
    if filters.statuses:
        query = query.where(alerts.c.status.in_(filters.statuses))
    if filters.min_severity is not None:
        rank = filters.min_severity.rank
        query = query.where(alerts.c.severity.in_([s.value for s in Severity if s.rank >= rank]))
    for column, value in (
        (alerts.c.department, filters.department),
        (alerts.c.scenario, filters.scenario),
        (alerts.c.user_id, filters.user_id),
    ):
        if value is not None:
            query = query.where(column == value)
    query = within(query, filters.scope)
    ranked = case({s.value: s.rank for s in Severity}, value=alerts.c.severity, else_=0)
    ordered = query.order_by(ranked.desc(), alerts.c.risk.desc(), alerts.c.id)
    with store.engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(query.subquery())).scalar_one())
        rows = conn.execute(ordered.limit(page.limit).offset(page.offset)).all()
    return page_of([_row(dict(r._mapping)) for r in rows], total, page)


def alert_detail(store: Store, alert_id: int) -> AlertDetail:
    """One alert with its reasons, evidence, deliveries (with attempts) and decisions.

    Raises:
        NotFound: no alert ``alert_id``.
    """
    try:
        alert = store.alerts.get_alert(alert_id)
    except AlertNotFound:
        raise NotFound(
            f"no alert #{alert_id}",
            ko=f"알림 #{alert_id}이(가) 없습니다",
            hint="list them with GET /v1/alerts or `auditlens alerts list`",
            ko_hint="GET /v1/alerts 또는 `auditlens alerts list`로 목록을 보십시오",
        ) from None
    outbox = store.alerts.outbox
    deliveries = tuple(
        DeliveryView(
            id=d.id,
            channel=d.channel,
            rule_id=d.rule_id,
            action=d.action,
            status=d.status,
            attempts=d.attempts,
            due=d.not_before,
            sent_at=d.sent_at,
            last_error=d.last_error,
            created_at=d.created_at,
            attempt_log=tuple(
                AttemptView(
                    attempt=a.attempt, at=a.at, ok=a.ok, status_code=a.status_code, error=a.error
                )
                for a in outbox.attempts_of(d.id)
            ),
        )
        for d in outbox.items(alert_id=alert_id, limit=10_000)
    )
    entries = store.audit.entries(target=f"alert:{alert_id}", actions=DECISION_ACTIONS)
    return AlertDetail(
        alert=_row(alert.__dict__ | {"windows": alert.windows}),
        reasons=reason_views(alert.reasons),
        close_requested_by=alert.close_requested_by,
        close_requested_via=alert.close_requested_via,
        evidence=tuple(
            EvidenceView(
                kind=e.kind,
                run_id=e.run_id,
                score_id=e.score_id,
                days=e.windows,
                risk=e.risk,
                severity=Severity(e.severity),
                scenario=e.scenario,
                model_sha256=e.model_sha256,
                added_at=e.added_at,
            )
            for e in store.alerts.evidence_of(alert_id)
        ),
        deliveries=deliveries,
        decisions=tuple(decision_view(e) for e in entries),
    )


def decision_view(entry: AuditEntry) -> DecisionView:
    """A decision entry of the trail as a view (reason code with its labels)."""
    try:
        ko, en = LABELS[ReasonCode(entry.reason_code)]
    except ValueError:  # no code (acknowledge, approve) or one this version does not know
        ko = en = entry.reason_code
    criteria = entry.criteria
    return DecisionView(
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor,
        on_behalf_of=criteria.get("on_behalf_of"),
        action=entry.action,
        reason_code=entry.reason_code,
        reason_ko=ko,
        reason_en=en,
        note=entry.note,
        from_status=criteria.get("from_status"),
        to_status=criteria.get("to_status"),
    )


def _row(row: dict[str, Any]) -> AlertRow:
    days = row["windows"]
    if isinstance(days, str):  # the stored JSON list of ISO days ('[]': just ``window``)
        days = tuple(dt.date.fromisoformat(d) for d in json.loads(days)) or (row["window"],)
    return AlertRow(
        id=int(row["id"]),
        user_id=row["user_id"],
        department=row["department"],
        day=row["window"],
        days=tuple(days),
        risk=float(row["risk"]),
        severity=Severity(row["severity"]),
        scenario=row["scenario"],
        status=row["status"],
        run_id=int(row["run_id"]),
        model_sha256=row["model_sha256"],
        created_at=utc(row["created_at"]),
        updated_at=utc(row["updated_at"]),
    )
