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

audit_app = typer.Typer(
    help="The tamper-evident audit trail. / 위변조를 알아낼 수 있는 감사 기록입니다.",
    no_args_is_help=True,
)


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            help="SEQ:HASH printed by an earlier verify and kept elsewhere (catches truncation "
            "and rewrites; repeat it with older heads to narrow a rewrite down). / 이전 "
            "검증이 출력하여 따로 보관한 SEQ:HASH입니다(잘림과 재작성을 잡아내며, 더 오래된 "
            "헤드로 반복하면 재작성된 범위를 좁힐 수 있습니다)."
        ),
    ] = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(
            help="File of 'SEQ HASH' lines kept outside the database: names the first "
            "rewritten entry; new entries are appended after a clean verify. / 데이터베이스 "
            "밖에 보관하는 'SEQ HASH' 줄 파일입니다. 처음 재작성된 항목을 알려 주며, 검증에 "
            "이상이 없으면 새 항목을 덧붙입니다."
        ),
    ] = None,
) -> None:
    """Recompute the hash chain, replay the trail against the tables and check every lake
    part's sha256 (exit 4 when any is broken). / 해시 체인을 다시 계산하고, 감사 기록을 표와
    대조하며, 레이크 파일마다 sha256을 확인합니다(하나라도 깨지면 종료 코드 4)."""
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
        bool,
        typer.Option(
            "--apply",
            help="Restore the rows (else only list). / 행을 복원합니다(생략하면 목록만 보여 "
            "줍니다).",
        ),
    ] = False,
    actor: Actor = None,
) -> None:
    """Admins: make the alert tables agree with the audit trail again (each repair audited). /
    관리자용: 경보 표를 감사 기록과 다시 일치시킵니다(복구마다 감사 기록에 남습니다)."""
    from auditlens.pipeline.controls import reconcile

    report = call(ctx, lambda: reconcile(load_settings(), apply=apply, as_name=actor))
    print_reconciliation(report, language())
    if report.left:
        raise typer.Exit(4)


@audit_app.command("log")
def audit_log_cmd(
    ctx: typer.Context,
    user: Annotated[
        str | None,
        typer.Option(
            "--user", help="Only entries about this user. / 이 사용자에 관한 항목만 보여 줍니다."
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor", help="Only entries by this actor. / 이 처리자가 남긴 항목만 보여 줍니다."
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="From this local day, YYYY-MM-DD. / 이 현지 날짜부터 보여 줍니다(YYYY-MM-DD).",
        ),
    ] = None,
    decisions: Annotated[
        bool,
        typer.Option("--decisions", help="Only human decisions. / 사람이 내린 결정만 보여 줍니다."),
    ] = False,
    limit: Annotated[
        int, typer.Option(min=1, help="Newest N entries. / 최근 항목을 N개까지 보여 줍니다.")
    ] = 200,
) -> None:
    """Who decided what, when, and on what criteria. /
    누가 언제 무엇을 어떤 기준으로 결정했는지 보여 줍니다."""
    settings = call(ctx, load_settings)
    day = parse_date(since, "--since", settings.language) if since else None
    rows = call(
        ctx,
        lambda: pipeline.audit_log(
            settings, user=user, actor=actor, since=day, decisions_only=decisions, limit=limit
        ),
    )
    print_audit_log(rows, settings.timezone, settings.language)
