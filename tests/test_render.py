"""What the command line prints: numbers agree with their nouns, times carry their zone."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from auditlens.alerts.dispatch import DeadLetter, DispatchReport
from auditlens.alerts.intake import Criteria, IntakeReport
from auditlens.cli import render
from auditlens.config import Settings
from auditlens.errors import ConfigError
from auditlens.localtime import local_time
from auditlens.pipeline.alerting import RaiseReport, list_alerts

UTC_1AM = dt.datetime(2026, 9, 8, 1, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("zone", "seconds", "shown"),
    [
        ("Asia/Seoul", False, "2026-09-08 10:00 KST"),
        ("Asia/Seoul", True, "2026-09-08 10:00:00 KST"),
        ("Europe/Berlin", False, "2026-09-08 03:00 CEST"),
        ("UTC", False, "2026-09-08 01:00 UTC"),
        ("Asia/Dubai", False, "2026-09-08 05:00 UTC+04"),
    ],
)
def test_every_time_shows_its_zone(zone: str, seconds: bool, shown: str) -> None:
    assert local_time(UTC_1AM, zone, seconds=seconds) == shown
    assert local_time(UTC_1AM.replace(tzinfo=None), zone, seconds=seconds) == shown  # naive=UTC


def test_dispatch_counts_attempts_and_labels_the_due_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = DispatchReport(attempted=1, pending=1, next_due=UTC_1AM)
    report.dead.append(DeadLetter(3, 1, "ops", 1, "HTTP 400 invalid_payload"))
    render.print_dispatch(report, "Asia/Seoul")
    out = " ".join(capsys.readouterr().out.split())
    assert "next due 2026-09-08 10:00 KST" in out and "UTC" not in out
    assert "to ops after 1 attempt: HTTP 400 invalid_payload" in out
    report.dead[0] = DeadLetter(3, 1, "ops", 6, "HTTP 503")
    render.print_dispatch(report, "Asia/Seoul")
    assert "after 6 attempts:" in capsys.readouterr().out


def test_raise_summary_in_the_right_number_and_routes_spelled_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    criteria = Criteria(min_severity="medium", threshold_risk=50.0, capacity=20, dedup_hours=24.0)
    intake = IntakeReport(routed=1, unrouted=[1])
    render.print_raise(RaiseReport(1, criteria, 1, intake, 0))
    out = " ".join(capsys.readouterr().out.split())
    assert "run 1: 1 user at or above medium" in out and "0 alerts opened" in out
    assert "1 delivery queued" in out
    assert "1 alert matches no routing rule (add an [[alert_routes]] rule" in out
    assert "configure []" not in out and "[]" not in out


def test_an_unknown_status_is_named_without_python_lists(tmp_path: Path) -> None:
    settings = Settings(store_url=f"sqlite:///{tmp_path / 's.db'}", data_dir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as failure:
        list_alerts(settings, statuses=("opened", "shut"))
    said = str(failure.value)
    assert said.startswith("unknown alert statuses opened, shut")
    assert "use one of open, " in said and "[" not in said and "(" not in said
