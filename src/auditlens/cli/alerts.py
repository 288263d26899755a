"""`auditlens alerts`: raise, dispatch, list, show and triage alerts; the outbox."""

from __future__ import annotations

from typing import Annotated

import typer

from auditlens import pipeline
from auditlens.cli.common import Actor, Note, call, console, invocation_lang, load_settings
from auditlens.cli.render import print_dispatch, print_raise
from auditlens.cli.render_trail import (
    print_alert,
    print_alerts,
    print_decision,
    print_deliveries,
    print_reason_codes,
)
from auditlens.i18n import language, pick

alerts_app = typer.Typer(
    help="Alerts: raise, dispatch, list, show and triage (ack, dismiss, escalate, close...). / "
    "경보: 발생, 발송, 목록, 상세 보기와 처리(확인, 기각, 상향, 종결 등)를 합니다.",
    no_args_is_help=True,
)

ReasonCode = Annotated[
    str,
    typer.Option(
        "--reason",
        help="Reason code (see `auditlens alerts reasons`), e.g. false_positive. / 사유 "
        "코드입니다(`auditlens alerts reasons` 참고, 예: false_positive).",
    ),
]
AlertId = Annotated[
    int,
    typer.Argument(
        help="Alert id (see `auditlens alerts list`). / 경보 ID입니다(`auditlens alerts list` "
        "참고)."
    ),
]


@alerts_app.command("raise")
def alerts_raise(
    ctx: typer.Context,
    run_id: Annotated[
        int | None,
        typer.Option(
            "--run",
            help="Score run id; default: the newest. / 채점 실행 ID입니다. 기본값은 가장 최근 "
            "실행입니다.",
        ),
    ] = None,
) -> None:
    """Open alerts for a run's users whose risk crossed alert_min_severity; fill the outbox. /
    실행에서 위험 점수가 alert_min_severity를 넘은 사용자에게 경보를 열고 발송함을 채웁니다."""
    report = call(ctx, lambda: pipeline.raise_alerts(load_settings(), run_id=run_id))
    print_raise(report, language())


@alerts_app.command("dispatch")
def alerts_dispatch(
    ctx: typer.Context,
    wait: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="Keep delivering retries/held alerts for N seconds. / 재시도 대상과 보류된 "
            "경보를 N초 동안 계속 발송합니다.",
        ),
    ] = 0.0,
) -> None:
    """Deliver what is due in the outbox (retries with backoff; dead letters reported). /
    발송함에서 때가 된 항목을 발송합니다(간격을 늘려 재시도하고, 발송 불가 항목은 보고)."""
    report = call(ctx, lambda: pipeline.dispatch_alerts(load_settings(), wait_seconds=wait))
    print_dispatch(report, call(ctx, load_settings).timezone, language())
    if report.dead:
        raise typer.Exit(4)


@alerts_app.command("list")
def alerts_list(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help="Only these statuses (repeatable). / 이 상태만 보여 줍니다(여러 번 지정 가능).",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, help="Alerts to show at most. / 최대로 보여 줄 경보 수입니다.")
    ] = 50,
) -> None:
    """Alerts, newest first, with their state and deliveries. /
    경보를 최근 것부터 상태, 발송 내역과 함께 보여 줍니다."""
    settings = call(ctx, load_settings)
    listing = call(
        ctx, lambda: pipeline.list_alerts(settings, statuses=tuple(status or ()), limit=limit)
    )
    print_alerts(listing, settings.language)


@alerts_app.command("show")
def alerts_show(ctx: typer.Context, alert_id: AlertId) -> None:
    """One alert: its incident days, reasons, and every detection it absorbed. /
    경보 하나의 발생일, 사유, 합쳐진 모든 탐지를 보여 줍니다."""
    settings = call(ctx, load_settings)
    detail = call(ctx, lambda: pipeline.show_alert(settings, alert_id))
    print_alert(detail, settings.language)


def _decide(
    ctx: typer.Context,
    action: str,
    alert_id: int,
    actor: str | None,
    reason: str,
    note: str,
    suppress_days: float | None = None,
) -> None:
    decision = call(
        ctx,
        lambda: pipeline.decide_alert(
            load_settings(),
            alert_id,
            action,
            as_name=actor,
            reason=reason,
            note=note,
            suppress_days=suppress_days,
        ),
    )
    print_decision(decision, call(ctx, load_settings).timezone, language())


@alerts_app.command("ack")
def alerts_ack(
    ctx: typer.Context,
    alert_id: AlertId,
    actor: Actor = None,
    reason: ReasonCode = "",
    note: Note = "",
) -> None:
    """Acknowledge an alert: someone is looking at it. / 경보를 확인합니다(담당자가 검토 중)."""
    _decide(ctx, "acknowledge", alert_id, actor, reason, note)


