"""`auditlens report {weekly,monthly,quarterly}`: the files, the audit entry that records
them (digest, file hashes, what the report rests on), and the errors a user can make."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import zoneinfo
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditlens import views
from auditlens.cli import app
from auditlens.config import Settings
from auditlens.pipeline.reporting import make_report
from auditlens.reports import formats
from auditlens.reports.model import ReportData
from auditlens.reports.period import Period
from auditlens.store.repo import Store
from tests.organisation import PRINCIPALS, ZONE

runner = CliRunner()


def _config(settings: Settings, root: Path) -> Path:
    path = root / "auditlens.toml"
    lines = [
        f'store_url = "{settings.store_url.get_secret_value()}"',
        f'data_dir = "{settings.data_dir}"',
        f'timezone = "{settings.timezone}"',
        f'peer_directory = "{settings.peer_directory}"',
        f'resource_catalog = "{settings.resource_catalog}"',
        "review_capacity = 0",
        'alert_min_severity = "low"',
        "[principals]",
        *(f"{who} = {json.dumps(roles)}" for who, roles in PRINCIPALS.items()),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run(root: Path, config: Path, *args: str) -> tuple[int, str]:
    with contextlib.chdir(root):
        done = runner.invoke(app, list(args), env={"AUDITLENS_CONFIG": str(config)})
    assert "Traceback" not in done.output, done.output
    return done.exit_code, done.output


def test_a_report_is_written_and_recorded_in_the_trail(
    report_settings: Settings,
    report_data: ReportData,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("auditlens.identity.os_user", lambda: "kim")
    config = _config(report_settings, tmp_path)
    label = report_data.period.label
    code, output = _run(
        tmp_path, config, "report", "monthly", "--period", label, "--format", "xlsx", "--out", "o"
    )
    assert code == 0, output
    written = tmp_path / "o" / f"auditlens-monthly-{label}-ko.xlsx"
    assert str(Path("o") / written.name) in output and written.is_file()
    assert f"알림 {report_data.kpis.alerts}건" in output
    with Store.open(report_settings) as store:
        [entry] = store.audit.entries(actions=("report",))
        status = views.audit_status(store)
    assert (entry.actor, entry.target, entry.reason_code) == (
        "kim",
        f"report:monthly:{label}",
        "monthly",
    )
    criteria = entry.criteria
    assert criteria["digest"] == report_data.footer.digest
    assert criteria["files"] == {written.name: hashlib.sha256(written.read_bytes()).hexdigest()}
    assert criteria["audit_head_hash"] == report_data.footer.audit_head_hash
    assert criteria["audit_head_seq"] == entry.seq - 1
    assert (criteria["data_batch_id"], criteria["config_hash"]) == (
        report_data.footer.data_batch_id,
        report_data.footer.config_hash,
    )
    assert status.ok and status.head_hash == entry.hash  # the trail still verifies
    code, output = _run(tmp_path, config, "audit", "log", "--actor", "kim")
    assert code == 0 and f"report:monthly:{label}" in output, output
    code, output = _run(
        tmp_path,
        config,
        "--lang",
        "en",
        "report",
        "monthly",
        "--period",
        label,
        "--format",
        "xlsx",
        "--lang",
        "ko",
        "--out",
        "o",
    )
    assert code == 0 and f"report {label}" in output  # printed in English, written in Korean
    code, output = _run(
        tmp_path,
        config,
        "report",
        "monthly",
        "--period",
        label,
        "--format",
        "xlsx",
        "--lang",
        "en",
        "--out",
        "o",
    )
    assert code == 0 and (tmp_path / "o" / f"auditlens-monthly-{label}-en.xlsx").is_file()


def test_without_a_period_the_last_finished_one_is_reported(
    report_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("auditlens.identity.os_user", lambda: "lee")
    now = dt.datetime(2026, 10, 1, 0, 30, tzinfo=dt.UTC)  # 09:30 KST on 1 October
    made = make_report(
        report_settings, "quarterly", formats=("xlsx",), out=tmp_path, clock=lambda: now
    )
    assert made.data.period == Period.parse("2026-Q3", "quarterly")
    assert [p.name for p in made.files] == ["auditlens-quarterly-2026-Q3-ko.xlsx"]
    assert made.entry.at == now and made.data.footer.generated_at == now
    today = dt.datetime.now(zoneinfo.ZoneInfo(ZONE)).date()
    code, _ = _run(
        tmp_path,
        _config(report_settings, tmp_path),
        "report",
        "weekly",
        "--format",
        "xlsx",
        "--out",
        "w",
    )
    last_week = Period.containing(today, "weekly").previous()
    assert code == 0 and (tmp_path / "w" / f"auditlens-weekly-{last_week.label}-ko.xlsx").is_file()


def test_user_errors_are_one_clear_line_and_write_nothing(
    report_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(report_settings, tmp_path)
    monkeypatch.setattr("auditlens.identity.os_user", lambda: "nobody")
    code, output = _run(
        tmp_path,
        config,
        "report",
        "monthly",
        "--period",
        "2026-11",
        "--format",
        "xlsx",
        "--out",
        "o",
    )
    assert code == 1 and "nobody" in output and "등록되지 않은 사용자" in output
    monkeypatch.setattr("auditlens.identity.os_user", lambda: "kim")
    cases = [
        (("report", "monthly", "--period", "2026-9-1"), 2, "2026-09"),
        (("report", "quarterly", "--period", "2026-Q3", "--format", "pdf"), 2, "pdf"),
        (("--lang", "en", "report", "weekly", "--period", "2026-W99"), 2, "2026-W37"),
        (("report", "monthly", "--period", "2026-09", "--lang", "fr"), 2, "fr"),
    ]
    for args, expected, words in cases:
        code, output = _run(tmp_path, config, *args, "--out", "o")
        assert code == expected and words in output, (args, output)
    assert not (tmp_path / "o").exists()
    with Store.open(report_settings) as store:
        assert store.audit.entries(actions=("report",)) == []


def test_a_format_this_installation_lacks_is_refused_before_any_work(
    report_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = {**formats.KNOWN, "pptx": "auditlens.reports.no_such_module:write_pptx"}
    monkeypatch.setattr(formats, "KNOWN", known)
    monkeypatch.setattr(formats, "WRITERS", formats._Writers(known))
    monkeypatch.setattr("auditlens.pipeline.reporting.WRITERS", formats.WRITERS)
    monkeypatch.setattr("auditlens.identity.os_user", lambda: "kim")
    config = _config(report_settings, tmp_path)
    code, output = _run(
        tmp_path,
        config,
        "--lang",
        "en",
        "report",
        "monthly",
        "--period",
        "2026-11",
        "--format",
        "xlsx,pptx",
        "--out",
        "o",
    )
    assert code == 2 and "pptx report format is not available" in output and "xlsx" in output
    assert not (tmp_path / "o").exists()
    with pytest.raises(formats.FormatError):
        formats.writer("pptx")
    assert "pptx" not in formats.WRITERS.available()
