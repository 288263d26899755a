"""Alert routes: the triage queue, one alert, and decisions on it.

A decision goes through the same triage code as ``auditlens alerts ...``
(:func:`auditlens.alerts.triage.decide` with :func:`auditlens.pipeline.alerting.
triage_policy`); who decides is the authenticated principal, never a request field (the
body refuses unknown fields: naming an actor is a 422). A move the alert's state does not
allow, or approving a close one took part in (four eyes), is a 409.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from auditlens.alerts.lifecycle import TRANSITIONS, Action, role_for
from auditlens.alerts.reasons import LABELS, ReasonCode
from auditlens.alerts.triage import TriageError, decide
from auditlens.api.auth import ROLES_EXTENSION, Viewer, v1_router
from auditlens.api.csv import csv_content, csv_response, wants_csv
from auditlens.api.models import Strict
from auditlens.api.problems import Problem, problem_responses
from auditlens.api.routes.common import (
    Clean,
    Context,
    Day,
    Format,
    Limit,
    Offset,
    Purpose,
    conflict,
    page,
)
from auditlens.identity import normalise
from auditlens.pipeline.alerting import triage_policy
from auditlens.store.alerts import AlertStatus
from auditlens.views import AlertDetail, AlertFilters, AlertRow, PageOf, alert_detail, alert_queue
from auditlens.vocabulary import Severity

AlertId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the alert's id")]
#: The API's action words and triage's (``ack`` is ``acknowledge``).
ACTION_OF: Final[dict[str, Action]] = {
    "ack": "acknowledge",
    "escalate": "escalate",
    "dismiss": "dismiss",
    "close": "close",
    "approve": "approve",
    "reopen": "reopen",
}
#: Reason codes of alerts/reasons.py but ``other`` (which needs a note: see OtherDecision).
Coded = Literal[
    "reviewing",
    "false_positive",
    "explained",
    "policy_exception",
    "duplicate",
    "suspected_violation",
    "confirmed",
    "referred",
    "remediated",
    "approved",
    "new_evidence",
    "mistake",
]
#: A note that says something (no NUL).
Said = Annotated[Clean, StringConstraints(min_length=1, max_length=4000, pattern=r"\S")]
_NOTE = "free text (kept in the audit trail)"


class PlainDecision(Strict):
    """ack or approve: a reason code is optional. The actor is the authenticated
    principal (no field for it)."""

    action: Literal["ack", "approve"]
    reason: Coded | None = Field(default=None, description="reason code (alerts/reasons.py)")
    note: Clean = Field(default="", max_length=4000, description=_NOTE)


class CodedDecision(Strict):
    """escalate, dismiss, close or reopen: a reason code is required."""

    action: Literal["escalate", "dismiss", "close", "reopen"]
    reason: Coded = Field(description="reason code (alerts/reasons.py)")
    note: Clean = Field(default="", max_length=4000, description=_NOTE)


class OtherDecision(Strict):
    """Any action with the reason ``other``: the note must say what it is."""

    action: Literal["ack", "escalate", "dismiss", "close", "approve", "reopen"]
    reason: Literal["other"]
    note: Said = Field(description=_NOTE + "; required with other")


#: A decision on an alert (one of three shapes: the reason code rules are in the schema).
DecisionRequest = PlainDecision | CodedDecision | OtherDecision


class DecisionResult(BaseModel):
    """What a decision did."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    alert: AlertRow = Field(description="the alert after the decision")
    action: str = Field(description="as recorded: request_close when closing needs four eyes")
    actor: str = Field(description="the authenticated principal, as the trail records it")
    reason_code: str
    reason_label: str = Field(description="the reason's label in the request's language")
    note: str
    audit_seq: int = Field(description="the audit-trail entry recording the decision")
    awaiting_approval: bool = Field(description="a second principal must approve the close")
    label_candidate: bool
    suppressed_until: dt.datetime | None


def router() -> APIRouter:
    """The alert routes."""
    r = v1_router()
    _read_routes(r)
    _decision_route(r)
    return r


