"""`auditlens config` and `auditlens db`: the configuration and the store's schema."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from auditlens import pipeline
from auditlens.cli.common import call, console, load_settings
from auditlens.cli.render_trail import print_roles
from auditlens.i18n import language

config_app = typer.Typer(help="Show the configuration.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the store's database schema.", no_args_is_help=True)


@config_app.command("show")
def config_show(ctx: typer.Context) -> None:
    """Print the effective configuration (file + AUDITLENS_* env), secrets masked."""
    settings = call(ctx, load_settings)
    console.print_json(json.dumps(settings.masked(), ensure_ascii=False, default=str))


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create or migrate the store's tables to the newest schema (Alembic)."""
    revision = call(ctx, lambda: pipeline.upgrade_store(load_settings()))
    console.print(f"store schema at revision {revision}")


@db_app.command("roles")
def db_roles(
    ctx: typer.Context,
    app_role: Annotated[
        str, typer.Option("--app-role", help="The application's role (the user of store_url).")
    ] = "auditlens_app",
    apply: Annotated[
        bool, typer.Option("--apply", help="Run the SQL as the owner (store_owner_url).")
    ] = False,
    audit: Annotated[
        bool, typer.Option("--audit", help="For the separate audit database (audit_store_url).")
    ] = False,
    password_env: Annotated[
        str | None,
        typer.Option(help="Environment variable holding the app role's login password."),
    ] = None,
) -> None:
    """PostgreSQL: print (or --apply) the SQL giving the app role SELECT, INSERT on the
    audit trail and no ownership, so it cannot disable the trail's triggers or drop it."""
    from auditlens.pipeline.controls import app_role as plan_role

    report = call(
        ctx,
        lambda: plan_role(
            load_settings(), app_role, apply=apply, audit=audit, password_env=password_env
        ),
    )
    print_roles(report, app_role, language())
