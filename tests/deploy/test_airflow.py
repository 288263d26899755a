"""deploy/airflow: the DAG folder imports in Airflow 3 with no errors and the expected
task graph (DagBag, in the Airflow environment `make airflow-venv` makes: Airflow's pins
conflict with auditlens's own), and the failure callback raises an Alertmanager alert.

Without ``.venv-airflow`` the DagBag test is skipped, saying how to make it; under CI
(``CI=true``, .ci/run) a missing environment fails instead.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import pwd
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.deploy.test_k8s import assert_auditlens_command

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = ROOT / "deploy" / "airflow"
AIRFLOW_PYTHON = ROOT / ".venv-airflow" / "bin" / "python"


def _dagbag(tmp_path: Path, **env: str) -> dict[str, Any]:
    """What check_dags.py found in the DAG folder, run by the Airflow environment."""
    if not AIRFLOW_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{AIRFLOW_PYTHON} is missing: .ci/run must run `make airflow-venv`")
        pytest.skip("no Airflow environment: run `make airflow-venv` (.ci/run does)")
    home = tmp_path / "airflow-home"
    home.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AUDITLENS_", "AIRFLOW"))}
    done = subprocess.run(
        [str(AIRFLOW_PYTHON), str(AIRFLOW / "check_dags.py")],
        env={**clean, "AIRFLOW_HOME": str(home), **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_dag_folder_imports_with_the_expected_graph(tmp_path: Path) -> None:
    config = tmp_path / "auditlens.toml"
    config.write_text(
        '[sources.hr-db]\nkind = "sql"\nurl = "postgresql://x"\ntable = "t"\n'
        '[sources.vpn]\nkind = "files"\npath = "logs/*.csv"\n',
        encoding="utf-8",
    )
    found = _dagbag(tmp_path, AUDITLENS_CONFIG=str(config))

    assert found["import_errors"] == {}
    assert set(found["dags"]) == {
        "auditlens_daily",
        "auditlens_weekly_report",
        "auditlens_monthly_report",
    }
    daily = found["dags"]["auditlens_daily"]
    assert daily == {
        "ingest.hr-db": ["lake_compact"],
        "ingest.vpn": ["lake_compact"],
        "lake_compact": ["run"],
        "run": ["alerts_dispatch", "report_send"],
        "alerts_dispatch": ["monitor.drift", "monitor.textfile"],
        "monitor.drift": [],
        "monitor.textfile": [],
        "report_send": [],
    }
    commands = found["commands"]["auditlens_daily"]
    assert commands["ingest.vpn"] == "auditlens ingest --source vpn"
    assert commands["run"].startswith("auditlens run ")
    assert commands["report_send"] == "auditlens report send --due"
    assert commands["lake_compact"] == "auditlens db compact"
    assert found["commands"]["auditlens_weekly_report"]["report_weekly"].startswith(
        "auditlens report weekly "
    )
    for dag in found["commands"].values():
        for command in dag.values():
            words = shlex.split(command)
            assert words[0] == "auditlens", command
            assert_auditlens_command(words[1:])
    # every task has a time limit and the daily DAG a deadline (Airflow 3 has no `sla`)
    assert all(s for d in found["timeouts"].values() for s in d.values())
    assert found["deadlines"]["auditlens_daily"] == 1
    assert found["retries"]["auditlens_daily"]["run"] >= 1


def test_sources_from_the_environment_and_the_cli_path(tmp_path: Path) -> None:
    found = _dagbag(
        tmp_path,
        AUDITLENS_DAG_SOURCES="cards, core",
        AUDITLENS_BIN="/opt/auditlens/bin/auditlens",
        AUDITLENS_CONFIG=str(tmp_path / "missing.toml"),
    )
    daily = found["dags"]["auditlens_daily"]
    assert {t for t in daily if t.startswith("ingest.")} == {"ingest.cards", "ingest.core"}
    assert found["commands"]["auditlens_daily"]["alerts_dispatch"] == (
        "/opt/auditlens/bin/auditlens alerts dispatch"
    )


def test_no_config_file_means_no_ingest_tasks_but_a_run(tmp_path: Path) -> None:
    found = _dagbag(tmp_path, AUDITLENS_CONFIG=str(tmp_path / "missing.toml"))
    assert found["import_errors"] == {}
    daily = found["dags"]["auditlens_daily"]
    assert not [t for t in daily if t.startswith("ingest.")]
    assert daily["run"] == ["alerts_dispatch", "report_send"]


def _airflow(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``airflow ARGS`` of the Airflow environment, its output kept for the assertion."""
    return subprocess.run(
        [str(AIRFLOW_PYTHON.parent / "airflow"), *args],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )


GENERATE = "generate --users 60 --days 12 --seed 3 --out org"


