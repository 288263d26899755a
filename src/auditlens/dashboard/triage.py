"""Triage on the dashboard: an alert's SLA, the actions a reader is offered, and a
decision through the same service as the API and the CLI.

A decision is :func:`auditlens.alerts.triage.decide` with the deployment's
:func:`~auditlens.pipeline.alerting.triage_policy`, by the session's proven principal
(``ctx.caller.acting``) — never a name typed on the page. The role is checked first, as
the API does (``Acting.require``), so a reader without the right gets the lifecycle's
refusal in their language; a move the alert's state does not allow, or approving a close
one asked for (four eyes), is triage's own refusal.

Example::

    >>> from auditlens.config import Settings
    >>> limits = Settings().alert_sla_hours
    >>> opened = dt.datetime(2026, 9, 8, 1, 0, tzinfo=dt.UTC)
    >>> sla = sla_of("critical", "open", opened, opened, limits, opened + dt.timedelta(hours=5))
    >>> sla.breached, sla.over.total_seconds() / 3600
    (True, 1.0)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from auditlens.alerts import reasons
from auditlens.alerts.lifecycle import ACTION_KO, ACTIONS, TRANSITIONS, Action, role_for
from auditlens.alerts.reasons import ReasonCode
from auditlens.alerts.triage import Decision, TriageError, decide
from auditlens.api.routes.common import Context
from auditlens.dashboard.widgets import duration
from auditlens.errors import AuditlensError
from auditlens.i18n import pick
from auditlens.identity import IdentityError, normalise
from auditlens.pipeline.alerting import triage_policy
from auditlens.store.alerts import ACTIVE_STATUSES
from auditlens.vocabulary import Severity

#: Roles that take part in triage (a reader with neither sees no action buttons).
TRIAGE_ROLES: Final = frozenset(t.role for t in TRANSITIONS.values())
#: Each action as a button reads in English (Korean: alerts/lifecycle.ACTION_KO).
ACTION_EN: Final[dict[str, str]] = {
    "acknowledge": "Acknowledge",
    "escalate": "Escalate",
    "dismiss": "Dismiss (false positive)",
    "close": "Close",
    "approve": "Approve closing",
    "reopen": "Reopen",
}
#: Trail actions that are not an action's own word (a close that waits for approval).
_TRAIL_WORDS: Final[dict[str, tuple[str, str]]] = {
    "request_close": ("requested closing", "종결 요청"),
    "acknowledge": ("acknowledged", "확인"),
    "escalate": ("escalated", "상향 보고"),
    "dismiss": ("dismissed", "오탐 기각"),
    "close": ("closed", "종결"),
    "approve": ("approved closing", "종결 승인"),
    "reopen": ("reopened", "재개"),
}


@dataclass(frozen=True)
class Sla:
    """How long an alert has been (or was) unresolved, against its severity's limit."""

    age: dt.timedelta
    limit: dt.timedelta | None
    active: bool

    @property
    def breached(self) -> bool:
        """True when the alert is still unresolved past its limit."""
        return self.active and self.limit is not None and self.age > self.limit

    @property
    def over(self) -> dt.timedelta:
        """How far past the limit (zero when within it or without one)."""
        if self.limit is None:
            return dt.timedelta(0)
        return max(self.age - self.limit, dt.timedelta(0))


def sla_of(
    severity: str,
    status: str,
    created_at: dt.datetime,
    updated_at: dt.datetime,
    limits: dict[Severity, float],
    now: dt.datetime,
) -> Sla:
    """The SLA of an alert: an unresolved one ages until ``now``; a closed or dismissed
    one took until its last change (``alert_sla_hours``; no limit for a severity left out).
    """
    active = status in ACTIVE_STATUSES
    age = (now if active else updated_at) - created_at
    try:
        hours = limits.get(Severity(severity))
    except ValueError:
        hours = None
    limit = None if hours is None else dt.timedelta(hours=hours)
    return Sla(age=max(age, dt.timedelta(0)), limit=limit, active=active)