def _read_routes(r: APIRouter) -> None:
    """The queue and one alert."""

    @r.get(
        "/alerts",
        summary="The alert queue / 알림 대기열",
        tags=["alerts"],
        response_model=PageOf[AlertRow],
        responses={
            200: {"description": "one page of alerts", "content": csv_content(AlertRow)},
            **problem_responses(422),
        },
    )
    def queue(
        request: Request,
        caller: Viewer,
        start: Annotated[Day | None, Query(description="opened on or after")] = None,
        end: Annotated[Day | None, Query(description="opened on or before")] = None,
        status: Annotated[list[AlertStatus] | None, Query(description="any of these")] = None,
        severity: Annotated[Severity | None, Query(description="this severity or above")] = None,
        department: Annotated[Clean | None, Query(max_length=200)] = None,
        scenario: Annotated[Clean | None, Query(max_length=200)] = None,
        user: Annotated[
            Clean | None, Query(max_length=200, description="user id or pseudonym")
        ] = None,
        limit: Limit = 50,
        offset: Offset = 0,
        format_: Format = None,
    ) -> Any:
        """Alerts, most severe first, then riskiest, then oldest."""
        ctx = Context.of(request, caller)
        filters = AlertFilters(
            start=start,
            end=end,
            statuses=tuple(status or ()),
            min_severity=severity,
            department=department,
            scenario=scenario,
            user_id=ctx.user_filter(user),
        )
        found = alert_queue(ctx.store, filters, page(limit, offset), zone=ctx.zone)
        rows = [ctx.disguise(row, row.user_id) for row in found.items]
        if wants_csv(request, format_):
            return csv_response(
                AlertRow,
                rows,
                filename="alerts.csv",
                total=found.total,
                next_offset=found.next_offset,
            )
        return found.model_copy(update={"items": tuple(rows)})

    @r.get(
        "/alerts/{alert_id}",
        summary="One alert / 알림 상세",
        tags=["alerts"],
        responses=problem_responses(404, 422),
    )
    def detail(
        request: Request, caller: Viewer, alert_id: AlertId, purpose: Purpose = None
    ) -> AlertDetail:
        """One alert with its evidence, deliveries and decisions (an audit entry)."""
        ctx = Context.of(request, caller)
        found = alert_detail(ctx.store, alert_id)
        real = found.alert.user_id
        ctx.viewed(real, "alert", purpose).result()
        return ctx.disguise(found, real)


def _decision_route(r: APIRouter) -> None:
    """Decisions on an alert, through triage."""

    @r.post(
        "/alerts/{alert_id}/decisions",
        summary="Decide on an alert / 알림 처리",
        tags=["alerts"],
        status_code=201,
        responses=problem_responses(404, 409, 422),
        openapi_extra={ROLES_EXTENSION: ["analyst", "approver"]},
    )
    def decision(
        request: Request, caller: Viewer, alert_id: AlertId, body: DecisionRequest
    ) -> DecisionResult:
        """Acknowledge, escalate, dismiss, close, approve or reopen, as the caller.

        ack, escalate, dismiss, close and reopen need the analyst role; approve needs the
        approver role and a principal other than the one who asked to close (four eyes).
        """
        ctx = Context.of(request, caller)
        action = ACTION_OF[body.action]
        caller.acting.require(role_for(action), action)
        try:
            made = decide(
                ctx.store.engine,
                alert_id,
                action,
                by=caller.acting,
                reason=body.reason or "",
                note=body.note,
                now=ctx.now,
                policy=triage_policy(ctx.settings),
                trail=ctx.store.trail,
            )
        except TriageError as exc:
            raise _refusal(ctx, alert_id, action) from exc
        shown = alert_detail(ctx.store, alert_id).alert
        code = made.entry.reason_code
        try:
            ko, en = LABELS[ReasonCode(code)]
            label = ctx.say(en, ko)
        except ValueError:
            label = code
        return DecisionResult(
            alert=ctx.disguise(shown, shown.user_id),
            action=made.entry.action,
            actor=made.entry.actor,
            reason_code=code,
            reason_label=label,
            note=ctx.mask(made.entry.note, shown.user_id),
            audit_seq=made.entry.seq,
            awaiting_approval=made.awaiting_approval,
            label_candidate=made.label_candidate,
            suppressed_until=made.suppressed_until,
        )


def _refusal(ctx: Context, alert_id: int, action: Action) -> Problem:
    """409 for a decision triage refused, said in the request's language."""
    alert = ctx.store.alerts.get_alert(alert_id)
    step = TRANSITIONS.get((alert.status, action))
    if step is None:
        return conflict(
            f"alert #{alert_id} is {alert.status}: cannot {action} it",
            f"알림 #{alert_id}은(는) {alert.status} 상태이므로 {action} 처리를 할 수 없습니다",
        )
    requesters = {normalise(p) for p in (alert.close_requested_by, alert.close_requested_via) if p}
    if step.not_requester and ctx.caller.acting.ids & requesters:
        return conflict(
            f"{ctx.caller.principal.id} asked to close alert #{alert_id} and cannot also "
            "approve it: a different principal with the approver role approves (four eyes)",
            f"{ctx.caller.principal.id}은(는) 알림 #{alert_id}의 종결을 요청했으므로 승인할 수 "
            "없습니다: 다른 승인자(approver)가 승인해야 합니다 (이중 승인)",
        )
    return conflict(
        f"alert #{alert_id} changed while deciding; read it again",
        f"처리 중 알림 #{alert_id}의 상태가 바뀌었습니다; 다시 조회하십시오",
    )
