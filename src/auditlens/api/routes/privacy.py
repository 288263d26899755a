"""Re-identification routes: seeing the person behind one pseudonymised alert takes an
analyst's request and a different approver's grant (privacy/reidentify.py); each step
is in the audit trail, and the grant runs out after ``privacy.reidentify_ttl_minutes``."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from auditlens.api.auth import ROLES_EXTENSION, Analyst, Approver, Viewer, v1_router
from auditlens.api.csv import csv_content, csv_response, wants_csv
from auditlens.api.models import Strict
from auditlens.api.problems import Problem, problem_responses
from auditlens.api.routes.alerts import AlertId
from auditlens.api.routes.common import Clean, Context, Format, Limit, conflict
from auditlens.privacy import (
    ReidentificationError,
    decide_reidentification,
    expire_due,
    request_reidentification,
    reveal,
)
from auditlens.store.reidentifications import Reidentification

RequestId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the request's id")]


class ReidentificationRequest(Strict):
    """Why the analyst needs to see who the alert is about (e.g. a case number)."""

    reason: Clean = Field(min_length=1, max_length=2000)


class ReidentificationDecision(Strict):
    """An approver's grant or denial."""

    grant: bool
    note: Clean = Field(default="", max_length=2000)


class ReidentificationView(BaseModel):
    """One re-identification request and where it stands."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    id: int
    alert_id: int
    requested_by: str
    requested_via: str | None
    reason: str
    requested_at: dt.datetime
    status: str = Field(description="requested, granted, denied or expired")
    decided_by: str | None
    decided_via: str | None
    decision_note: str
    decided_at: dt.datetime | None
    expires_at: dt.datetime | None
    expired_at: dt.datetime | None


class Identity(BaseModel):
    """The user behind an alert, revealed to the requester of a live grant."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    alert_id: int
    user_id: str


def _view(found: Reidentification) -> ReidentificationView:
    return ReidentificationView(**dataclasses.asdict(found))


#: Who may see re-identification requests: those who make or decide them (and admins).
_DECIDERS: Final = ("analyst", "approver", "admin")

ReidentificationStatus = Literal["requested", "granted", "denied", "expired"]


def _no_request(request_id: int) -> Problem:
    return Problem(
        404,
        "not-found",
        "Not found",
        f"no re-identification request #{request_id}",
        f"재식별 요청 #{request_id}이(가) 없습니다",
    )


def router() -> APIRouter:
    """The re-identification routes."""
    r = v1_router()

    @r.post(
        "/alerts/{alert_id}/reidentification",
        summary="Ask to re-identify an alert's user / 재식별 요청",
        tags=["privacy"],
        status_code=201,
        responses=problem_responses(404, 409, 422),
        openapi_extra={ROLES_EXTENSION: ["analyst"]},
    )
    def ask(
        request: Request, caller: Analyst, alert_id: AlertId, body: ReidentificationRequest
    ) -> ReidentificationView:
        """Request to see the person behind the alert (an approver decides)."""
        ctx = Context.of(request, caller)
        try:
            made = request_reidentification(
                ctx.store, caller.acting, alert_id, body.reason, now=ctx.now
            )
        except ReidentificationError as exc:
            raise conflict(exc.text("en"), exc.text("ko")) from None
        return _view(made)

    @r.post(
        "/reidentifications/{request_id}/decision",
        summary="Grant or deny re-identification / 재식별 승인·거부",
        tags=["privacy"],
        responses=problem_responses(404, 409, 422),
        openapi_extra={ROLES_EXTENSION: ["approver"]},
    )
    def decide(
        request: Request, caller: Approver, request_id: RequestId, body: ReidentificationDecision
    ) -> ReidentificationView:
        """A different approver grants (for privacy.reidentify_ttl_minutes) or denies."""
        ctx = Context.of(request, caller)
        if ctx.store.reidentifications.get(request_id) is None:
            raise _no_request(request_id)
        ttl = dt.timedelta(minutes=ctx.settings.privacy.reidentify_ttl_minutes)
        try:
            made = decide_reidentification(
                ctx.store, caller.acting, request_id, body.grant, body.note, now=ctx.now, ttl=ttl
            )
        except ReidentificationError as exc:
            raise conflict(exc.text("en"), exc.text("ko")) from None
        return _view(made)

    _list_routes(r)
    _identity_route(r)
    return r


def _list_routes(r: APIRouter) -> None:
    """Where requests stand (no user ids)."""

    @r.get(
        "/reidentifications",
        summary="Re-identification requests / 재식별 요청 목록",
        tags=["privacy"],
        response_model=list[ReidentificationView],
        responses={
            200: {"description": "the requests", "content": csv_content(ReidentificationView)},
            **problem_responses(422),
        },
        openapi_extra={ROLES_EXTENSION: list(_DECIDERS)},
    )
    def requests(
        request: Request,
        caller: Viewer,
        alert_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
        status: Annotated[list[ReidentificationStatus] | None, Query()] = None,
        limit: Limit = 50,
        format_: Format = None,
    ) -> Any:
        """Requests, newest first (no user ids): for analysts (their own and the team's)
        and approvers (what waits for a decision: ``status=requested``)."""
        ctx = Context.of(request, caller)
        expire_due(ctx.store, ctx.now)  # a grant that ran out is listed as expired
        found = ctx.store.reidentifications.find(
            alert_id=alert_id, statuses=tuple(status or ()), limit=limit
        )
        views = [_view(f) for f in found]
        if wants_csv(request, format_):
            return csv_response(
                ReidentificationView, views, filename="reidentifications.csv", total=len(views)
            )
        return views

    @r.get(
        "/reidentifications/{request_id}",
        summary="One re-identification request / 재식별 요청 상세",
        tags=["privacy"],
        responses=problem_responses(404, 422),
        openapi_extra={ROLES_EXTENSION: list(_DECIDERS)},
    )
    def one(request: Request, caller: Viewer, request_id: RequestId) -> ReidentificationView:
        """One request and where it stands (no user id)."""
        ctx = Context.of(request, caller)
        expire_due(ctx.store, ctx.now)
        found = ctx.store.reidentifications.get(request_id)
        if found is None:
            raise _no_request(request_id)
        return _view(found)


def _identity_route(r: APIRouter) -> None:
    """The reveal, for the requester of a live grant."""

    @r.get(
        "/alerts/{alert_id}/identity",
        summary="The re-identified user of an alert / 재식별된 사용자",
        tags=["privacy"],
        responses=problem_responses(404, 422),
    )
    def identity(request: Request, caller: Analyst, alert_id: AlertId) -> Identity:
        """The alert's user id, for the requester while their grant is live (an audit
        entry per reveal); 403 otherwise."""
        ctx = Context.of(request, caller)
        ctx.store.alerts.get_alert(alert_id)  # 404 before 403
        try:
            user = reveal(ctx.store, caller.acting, alert_id, ctx.now)
        except ReidentificationError as exc:
            raise Problem(403, "forbidden", "Not allowed", exc.text("en"), exc.text("ko")) from None
        return Identity(alert_id=alert_id, user_id=user)
