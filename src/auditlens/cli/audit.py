"""`auditlens audit`: verify, reconcile and read the tamper-evident audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditlens import pipeline
from auditlens.cli.common import Actor, call, load_settings, parse_date
from auditlens.cli.render_trail import (
    print_audit_log,
    print_reconciliation,
    print_verification,
)
from auditlens.i18n import language

audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            help="SEQ:HASH printed by an earlier verify and kept elsewhere (catches truncation "
            "and rewrites; repeat it with older heads to narrow a rewrite down)."
        ),
    ] = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(
            help="File of 'SEQ HASH' lines kept outside the database: names the first "
            "rewritten entry; new entries are appended after a clean verify."
        ),
    ] = None,
) -> None:
    """Recompute the hash chain, replay the trail against the tables and check every lake
    part's sha256 (exit 4 when any is broken)."""
    result = call(
        ctx, lambda: pipeline.verify_trail(load_settings(), anchor=anchor, checkpoints=checkpoints)
    )
    lake = call(ctx, lambda: pipeline.verify_lake(load_settings()))
    print_verification(result, lake, language())
    if not (result.ok and lake.ok):
        raise typer.Exit(4)


@audit_app.command("reconcile")
def audit_reconcile(
    ctx: typer.Context,
    apply: Annotated[
        bool, typer.Option("--apply", help="Restore the rows (else only list).")
    ] = False,
    actor: Actor = None,
) -> None:
    """Admins: make the alert tables agree with the audit trail again (each repair audited)."""
    from auditlens.pipeline.controls import reconcile

    report = call(ctx, lambda: reconcile(load_settings(), apply=apply, as_name=actor))
    print_reconciliation(report, language())
    if report.left:
        raise typer.Exit(4)


@audit_app.command("log")
def audit_log_cmd(
    ctx: typer.Context,
    user: Annotated[
        str | None, typer.Option("--user", help="Only entries about this user.")
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Only entries by this actor.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="From this local day, YYYY-MM-DD.")
    ] = None,
    decisions: Annotated[bool, typer.Option("--decisions", help="Only human decisions.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="Newest N entries.")] = 200,
) -> None:
    """Who decided what, when, and on what criteria."""
    settings = call(ctx, load_settings)
    day = parse_date(since, "--since") if since else None
    rows = call(
        ctx,
        lambda: pipeline.audit_log(
            settings, user=user, actor=actor, since=day, decisions_only=decisions, limit=limit
        ),
    )
    print_audit_log(rows, settings.timezone, settings.language)
