from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, delete, text, update
from sqlalchemy.exc import DBAPIError

from auditlens.config import Settings
from auditlens.store.audit import (
    GENESIS,
    AuditError,
    NewEntry,
    append,
)
from auditlens.store.audit_repository import AuditRepository
from auditlens.store.db import audit_log
from auditlens.store.repo import Store

T0 = dt.datetime(2026, 9, 8, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    store = Store.open(settings, migrate=True)
    yield store.engine
    store.close()


def _fill(engine: Engine, n: int = 5) -> None:
    for i in range(n):
        with engine.begin() as conn:
            append(
                conn,
                NewEntry(
                    actor="kim" if i % 2 else "auditlens",
                    action="acknowledge" if i % 2 else "detect",
                    target=f"alert:{i}",
                    subject=f"U{i % 2}",
                    reason_code="reviewing",
                    note=f"메모 {i}",
                    criteria={"threshold": 50.0, "model_sha256": "ab" * 32, "rule_id": "r1"},
                ),
                T0 + dt.timedelta(minutes=i),
            )


def _tamper(engine: Engine, statement: object) -> None:
    """Bypass the append-only triggers the way only a database administrator could."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            conn.execute(statement)  # type: ignore[call-overload]
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
            conn.execute(statement)  # type: ignore[call-overload]


def test_entries_chain_and_verify(engine: Engine) -> None:
    _fill(engine)
    rows = AuditRepository(engine).entries()
    assert [e.seq for e in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert rows[1].criteria["rule_id"] == "r1" and rows[1].note == "메모 1"
    assert rows[1].at == T0 + dt.timedelta(minutes=1)
    result = AuditRepository(engine).verify()
    assert result.ok and result.entries == 5 and result.head_hash == rows[-1].hash
    assert [e.seq for e in AuditRepository(engine).entries(subject="U1")] == [2, 4]
    assert [
        e.seq
        for e in AuditRepository(engine).entries(actor="kim", since=T0 + dt.timedelta(minutes=2))
    ] == [4]
    assert [e.seq for e in AuditRepository(engine).entries(limit=2)] == [4, 5]


def test_verify_detects_a_modified_entry(engine: Engine) -> None:
    _fill(engine)
    _tamper(engine, update(audit_log).where(audit_log.c.seq == 3).values(note="nothing to see"))
    result = AuditRepository(engine).verify()
    assert not result.ok
    assert result.broken_seq == 3 and "modified" in result.problem
    assert result.problem_text("ko") == "3번 항목이 변경되었습니다. 내용이 해시와 맞지 않습니다"
    assert result.problem_text("en") == result.problem
    assert result.entries == 2


def test_verify_detects_a_modified_entry_whose_hash_was_recomputed(engine: Engine) -> None:
    _fill(engine)
    from auditlens.store.audit import entry_hash

    with engine.connect() as conn:
        row = dict(conn.execute(audit_log.select().where(audit_log.c.seq == 2)).one()._mapping)
    row["reason_code"] = "false_positive"
    forged = entry_hash(row)
    _tamper(
        engine,
        update(audit_log)
        .where(audit_log.c.seq == 2)
        .values(reason_code="false_positive", hash=forged),
    )
    result = AuditRepository(engine).verify()
    assert result.broken_seq == 3 and "does not link" in result.problem


def test_verify_detects_a_deleted_entry(engine: Engine) -> None:
    _fill(engine)
    _tamper(engine, delete(audit_log).where(audit_log.c.seq == 2))
    result = AuditRepository(engine).verify()
    assert not result.ok
    assert result.broken_seq == 2 and "missing" in result.problem


def test_anchor_detects_removal_of_the_newest_entries(engine: Engine) -> None:
    _fill(engine)
    head = AuditRepository(engine).verify()
    _tamper(engine, delete(audit_log).where(audit_log.c.seq >= 4))
    assert AuditRepository(engine).verify().ok  # the chain alone cannot see a cut-off tail...
    result = AuditRepository(engine).verify(anchor=(head.head_seq, head.head_hash))
    assert not result.ok and "gone" in result.problem  # ...an anchor kept elsewhere can


def test_database_refuses_update_and_delete(engine: Engine) -> None:
    _fill(engine, 2)
    for statement in (
        update(audit_log).where(audit_log.c.seq == 1).values(note="x"),
        delete(audit_log).where(audit_log.c.seq == 1),
    ):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(statement)
    assert AuditRepository(engine).verify().ok and AuditRepository(engine).verify().entries == 2


@pytest.mark.postgres
def test_postgres_refuses_changes_even_for_an_app_role_with_grants(pg_url: str) -> None:
    settings = Settings(store_url=pg_url)  # type: ignore[arg-type]
    store = Store.open(settings, migrate=True)
    _fill(store.engine, 3)
    role = "auditlens_app_test"
    with store.engine.begin() as conn:
        conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON audit_log TO {role}"))
    app = create_engine(pg_url.replace("postgres@", f"{role}@"))
    try:
        for sql in (
            "UPDATE audit_log SET note = 'x' WHERE seq = 1",
            "DELETE FROM audit_log WHERE seq = 2",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(DBAPIError, match="append-only"), app.begin() as conn:
                conn.execute(text(sql))
        # the superuser the tests run as is refused too (the trigger binds everybody)
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_log"))
        # least privilege: the app role may only read and append
        with store.engine.begin() as conn:
            conn.execute(text(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM {role}"))
        with pytest.raises(DBAPIError, match="permission denied"), app.begin() as conn:
            conn.execute(text("UPDATE audit_log SET note = 'x' WHERE seq = 1"))
        with app.begin() as conn:
            append(conn, NewEntry("lee", "approve", "alert:9"), T0)
    finally:
        app.dispose()
        with store.engine.begin() as conn:
            conn.execute(text(f"REVOKE ALL ON audit_log FROM {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        store.close()
    with Store.open(settings) as reopened:
        assert reopened.audit.verify().entries == 4


def test_append_refuses_unknown_actions_and_missing_actors(engine: Engine) -> None:
    with engine.begin() as conn:
        with pytest.raises(AuditError, match="unknown audit action"):
            append(conn, NewEntry("kim", "delete_everything", "x"), T0)
        with pytest.raises(AuditError, match="--as"):
            append(conn, NewEntry(" ", "acknowledge", "x"), T0)
        with pytest.raises(AuditError, match="timezone"):
            append(conn, NewEntry("kim", "acknowledge", "x"), T0.replace(tzinfo=None))