def _organisation_config(tmp_path: Path) -> Path:
    """A generated organisation as one file source, alerts to a file, absolute paths only
    where the store is (the tasks run in the configuration's directory)."""
    done = subprocess.run(
        [sys.executable, "-m", "auditlens.cli", *GENERATE.split()],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # report send --due must find nothing due today (it would e-mail): schedule it later
    later = dt.date.today() + dt.timedelta(days=3)
    config = tmp_path / "auditlens.toml"
    config.write_text(
        f"""resource_catalog = "org/resource_catalog.csv"
peer_directory = "org/directory.csv"
report_recipients = ["audit@bank.example"]

[principals]  # the worker's account: the report tasks act as it
{pwd.getpwuid(os.getuid()).pw_name} = ["viewer"]

[report_schedule]
weekly = "{later.strftime("%a").lower()}"
monthly = {(dt.date.today().day + 10) % 28 + 1}

[sources.org]
kind = "file"
path = "org/events.parquet"

[alert_channels.inbox]
kind = "file"
path = "var/alerts.jsonl"

[alert_channels.mail]
kind = "email"
host = "127.0.0.1"
port = 9
sender = "auditlens@bank.example"

[[alert_routes]]
id = "everything"
severities = ["medium", "high", "critical"]
channels = ["inbox"]
""",
        encoding="utf-8",
    )
    return config


def test_airflow_dags_test_runs_the_daily_dag_on_a_generated_organisation(
    tmp_path: Path,
) -> None:
    """`airflow dags test auditlens_daily`: every task succeeds for real (about a minute)."""
    if not AIRFLOW_PYTHON.exists():
        _dagbag(tmp_path)  # skips or fails as the DagBag test does
    config = _organisation_config(tmp_path)
    binary = tmp_path / "auditlens"  # this checkout's auditlens, whatever is installed
    binary.write_text(f'#!/bin/sh\nexec {sys.executable} -m auditlens.cli "$@"\n')
    binary.chmod(0o755)
    home = tmp_path / "airflow-home"
    home.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AUDITLENS_", "AIRFLOW"))}
    env = {
        **clean,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(AIRFLOW / "dags"),
        "AUDITLENS_CONFIG": str(config),
        "AUDITLENS_BIN": str(binary),
        "AUDITLENS_DAG_RETRIES": "0",
        # `dags test` of a DAG with a deadline fails after success (apache/airflow#73428)
        "AUDITLENS_DAG_DEADLINE_HOURS": "0",
        "AUDITLENS_METRICS_TEXTFILE": str(tmp_path / "var" / "auditlens.prom"),
        "AUDITLENS_LANGUAGE": "en",
        "PYTHONPATH": str(ROOT / "src"),
    }
    migrated = _airflow(home, env, "db", "migrate")
    assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-2000:]
    tested = _airflow(home, env, "dags", "test", "auditlens_daily")
    log = tested.stdout + tested.stderr
    failed = [line for line in log.splitlines() if "error" in line.lower()]
    assert tested.returncode == 0, "\n".join(failed[-20:]) or log[-6000:]
    ended = re.findall(r"end task task_id=([\w.]+)", log)
    assert sorted(ended) == sorted(
        [
            "ingest.org",
            "lake_compact",
            "run",
            "alerts_dispatch",
            "monitor.drift",
            "monitor.textfile",
            "report_send",
        ]
    )
    assert "Command exited with return code 1" not in log
    alerts = (tmp_path / "var" / "alerts.jsonl").read_text(encoding="utf-8").splitlines()
    assert alerts, "the run raised no alert, or dispatch delivered none"
    metrics = (tmp_path / "var" / "auditlens.prom").read_text(encoding="utf-8")
    assert "auditlens_run_last_success_timestamp_seconds" in metrics


def _ops() -> ModuleType:
    """deploy/airflow/dags/auditlens_ops.py (standard library only: no Airflow needed)."""
    spec = importlib.util.spec_from_file_location(
        "auditlens_ops", AIRFLOW / "dags" / "auditlens_ops.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["auditlens_ops"] = module
    spec.loader.exec_module(module)
    return module


def test_a_failed_run_task_pages_through_alertmanager(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    httpserver.expect_request("/api/v2/alerts", method="POST").respond_with_data("")
    monkeypatch.setenv("AUDITLENS_ALERTMANAGER_URL", httpserver.url_for("/"))
    ops = _ops()
    ti = SimpleNamespace(
        dag_id="auditlens_daily", task_id="run", run_id="scheduled__x", try_number=3
    )
    assert ops.on_task_failure({"ti": ti, "exception": RuntimeError("exit 1")}) is True
    ingest = SimpleNamespace(
        dag_id="auditlens_daily", task_id="ingest.hr", run_id="r", try_number=1
    )
    assert ops.on_task_failure({"task_instance": ingest}) is True

    bodies = [json.loads(request.data) for request, _ in httpserver.log]
    assert [b[0]["labels"]["severity"] for b in bodies] == ["critical", "warning"]
    page = bodies[0][0]
    assert page["labels"]["alertname"] == "AuditlensAirflowTaskFailed"
    assert page["labels"]["task_id"] == "run"
    assert "try 3" in page["annotations"]["summary"]
    assert "실패" in page["annotations"]["summary_ko"]
    assert page["endsAt"] > page["startsAt"]


def test_the_callback_never_raises_when_alertmanager_is_unreachable(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ops = _ops()
    monkeypatch.setenv("AUDITLENS_ALERTMANAGER_URL", "http://127.0.0.1:9")  # discard port
    assert ops.on_deadline_missed(dag_id="auditlens_daily", within="4h") is False
    monkeypatch.delenv("AUDITLENS_ALERTMANAGER_URL")
    assert ops.on_task_failure({}) is False
    assert "AUDITLENS_ALERTMANAGER_URL is not set" in caplog.text
