"""`auditlens reidentify`: see the person behind one pseudonymised alert, with four eyes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from auditlens import pipeline
from auditlens.cli.common import Actor, call, console, invocation_lang, load_settings
from auditlens.i18n import pick
from auditlens.localtime import local_time

if TYPE_CHECKING:
    from auditlens.store.reidentifications import Reidentification

reidentify_app = typer.Typer(
    help="Re-identify the person behind one pseudonymised alert: an analyst requests, a "
    "different approver grants, time-limited, all audited. / 가명 처리된 알림 한 건의 실제 "
    "사용자 확인: 분석자가 요청하고 다른 승인자가 승인하며, 기한이 있고 모두 감사 로그에 "
    "남습니다.",
    no_args_is_help=True,
)

AlertArg = Annotated[
    int, typer.Argument(help="Alert id (`auditlens alerts list`). / 알림 번호.", show_default=False)
]
STATUS_WORDS = {
    "requested": "승인 대기",
    "granted": "승인됨",
    "denied": "거부됨",
    "expired": "만료됨",
}


def _status(lang: str, status: str) -> str:
    return pick(lang, status, STATUS_WORDS.get(status, status))


@reidentify_app.command("request")
def reidentify_request(
    ctx: typer.Context,
    alert_id: AlertArg,
    reason: Annotated[
        str,
        typer.Option(
            "--reason", help="Why (e.g. the case number); required. / 사유 (예: 사건 번호, 필수)."
        ),
    ],
    actor: Actor = None,
) -> None:
    """Ask to see the person behind one alert (analysts). / 알림 한 건의 재식별 요청 (분석자)."""
    lang = invocation_lang(ctx)
    settings = call(ctx, load_settings)
    made = call(
        ctx,
        lambda: pipeline.reidentify_request(settings, alert_id, reason=reason, as_name=actor),
    )
    console.print(
        pick(
            lang,
            f"re-identification request #{made.id} for alert #{made.alert_id} recorded; a "
            "different approver decides it with `auditlens reidentify decide "
            f"{made.id} --grant`",
            f"알림 #{made.alert_id}의 재식별 요청 #{made.id}을(를) 기록했습니다. 다른 승인자가 "
            f"`auditlens reidentify decide {made.id} --grant`로 결정합니다",
        ),
        highlight=False,
        soft_wrap=True,
    )


@reidentify_app.command("decide")
def reidentify_decide(
    ctx: typer.Context,
    request_id: Annotated[
        int,
        typer.Argument(
            help="Request id (`auditlens reidentify list`). / 요청 번호.", show_default=False
        ),
    ],
    grant: Annotated[
        bool,
        typer.Option(
            "--grant/--deny",
            help="Grant or deny the request. / 승인 또는 거부.",
            show_default=False,
        ),
    ],
    note: Annotated[
        str, typer.Option("--note", help="Free text kept with the decision. / 결정 메모.")
    ] = "",
    actor: Actor = None,
) -> None:
    """Grant or deny a request (an approver other than the requester). / 재식별 요청 승인
    또는 거부 (요청자가 아닌 승인자)."""
    lang = invocation_lang(ctx)
    settings = call(ctx, load_settings)
    decided = call(
        ctx,
        lambda: pipeline.reidentify_decide(
            settings, request_id, grant=grant, note=note, as_name=actor
        ),
    )
    if decided.expires_at is not None:
        until = local_time(decided.expires_at, settings.timezone)
        text = pick(
            lang,
            f"request #{decided.id} granted: {decided.requested_by} may see alert "
            f"#{decided.alert_id}'s user until {until}",
            f"요청 #{decided.id}을(를) 승인했습니다: {decided.requested_by}은(는) {until}까지 "
            f"알림 #{decided.alert_id}의 사용자를 볼 수 있습니다",
        )
    else:
        text = pick(lang, f"request #{decided.id} denied", f"요청 #{decided.id}을(를) 거부했습니다")
    console.print(text, highlight=False, soft_wrap=True)


@reidentify_app.command("show")
def reidentify_show(ctx: typer.Context, alert_id: AlertArg, actor: Actor = None) -> None:
    """Show the user behind an alert (the requester, while the grant lasts; audited). /
    알림의 실제 사용자 표시 (승인 기간 중 요청자만, 감사 기록)."""
    lang = invocation_lang(ctx)
    settings = call(ctx, load_settings)
    shown = call(ctx, lambda: pipeline.reidentify_show(settings, alert_id, as_name=actor))
    until = (
        local_time(shown.request.expires_at, settings.timezone) if shown.request.expires_at else "?"
    )
    console.print(
        pick(
            lang,
            f"alert #{alert_id}: {escape(shown.user_id)} (request #{shown.request.id}, "
            f"grant until {until}; this view is in the audit trail)",
            f"알림 #{alert_id}: {escape(shown.user_id)} (요청 #{shown.request.id}, {until}까지 "
            "유효, 이 조회는 감사 로그에 기록됨)",
        ),
        highlight=False,
        soft_wrap=True,
    )


@reidentify_app.command("list")
def reidentify_list(
    ctx: typer.Context,
    alert_id: Annotated[
        int | None, typer.Option("--alert", help="Only this alert. / 이 알림만.")
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help="Only these states: requested, granted, denied, expired (repeatable). / 상태.",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most N. / 최대 건수.")] = 50,
) -> None:
    """Re-identification requests, newest first (no user ids). / 재식별 요청 목록 (최신순,
    사용자 ID 없음)."""
    lang = invocation_lang(ctx)
    settings = call(ctx, load_settings)
    found = call(
        ctx,
        lambda: pipeline.reidentify_list(
            settings, alert_id=alert_id, statuses=tuple(status or ()), limit=limit
        ),
    )
    _print_requests(found, lang, settings.timezone)


def _print_requests(found: list[Reidentification], lang: str, zone: str) -> None:
    if not found:
        console.print(pick(lang, "no re-identification requests", "재식별 요청이 없습니다"))
        return
    heads = (
        ("#", "alert", "requested by", "reason", "state", "decided by", "until")
        if lang != "ko"
        else ("#", "알림", "요청자", "사유", "상태", "결정자", "유효 기한")
    )
    table = Table(*heads)
    for r in found:
        table.add_row(
            str(r.id),
            f"#{r.alert_id}",
            r.requested_by + (f" (via {r.requested_via})" if r.requested_via else ""),
            escape(r.reason),
            _status(lang, r.status),
            r.decided_by or "",
            local_time(r.expires_at, zone) if r.expires_at else "",
        )
    console.print(table)
