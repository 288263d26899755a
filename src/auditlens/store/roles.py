"""PostgreSQL roles: the owner migrates, the application only reads and appends the trail.

The append-only triggers on ``audit_log`` bind every user, but the table's *owner* can
``ALTER TABLE audit_log DISABLE TRIGGER``, ``DROP`` it, or grant itself anything. So
migrations run as an owner role (``store_owner_url``) and the application connects as a
role that owns nothing (``store_url``) with:

* ``SELECT, INSERT`` on ``audit_log`` — appending needs nothing more;
* ``SELECT, INSERT, UPDATE, DELETE`` on the working tables (alerts, outbox, scores ...);
* ``SELECT`` on ``alembic_version`` (to check the schema is current);
* ``USAGE`` on the schema and its sequences (serial ids).

Who can still tamper: a superuser and the owner role. They are caught afterwards by
``auditlens audit verify`` with an anchor or checkpoints kept outside the database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from auditlens.errors import AuditlensError

ROLE_NAME: Final = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: Tables the application may only read and append to.
APPEND_ONLY: Final = frozenset({"audit_log"})
#: Tables the application may only read.
READ_ONLY: Final = frozenset({"alembic_version"})


class RoleError(AuditlensError):
    """The roles cannot be set up as asked."""


@dataclass(frozen=True)
class RolePlan:
    """The SQL that creates and grants the application role, and a printable copy."""

    statements: list[str]
    printable: list[str]


def plan_app_role(
    owner: Engine, app_role: str, *, password: str | None = None, audit_only: bool = False
) -> RolePlan:
    """The statements that create (if needed) and grant ``app_role`` on ``owner``'s database.

    Args:
        owner: an engine connected as the role that owns the tables.
        app_role: the application's role (lower-case letters, digits, ``_``).
        password: set this login password (printed masked); None leaves it as it is.
        audit_only: the separate audit database: grant only the trail.

    Raises:
        RoleError: not PostgreSQL, a bad role name, the owner itself, or no tables yet.
    """
    if owner.dialect.name != "postgresql":
        raise RoleError(
            f"{owner.dialect.name} has no database roles",
            hint="protect the SQLite file with operating-system permissions instead",
            ko=f"{owner.dialect.name}에는 데이터베이스 역할 기능이 없습니다",
            ko_hint="대신 운영체제 권한으로 SQLite 파일을 보호하십시오",
        )
    if not ROLE_NAME.match(app_role):
        raise RoleError(
            f"role name {app_role!r}: use lower-case letters, digits and _",
            ko=f"역할 이름 {app_role!r}: 영문 소문자, 숫자, _만 쓰십시오",
        )
    with owner.connect() as conn:
        me, database, schema = conn.execute(
            text("SELECT current_user, current_database(), current_schema()")
        ).one()
        tables = sorted(inspect(conn).get_table_names(schema=schema))
        existing = conn.execute(
            text(
                "SELECT r.rolsuper OR r.rolbypassrls OR r.rolcreaterole, "
                "EXISTS (SELECT FROM pg_tables t WHERE t.tableowner = r.rolname "
                "AND t.schemaname = current_schema()) "
                "FROM pg_roles r WHERE r.rolname = :role"
            ),
            {"role": app_role},
        ).first()
    _refuse_unsafe(app_role, me, existing, tables, f"{database}.{schema}")
    role, db, sch = _quote(app_role), _quote(database), _quote(schema)
    create = (
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{app_role}') THEN "
        f"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
        "NOBYPASSRLS; END IF; END $$"
    )
    statements = [
        create,
        f"GRANT CONNECT ON DATABASE {db} TO {role}",
        f"GRANT USAGE ON SCHEMA {sch} TO {role}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {sch} FROM {role}",
    ]
    for table in tables:
        name = f"{sch}.{_quote(table)}"
        if table in APPEND_ONLY:
            statements.append(f"GRANT SELECT, INSERT ON {name} TO {role}")
        elif table in READ_ONLY:
            statements.append(f"GRANT SELECT ON {name} TO {role}")
        elif not audit_only:
            statements.append(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {role}")
    if not audit_only:
        statements.append(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {sch} TO {role}")
    printable = list(statements)
    if password is not None:
        literal = password.replace("'", "''")
        statements.insert(1, f"ALTER ROLE {role} PASSWORD '{literal}'")
        printable.insert(1, f"ALTER ROLE {role} PASSWORD '***'")
    return RolePlan(statements, printable)


def apply(owner: Engine, plan: RolePlan) -> None:
    """Run ``plan`` in one transaction as the owner.

    Raises:
        RoleError: the database refused a statement (named as printed: no password).
    """
    current = "BEGIN"
    try:
        with owner.begin() as conn:
            for statement, shown in zip(plan.statements, plan.printable, strict=True):
                current = shown
                # the driver reads % as a placeholder; the password literal may hold one
                conn.exec_driver_sql(statement.replace("%", "%%"))
    except DBAPIError as exc:
        raise RoleError(
            f"the database refused `{current}`: {str(exc.orig).splitlines()[0]}",
            hint="run it as the table owner with CREATEROLE (store_owner_url), or as a superuser",
            ko=f"데이터베이스가 `{current}` 실행을 거부했습니다: {str(exc.orig).splitlines()[0]}",
            ko_hint="CREATEROLE 권한이 있는 테이블 소유자(store_owner_url)나 슈퍼유저로 "
            "실행하십시오",
        ) from None


def _refuse_unsafe(
    app_role: str, me: str, existing: Sequence[Any] | None, tables: list[str], where: str
) -> None:
    """Raise RoleError when ``app_role`` is the owner, too powerful, owns tables, or the
    database at ``where`` (database.schema) has no trail yet."""
    if app_role == me:
        raise RoleError(
            f"{app_role} is the role running this (it owns the tables)",
            hint="name a separate application role; the owner is for migrations only",
            ko=f"{app_role} 역할은 지금 이 작업을 실행하는 역할(테이블 소유자)입니다",
            ko_hint="별도의 애플리케이션 역할을 지정하십시오. 소유자 역할은 마이그레이션 "
            "전용입니다",
        )
    if existing is not None and existing[0]:
        raise RoleError(
            f"{app_role} is a superuser or can create roles or bypass row security: "
            "it could undo any grant",
            hint="use a plain login role for the application",
            ko=f"{app_role} 역할은 슈퍼유저이거나 역할 생성 또는 행 보안 우회 권한이 있어 어떤 "
            "권한 부여도 되돌릴 수 있습니다. 권한이 너무 큰 역할입니다",
            ko_hint="애플리케이션에는 일반 로그인 역할을 쓰십시오",
        )
    if existing is not None and existing[1]:
        raise RoleError(
            f"{app_role} owns tables here: an owner can disable the trail's triggers",
            hint="reassign them to the owner role (REASSIGN OWNED BY ... TO ...)",
            ko=f"{app_role} 역할이 이곳의 테이블을 소유하고 있습니다. 소유자는 감사 로그의 "
            "트리거를 끌 수 있습니다",
            ko_hint="테이블 소유권을 소유자 역할로 넘기십시오 (REASSIGN OWNED BY ... TO ...)",
        )
    if "audit_log" not in tables:
        raise RoleError(
            f"no audit_log in {where}",
            hint="run `auditlens db upgrade`",
            ko=f"{where}에 audit_log 테이블이 없습니다",
            ko_hint="`auditlens db upgrade`를 실행하십시오",
        )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
