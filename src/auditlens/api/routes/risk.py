"""Risk routes: one user's risk and history, the riskiest users, KPIs, model versions.

Every read of one named person (risk, history) is recorded in the audit trail with the
caller and the optional ``purpose`` (:func:`auditlens.privacy.record_view`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import zoneinfo
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from auditlens.api.auth import Viewer, v1_router
from auditlens.api.csv import csv_content, csv_response, wants_csv
from auditlens.api.problems import problem_responses
from auditlens.api.routes.common import (
    Clean,
    Context,
    Day,
    Format,
    Limit,
    Offset,
    Purpose,
    json_response,
    page,
    unknown_user,
)
from auditlens.store.alerts import AlertStatus
from auditlens.views import (
    HistoryDay,
    Kpis,
    ModelVersion,
    PageOf,
    RiskFilters,
    RiskRow,
    UserRisk,
    kpis,
    model_versions,
    top_risks,
    user_history,
    user_risk,
)
from auditlens.vocabulary import Severity

UserId = Annotated[
    Clean,
    Path(
        min_length=1,
        max_length=200,
        description="user id; the pseudonym (P-XXXX-XXXX-XXXX) for callers shown pseudonyms",
    ),
]
Start = Annotated[Day | None, Query(description="first local day (YYYY-MM-DD)")]
End = Annotated[Day | None, Query(description="last local day (YYYY-MM-DD), included")]


class UserHistory(BaseModel):
    """A user's risk per day, oldest first."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    user_id: str = Field(description="the user id, or its pseudonym")
    start: dt.date | None
    end: dt.date | None
    days: tuple[HistoryDay, ...]


def _csv(model: type[BaseModel], description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": csv_content(model)}}


def router() -> APIRouter:
    """The risk routes."""
    r = v1_router()
    _person_routes(r)
    _list_routes(r)
    _figure_routes(r)
    return r


def _person_routes(r: APIRouter) -> None:
    """One named person's risk and history (each read recorded)."""

    @r.get(
        "/users/{user_id}/risk",
        summary="A user's latest risk / 사용자의 최신 위험도",
        tags=["risk"],
        response_model=UserRisk,
        responses=problem_responses(404, 422),
    )
    async def risk(
        request: Request, caller: Viewer, user_id: UserId, purpose: Purpose = None
    ) -> Response:
        """The user's latest risk with reasons, evidence and open alert (an audit entry)."""
        ctx = Context.of(request, caller)
        real, found = await run_in_threadpool(_latest, ctx, user_id)
        await asyncio.wrap_future(ctx.viewed(real, "risk", purpose))
        # the view model is valid by construction: sent as it is, not validated again
        return json_response(ctx.disguise(found, real))

    @r.get(
        "/users/{user_id}/history",
        summary="A user's risk per day / 사용자의 일별 위험도",
        tags=["risk"],
        response_model=UserHistory,
        responses={**_csv(HistoryDay, "the days"), **problem_responses(404, 422)},
    )
    async def history(
        request: Request,
        caller: Viewer,
        user_id: UserId,
        start: Start = None,
        end: End = None,
        purpose: Purpose = None,
        format_: Format = None,
    ) -> Any:
        """The user's risk per day from ``start`` to ``end`` (an audit entry)."""
        ctx = Context.of(request, caller)
        real, days = await run_in_threadpool(_days, ctx, user_id, start, end)
        await asyncio.wrap_future(ctx.viewed(real, "history", purpose))
        if wants_csv(request, format_):
            return csv_response(HistoryDay, days, filename="history.csv", total=len(days))
        return UserHistory(user_id=ctx.show(real), start=start, end=end, days=days)


def _list_routes(r: APIRouter) -> None:
    """The riskiest users of a period."""

    @r.get(
        "/risks",
        summary="Riskiest users of a period / 기간별 고위험 사용자",
        tags=["risk"],
        response_model=PageOf[RiskRow],
        responses={**_csv(RiskRow, "one page of users"), **problem_responses(422)},
    )
    def risks(
        request: Request,
        caller: Viewer,
        start: Start = None,
        end: End = None,
        department: Annotated[Clean | None, Query(max_length=200)] = None,
        severity: Annotated[Severity | None, Query(description="this severity or above")] = None,
        scenario: Annotated[Clean | None, Query(max_length=200)] = None,
        status: Annotated[AlertStatus | None, Query(description="newest alert's status")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
        format_: Format = None,
    ) -> Any:
        """Users by their peak risk in the period, riskiest first."""
        ctx = Context.of(request, caller)
        filters = RiskFilters(
            start=start,
            end=end,
            department=department,
            min_severity=severity,
            scenario=scenario,
            alert_status=status,
        )
        found = top_risks(ctx.store, filters, page(limit, offset))
        rows = [ctx.disguise(row, row.user_id) for row in found.items]
        if wants_csv(request, format_):
            return csv_response(
                RiskRow,
                rows,
                filename="risks.csv",
                total=found.total,
                next_offset=found.next_offset,
            )
        return found.model_copy(update={"items": tuple(rows)})


def _figure_routes(r: APIRouter) -> None:
    """KPIs and model versions."""

    @r.get(
        "/kpis",
        summary="KPIs of a period / 기간별 KPI",
        tags=["kpis"],
        responses=problem_responses(422),
    )
    def period_kpis(
        request: Request,
        caller: Viewer,
        start: Annotated[Day | None, Query(description="first local day; default end-29")] = None,
        end: Annotated[Day | None, Query(description="last local day; default today")] = None,
    ) -> Kpis:
        """The KPIs of docs/kpis.md for the alerts opened from ``start`` to ``end`` (a start
        after the end is an empty period)."""
        ctx = Context.of(request, caller)
        last = end or ctx.now.astimezone(zoneinfo.ZoneInfo(ctx.zone)).date()
        first = start or last - dt.timedelta(days=29)
        return kpis(ctx.store, first, last, zone=ctx.zone)

    @r.get(
        "/models",
        summary="Model versions / 모델 버전",
        tags=["models"],
        response_model=list[ModelVersion],
        responses={**_csv(ModelVersion, "every model"), **problem_responses(422)},
    )
    def models(request: Request, caller: Viewer, format_: Format = None) -> Any:
        """Every registered model, newest first; ``active`` marks the one in force."""
        ctx = Context.of(request, caller)
        found = model_versions(ctx.store)
        if wants_csv(request, format_):
            return csv_response(ModelVersion, found, filename="models.csv", total=len(found))
        return list(found)


def _latest(ctx: Context, given: str) -> tuple[str, UserRisk]:
    """The user ``given`` names (a pseudonym for some callers) and their latest risk."""
    real = ctx.resolve(given)
    if real is None:
        raise unknown_user(given)
    return real, user_risk(ctx.store, real)


def _days(
    ctx: Context, given: str, start: dt.date | None, end: dt.date | None
) -> tuple[str, tuple[HistoryDay, ...]]:
    """The user ``given`` names and their risk per day."""
    real = ctx.resolve(given)
    if real is None:
        raise unknown_user(given)
    return real, user_history(ctx.store, real, start, end)
