"""Human decisions on alerts: acknowledge, escalate, dismiss, close, approve, reopen.

Every decision is checked against the alert's state (the transition table in
alerts/lifecycle.py), planned (:func:`plan`, pure), applied and written to the audit
trail (actor, reason code, note, the criteria in force) in one transaction (:func:`apply`).

* **dismiss** = dismiss as false positive: the alert becomes a label candidate (label 0)
  for the supervised model, and optionally the same scenario is suppressed for that user
  for some days.
* **close** of an alert whose severity needs four eyes (``alert_four_eyes``, default
  critical) only *requests* closing; a different principal with the ``approver`` role
  must **approve** it (principals are compared normalised: ``kim`` = ``KIM`` = full-width ``kim``;
  an admin acting on someone's behalf counts as both).
* closing or dismissing takes back what channels announced (PagerDuty resolve).

Who decides is an :class:`~auditlens.identity.Acting` principal, never a free string;
the reason is a :class:`~auditlens.alerts.reasons.ReasonCode`.

Example::

    >>> from auditlens.identity import Directory
    >>> directory = Directory({"kim": ["analyst"]})
    >>> now = dt.datetime(2026, 9, 8, 2, 0, tzinfo=dt.UTC)
    >>> decided = decide(store.engine, alert.id, "acknowledge", by=directory.acting("KIM"),
    ...                  reason="reviewing", now=now, policy=TriagePolicy())
    >>> decided.alert.status, decided.entry.actor, decided.entry.reason_code
    ('acknowledged', 'kim', 'reviewing')
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import Connection, Engine

from auditlens.alerts import reasons
from auditlens.alerts.lifecycle import (
    ACTION_KO,
    ACTIONS,
    STATUS_KO,
    TRANSITIONS,
    Action,
    Transition,
    alert_target,
    needs_reason,
    record,
    role_for,
)
from auditlens.errors import AuditlensError
from auditlens.identity import Acting, normalise
from auditlens.store.alerts import Alert, AlertRepository, AlertStatus
from auditlens.store.audit import SAME_DATABASE, AuditEntry, NewEntry, Trail
from auditlens.vocabulary import Severity

_BY_NAME: Final[dict[str, Action]] = {a: a for a in ACTIONS}


class TriageError(AuditlensError):
    """A decision that cannot be applied to the alert as it stands."""


@dataclass(frozen=True)
class TriagePolicy:
    """The rules decisions follow."""

    four_eyes: frozenset[str] = frozenset({Severity.CRITICAL})
    suppress_days: float = 0.0
    #: Channels that can take back an announced alert (PagerDuty).
    resolvable_channels: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Decision:
    """The outcome of one decision."""

    alert: Alert
    entry: AuditEntry
    awaiting_approval: bool = False
    label_candidate: bool = False
    suppressed_until: dt.datetime | None = None
    resolves: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DecisionPlan:
    """What one decision changes, decided without touching the store (:func:`plan`)."""

    transition: Transition
    #: The alert's new status (a close request when four eyes are needed).
    to: AlertStatus
    four_eyes: bool
    #: The audit entry saying so.
    entry: NewEntry
    #: The principal whose authority the decision uses (label candidate, suppression).
    decided_by: str
    close_requested_by: str | None = None
    close_requested_via: str | None = None
    suppressed_until: dt.datetime | None = None
    label_candidate: bool = False
    #: Take back what channels announced (the alert is closed or dismissed).
    resolve: bool = False


def decide(
    engine: Engine,
    alert_id: int,
    action: str,
    *,
    by: Acting,
    reason: str = "",
    note: str = "",
    now: dt.datetime,
    policy: TriagePolicy,
    suppress_days: float | None = None,
    trail: Trail = SAME_DATABASE,
) -> Decision:
    """Apply ``action`` by the principal ``by`` to alert ``alert_id``; record it in the trail.

    Raises:
        TriageError: unknown action, missing or unknown reason code, a transition the
            alert's state does not allow, or approving a close request one took part in.
        IdentityError: the principal lacks the role the action needs.
        AlertNotFound: no such alert.
    """
    checked, code = _request(action, reason, note, by)
    with engine.begin() as conn:
        alert = AlertRepository(conn).get_alert(alert_id, for_update=True)
        step = plan(
            alert,
            checked,
            by=by,
            code=code,
            note=note,
            policy=policy,
            suppress_days=suppress_days,
            now=now,
        )
        decision = apply(conn, alert, step, policy=policy, now=now, trail=trail)
    return decision


def _request(action: str, reason: str, note: str, by: Acting) -> tuple[Action, str]:
    """The action and reason code of a request, checked before the alert is read."""
    known = _BY_NAME.get(action)
    if known is None:
        raise TriageError(
            f"unknown action {action!r}",
            hint=f"use one of {sorted(ACTIONS)}",
            ko=f"알 수 없는 조치 {action!r}입니다",
            ko_hint=f"{', '.join(sorted(ACTIONS))} 중 하나를 사용하십시오",
        )
    code = ""
    if reason:
        try:
            code = reasons.parse(reason).value
        except ValueError as exc:
            raise TriageError(
                str(exc),
                hint="put prose in --note; see `auditlens alerts reasons`",
                ko=f"사유 코드 {reason!r}은(는) 정해진 코드가 아닙니다. 다음 중 하나를 "
                f"쓰십시오: {', '.join(f'`{c.value}`' for c in reasons.ReasonCode)}",
                ko_hint="설명은 --note에 적으십시오. 코드 목록은 `auditlens alerts reasons`로 "
                "확인하십시오",
            ) from None
    if needs_reason(known) and not code:
        raise TriageError(
            f"{action} needs a reason code",
            hint="pass --reason CODE",
            ko=f"{ACTION_KO.get(action, action)} 조치에는 사유 코드가 필요합니다",
            ko_hint="--reason 코드로 사유를 지정하십시오",
        )
    if code == reasons.ReasonCode.OTHER and not note.strip():
        raise TriageError(
            "reason 'other' needs a note",
            hint="describe the reason with --note",
            ko="사유 코드 'other'에는 메모가 필요합니다",
            ko_hint="--note로 사유를 적으십시오",
        )
    by.require(role_for(known), action)
    return known, code


def plan(
    alert: Alert,
    action: Action,
    *,
    by: Acting,
    code: str,
    note: str,
    policy: TriagePolicy,
    suppress_days: float | None,
    now: dt.datetime,
) -> DecisionPlan:
    """What ``action`` by ``by`` does to ``alert`` as it stands (pure; see the table in
    alerts/lifecycle.py).

    Raises:
        TriageError: the table has no such move from the alert's status, or ``by`` took
            part in the close request it would approve.
    """
    step = TRANSITIONS.get((alert.status, action))
    if step is None:
        raise TriageError(
            f"alert #{alert.id} is {alert.status}: cannot {action} it",
            hint=_hint(alert.status),
            ko=f"경보 #{alert.id}은(는) {STATUS_KO.get(alert.status, alert.status)} 상태라 "
            f"{ACTION_KO.get(action, action)}할 수 없습니다",
            ko_hint=_hint_ko(alert.status),
        )
    # stored ids are normalised again: requests made before principals were ids
    requesters = {normalise(p) for p in (alert.close_requested_by, alert.close_requested_via) if p}
    if step.not_requester and by.ids & requesters:
        via = f" via {alert.close_requested_via}" if alert.close_requested_via else ""
        via_ko = f", 경유 {alert.close_requested_via}" if alert.close_requested_via else ""
        raise TriageError(
            f"{by.effective.id} took part in the request to close alert #{alert.id} "
            f"(requested by {alert.close_requested_by}{via}) and cannot also approve it",
            hint="four-eyes: a different principal with the approver role approves",
            ko=f"{by.effective.id}은(는) 경보 #{alert.id}의 종결 요청에 참여했으므로 "
            f"(요청자 {alert.close_requested_by}{via_ko}) 승인할 수 없습니다",
            ko_hint="이중 승인: 승인자 역할을 가진 다른 사람이 승인해야 합니다",
        )
    four_eyes = step.four_eyes_to is not None and alert.severity in policy.four_eyes
    to = step.four_eyes_to if four_eyes and step.four_eyes_to is not None else step.to
    days = policy.suppress_days if suppress_days is None else suppress_days
    until = now + dt.timedelta(days=days) if action == "dismiss" and days > 0 else None
    criteria = {
        "from_status": alert.status,
        "to_status": to,
        "severity": alert.severity,
        "risk": round(alert.risk, 3),
        "model_sha256": alert.model_sha256,
        "scenario": alert.scenario,
        "four_eyes": sorted(policy.four_eyes),
        "close_requested_by": alert.close_requested_by,
        "close_requested_via": alert.close_requested_via,
        "suppressed_until": until.isoformat() if until else None,
    }
    if by.on_behalf_of is not None:
        criteria["on_behalf_of"] = by.on_behalf_of.id
    entry = NewEntry(
        actor=by.actor.id,
        action="request_close" if four_eyes else action,
        target=alert_target(alert.id),
        subject=alert.user_id,
        reason_code=code,
        note=note,
        criteria=criteria,
    )
    return DecisionPlan(
        transition=step,
        to=to,
        four_eyes=four_eyes,
        entry=entry,
        decided_by=by.effective.id,
        close_requested_by=by.effective.id if four_eyes else None,
        close_requested_via=by.actor.id if four_eyes and by.on_behalf_of else None,
        suppressed_until=until,
        label_candidate=action == "dismiss",
        resolve=to in ("closed", "dismissed"),
    )


def apply(
    conn: Connection,
    alert: Alert,
    step: DecisionPlan,
    *,
    policy: TriagePolicy,
    now: dt.datetime,
    trail: Trail,
) -> Decision:
    """Write a planned decision in the caller's transaction: status, trail, feedback,
    take-backs."""
    alerts = AlertRepository(conn)
    alerts.set_status(
        alert.id,
        step.to,
        now,
        close_requested_by=step.close_requested_by,
        close_requested_via=step.close_requested_via,
    )
    entry = record(conn, trail, step.entry, now)
    if step.label_candidate:
        alerts.feedback.add_label_candidate(
            alert,
            actor=step.decided_by,
            reason_code=step.entry.reason_code,
            note=step.entry.note,
            audit_seq=entry.seq,
            now=now,
        )
    if step.suppressed_until is not None:
        alerts.feedback.add_suppression(
            alert, until=step.suppressed_until, actor=step.decided_by, now=now
        )
    resolves: list[str] = []
    if step.resolve:
        resolves = _enqueue_resolves(conn, alert, policy.resolvable_channels, now)
    return Decision(
        alert=alerts.get_alert(alert.id),
        entry=entry,
        awaiting_approval=step.four_eyes,
        label_candidate=step.label_candidate,
        suppressed_until=step.suppressed_until,
        resolves=resolves,
    )


def _enqueue_resolves(
    conn: Connection, alert: Alert, resolvable: Collection[str], now: dt.datetime
) -> list[str]:
    announced = AlertRepository(conn).outbox.channels_of(alert.id, "trigger")
    channels = sorted(c for c in announced if c in resolvable)
    for channel in channels:
        AlertRepository(conn).outbox.enqueue(
            alert_id=alert.id,
            channel=channel,
            rule_id="resolve",
            action="resolve",
            recipients=[],
            digest=False,
            not_before=now,
            now=now,
        )
    return channels


def _hint(status: str) -> str:
    if status in ("closed", "dismissed"):
        return "reopen it first with `auditlens alerts reopen ID --reason CODE --as NAME`"
    if status == "close_requested":
        return "it waits for a second person's `auditlens alerts approve ID --as NAME`"
    return "see its state with `auditlens alerts list`"


def _hint_ko(status: str) -> str:
    if status in ("closed", "dismissed"):
        return "먼저 `auditlens alerts reopen ID --reason 코드 --as 이름`으로 재개하십시오"
    if status == "close_requested":
        return "다른 사람의 `auditlens alerts approve ID --as 이름` 승인을 기다리는 중입니다"
    return "`auditlens alerts list`로 상태를 확인하십시오"
