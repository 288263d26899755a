from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from auditlens.cli import app
from auditlens.config import Settings
from auditlens.sources.corrupt import write_corrupted_csv
from auditlens.store.repo import Store

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUDITLENS_LANGUAGE", "en")  # the assertions read English output
    return tmp_path


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_help_lists_every_verb() -> None:
    out = _ok("--help")
    verbs = {
        "version",
        "generate",
        "ingest",
        "quarantine",
        "demo",
        "run",
        "score",
        "explain",
        "evaluate",
        "train",
        "config",
        "db",
        "alerts",
        "review",
        "audit",
        "reidentify",
        "keys",
        "serve",
        "report",
        "monitor",
        "model",
    }
    # Only rows of the "Commands" panel count, so a verb named in some help text does not.
    panel = out[out.index("Commands") :]
    listed = set(re.findall(r"^│ ([a-z][a-z-]*) {2,}", panel, flags=re.MULTILINE))
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    registered = set(group.commands)
    assert listed == registered == verbs


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
    rows = store.events.quarantined(limit=10_000)
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
    result = runner.invoke(app, ["--lang", "en", "ingest", "x.csv", "--map", "login_time"])
    assert result.exit_code == 1 and "CUSTOMER=CANONICAL" in result.output


@pytest.mark.postgres
def test_a_server_store_behind_is_refused_in_one_line(
    workdir: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUDITLENS_STORE_URL", pg_url)
    (workdir / "ok.csv").write_text("event_id,user_id,timestamp,action_type\n", encoding="utf-8")
    result = runner.invoke(app, ["ingest", "ok.csv"])
    assert result.exit_code == 1 and "auditlens db upgrade" in result.output
    assert "Traceback" not in result.output


def test_demo_runs_twice_and_second_run_reads_nothing_new(workdir: Path) -> None:
    first = _ok("demo", "--users", "40", "--days", "14")
    assert "quarantined" in first and "branch_export" in first
    assert "replay of" in first and "reproduced" in first and "NOT" not in first
    assert re.search(r"review capacity 20: flagging 20 users, implied cut-off risk >= \d", first)
    # the alert loop: delivered to a local file and the console, and a verified trail
    flat = " ".join(first.split())
    opened = int(re.search(r"(\d+) alerts? opened", flat).group(1))  # type: ignore[union-attr]
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


def test_alert_triage_and_audit_commands(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _ok("demo", "--users", "40", "--days", "14")
    listing = _ok("alerts", "list")
    assert "outbox: 0 pending" in listing and "sent" in listing
    monkeypatch.setenv("AUDITLENS_PRINCIPALS", '{"kim": ["analyst"], "lee": ["analyst"]}')
    me = {"name": "kim"}
    monkeypatch.setattr("auditlens.identity.os_user", lambda: me["name"])
    shown = " ".join(_ok("alerts", "show", "1").split())
    assert "alert #1" in shown and "days 2026-09-" in shown and re.search(r"open\W+1\W", shown)
    result = runner.invoke(app, ["alerts", "show", "999"])
    assert result.exit_code == 1 and "no alert #999" in result.output  # the workdir speaks en
    result = runner.invoke(app, ["--lang", "ko", "alerts", "show", "999"])
    assert result.exit_code == 1 and "#999 경보가 없습니다" in result.output
    out = _ok("alerts", "ack", "1", "--note", "looking")
    assert "alert #1" in out and "acknowledged" in out
    result = runner.invoke(app, ["--lang", "en", "alerts", "ack", "1"])
    assert result.exit_code == 1 and "reopen" not in result.output
    assert "cannot acknowledge" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["alerts", "reopen", "1", "--as", "lee", "--reason", "mistake"])
    assert result.exit_code == 1 and "only an admin can" in result.output
    result = runner.invoke(
        app, ["--lang", "ko", "alerts", "reopen", "1", "--as", "lee", "--reason", "mistake"]
    )
    assert result.exit_code == 1 and "관리자만 다른 사용자를 대신할 수 있습니다" in result.output
    out = _ok("alerts", "dismiss", "1", "--suppress-days", "30")
    assert "label candidate" in " ".join(out.split()) and "suppressed until" in out
    me["name"] = "lee"
    out = _ok("alerts", "reopen", "1", "--reason", "new_evidence")
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
    args = ["ingest", "kr2.csv", "--encoding", "auto"]
    result = runner.invoke(app, args, env={"AUDITLENS_LANGUAGE": "ko"})
    assert result.exit_code == 0, result.output
    assert "3건 수집 = 정상 3건 + 격리 0건" in result.output
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
    rows = store.events.quarantined(limit=5)
    store.close()
    assert rows["location"].to_list() == [f"{Path('export.bin')}:Sheet1:row 3"]
    assert rows["reason"].to_list() == ["cell B3 (timestamp) holds the Excel error #N/A"]


# --- bring your own logs: vocabulary, value maps, one way to read -------------------------

KO_ACTIONS = {
    "login": "로그인",
    "logout": "로그아웃",
    "view": "조회",
    "edit": "수정",
    "delete": "삭제",
    "create": "등록",
    "download": "다운로드",
    "upload": "업로드",
    "export": "반출",
    "print": "출력",
    "usb_connect": "USB연결",
}


def _koreanised(events: pl.DataFrame) -> pl.DataFrame:
    """The same events as a Korean bank exports them: Korean actions, 성공/실패 and Y/N
    flags, and a word of its own (화면조회, a view) that only a value map explains."""
    row = pl.int_range(pl.len())
    action = pl.col("action_type").replace_strict(KO_ACTIONS)
    flags = {True: {"true": "Y", "false": "N"}, False: {"true": "성공", "false": "실패"}}
    return events.with_columns(
        pl.when((pl.col("action_type") == "view") & (row % 7 == 0))
        .then(pl.lit("화면조회"))
        .otherwise(action)
        .alias("action_type"),
        pl.when(row % 5 == 0)
        .then(pl.col("success").replace_strict(flags[True], default=None))
        .otherwise(pl.col("success").replace_strict(flags[False], default=None))
        .alias("success"),
    )


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_korean_vocabulary_csv_ingests_to_the_same_events_as_english(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, db: str, request: pytest.FixtureRequest
) -> None:
    _ok("generate", "--users", "12", "--days", "3", "--seed", "5", "--format", "csv")
    english = pl.read_csv(workdir / "var/sample/events.csv", infer_schema=False)
    assert set(english["action_type"]) <= set(KO_ACTIONS)
    korean = _koreanised(english)
    assert (korean["action_type"] == "화면조회").any() and (korean["success"] == "Y").any()
    korean.write_csv(workdir / "ko.csv")
    (workdir / "map.toml").write_text('[action_type]\n"화면조회" = "view"\n', encoding="utf-8")
    stores = {}
    for name, args in (
        ("en", ["var/sample/events.csv"]),
        ("ko", ["ko.csv", "--value-map", "map.toml"]),
    ):
        url = f"sqlite:///{workdir / name}.db"
        if db == "postgresql" and name == "ko":
            url = request.getfixturevalue("pg_url")
        monkeypatch.setenv("AUDITLENS_STORE_URL", url)
        monkeypatch.setenv("AUDITLENS_DATA_DIR", str(workdir / f"var-{name}"))
        _ok("db", "upgrade")
        out = _ok("ingest", *args)
        assert f"accepted {english.height:,} + quarantined 0" in out, out
        store = Store.open(Settings())
        stores[name] = store.events.scan().collect().drop("_location").sort("event_id")
        store.close()
    assert stores["ko"].equals(stores["en"])
    assert stores["ko"]["success"].null_count() < stores["ko"].height  # flags were read


def test_unknown_actions_are_quarantined_with_their_counts(workdir: Path) -> None:
    (workdir / "bank.csv").write_text(
        "event_id,user_id,timestamp,action_type,resource_id,success\n"
        "1,kim,2026-09-01T09:00:00,조회,db/a,성공\n"
        "2,kim,2026-09-01T09:01:00,결재,db/a,성공\n"
        "3,kim,2026-09-01T09:02:00,결재,db/a,실패\n"
        "4,kim,2026-09-01T09:03:00,승인요청,db/a,성공\n",
        encoding="utf-8",
    )
    _ok("db", "upgrade")
    out = _ok("ingest", "bank.csv", "--allow-quarantine")
    assert "ingested 4 = accepted 1 + quarantined 3" in out
    assert "unknown action types, quarantined: '결재' x2, '승인요청' x1" in out
    store = Store.open(Settings())
    reasons = store.events.quarantined().sort("location")["reason"].to_list()
    store.close()
    assert [r.split(" (")[0] for r in reasons] == [
        "action_type: unknown action '결재'",
        "action_type: unknown action '결재'",
        "action_type: unknown action '승인요청'",
    ]
    assert all("unknown in this batch: '결재' x2, '승인요청' x1" in r for r in reasons)


def test_score_reads_korean_exports_like_english_through_value_map_or_source(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ok("generate", "--users", "40", "--days", "10", "--seed", "3", "--format", "csv")
    english = pl.read_csv(workdir / "var/sample/events.csv", infer_schema=False)
    _koreanised(english).write_csv(workdir / "var/sample/ko.csv")
    (workdir / "map.csv").write_text(
        "column,value,canonical\naction_type,화면조회,view\n", encoding="utf-8"
    )
    _ok("score", "--input", "var/sample/events.csv", "--output", "en.csv")
    ko_out = _ok(
        "score", "--input", "var/sample/ko.csv", "--value-map", "map.csv", "--output", "ko.csv"
    )
    assert "unknown action" not in ko_out
    en, ko = pl.read_csv(workdir / "en.csv"), pl.read_csv(workdir / "ko.csv")
    # the 화면조회 rows were views: the same behaviour, the same risk
    assert ko.select("user_id", "risk_score").equals(en.select("user_id", "risk_score"))
    # a configured source is read the same way by score
    (workdir / "auditlens.toml").write_text(
        '[sources.bank]\nkind = "file"\npath = "var/sample/ko.csv"\n\n'
        '[sources.bank.value_map.action_type]\n"화면조회" = "view"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("AUDITLENS_CONFIG", str(workdir / "auditlens.toml"))
    _ok("score", "--source", "bank", "--output", "src.csv")
    assert (
        pl.read_csv(workdir / "src.csv")
        .select("user_id", "risk_score")
        .equals(en.select("user_id", "risk_score"))
    )
    # without the map, 화면조회 is unknown: quarantined and counted, never a new category
    out = _ok("score", "--input", "var/sample/ko.csv", "--output", "plain.csv")
    assert "unknown action types, quarantined: '화면조회' x" in out


@pytest.mark.parametrize(
    "command",
    [
        ["score", "--input", "empty.csv"],
        ["train", "--labels", "labels.csv", "--input", "empty.csv"],
        ["evaluate", "--labels", "labels.csv", "--input", "empty.csv"],
        ["run"],
    ],
)
def test_empty_or_header_only_input_says_so_with_exit_code_5(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    (workdir / "empty.csv").write_text("event_id,user_id,timestamp,action_type\n", encoding="utf-8")
    (workdir / "labels.csv").write_text("user_id,scenario,start,end\n", encoding="utf-8")
    (workdir / "auditlens.toml").write_text(
        '[sources.exports]\nkind = "file"\npath = "empty.csv"\n', encoding="utf-8"
    )
    monkeypatch.setenv("AUDITLENS_CONFIG", str(workdir / "auditlens.toml"))
    result = runner.invoke(app, ["--lang", "en", *command])
    assert result.exit_code == 5, result.output
    assert "no events to score in" in result.output
    assert "Traceback" not in result.output and "vocabulary" not in result.output


def test_ambiguous_dates_are_refused_until_the_order_is_given(workdir: Path) -> None:
    (workdir / "dmy.csv").write_text(
        "event_id,user_id,timestamp,action_type\n1,kim,01/09/2026 09:00:00,login\n",
        encoding="utf-8",
    )
    _ok("db", "upgrade")
    refused = runner.invoke(app, ["ingest", "dmy.csv"])
    assert refused.exit_code == 1
    assert "dmy.csv:2: column 'timestamp'" in refused.output
    assert "'01/09/2026 09:00:00'" in refused.output and 'date_order = "DMY"' in refused.output
    assert "ingested 1 = accepted 1" in _ok("ingest", "dmy.csv", "--date-order", "DMY")
    store = Store.open(Settings())
    stamp = store.events.scan().collect()["timestamp"][0]
    store.close()
    assert stamp.month == 9 and stamp.day == 1  # 1 September 09:00 Seoul = 00:00 UTC


def test_ingest_source_reuses_a_configured_source_and_its_watermark(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "bank.csv").write_text(
        "사번,일시,작업,대상,결과\n"
        "kim,01/09/2026 09:00:00,열람,db/a,정상\n"
        "kim,02/09/2026 09:00:00,수정,db/a,비정상\n",
        encoding="utf-8",
    )
    (workdir / "auditlens.toml").write_text(
        '[sources.bank]\nkind = "file"\npath = "bank.csv"\ndate_order = "DMY"\n'
        'column_map = { "사번" = "user_id", "일시" = "timestamp", "작업" = "action_type", '
        '"대상" = "resource_id", "결과" = "success" }\n\n'
        '[sources.bank.value_map.action_type]\n"열람" = "view"\n\n'
        '[sources.bank.value_map.success]\n"정상" = true\n"비정상" = false\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("AUDITLENS_CONFIG", str(workdir / "auditlens.toml"))
    _ok("db", "upgrade")
    assert "bank: ingested 2 = accepted 2 + quarantined 0" in _ok("ingest", "--source", "bank")
    assert "bank: nothing new" in _ok("ingest")  # the same source, the same watermark
    store = Store.open(Settings())
    events = store.events.scan().collect().sort("timestamp")
    store.close()
    assert events["action_type"].to_list() == ["view", "edit"]
    assert events["success"].to_list() == [True, False]
    assert [t.day for t in events["timestamp"]] == [1, 2]  # DMY: 1 and 2 September
    with (workdir / "auditlens.toml").open("a", encoding="utf-8") as toml:
        toml.write('\n[sources.cert]\nkind = "cert"\npath = "cert"\n')
    wrong = runner.invoke(
        app, ["--lang", "en", "ingest", "--source", "cert", "--date-order", "DMY"]
    )
    assert wrong.exit_code == 1 and "is a CERT source" in wrong.output
