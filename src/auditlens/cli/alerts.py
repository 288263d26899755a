"""`auditlens alerts`: raise, dispatch, list, show and triage alerts; the outbox."""

from __future__ import annotations

from typing import Annotated

import typer

from auditlens import pipeline
from auditlens.cli.common import Actor, Note, call, console, load_settings
from auditlens.cli.render import print_dispatch, print_raise
from auditlens.cli.render_trail import (
    print_alert,
    print_alerts,
    print_decision,
    print_deliveries,
    print_reason_codes,
)
from auditlens.i18n import language

alerts_app = typer.Typer(
    help="Alerts: raise, dispatch, list, show and triage (ack, dismiss, escalate, close...).",
    no_args_is_help=True,
)

ReasonCode = Annotated[
    str,
    typer.Option(
        "--reason", help="Reason code (see `auditlens alerts reasons`), e.g. false_positive."
    ),
]
AlertId = Annotated[int, typer.Argument(help="Alert id (see `auditlens alerts list`).")]


@alerts_app.command("raise")
def alerts_raise(
    ctx: typer.Context,
    run_id: Annotated[
        int | None, typer.Option("--run", help="Score run id; default: the newest.")
    ] = None,
) -> None:
    """Open alerts for a run's users whose risk crossed alert_min_severity; fill the outbox."""
    report = call(ctx, lambda: pipeline.raise_alerts(load_settings(), run_id=run_id))
    print_raise(report, language())


@alerts_app.command("dispatch")
def alerts_dispatch(
    ctx: typer.Context,
    wait: Annotated[
        float, typer.Option(min=0.0, help="Keep delivering retries/held alerts for N seconds.")
    ] = 0.0,
) -> None:
    """Deliver what is due in the outbox (retries with backoff; dead letters reported)."""
    report = call(ctx, lambda: pipeline.dispatch_alerts(load_settings(), wait_seconds=wait))
    print_dispatch(report, call(ctx, load_settings).timezone, language())
    if report.dead:
        raise typer.Exit(4)


@alerts_app.command("list")
def alerts_list(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None, typer.Option("--status", help="Only these statuses (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Alerts to show at most.")] = 50,
) -> None:
    """Alerts, newest first, with their state and deliveries."""
    settings = call(ctx, load_settings)
    listing = call(
        ctx, lambda: pipeline.list_alerts(settings, statuses=tuple(status or ()), limit=limit)
    )
    print_alerts(listing, settings.language)


@alerts_app.command("show")
def alerts_show(ctx: typer.Context, alert_id: AlertId) -> None:
    """One alert: its incident days, reasons, and every detection it absorbed."""
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
    """Acknowledge an alert: someone is looking at it."""
    _decide(ctx, "acknowledge", alert_id, actor, reason, note)


@alerts_app.command("escalate")
def alerts_escalate(
    ctx: typer.Context,
    alert_id: AlertId,
    actor: Actor = None,
    reason: ReasonCode = "",
    note: Note = "",
) -> None:
    """Escalate an alert (e.g. to the compliance officer or an investigation)."""
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
        typer.Option(min=0.0, help="Suppress this scenario for the user N days (default: config)."),
    ] = None,
) -> None:
    """Dismiss as false positive: becomes a label candidate; optionally suppresses repeats."""
    _decide(ctx, "dismiss", alert_id, actor, reason, note, suppress_days)


@alerts_app.command("close")
def alerts_close(
    ctx: typer.Context,
    alert_id: AlertId,
    actor: Actor = None,
    reason: ReasonCode = "",
    note: Note = "",
) -> None:
    """Close an alert (critical ones wait for a second person's approval)."""
    _decide(ctx, "close", alert_id, actor, reason, note)


@alerts_app.command("approve")
def alerts_approve(
    ctx: typer.Context,
    alert_id: AlertId,
    actor: Actor = None,
    reason: ReasonCode = "",
    note: Note = "",
) -> None:
    """Approve another person's request to close an alert (four-eyes)."""
    _decide(ctx, "approve", alert_id, actor, reason, note)


@alerts_app.command("reopen")
def alerts_reopen(
    ctx: typer.Context,
    alert_id: AlertId,
    actor: Actor = None,
    reason: ReasonCode = "",
    note: Note = "",
) -> None:
    """Reopen a closed or dismissed alert (or withdraw a close request)."""
    _decide(ctx, "reopen", alert_id, actor, reason, note)


@alerts_app.command("reasons")
def alerts_reasons() -> None:
    """The reason codes a decision can give (--reason), with Korean and English labels."""
    print_reason_codes(language())


@alerts_app.command("deliveries")
def alerts_deliveries(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None, typer.Option("--status", help="pending, sent, dead or cancelled.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Deliveries to show at most.")] = 100,
) -> None:
    """Outbox deliveries with every attempt (e.g. --status dead for the dead letters)."""
    settings = call(ctx, load_settings)
    rows = call(
        ctx, lambda: pipeline.list_deliveries(settings, statuses=tuple(status or ()), limit=limit)
    )
    print_deliveries(rows, settings.timezone, settings.language)


@alerts_app.command("requeue")
def alerts_requeue(
    ctx: typer.Context,
    delivery_id: Annotated[int, typer.Argument(help="Dead-lettered delivery id.")],
    actor: Actor = None,
    note: Note = "",
) -> None:
    """Put a dead-lettered delivery back in the outbox (after fixing the channel)."""
    item = call(
        ctx,
        lambda: pipeline.requeue_delivery(load_settings(), delivery_id, as_name=actor, note=note),
    )
    console.print(f"delivery #{item.id} to {item.channel} is pending again")
