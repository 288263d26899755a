"""`auditlens audit verify` catches tampering with the trail *and* with the tables it
describes, names the first modified entry / row, and exits 4 — SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, text, update
from typer.testing import CliRunner

from auditlens.alerts.intake import admit
from auditlens.alerts.routing import Rule, Schedule
from auditlens.calendar import BusinessCalendar
from auditlens.cli import app
from auditlens.config import Settings
from auditlens.pipeline import decide_alert, verify_trail
from auditlens.pipeline.controls import reconcile
from auditlens.store.audit import entry_hash
from auditlens.store.db import alerts, audit_log, label_candidates, suppressions
from auditlens.store.repo import Store
from tests.alerts.conftest import CRITERIA, T0, FakeClock, detection

PEOPLE = {"kim": ["analyst"], "lee": ["analyst", "approver"], "choi": ["admin"]}
RULES = [Rule("r", ("none",), Schedule.always_open(BusinessCalendar()))]


@pytest.fixture
def org(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Settings, Engine]]:
    """A store with a critical alert waiting for approval, a dismissed one with a
    suppression and label candidate, and an open one; the trail has 10 entries."""
    configured = settings.model_copy(update={"principals": PEOPLE})
    for key, value in (
        ("STORE_URL", settings.store_url.get_secret_value()),
        ("DATA_DIR", str(settings.data_dir)),
        ("PRINCIPALS", json.dumps(PEOPLE)),
    ):
        monkeypatch.setenv(f"AUDITLENS_{key}", value)  # fmt: skip
    monkeypatch.setenv("AUDITLENS_LANGUAGE", "en")  # the assertions read English output
    store = Store.open(configured, migrate=True)
    clock = FakeClock(T0)
    found = admit(
        store.engine,
        [
            detection(user="U1", severity="critical", risk=97.0),
            detection(user="U2", feature="usb_connect_count"),
            detection(user="U3", feature="bulk_ratio"),
        ],
        RULES,
        CRITERIA,
        clock(),
    )
    crit, fp, _ = (a.id for a in found.opened)
    kim = {"who_am_i": lambda: "kim", "clock": clock}
    decide_alert(configured, crit, "close", reason="explained", **kim)  # type: ignore[arg-type]
    decide_alert(configured, fp, "dismiss", reason="false_positive", suppress_days=14, **kim)  # type: ignore[arg-type]
    decide_alert(configured, fp, "reopen", reason="mistake", **kim)  # type: ignore[arg-type]
    decide_alert(configured, fp, "dismiss", reason="false_positive", **kim)  # type: ignore[arg-type]
    yield configured, store.engine
    store.close()


def _tamper(engine: Engine, *statements: Any) -> None:
    """Change the database the way only its owner or a superuser could."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_update"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_log_no_delete"))
        for statement in statements:
            conn.execute(statement)
        if conn.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))


def _verify_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit", "verify", *args])
    assert "Traceback" not in result.output
    return result.exit_code, " ".join(result.output.split())


def test_a_clean_store_verifies(org: tuple[Settings, Engine]) -> None:
    settings, _ = org
    result = verify_trail(settings)
    assert result.ok and result.entries == 10 and result.mismatches == ()
    code, out = _verify_cli()
    assert code == 0 and "audit trail verified: 10 entries" in out


def test_closing_a_critical_alert_by_update_is_caught(org: tuple[Settings, Engine]) -> None:
    settings, engine = org
    with engine.begin() as conn:
        conn.execute(update(alerts).where(alerts.c.id == 1).values(status="closed"))
    result = verify_trail(settings)
    assert not result.ok and result.broken_seq is None  # the chain itself is intact
    assert result.mismatches[0].startswith(
        "alert #1: status is closed in the table, the trail (entry 7) says close_requested"
    )
    code, out = _verify_cli()
    assert code == 4 and "tables differ from the audit trail (1): alert #1: status" in out
    # an admin restores what the trail says, and that repair is itself in the trail
    repaired = reconcile(settings, apply=True, who_am_i=lambda: "choi")
    assert repaired.fixable == [result.mismatch_lines(settings.language)[0]] and repaired.left == []
    again = verify_trail(settings)
    assert again.ok and again.entries == 11
    with engine.connect() as conn:
        status = conn.execute(select(alerts.c.status).where(alerts.c.id == 1)).scalar()
    assert status == "close_requested"


