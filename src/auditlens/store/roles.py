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
from dataclasses import dataclass
from typing import Final

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
            f"{owner.dialect.name} has no database roles / 역할 기능이 없습니다",
            hint="protect the SQLite file with operating-system permissions instead",
        )
    if not ROLE_NAME.match(app_role):
        raise RoleError(f"role name {app_role!r}: use lower-case letters, digits and _")
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
    if app_role == me:
        raise RoleError(
            f"{app_role} is the role running this (it owns the tables)",
            hint="name a separate application role; the owner is for migrations only",
        )
    if existing is not None and existing[0]:
        raise RoleError(
            f"{app_role} is a superuser or can create roles or bypass row security: "
            "it could undo any grant / 권한이 너무 큰 역할입니다",
            hint="use a plain login role for the application",
        )
    if existing is not None and existing[1]:
        raise RoleError(
            f"{app_role} owns tables here: an owner can disable the trail's triggers",
            hint="reassign them to the owner role (REASSIGN OWNED BY ... TO ...)",
        )
    if "audit_log" not in tables:
        raise RoleError(f"no audit_log in {database}.{schema}", hint="run `auditlens db upgrade`")
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
        ) from None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
