"""The alert lifecycle: which action moves an alert from which status to which, who may
take it, and the one way a change of an alert is written to the audit trail.

Intake (alerts/intake.py) and triage (alerts/triage.py) both work in two steps: a pure
*plan* decides from what the store holds what changes and which audit entries say so,
then one *apply* step writes it in the caller's transaction. Both write their entries
with :func:`record`, so the trail's words for an alert (target ``alert:ID``, subject
the monitored user) are spelled once.

The table, status x action -> new status and the role it needs::

    >>> TRANSITIONS["open", "acknowledge"].to, TRANSITIONS["open", "acknowledge"].role
    ('acknowledged', 'analyst')
    >>> ("closed", "acknowledge") in TRANSITIONS   # refused: reopen it first
    False
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from sqlalchemy import Connection

from auditlens.i18n.words import ALERT_STATUS_KO
from auditlens.identity import Role
from auditlens.store.alerts import ALERT_STATUSES, Alert, AlertStatus
from auditlens.store.audit import AuditEntry, NewEntry, Trail

Action = Literal["acknowledge", "escalate", "dismiss", "close", "approve", "reopen"]
#: Every action a person can take on an alert.
ACTIONS: Final[tuple[Action, ...]] = (
    "acknowledge",
    "escalate",
    "dismiss",
    "close",
    "approve",
    "reopen",
)
#: Each status as a Korean reader names it (English shows the status id).
STATUS_KO: Final = ALERT_STATUS_KO
#: Each action in Korean, as the object of 할 수 없습니다 ("cannot ...").
ACTION_KO: Final[dict[str, str]] = {
    "acknowledge": "확인",
    "escalate": "상향 보고",
    "dismiss": "오탐 기각",
    "close": "종결",
    "approve": "종결 승인",
    "reopen": "재개",
}
#: Target of an entry about an alert that the apply step is about to open (id unknown yet).
NEW_ALERT: Final = "alert:new"


@dataclass(frozen=True)
class Transition:
    """One allowed move: ``action`` on an alert in ``status`` makes it ``to``."""

    status: AlertStatus
    action: Action
    to: AlertStatus
    #: The role the acting principal needs.
    role: Role
    #: True when the decision must give a reason code.
    needs_reason: bool
    #: Where it goes instead when the alert's severity needs four eyes (close: a request).
    four_eyes_to: AlertStatus | None = None
    #: True when nobody who took part in the close request may take it (four eyes).
    not_requester: bool = False


def _rows(
    action: Action,
    statuses: Sequence[AlertStatus],
    to: AlertStatus,
    role: Role,
    *,
    needs_reason: bool = True,
    four_eyes_to: AlertStatus | None = None,
    not_requester: bool = False,
) -> list[Transition]:
    """One row of the table per status ``action`` may start from."""
    return [
        Transition(s, action, to, role, needs_reason, four_eyes_to, not_requester) for s in statuses
    ]


_WORKED: Final[tuple[AlertStatus, ...]] = ("open", "acknowledged", "escalated")
#: status x action -> the transition; a pair not in the table is refused.
TRANSITIONS: Final[dict[tuple[str, str], Transition]] = {
    (t.status, t.action): t
    for t in (
        *_rows("acknowledge", ("open",), "acknowledged", "analyst", needs_reason=False),
        *_rows("escalate", ("open", "acknowledged"), "escalated", "analyst"),
        *_rows("dismiss", _WORKED, "dismissed", "analyst"),
        *_rows("close", _WORKED, "closed", "analyst", four_eyes_to="close_requested"),
        *_rows(
            "approve",
            ("close_requested",),
            "closed",
            "approver",
            needs_reason=False,
            not_requester=True,
        ),
        *_rows("reopen", ("closed", "dismissed", "close_requested"), "open", "analyst"),
    )
}


def role_for(action: Action) -> Role:
    """The role ``action`` needs (the same from every status it is allowed from)."""
    return next(t.role for t in TRANSITIONS.values() if t.action == action)


def needs_reason(action: Action) -> bool:
    """True when ``action`` must give a reason code."""
    return any(t.needs_reason for t in TRANSITIONS.values() if t.action == action)


def allowed_from(action: Action) -> list[str]:
    """The statuses ``action`` may start from, in lifecycle order."""
    return [s for s in ALERT_STATUSES if (s, action) in TRANSITIONS]


def record(
    conn: Connection,
    trail: Trail,
    entry: NewEntry,
    now: dt.datetime,
    *,
    alert: Alert | None = None,
    extra: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append a planned entry to the trail, completed with what the apply step learned.

    ``alert`` is the alert the entry is about: an entry planned for a new alert
    (target :data:`NEW_ALERT`) gets its id. ``extra`` joins the entry's criteria (the
    deliveries routed, known only once they are in the outbox).
    """
    if alert is not None and entry.target == NEW_ALERT:
        entry = replace(entry, target=alert_target(alert.id))
    if extra:
        entry = replace(entry, criteria=entry.criteria | extra)
    return trail.append(conn, entry, now)


def alert_target(alert_id: int) -> str:
    """The trail's target of an alert."""
    return f"alert:{alert_id}"
