"""`auditlens config` and `auditlens db`: the configuration and the store's schema."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from auditlens import pipeline
from auditlens.cli.common import call, console, invocation_lang, load_settings
from auditlens.cli.render_trail import print_roles
from auditlens.i18n import language, pick

config_app = typer.Typer(help="Show the configuration. / 설정을 보여 줍니다.", no_args_is_help=True)
db_app = typer.Typer(
    help="Manage the store's database schema and lake. / 저장소의 데이터베이스 스키마와 "
    "레이크를 관리합니다.",
    no_args_is_help=True,
)


@config_app.command("show")
def config_show(ctx: typer.Context) -> None:
    """Print the effective configuration (file + AUDITLENS_* env), secrets masked. /
    실제로 적용되는 설정(파일과 AUDITLENS_* 환경 변수)을 비밀 값은 가리고 출력합니다."""
    settings = call(ctx, load_settings)
    console.print_json(json.dumps(settings.masked(), ensure_ascii=False, default=str))


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create or migrate the store's tables to the newest schema (Alembic). /
    저장소의 표를 만들거나 최신 스키마로 올립니다(Alembic)."""
    revision = call(ctx, lambda: pipeline.upgrade_store(load_settings()))
    console.print(
        pick(
            invocation_lang(ctx),
            f"store schema at revision {revision}",
            f"저장소 스키마가 리비전 {revision}입니다.",
        ),
        highlight=False,
    )


@db_app.command("compact")
def db_compact(ctx: typer.Context) -> None:
    """Compact the event lake's small parts (a stream writes one per micro-batch): each
    part is checked against its ingestion hash first; a changed or missing one is left
    and named (exit 1). / 이벤트 레이크의 작은 파일을 합칩니다(스트림은 마이크로배치마다
    하나씩 씁니다). 각 파일을 수집 때의 해시와 먼저 대조하며, 바뀌었거나 없는 파일은
    그대로 두고 이름을 알립니다(종료 코드 1)."""
    lang = invocation_lang(ctx)
    report = call(ctx, lambda: pipeline.compact_lake(load_settings()))
    if report.busy:
        console.print(pick(lang, "another compaction is running", "다른 압축 작업이 실행 중입니다"))
        return
    parts = sum(c.batches for c in report.compacted)
    rows = sum(c.rows for c in report.compacted)
    console.print(
        pick(
            lang,
            f"{parts} lake part(s) compacted into {len(report.compacted)} ({rows:,} events); "
            f"{len(report.deleted)} retired part(s) deleted",
            f"레이크 파일 {parts}개를 {len(report.compacted)}개로 합쳤습니다(이벤트 {rows:,}건). "
            f"보존 기간이 지난 이전 파일 {len(report.deleted)}개를 삭제했습니다.",
        ),
        highlight=False,
    )
    if report.refused:
        names = ", ".join(report.refused)
        console.print(
            pick(
                lang,
                f"[red]not compacted, missing or changed since ingestion:[/] {names} "
                "(see `auditlens audit verify`)",
                f"[red]수집 후 없어졌거나 바뀌어 합치지 않은 파일:[/] {names} "
                "(`auditlens audit verify`로 확인하십시오)",
            ),
            highlight=False,
        )
        raise typer.Exit(1)


@db_app.command("roles")
def db_roles(
    ctx: typer.Context,
    app_role: Annotated[
        str,
        typer.Option(
            "--app-role",
            help="The application's role (the user of store_url). / 애플리케이션의 역할"
            "(store_url의 사용자)입니다.",
        ),
    ] = "auditlens_app",
    apply: Annotated[
        bool,
        typer.Option(
            "--apply",
            help="Run the SQL as the owner (store_owner_url). / 소유자(store_owner_url)로 "
            "SQL을 실행합니다.",
        ),
    ] = False,
    audit: Annotated[
        bool,
        typer.Option(
            "--audit",
            help="For the separate audit database (audit_store_url). / 별도의 감사 "
            "데이터베이스(audit_store_url)에 적용합니다.",
        ),
    ] = False,
    password_env: Annotated[
        str | None,
        typer.Option(
            help="Environment variable holding the app role's login password. / 앱 역할의 "
            "로그인 비밀번호를 담은 환경 변수입니다."
        ),
    ] = None,
) -> None:
    """PostgreSQL: print (or --apply) the SQL giving the app role SELECT, INSERT on the
    audit trail and no ownership, so it cannot disable the trail's triggers or drop it. /
    PostgreSQL: 앱 역할에 감사 기록의 SELECT, INSERT 권한만 주고 소유권은 주지 않는 SQL을
    출력(또는 --apply로 실행)합니다. 그러면 앱 역할은 감사 기록의 트리거를 끄거나 표를
    삭제할 수 없습니다."""
    from auditlens.pipeline.controls import app_role as plan_role

    report = call(
        ctx,
        lambda: plan_role(
            load_settings(), app_role, apply=apply, audit=audit, password_env=password_env
        ),
    )
    print_roles(report, app_role, language())
