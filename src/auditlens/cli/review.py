"""`auditlens review`: the miss-rate review samples — list them, and say of one whether
the capacity cut missed it (docs/monitoring.md, *Precision and recall*)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from auditlens.cli.common import Actor, Note, call, invocation_lang, load_settings
from auditlens.cli.render_quality import print_reviews, print_verdict

review_app = typer.Typer(
    help="Miss-rate review samples: unflagged users drawn at random by each run. / "
    "놓침 비율 검토 표본: 실행마다 무작위로 뽑은, 경보 대상이 아니었던 사용자입니다.",
    no_args_is_help=True,
)


class VerdictWord(StrEnum):
    """What a reviewer says of a sample."""

    missed = "missed"
    clean = "clean"


@review_app.command("list")
def review_list(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help="Only these statuses: pending, missed, clean (repeatable). / 이 상태만 "
            "보여 줍니다: pending, missed, clean(여러 번 지정 가능).",
        ),
    ] = None,
    limit: Annotated[
        int,
        typer.Option(
            min=1, max=500, help="Samples to show at most. / 최대로 보여 줄 표본 수입니다."
        ),
    ] = 50,
) -> None:
    """Review samples, newest draw first. / 검토 표본을 최근 추출 순으로 보여 줍니다."""
    from auditlens.pipeline.quality import list_reviews

    settings = call(ctx, load_settings)
    found = call(ctx, lambda: list_reviews(settings, statuses=tuple(status or ()), limit=limit))
    print_reviews(found, settings.timezone, invocation_lang(ctx))


@review_app.command("decide")
def review_decide(
    ctx: typer.Context,
    sample_id: Annotated[
        int,
        typer.Argument(
            help="Review sample id (see `auditlens review list`). / 검토 표본 ID입니다"
            "(`auditlens review list` 참고)."
        ),
    ],
    verdict: Annotated[
        VerdictWord,
        typer.Option(
            "--verdict",
            help="missed: it should have been flagged; clean: nothing to flag. / missed: "
            "경보 대상이었어야 함, clean: 문제 없음.",
        ),
    ],
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            help="Reason code (see `auditlens alerts reasons`), e.g. suspected_violation or "
            "explained. / 사유 코드입니다(`auditlens alerts reasons` 참고, 예: "
            "suspected_violation, explained).",
        ),
    ],
    note: Note = "",
    actor: Actor = None,
) -> None:
    """Decide a review sample once, as yourself (analyst role). / 검토 표본을 본인 이름으로
    한 번 판정합니다(분석가 역할)."""
    from auditlens.pipeline.quality import decide_review

    made = call(
        ctx,
        lambda: decide_review(
            load_settings(), sample_id, verdict.value, reason=reason, note=note, as_name=actor
        ),
    )
    print_verdict(made, invocation_lang(ctx))
