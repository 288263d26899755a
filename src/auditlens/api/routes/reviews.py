"""Review-sample routes: the miss-rate samples (``GET /v1/reviews``, CSV too) and a
reviewer's verdict on one (``POST /v1/reviews/{review_id}/verdict``).

A verdict goes through the same code as ``auditlens review decide``
(:func:`auditlens.monitor.review.decide_sample`); who decides is the authenticated
principal (analyst role), never a request field. A sample is decided once: a second
verdict, or one that lost a race with another reviewer's, is a 409. Viewers and analysts
see pseudonyms where user ids would be, as in the alert queue.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from auditlens.api.auth import ROLES_EXTENSION, Analyst, Viewer, v1_router
from auditlens.api.csv import csv_content, csv_response, wants_csv
from auditlens.api.models import Strict
from auditlens.api.problems import problem_responses
from auditlens.api.routes.alerts import Coded, Said
from auditlens.api.routes.common import Clean, Context, Format, Limit, Offset, conflict, page
from auditlens.monitor.review import ReviewConflict, decide_sample
from auditlens.store.reviews import ReviewNotFound
from auditlens.views import NotFound, PageOf, ReviewRow, review_list
from auditlens.views.reviews import review_row

ReviewId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the review sample's id")]
ReviewStatus = Literal["pending", "missed", "clean"]
_NOTE = "free text (kept in the audit trail)"


class CodedVerdict(Strict):
    """missed (it should have been flagged) or clean, with a reason code."""

    verdict: Literal["missed", "clean"]
    reason: Coded = Field(description="reason code (alerts/reasons.py)")
    note: Clean = Field(default="", max_length=4000, description=_NOTE)


class OtherVerdict(Strict):
    """A verdict with the reason ``other``: the note must say what it is."""

    verdict: Literal["missed", "clean"]
    reason: Literal["other"]
    note: Said = Field(description=_NOTE + "; required with other")


#: A verdict on a review sample (the actor is the authenticated principal).
VerdictRequest = CodedVerdict | OtherVerdict


class VerdictResult(BaseModel):
    """What a verdict recorded."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")

    review: ReviewRow = Field(description="the sample after the verdict")
    actor: str = Field(description="the authenticated principal, as the trail records it")
    audit_seq: int = Field(description="the audit-trail entry recording the verdict")


def router() -> APIRouter:
    """The review-sample routes."""
    r = v1_router()

    @r.get(
        "/reviews",
        summary="Miss-rate review samples / 놓침 비율 검토 표본",
        tags=["reviews"],
        response_model=PageOf[ReviewRow],
        responses={
            200: {"description": "one page of samples", "content": csv_content(ReviewRow)},
            **problem_responses(422),
        },
    )
    def reviews(
        request: Request,
        caller: Viewer,
        status: Annotated[list[ReviewStatus] | None, Query(description="any of these")] = None,
        limit: Limit = 50,
        offset: Offset = 0,
        format_: Format = None,
    ) -> Any:
        """Unflagged users drawn at random by runs for review, newest draw first."""
        ctx = Context.of(request, caller)
        found = review_list(ctx.store, tuple(status or ()), page(limit, offset))
        rows = [ctx.disguise(row, row.user_id) for row in found.items]
        if wants_csv(request, format_):
            return csv_response(
                ReviewRow,
                rows,
                filename="reviews.csv",
                total=found.total,
                next_offset=found.next_offset,
            )
        return found.model_copy(update={"items": tuple(rows)})

    @r.post(
        "/reviews/{review_id}/verdict",
        summary="Decide a review sample / 검토 표본 판정",
        tags=["reviews"],
        status_code=201,
        responses=problem_responses(404, 409, 422),
        openapi_extra={ROLES_EXTENSION: ["analyst"]},
    )
    def verdict(
        request: Request, caller: Analyst, review_id: ReviewId, body: VerdictRequest
    ) -> VerdictResult:
        """Say once whether the capacity cut missed this user (analyst role)."""
        ctx = Context.of(request, caller)
        try:
            made = decide_sample(
                ctx.store,
                review_id,
                body.verdict,
                by=caller.acting,
                reason=body.reason,
                note=body.note,
                now=ctx.now,
            )
        except ReviewNotFound as exc:
            raise NotFound(exc.message, ko=exc.ko) from None
        except ReviewConflict as exc:
            raise conflict(exc.message, exc.ko or exc.message) from None
        row = review_row(made.sample)
        return VerdictResult(
            review=ctx.disguise(row, row.user_id),
            actor=made.entry.actor,
            audit_seq=made.entry.seq,
        )

    return r
