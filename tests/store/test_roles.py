"""PostgreSQL roles: the owner migrates; the application role can read and append the audit
trail but not change, delete, truncate, disable triggers on or drop it (real server)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from auditlens.alerts.intake import admit
from auditlens.alerts.routing import Rule, Schedule
from auditlens.calendar import BusinessCalendar
from auditlens.cli import app
from auditlens.config import Settings
from auditlens.pipeline import decide_alert, upgrade_store, verify_trail
from auditlens.pipeline.controls import app_role
from auditlens.store.repo import Store
from auditlens.store.roles import RoleError
from tests.alerts.conftest import CRITERIA, T0, detection
from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.postgres
RULES = [Rule("r", ("none",), Schedule.always_open(BusinessCalendar()))]


@dataclass(frozen=True)
class Roles:
    owner: str
    app: str
    owner_url: str
    app_url: str
    settings: Settings


@pytest.fixture
def roles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Roles]:
    """A fresh database owned by a fresh owner role; unique role names (roles are
    cluster-wide), dropped afterwards together with the database."""
    tag = uuid.uuid4().hex[:10]
    database, owner, app_name = f"auditlens_r_{tag}", f"al_owner_{tag}", f"al_app_{tag}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{owner}" LOGIN CREATEROLE'))
        conn.execute(text(f'CREATE DATABASE "{database}" OWNER "{owner}"'))
    owner_url = f"{base.replace('postgres@', f'{owner}@')}/{database}"
    app_url = f"{base.replace('postgres@', f'{app_name}@')}/{database}"
    settings = Settings(
        store_url=app_url,  # type: ignore[arg-type]
        store_owner_url=owner_url,  # type: ignore[arg-type]
        data_dir=tmp_path / "var",
        principals={"kim": ["analyst"], "lee": ["analyst", "approver"]},
    )
    monkeypatch.setenv("AUDITLENS_STORE_URL", app_url)
    monkeypatch.setenv("AUDITLENS_STORE_OWNER_URL", owner_url)
    try:
        yield Roles(owner, app_name, owner_url, app_url, settings)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{app_name}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{owner}"'))
        admin.dispose()


def test_the_app_role_can_work_but_cannot_tamper_with_the_trail(roles: Roles) -> None:
    assert upgrade_store(roles.settings)  # as the owner
    shown = CliRunner().invoke(app, ["db", "roles", "--app-role", roles.app])
    assert shown.exit_code == 0, shown.output
    assert f'GRANT SELECT, INSERT ON "public"."audit_log" TO "{roles.app}"' in shown.output
    applied = app_role(roles.settings, roles.app, apply=True)
    assert applied.applied and "***" not in applied.database

    # the application does its job as the app role (`auditlens run` opens with migrate=True:
    # at head that needs no DDL)
    Store.open(roles.settings, migrate=True).close()
    with Store.open(roles.settings) as store:
        assert store.engine.url.username == roles.app
        opened = admit(store.engine, [detection(severity="critical")], RULES, CRITERIA, T0)
        alert_id = opened.opened[0].id
    decide_alert(roles.settings, alert_id, "close", reason="explained", who_am_i=lambda: "kim")
    decide_alert(roles.settings, alert_id, "approve", who_am_i=lambda: "lee")
    before = verify_trail(roles.settings)
    assert before.ok and before.entries == 4

    # ...and cannot change the trail in any way
    engine = create_engine(roles.app_url)
    try:
        for sql, refusal in (
            ("ALTER TABLE audit_log DISABLE TRIGGER USER", "must be owner"),
            ("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only", "must be owner"),
            ("DROP TRIGGER audit_log_append_only ON audit_log", "must be owner"),
            ("DELETE FROM audit_log WHERE seq = 1", "permission denied"),
            ("UPDATE audit_log SET note = 'x' WHERE seq = 1", "permission denied"),
            ("TRUNCATE audit_log", "permission denied"),
            ("DROP TABLE audit_log", "must be owner"),
            ("ALTER TABLE audit_log OWNER TO CURRENT_USER", "must be owner"),
            ("CREATE TABLE sneaky (x int)", "permission denied"),
        ):
            with pytest.raises(DBAPIError, match=refusal), engine.begin() as conn:
                conn.execute(text(sql))
        with engine.begin() as conn:  # granting oneself more only warns; nothing is granted
            conn.execute(text(f'GRANT DELETE, UPDATE, TRUNCATE ON audit_log TO "{roles.app}"'))
            rights = conn.execute(
                text(
                    "SELECT has_table_privilege('audit_log', 'DELETE'), "
                    "has_table_privilege('audit_log', 'UPDATE'), "
                    "has_table_privilege('audit_log', 'TRUNCATE'), "
                    "has_table_privilege('audit_log', 'INSERT')"
                )
            ).one()
        assert tuple(rights) == (False, False, False, True)
    finally:
        engine.dispose()
    assert verify_trail(roles.settings).entries == 4

    # the owner still can — that is what the anchor / checkpoints kept elsewhere are for
    owner = create_engine(roles.owner_url)
    try:
        with owner.begin() as conn:
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            conn.execute(text("DELETE FROM audit_log WHERE seq >= 3"))
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
    finally:
        owner.dispose()
    anchored = verify_trail(roles.settings, anchor=f"{before.head_seq}:{before.head_hash}")
    assert anchored.broken_seq == 3 and anchored.mismatches  # tail cut and alert state orphaned


def test_roles_are_refused_when_they_cannot_protect_anything(roles: Roles, tmp_path: Path) -> None:
    upgrade_store(roles.settings)
    with pytest.raises(RoleError, match="owns the tables"):
        app_role(roles.settings, roles.owner)
    with pytest.raises(RoleError, match="lower-case"):
        app_role(roles.settings, 'x"; DROP TABLE audit_log; --')
    sqlite = Settings(store_url=f"sqlite:///{tmp_path / 's.db'}", store_owner_url=None)  # type: ignore[arg-type]
    upgrade_store(sqlite)
    with pytest.raises(RoleError, match="operating-system permissions"):
        app_role(sqlite, "auditlens_app")


def test_a_password_is_set_but_never_printed(roles: Roles, monkeypatch: pytest.MonkeyPatch) -> None:
    upgrade_store(roles.settings)
    monkeypatch.setenv("APP_ROLE_PW", "pa:ss%w'rd")
    report = app_role(roles.settings, roles.app, apply=True, password_env="APP_ROLE_PW")  # noqa: S106
    assert "pa:ss%w'rd" not in " ".join(report.sql)
    assert f"ALTER ROLE \"{roles.app}\" PASSWORD '***'" in report.sql
    admin = create_engine(PG_ADMIN_URL)
    try:
        with admin.connect() as conn:
            stored = conn.execute(
                text("SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = :r"),
                {"r": roles.app},
            ).scalar()
    finally:
        admin.dispose()
    assert stored is True
