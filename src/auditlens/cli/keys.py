"""`auditlens keys`: API keys of the risk service (admins only; shown once, stored hashed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from auditlens.cli.common import (
    call,
    console,
    err_console,
    invocation_lang,
    load_settings,
    parse_date,
)
from auditlens.i18n import pick
from auditlens.localtime import local_time

if TYPE_CHECKING:
    import datetime as dt

keys_app = typer.Typer(
    help="API keys of the risk service (admins only). / 위험 조회 서비스의 API 키 (관리자 전용).",
    no_args_is_help=True,
)

RoleOpt = Annotated[
    str,
    typer.Option(
        "--role",
        help="viewer (read), analyst (triage), approver (four eyes, re-identify) or admin. "
        "/ 역할: viewer(조회), analyst(처리), approver(승인·재식별), admin(관리).",
    ),
]


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    name: Annotated[
        str,
        typer.Option(
            "--name",
            help="Name of the key, e.g. the tool using it (powerbi-audit). "
            "/ 키 이름 (예: 사용 도구).",
        ),
    ],
    role: RoleOpt,
    expires: Annotated[
        str | None,
        typer.Option(
            "--expires",
            help="Last day the key works, YYYY-MM-DD (local time); none = until revoked. "
            "/ 키 사용 마지막 날 (YYYY-MM-DD); 없으면 폐기할 때까지.",
        ),
    ] = None,
) -> None:
    """Make an API key and print it once. / API 키를 만들고 한 번만 보여 줍니다."""
    from auditlens.pipeline.keys import create_key

    lang = invocation_lang(ctx)
    last_day = None if expires is None else parse_date(expires, "--expires", lang)
    issued = call(
        ctx, lambda: create_key(load_settings(), name, role.strip().lower(), expires=last_day)
    )
    key = issued.key
    until = _when(key.expires_at, pick(lang, "until revoked", "폐기할 때까지"))
    err_console.print(
        pick(
            lang,
            f"made key {key.name} (id {key.id}, prefix {key.prefix}, role {key.role}, "
            f"valid {until}). It is shown only now: store it in a secret vault.",
            f"키 {key.name}을(를) 만들었습니다 (id {key.id}, 접두어 {key.prefix}, 역할 "
            f"{key.role}, 유효 기간 {until}). 지금 한 번만 표시되므로 비밀 저장소에 보관하십시오.",
        ),
        highlight=False,
        soft_wrap=True,
    )
    # the key alone on stdout, so `KEY=$(auditlens keys create ...)` captures only it
    print(issued.secret)


@keys_app.command("list")
def keys_list(ctx: typer.Context) -> None:
    """List the keys without their secrets. / 키 목록 (비밀 값 없이)."""
    from auditlens.pipeline.ingestion import utc_now
    from auditlens.pipeline.keys import list_keys

    lang = invocation_lang(ctx)
    settings = call(ctx, load_settings)
    keys = call(ctx, lambda: list_keys(settings))
    now = utc_now()
    table = Table(title=pick(lang, "API keys", "API 키"))
    for column in ("id", "name", "prefix", "role", "state", "created", "by", "expires", "used"):
        # names and prefixes are looked up and copied: never wrapped
        table.add_column(column, no_wrap=column in {"id", "name", "prefix", "role"})
    states = {
        "active": ("active", "유효"),
        "expired": ("expired", "만료"),
        "revoked": ("revoked", "폐기"),
    }
    for key in keys:
        en, ko = states[key.state(now)]
        table.add_row(
            str(key.id),
            key.name,
            key.prefix,
            key.role,
            pick(lang, en, ko),
            _when(key.created_at, ""),
            key.created_by,
            _when(key.expires_at, "-"),
            _when(key.last_used_at, "-"),
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Argument(help="Name, id or prefix of the key. / 키 이름, id 또는 접두어.")
    ],
) -> None:
    """Revoke a key: the next request with it is refused. / 키를 폐기합니다 (즉시 거부)."""
    from auditlens.pipeline.keys import revoke_key

    lang = invocation_lang(ctx)
    key = call(ctx, lambda: revoke_key(load_settings(), ref))
    console.print(
        pick(
            lang,
            f"revoked key {key.name} (id {key.id}, prefix {key.prefix})",
            f"키 {key.name}(id {key.id}, 접두어 {key.prefix})을(를) 폐기했습니다",
        ),
        highlight=False,
    )


def _when(moment: dt.datetime | None, missing: str) -> str:
    return missing if moment is None else local_time(moment)