@alerts_app.command("escalate")
def alerts_escalate(
    ctx: typer.Context,
    alert_id: AlertId,
    actor: Actor = None,
    reason: ReasonCode = "",
    note: Note = "",
) -> None:
    """Escalate an alert (e.g. to the compliance officer or an investigation). /
    경보를 상향합니다(예: 준법감시인 또는 조사 담당에게)."""
    _decide(ctx, "escalate", alert_id, actor, reason, note)


@alerts_app.command("dismiss")
def alerts_dismiss(
    ctx: typer.Context,
    alert_id: AlertId,
    actor: Actor = None,
    reason: ReasonCode = "false_positive",
    note: Note = "",
    suppress_days: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            help="Suppress this scenario for the user N days (default: config). / 이 사용자의 "
            "같은 시나리오를 N일 동안 억제합니다(기본값은 설정).",
        ),
    ] = None,
) -> None:
    """Dismiss as false positive: becomes a label candidate; optionally suppresses repeats. /
    오탐으로 기각합니다. 레이블 후보가 되며, 반복 경보를 억제할 수도 있습니다."""
    _decide(ctx, "dismiss", alert_id, actor, reason, note, suppress_days)


@alerts_app.command("close")
def alerts_close(
    ctx: typer.Context,
    alert_id: AlertId,
    actor: Actor = None,
    reason: ReasonCode = "",
    note: Note = "",
) -> None:
    """Close an alert (critical ones wait for a second person's approval). /
    경보를 종결합니다(심각 경보는 다른 한 사람의 승인을 기다립니다)."""
    _decide(ctx, "close", alert_id, actor, reason, note)


@alerts_app.command("approve")
def alerts_approve(
    ctx: typer.Context,
    alert_id: AlertId,
    actor: Actor = None,
    reason: ReasonCode = "",
    note: Note = "",
) -> None:
    """Approve another person's request to close an alert (four-eyes). /
    다른 사람의 경보 종결 요청을 승인합니다(이중 확인)."""
    _decide(ctx, "approve", alert_id, actor, reason, note)


@alerts_app.command("reopen")
def alerts_reopen(
    ctx: typer.Context,
    alert_id: AlertId,
    actor: Actor = None,
    reason: ReasonCode = "",
    note: Note = "",
) -> None:
    """Reopen a closed or dismissed alert (or withdraw a close request). /
    종결되거나 기각된 경보를 다시 엽니다(또는 종결 요청을 철회합니다)."""
    _decide(ctx, "reopen", alert_id, actor, reason, note)


@alerts_app.command("reasons")
def alerts_reasons() -> None:
    """The reason codes a decision can give (--reason), with Korean and English labels. /
    결정에 쓸 수 있는 사유 코드(--reason)를 한국어, 영어 이름과 함께 보여 줍니다."""
    print_reason_codes(language())


@alerts_app.command("deliveries")
def alerts_deliveries(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help="pending, sent, dead or cancelled. / pending(대기), sent(발송), "
            "dead(발송 불가) 또는 cancelled(취소)입니다.",
        ),
    ] = None,
    limit: Annotated[
        int,
        typer.Option(min=1, help="Deliveries to show at most. / 최대로 보여 줄 발송 건수입니다."),
    ] = 100,
) -> None:
    """Outbox deliveries with every attempt (e.g. --status dead for the dead letters). /
    발송함의 발송 내역을 모든 시도와 함께 보여 줍니다(발송 불가 항목은 --status dead)."""
    settings = call(ctx, load_settings)
    rows = call(
        ctx, lambda: pipeline.list_deliveries(settings, statuses=tuple(status or ()), limit=limit)
    )
    print_deliveries(rows, settings.timezone, settings.language)


@alerts_app.command("requeue")
def alerts_requeue(
    ctx: typer.Context,
    delivery_id: Annotated[
        int, typer.Argument(help="Dead-lettered delivery id. / 발송 불가 처리된 발송 ID입니다.")
    ],
    actor: Actor = None,
    note: Note = "",
) -> None:
    """Put a dead-lettered delivery back in the outbox (after fixing the channel). /
    발송 불가 처리된 발송을 발송함에 다시 넣습니다(채널을 고친 뒤)."""
    item = call(
        ctx,
        lambda: pipeline.requeue_delivery(load_settings(), delivery_id, as_name=actor, note=note),
    )
    console.print(
        pick(
            invocation_lang(ctx),
            f"delivery #{item.id} to {item.channel} is pending again",
            f"{item.channel} 채널로 가는 발송 #{item.id}을(를) 다시 대기 상태로 두었습니다.",
        ),
        highlight=False,
    )
