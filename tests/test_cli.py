from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from auditlens.cli import app
from auditlens.config import Settings
from auditlens.sources.corrupt import write_corrupted_csv
from auditlens.store.repo import Store

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_help_lists_every_verb() -> None:
    out = _ok("--help")
    verbs = (
        "generate",
        "ingest",
        "config",
        "db",
        "demo",
        "quarantine",
        "run",
        "score",
        "explain",
        "alerts",
        "audit",
    )
    for verb in verbs:
        assert re.search(rf"\b{verb}\b", out)


def test_generate_ingest_then_corrupted_copy_accounts_for_every_row(workdir: Path) -> None:
    _ok("generate", "--users", "60", "--days", "10", "--seed", "7", "--format", "csv")
    _ok("db", "upgrade")
    out = _ok("ingest", "var/sample/events.csv")
    events = pl.read_csv(workdir / "var/sample/events.csv", infer_schema=False)
    assert f"ingested {events.height:,} = accepted {events.height:,} + quarantined 0" in out

    # a corrupted copy with other column names, loaded through --map
    typed = events.with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC"))
    damage = write_corrupted_csv(
        typed.head(500),
        workdir / "corrupt.csv",
        each=4,
        seed=3,
        rename={"timestamp": "login_time", "user_id": "emp_no"},
    )
    out = _ok(
        "ingest",
        "corrupt.csv",
        "--map",
        "login_time=timestamp",
        "--map",
        "emp_no=user_id",
        "--allow-quarantine",
    )
    # The copy is another source (its own path) and its writer dropped the milliseconds:
    # same ids, other content, so by the id-scoping rule they are that source's events.
    # Every damaged row is quarantined; the copied duplicate ids (other content) are also
    # possible-tampering findings.
    assert "ingested 500 = accepted 483 + quarantined 17; 4 possible" in out

    store = Store.open(Settings())
    rows = store.quarantined_rows(limit=10_000)
    assert rows.height == 17
    assert rows.get_column("reason").str.len_chars().min() > 0  # type: ignore[operator]
    assert rows.get_column("location").str.contains(r"corrupt\.csv:\d+$").all()
    reasons = " | ".join(rows.get_column("reason").to_list())
    for expected in (
        "timestamp: cannot read",
        "user_id: is missing",
        "is in the future",
        "repeated with different content",
        "truncated",
    ):
        assert expected in reasons, expected
    assert damage.damaged == 4 * 4 + 1
    store.close()


def test_corrupted_copy_into_a_fresh_store_quarantines_exactly_the_damage(workdir: Path) -> None:
    _ok("generate", "--users", "30", "--days", "7", "--seed", "1")
    events = pl.read_parquet(workdir / "var/sample/events.parquet").head(400)
    damage = write_corrupted_csv(events, workdir / "c.csv", each=5, seed=11)
    _ok("db", "upgrade")
    result = runner.invoke(app, ["ingest", "c.csv"])
    assert result.exit_code == 3  # quarantined rows: cron must see it
    accepted = 400 - damage.damaged
    assert f"ingested 400 = accepted {accepted} + quarantined {damage.damaged}" in result.output
    assert f"{damage.damaged} rows quarantined" in result.output or "격리된 행" in result.output
    listing = _ok("quarantine", "--limit", "100")
    assert "c.csv" in listing and "repeated" in listing  # copied ids, other content


