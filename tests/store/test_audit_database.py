"""A separate audit database (별도 감사DB): the trail lives elsewhere, is written first,
and a crash between the trail and the store is named by `audit verify` (SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from auditlens.alerts.intake import admit
from auditlens.alerts.routing import Rule, Schedule
from auditlens.calendar import BusinessCalendar
from auditlens.cli import app
from auditlens.config import Settings
from auditlens.identity import IdentityError
from auditlens.pipeline import audit_log, decide_alert, upgrade_store, verify_trail
from auditlens.pipeline.controls import reconcile
from auditlens.store.db import audit_log as audit_table
from auditlens.store.repo import Store
from tests.alerts.conftest import CRITERIA, T0, detection
from tests.conftest import _fresh_pg_database

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = {"kim": ["analyst"], "lee": ["analyst", "approver"], "choi": ["admin"]}
RULES = [Rule("r", ("none",), Schedule.always_open(BusinessCalendar()))]


@pytest.fixture
def split(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings whose trail lives in a second database of the same kind."""
    if db_url.startswith("sqlite"):
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path / 'audit.db'}"])
    else:
        urls = _fresh_pg_database()
    audit_url = next(urls)
    env = {
        "AUDITLENS_STORE_URL": db_url,
        "AUDITLENS_AUDIT_STORE_URL": audit_url,
        "AUDITLENS_DATA_DIR": str(tmp_path / "var"),
        "AUDITLENS_PRINCIPALS": json.dumps(PEOPLE),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield Settings()
    for _ in urls:  # drops the PostgreSQL database
        pass


def _open_alerts(settings: Settings, n: int = 2, first_score: int | None = None) -> list[int]:
    with Store.open(settings) as store:
        extra = {} if first_score is None else {"score_id": first_score}
        found = admit(
            store.engine,
            [detection(user=f"U{i}", severity="critical", **extra) for i in range(n)],
            RULES,
            CRITERIA,
            T0,
            trail=store.trail,
        )
    return [a.id for a in found.opened]


def _count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_table)).scalar_one())
    finally:
        engine.dispose()


def test_the_trail_lives_in_the_audit_database(split: Settings) -> None:
    assert upgrade_store(split)
    first, _ = _open_alerts(split)
    decide_alert(split, first, "close", reason="explained", who_am_i=lambda: "kim")
    decide_alert(split, first, "approve", who_am_i=lambda: "lee")
    assert split.audit_store_url is not None
    assert _count(split.audit_store_url.get_secret_value()) == 6  # 2 x (detect, alert) + 2
    assert _count(split.store_url.get_secret_value()) == 0  # nothing in the store's table
    result = verify_trail(split)
    assert result.ok and result.entries == 6
    assert [e.actor for e in audit_log(split, decisions_only=True)] == ["kim", "lee"]
    shown = CliRunner().invoke(app, ["config", "show"])
    assert '"audit_store_url"' in shown.output


def test_a_crash_between_the_trail_and_the_store_is_named_by_verify(split: Settings) -> None:
    upgrade_store(split)
    first, second = _open_alerts(split)
    # a real process dies (kill -9 equivalent) after the trail committed the dismissal,
    # before the store committed the alert's new state and its label candidate
    crashed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys\n"
            "from auditlens.config import load_settings\n"
            "from auditlens.pipeline import decide_alert\n"
            "from auditlens.store.feedback import FeedbackRepository\n"
            "FeedbackRepository.add_label_candidate = lambda *a, **k: os._exit(9)\n"
            "decide_alert(load_settings(), int(sys.argv[1]), 'dismiss', "
            "reason='false_positive', who_am_i=lambda: 'kim')\n",
            str(first),
        ],
        env=os.environ | {"PYTHONPATH": str(ROOT / "src")},
        check=False,
    )
    assert crashed.returncode == 9
    result = verify_trail(split)
    assert result.broken_seq is None  # the trail itself is whole...
    assert result.mismatches == (  # ...and says exactly which decision the store lacks
        f"alert #{first}: status is open in the table, the trail (entry 5) says dismissed",
        f"the trail (entry 5) dismissed alert #{first} as a false positive, but its label "
        "candidate is missing",
    )
    assert result.mismatch_lines("ko")[0] == (
        f"#{first} 경보: 테이블과 감사 로그의 status 값이 다름 (테이블 open, 감사 로그 5번 항목 "
        "dismissed)"
    )
    code = CliRunner().invoke(app, ["audit", "verify"]).exit_code
    assert code == 4
    # other decisions go on; the half-done one stays reported until an admin reconciles it
    decide_alert(split, second, "acknowledge", who_am_i=lambda: "lee")
    assert len(verify_trail(split).mismatches) == 2
    with pytest.raises(IdentityError, match="admin"):
        reconcile(split, apply=True, who_am_i=lambda: "lee")
    planned = reconcile(split, who_am_i=lambda: "choi")
    assert len(planned.fixable) == 2 and planned.left == [] and not planned.applied
    assert len(verify_trail(split).mismatches) == 2  # a dry run changes nothing
    done = reconcile(split, apply=True, who_am_i=lambda: "choi")
    assert done.applied
    after = verify_trail(split)
    assert after.ok, after.mismatches
    repairs = [e for e in audit_log(split) if e.action == "reconcile"]
    assert [(e.actor, e.criteria["entry"], e.criteria["table"]) for e in repairs] == [
        ("choi", 5, "alerts"),
        ("choi", 5, "label_candidates"),
    ]


def test_a_crash_after_the_alert_entry_is_named_even_when_the_id_is_reused(
    split: Settings,
) -> None:
    upgrade_store(split)
    crashed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os\n"
            "from auditlens.store import audit\n"
            "real = audit.Trail.append\n"
            "def append(self, conn, entry, now):\n"
            "    stored = real(self, conn, entry, now)\n"
            "    if entry.action == 'alert':\n"
            "        os._exit(9)  # the trail has committed, the store has not\n"
            "    return stored\n"
            "audit.Trail.append = append\n"
            "from tests.store.test_audit_database import _open_alerts\n"
            "from auditlens.config import load_settings\n"
            "_open_alerts(load_settings(), 1, first_score=10_000)\n",
        ],
        env=os.environ | {"PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"},
        cwd=ROOT,
        check=False,
    )
    assert crashed.returncode == 9
    # SQLite hands out the same alert id again, PostgreSQL does not
    (later,) = _open_alerts(split, 1, first_score=10_001)
    problems = verify_trail(split).mismatches
    assert problems, "the lost alert must be reported"
    if later == 1:
        assert problems[0].startswith("alert #1 was opened twice in the trail (entries 2 and 4)")
    else:
        assert problems[0].startswith("alert #1 is in the trail (entry 2) but missing")