def test_a_hand_inserted_suppression_is_caught(
    org: tuple[Settings, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, engine = org
    with engine.begin() as conn:
        conn.execute(
            insert(suppressions).values(
                user_id="U3",
                scenario="bulk_ratio",
                until=T0 + dt.timedelta(days=365),
                alert_id=3,
                actor="kim",
                created_at=T0,
            )
        )
        new_id = conn.execute(select(suppressions.c.id).order_by(suppressions.c.id.desc())).first()
    assert new_id is not None
    result = verify_trail(settings)
    assert [m.split(" (")[0] for m in result.mismatches] == [f"suppression #{new_id[0]}"]
    assert "has no dismissal in the trail" in result.mismatches[0]
    assert _verify_cli()[0] == 4
    # a row the trail never wrote is not removed automatically: a person decides
    left = reconcile(settings, apply=True, who_am_i=lambda: "choi")
    assert left.fixable == [] and left.left == list(result.mismatch_lines(settings.language))
    monkeypatch.setattr("auditlens.identity.os_user", lambda: "choi")
    shown = CliRunner().invoke(app, ["audit", "reconcile", "--apply"])
    assert shown.exit_code == 4 and "needs a person: suppression #" in shown.output


def test_changed_label_candidates_and_missing_rows_are_caught(
    org: tuple[Settings, Engine],
) -> None:
    settings, engine = org
    with engine.begin() as conn:
        conn.execute(update(label_candidates).where(label_candidates.c.id == 2).values(label=1))
        conn.execute(update(alerts).where(alerts.c.id == 3).values(severity="low"))
    result = verify_trail(settings)
    assert result.mismatches[0].startswith("alert #3: severity is low in the table")
    assert result.mismatches[1].startswith("label candidate #2 (alert #2, label 1)")


def test_a_dropped_audit_table_is_broken_not_a_traceback(org: tuple[Settings, Engine]) -> None:
    settings, engine = org
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE audit_log"))
    result = verify_trail(settings)
    assert not result.ok and result.table_missing and result.broken_seq == 1
    code, out = _verify_cli()
    assert code == 4 and "BROKEN at entry 1: the audit_log table is missing" in out


def _rewrite_and_rehash(engine: Engine, seq: int, **changes: Any) -> None:
    """Rewrite entry ``seq`` and recompute every hash from there on (a careful forger)."""
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(audit_log).order_by(audit_log.c.seq))]
    statements = []
    prev = rows[seq - 2]["hash"]
    for row in rows[seq - 1 :]:
        if row["seq"] == seq:
            row |= changes
        row["prev_hash"] = prev
        row["hash"] = prev = entry_hash(row)
        statements.append(
            update(audit_log)
            .where(audit_log.c.seq == row["seq"])
            .values(**{k: v for k, v in row.items() if k != "seq"})
        )
    _tamper(engine, *statements)


def test_checkpoints_name_the_first_rewritten_entry_of_a_rehashed_chain(
    org: tuple[Settings, Engine], tmp_path: Path
) -> None:
    settings, engine = org
    marks = tmp_path / "offsite" / "audit.checkpoints"
    code, out = _verify_cli("--checkpoints", str(marks))
    assert code == 0 and len(marks.read_text().splitlines()) == 10
    head = re.search(r"head (\d+:[0-9a-f]{64})", out).group(1)  # type: ignore[union-attr]
    # entry 5 (the alert of U3) now says someone else; every hash after it recomputed
    _rewrite_and_rehash(engine, 5, note="nothing to see", reason_code="low")
    assert verify_trail(settings).broken_seq is None  # the chain alone is consistent...
    anchored = verify_trail(settings, anchor=head)  # ...an anchor sees *that* it changed...
    assert anchored.broken_seq == 10 and "cannot say which" in anchored.problem
    assert "an entry between 1 and 10 was rewritten" in anchored.problem
    # older heads kept as anchors (e.g. one a day) narrow it down
    kept = dict(line.split(" ") for line in marks.read_text().splitlines())
    daily = [f"3:{kept['3']}", f"8:{kept['8']}", head]
    narrowed = verify_trail(settings, anchor=daily)
    assert narrowed.broken_seq == 8 and "between 4 and 8" in narrowed.problem
    code, out = _verify_cli(*(arg for pin in daily for arg in ("--anchor", pin)))
    assert code == 4 and "BROKEN at entry 8:" in out and "between 4 and 8" in out
    exact = verify_trail(settings, anchor=[f"4:{kept['4']}", f"5:{kept['5']}"])
    assert exact.broken_seq == 5 and "entry 5 differs from its checkpoint" in exact.problem
    pinned = verify_trail(settings, checkpoints=marks)  # ...checkpoints see *where*
    assert pinned.broken_seq == 5 and "entry 5 differs from its checkpoint" in pinned.problem
    code, out = _verify_cli("--checkpoints", str(marks))
    assert code == 4 and "BROKEN at entry 5:" in out
    assert len(marks.read_text().splitlines()) == 10  # nothing appended to a broken trail


def test_checkpoints_grow_and_catch_a_cut_off_tail(
    org: tuple[Settings, Engine], tmp_path: Path
) -> None:
    settings, engine = org
    marks = tmp_path / "audit.checkpoints"
    assert verify_trail(settings, checkpoints=marks).ok
    decide_alert(settings, 3, "acknowledge", who_am_i=lambda: "lee")
    grown = verify_trail(settings, checkpoints=marks)
    assert grown.ok and grown.new_checkpoints[0][0] == 11
    assert len(marks.read_text().splitlines()) == 11
    _tamper(engine, text("DELETE FROM audit_log WHERE seq >= 9"))
    result = verify_trail(settings, checkpoints=marks)
    assert result.broken_seq == 9 and "entry 9 is gone" in result.problem