def test_config_show_masks_secrets(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITLENS_STORE_URL", "postgresql+psycopg://app:topsecret@db/audit")
    out = _ok("config", "show")
    assert "topsecret" not in out and "app:***@db/audit" in out
    assert "Asia/Seoul" in out


def test_errors_are_one_line_without_traceback(workdir: Path) -> None:
    result = runner.invoke(app, ["ingest", "missing.csv"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "missing.csv" in result.output
    result = runner.invoke(app, ["ingest", "x.csv", "--map", "login_time"])
    assert result.exit_code == 1 and "CUSTOMER=CANONICAL" in result.output
    (workdir / "ok.csv").write_text("event_id,user_id,timestamp,action_type\n", encoding="utf-8")
    result = runner.invoke(app, ["ingest", "ok.csv"])
    assert result.exit_code == 1 and "auditlens db upgrade" in result.output


def test_demo_runs_twice_and_second_run_reads_nothing_new(workdir: Path) -> None:
    first = _ok("demo", "--users", "40", "--days", "14")
    assert "quarantined" in first and "branch_export" in first
    assert "replay of" in first and "reproduced" in first and "NOT" not in first
    assert re.search(r"review capacity 20: flagging 20 users, implied cut-off risk >= \d", first)
    # the alert loop: delivered to a local file and the console, and a verified trail
    flat = " ".join(first.split())
    opened = int(re.search(r"(\d+) alerts opened", flat).group(1))  # type: ignore[union-attr]
    assert opened >= 1 and f"delivered {2 * opened} of {2 * opened} attempted" in flat
    assert first.count("ALERT [") == opened
    lines = (workdir / "var/alerts/alerts.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == opened
    entries = int(re.search(r"audit trail verified: (\d+) entries", flat).group(1))  # type: ignore[union-attr]
    assert entries == 2 * opened + 2 * opened  # detect + alert, two deliveries each

    second = _ok("demo", "--users", "40", "--days", "14")
    assert second.count("nothing new") == 2
    assert "stored 0 rows" in second.replace("\n", " ")
    assert f"audit trail verified: {entries} entries" in " ".join(second.split())
    assert "ALERT [" not in second  # nothing is sent twice


def test_alert_triage_and_audit_commands(workdir: Path) -> None:
    _ok("demo", "--users", "40", "--days", "14")
    listing = _ok("alerts", "list")
    assert "outbox: 0 pending" in listing and "sent" in listing
    out = _ok("alerts", "ack", "1", "--as", "kim", "--note", "looking")
    assert "alert #1" in out and "acknowledged" in out
    result = runner.invoke(app, ["alerts", "ack", "1", "--as", "kim"])
    assert result.exit_code == 1 and "reopen" not in result.output
    assert "cannot acknowledge" in result.output and "Traceback" not in result.output
    out = _ok("alerts", "dismiss", "1", "--as", "kim", "--suppress-days", "30")
    assert "label candidate" in " ".join(out.split()) and "suppressed until" in out
    out = _ok("alerts", "reopen", "1", "--as", "lee", "--reason", "new_evidence")
    assert "now open" in out
    log = " ".join(_ok("audit", "log", "--decisions").split())
    assert "kim acknowledge alert:1" in log and "lee reopen alert:1" in log
    assert "reason=false_positive" in log
    verified = _ok("audit", "verify")
    assert re.search(r"audit trail verified: \d+ entries; head \d+:[0-9a-f]{64}", verified)
    result = runner.invoke(app, ["audit", "verify", "--anchor", "nonsense"])
    assert result.exit_code == 1 and "SEQ:HASH" in result.output
    deliveries = _ok("alerts", "deliveries", "--status", "sent")
    assert "sent" in deliveries and "pending" not in deliveries
    assert "delivered 0 of 0 attempted" in " ".join(_ok("alerts", "dispatch").split())


def test_ingest_encoding_and_xlsx_from_the_command_line(workdir: Path) -> None:
    import openpyxl

    header = "event_id,timestamp,user_id,action_type,resource_id"
    rows = [f"K{i},2026-09-01T09:0{i}:00,김철수{i},view,/인사/급여" for i in range(3)]
    (workdir / "kr.csv").write_bytes(("\n".join([header, *rows]) + "\n").encode("cp949"))
    _ok("db", "upgrade")
    out = _ok("ingest", "kr.csv", "--encoding", "cp949")
    assert "ingested 3 = accepted 3 + quarantined 0" in out
    (workdir / "kr2.csv").write_bytes(
        ("\n".join([header, *(r.replace("K", "A") for r in rows)]) + "\n").encode("cp949")
    )
    result = runner.invoke(app, ["ingest", "kr2.csv", "--encoding", "auto"])
    assert result.exit_code == 0, result.output
    assert "ingested 3 = accepted 3 + quarantined 0" in result.output
    assert "CP949로 읽었습니다" in result.output  # the notice, in the configured language
    bad = runner.invoke(app, ["ingest", "kr.csv", "--encoding", "latin1"])
    assert bad.exit_code != 0

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    sheet.append(header.split(","))
    sheet.append(["X1", "2026-09-01T10:00:00", "E1", "view", "/a"])
    sheet.append(["X2", "#N/A", "E2", "view", "/b"])
    book.save(workdir / "export.bin")
    out = _ok("ingest", "export.bin", "--format", "xlsx", "--allow-quarantine")
    assert "ingested 2 = accepted 1 + quarantined 1" in out
    store = Store.open(Settings())
    rows = store.quarantined_rows(limit=5)
    store.close()
    assert rows["location"].to_list() == [f"{Path('export.bin')}:Sheet1:row 3"]
    assert rows["reason"].to_list() == ["cell B3 (timestamp) holds the Excel error #N/A"]
