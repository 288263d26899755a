"""Human decisions on alerts: acknowledge, escalate, dismiss, close, approve, reopen.

Every decision is checked against the alert's state, applied and written to the audit
trail (actor, reason code, note, the criteria in force) in one transaction.

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

    >>> decide(engine, 7, "acknowledge", by=directory.acting("kim"), reason="reviewing",
    ...        now=now, policy=TriagePolicy())
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Final, Literal

from sqlalchemy import Connection, Engine

from auditlens.alerts import reasons
from auditlens.errors import AuditlensError
from auditlens.identity import Acting, Role, normalise
from auditlens.store.alerts import Alert, AlertRepository
from auditlens.store.audit import SAME_DATABASE, AuditEntry, NewEntry, Trail

Action = Literal["acknowledge", "escalate", "dismiss", "close", "approve", "reopen"]
#: The states each action may start from.
ALLOWED_FROM: Final[dict[str, frozenset[str]]] = {
    "acknowledge": frozenset({"open"}),
    "escalate": frozenset({"open", "acknowledged"}),
    "dismiss": frozenset({"open", "acknowledged", "escalated"}),
    "close": frozenset({"open", "acknowledged", "escalated"}),
    "approve": frozenset({"close_requested"}),
    "reopen": frozenset({"closed", "dismissed", "close_requested"}),
}
#: Actions that must say why.
NEEDS_REASON: Final = frozenset({"escalate", "dismiss", "close", "reopen"})
#: The role each action needs.
NEEDS_ROLE: Final[dict[str, Role]] = {
    "acknowledge": "analyst",
    "escalate": "analyst",
    "dismiss": "analyst",
    "close": "analyst",
    "approve": "approver",
    "reopen": "analyst",
}


class TriageError(AuditlensError):
    """A decision that cannot be applied to the alert as it stands."""


@dataclass(frozen=True)
class TriagePolicy:
    """The rules decisions follow."""

    four_eyes: frozenset[str] = frozenset({"critical"})
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
    if action not in ALLOWED_FROM:
        raise TriageError(f"unknown action {action!r}", hint=f"use one of {sorted(ALLOWED_FROM)}")
    code = ""
    if reason:
        try:
            code = reasons.parse(reason).value
        except ValueError as exc:
            raise TriageError(
                str(exc), hint="put prose in --note; see `auditlens alerts reasons`"
            ) from None
    if action in NEEDS_REASON and not code:
        raise TriageError(
            f"{action} needs a reason code / 사유 코드가 필요합니다", hint="pass --reason CODE"
        )
    if code == reasons.ReasonCode.OTHER and not note.strip():
        raise TriageError("reason 'other' needs a note / 'other'는 메모가 필요합니다")
    by.require(NEEDS_ROLE[action], action)
    actor = by.actor.id
    with engine.begin() as conn:
        alert = AlertRepository(conn).get_alert(alert_id)
        if alert.status not in ALLOWED_FROM[action]:
            raise TriageError(
                f"alert #{alert_id} is {alert.status}: cannot {action} it",
                hint=_hint(alert.status),
            )
        # stored ids are normalised again: requests made before principals were ids
        requesters = {
            normalise(p) for p in (alert.close_requested_by, alert.close_requested_via) if p
        }
        if action == "approve" and by.ids & requesters:
            via = f" via {alert.close_requested_via}" if alert.close_requested_via else ""
            raise TriageError(
                f"{by.effective.id} took part in the request to close alert #{alert_id} "
                f"(requested by {alert.close_requested_by}{via}) and cannot also approve it / "
                "종결 요청자는 승인할 수 없습니다 (이중 승인)",
                hint="four-eyes: a different principal with the approver role approves",
            )
        four_eyes = action == "close" and alert.severity in policy.four_eyes
        new_status = {
            "acknowledge": "acknowledged",
            "escalate": "escalated",
            "dismiss": "dismissed",
            "close": "close_requested" if four_eyes else "closed",
            "approve": "closed",
            "reopen": "open",
        }[action]
        AlertRepository(conn).set_status(
            alert_id,
            new_status,
            now,
            close_requested_by=by.effective.id if four_eyes else None,
            close_requested_via=by.actor.id if four_eyes and by.on_behalf_of else None,
        )
        days = policy.suppress_days if suppress_days is None else suppress_days
        until = now + dt.timedelta(days=days) if action == "dismiss" and days > 0 else None
        criteria = {
            "from_status": alert.status,
            "to_status": new_status,
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
        entry = trail.append(
            conn,
            NewEntry(
                actor=actor,
                action="request_close" if four_eyes else action,
                target=f"alert:{alert_id}",
                subject=alert.user_id,
                reason_code=code,
                note=note,
                criteria=criteria,
            ),
            now,
        )
        if action == "dismiss":
            AlertRepository(conn).feedback.add_label_candidate(
                alert,
                actor=by.effective.id,
                reason_code=code,
                note=note,
                audit_seq=entry.seq,
                now=now,
            )
            if until is not None:
                AlertRepository(conn).feedback.add_suppression(
                    alert, until=until, actor=by.effective.id, now=now
                )
        resolves: list[str] = []
        if new_status in ("closed", "dismissed"):
            resolves = _enqueue_resolves(conn, alert, policy.resolvable_channels, now)
        after = AlertRepository(conn).get_alert(alert_id)
    return Decision(
        alert=after,
        entry=entry,
        awaiting_approval=four_eyes,
        label_candidate=action == "dismiss",
        suppressed_until=until,
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
