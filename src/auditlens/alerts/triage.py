"""Human decisions on alerts: acknowledge, escalate, dismiss, close, approve, reopen.

Every decision is checked against the alert's state, applied and written to the audit
trail (actor, reason code, note, the criteria in force) in one transaction.

* **dismiss** = dismiss as false positive: the alert becomes a label candidate (label 0)
  for the supervised model, and optionally the same scenario is suppressed for that user
  for some days.
* **close** of an alert whose severity needs four eyes (``alert_four_eyes``, default
  critical) only *requests* closing; a different person must **approve** it.
* closing or dismissing takes back what channels announced (PagerDuty resolve).

Example::

    >>> decide(engine, 7, "acknowledge", actor="kim", reason="reviewing", now=now,
    ...        policy=TriagePolicy())
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Final, Literal

from sqlalchemy import Connection, Engine

from auditlens.errors import AuditlensError
from auditlens.store import alerts as store
from auditlens.store import feedback
from auditlens.store.alerts import Alert
from auditlens.store.audit import AuditEntry, NewEntry, append

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
REASON_CODE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,99}$")


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
    actor: str,
    reason: str = "",
    note: str = "",
    now: dt.datetime,
    policy: TriagePolicy,
    suppress_days: float | None = None,
) -> Decision:
    """Apply ``action`` by ``actor`` to alert ``alert_id`` and record it in the trail.

    Raises:
        TriageError: unknown action, missing or malformed reason code, a transition the
            alert's state does not allow, or approving one's own close request.
        AlertNotFound: no such alert.
    """
    if action not in ALLOWED_FROM:
        raise TriageError(f"unknown action {action!r}", hint=f"use one of {sorted(ALLOWED_FROM)}")
    actor = actor.strip()
    if not actor:
        raise TriageError("who decides? an actor is required", hint="pass --as NAME")
    if reason and not REASON_CODE.match(reason):
        raise TriageError(
            f"reason code {reason!r} is not a code",
            hint="use lower-case letters, digits, _ . - (e.g. false_positive); put prose in --note",
        )
    if action in NEEDS_REASON and not reason:
        raise TriageError(f"{action} needs a reason code", hint="pass --reason CODE")
    with engine.begin() as conn:
        alert = store.get_alert(conn, alert_id)
        if alert.status not in ALLOWED_FROM[action]:
            raise TriageError(
                f"alert #{alert_id} is {alert.status}: cannot {action} it",
                hint=_hint(alert.status),
            )
        if action == "approve" and alert.close_requested_by == actor:
            raise TriageError(
                f"{actor} asked to close alert #{alert_id} and cannot also approve it",
                hint="four-eyes: a second person approves with `auditlens alerts approve`",
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
        store.set_status(
            conn, alert_id, new_status, now, close_requested_by=actor if four_eyes else None
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
            "suppressed_until": until.isoformat() if until else None,
        }
        entry = append(
            conn,
            NewEntry(
                actor=actor,
                action="request_close" if four_eyes else action,
                target=f"alert:{alert_id}",
                subject=alert.user_id,
                reason_code=reason,
                note=note,
                criteria=criteria,
            ),
            now,
        )
        if action == "dismiss":
            feedback.add_label_candidate(
                conn,
                alert,
                actor=actor,
                reason_code=reason,
                note=note,
                audit_seq=entry.seq,
                now=now,
            )
            if until is not None:
                feedback.add_suppression(conn, alert, until=until, actor=actor, now=now)
        resolves: list[str] = []
        if new_status in ("closed", "dismissed"):
            resolves = _enqueue_resolves(conn, alert, policy.resolvable_channels, now)
        after = store.get_alert(conn, alert_id)
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
    announced = store.channels_of(conn, alert.id, "trigger")
    channels = sorted(c for c in announced if c in resolvable)
    for channel in channels:
        store.enqueue(
            conn,
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
