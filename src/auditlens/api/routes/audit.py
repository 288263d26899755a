"""Audit routes: search the hash-chained trail, and whether it verifies now."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from auditlens.api.auth import Viewer, v1_router
from auditlens.api.csv import csv_content, csv_response, wants_csv
from auditlens.api.problems import problem_responses
from auditlens.api.routes.common import Clean, Context, Day, Format, Limit, Offset, page
from auditlens.views import (
    AuditEntryView,
    AuditFilters,
    AuditStatus,
    PageOf,
    audit_search,
    audit_status,
)


def router() -> APIRouter:
    """The audit routes."""
    r = v1_router()

    @r.get(
        "/audit",
        summary="Search the audit trail / 감사 기록 검색",
        tags=["audit"],
        response_model=PageOf[AuditEntryView],
        responses={
            200: {"description": "one page of entries", "content": csv_content(AuditEntryView)},
            **problem_responses(422),
        },
    )
    def search(
        request: Request,
        caller: Viewer,
        actor: Annotated[Clean | None, Query(max_length=200, description="principal id")] = None,
        action: Annotated[list[Clean] | None, Query(description="any of these actions")] = None,
        subject: Annotated[
            Clean | None, Query(max_length=200, description="the monitored user (or pseudonym)")
        ] = None,
        target: Annotated[Clean | None, Query(max_length=200, description="e.g. alert:7")] = None,
        start: Annotated[Day | None, Query(description="on or after this local day")] = None,
        end: Annotated[Day | None, Query(description="on or before this local day")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
        format_: Format = None,
    ) -> Any:
        """Trail entries, newest first; subjects shown as pseudonyms where the caller
        is shown pseudonyms."""
        ctx = Context.of(request, caller)
        if target is not None and target.startswith("user:"):
            target = "user:" + (ctx.user_filter(target[5:]) or "")
        filters = AuditFilters(
            actor=actor,
            actions=tuple(action or ()),
            subject=ctx.user_filter(subject),
            target=target,
            start=start,
            end=end,
        )
        found = audit_search(ctx.store, filters, page(limit, offset), zone=ctx.zone)
        rows = [ctx.disguise(row, row.subject) for row in found.items]
        if wants_csv(request, format_):
            return csv_response(
                AuditEntryView,
                rows,
                filename="audit.csv",
                total=found.total,
                next_offset=found.next_offset,
            )
        return found.model_copy(update={"items": tuple(rows)})

    @r.get(
        "/audit/verify",
        summary="Verify the audit trail / 감사 기록 검증",
        tags=["audit"],
        responses=problem_responses(),
    )
    def verify(request: Request, caller: Viewer) -> AuditStatus:
        """The hash chain and the tables replayed from it, verified now."""
        ctx = Context.of(request, caller)
        return audit_status(ctx.store, now=ctx.now)

    return r