def sla_words(sla: Sla, lang: str) -> str:
    """An alert's SLA in words: past by, due in, or (resolved) in time or late.

    >>> opened = dt.datetime(2026, 9, 8, 1, 0, tzinfo=dt.UTC)
    >>> late = Sla(age=dt.timedelta(hours=6), limit=dt.timedelta(hours=4), active=True)
    >>> sla_words(late, "ko"), sla_words(late, "en")
    ('⚠ 2.0시간 초과', '⚠ past by 2.0 h')
    """
    if sla.limit is None:
        return "—"
    if sla.breached:
        over = duration(sla.over.total_seconds(), lang)
        return pick(lang, f"⚠ past by {over}", f"⚠ {over} 초과")
    if sla.active:
        left = duration((sla.limit - sla.age).total_seconds(), lang)
        return pick(lang, f"due in {left}", f"{left} 남음")
    if sla.age <= sla.limit:
        return pick(lang, "resolved in time", "기한 내 처리")
    return pick(lang, "resolved late", "기한 후 처리")


def trail_word(action: str, lang: str) -> str:
    """A decision as the trail records it (``request_close``...), in words."""
    en, ko = _TRAIL_WORDS.get(action, (action, action))
    return pick(lang, en, ko)


def reason_word(code: str, lang: str) -> str:
    """A reason code by its label (the code itself when it is not one of the list)."""
    try:
        return reasons.label(ReasonCode(code), lang)
    except ValueError:
        return code


def may_triage(ctx: Context) -> bool:
    """True when the reader holds a role that takes part in triage (analyst, approver)."""
    return bool(ctx.caller.acting.effective.roles & TRIAGE_ROLES)


def offered(status: str, ctx: Context) -> list[Action]:
    """The actions shown for an alert in ``status``: every move the lifecycle allows from
    it, to a reader who takes part in triage (none to anyone else)."""
    if not may_triage(ctx):
        return []
    return [a for a in ACTIONS if (status, a) in TRANSITIONS]


def took_part_in_close(ctx: Context, requested_by: str | None, via: str | None) -> bool:
    """True when the reader asked to close the alert (or asked on someone's behalf): four
    eyes keep them from approving it."""
    requesters = {normalise(p) for p in (requested_by, via) if p}
    return bool(ctx.caller.acting.ids & requesters)


def action_label(action: str, lang: str) -> str:
    """An action as its button reads."""
    return ACTION_KO.get(action, action) if lang == "ko" else ACTION_EN.get(action, action)


def reason_codes(action: Action) -> list[str]:
    """The reason codes a decision may give ("" first when the action needs none)."""
    codes = [c.value for c in ReasonCode]
    needed = any(t.needs_reason for t in TRANSITIONS.values() if t.action == action)
    return codes if needed else ["", *codes]


@dataclass(frozen=True)
class Outcome:
    """What a decision from the page did: the decision, or the refusal in the reader's
    language."""

    decision: Decision | None
    refusal: str = ""

    @property
    def ok(self) -> bool:
        """True when the decision was recorded."""
        return self.decision is not None


def refusal_text(error: AuditlensError, lang: str) -> str:
    """A refusal as the page shows it: the message in ``lang`` without the CLI hint (the
    page offers the way out itself)."""
    if lang == "ko":
        return error.ko or error.message
    return error.message


def apply_decision(
    ctx: Context,
    alert_id: int,
    action: Action,
    *,
    reason: str,
    note: str,
    suppress_days: float | None = None,
) -> Outcome:
    """Decide ``action`` on alert ``alert_id`` as the session's principal.

    ``suppress_days`` (dismiss only) overrides ``alert_fp_suppress_days``. A refusal —
    the role missing, the state not allowing it, four eyes, a reason code missing — comes
    back as text in the reader's language; nothing is written then.
    """
    acting = ctx.caller.acting
    try:
        acting.require(role_for(action), action, ACTION_KO.get(action, action))
        made = decide(
            ctx.store.engine,
            alert_id,
            action,
            by=acting,
            reason=reason,
            note=note,
            now=ctx.now,
            policy=triage_policy(ctx.settings),
            suppress_days=suppress_days if action == "dismiss" else None,
            trail=ctx.store.trail,
        )
    except (TriageError, IdentityError) as exc:
        return Outcome(None, refusal_text(exc, ctx.lang))
    return Outcome(made)
