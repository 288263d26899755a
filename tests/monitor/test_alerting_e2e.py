"""The real chain: ``auditlens monitor serve`` → Prometheus (deploy/prometheus/rules.yml as
shipped) → Alertmanager (deploy/alertmanager/alertmanager.yml, its webhooks pointed at
this test) → the pager's webhook — and back when the cause is gone.

A store with a dead-lettered delivery makes ``AuditlensDeadLetters`` (critical) fire;
the test's webhook receiver must get it on the pager's path with the rule's labels, and
nothing on the team's; after ``requeue`` the pager gets it resolved. Prometheus and
Alertmanager are Debian's packages (``prometheus``, ``prometheus-alertmanager``; .ci/run
installs them), started on loopback ports with their data in tmp_path, evaluated every
second, and always stopped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pytest_httpserver import HTTPServer

from auditlens.config import Settings
from auditlens.store.repo import Store
from tests.api.test_serve import _free_port
from tests.monitor.test_metrics import fill

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
#: The longest the chain may take to deliver (it takes a few seconds).
WAIT = 90.0

pytestmark = pytest.mark.slow


def _binary(name: str, package: str) -> str:
    # Debian names Alertmanager's binary prometheus-alertmanager; upstream, alertmanager
    found = shutil.which(name) or (shutil.which("alertmanager") if "alertmanager" in name else None)
    if found is None:
        pytest.skip(f"{name} is not installed (apt-get install {package}; .ci/run does)")
    return found


class Processes:
    """Processes the test started; all stopped at the end, whatever happened."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, command: list[str], **kwargs: Any) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, **kwargs)
        self.started.append((name, process))

    def output(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        for _, process in reversed(self.started):
            process.terminate()
        for _, process in self.started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.stop()


def _until(what: str, check: Callable[[], bool], processes: Processes) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if check():
            return
        for name, process in processes.started:
            assert process.poll() is None, f"{name} exited:\n{processes.output(name)}"
        time.sleep(0.25)
    logs = "\n".join(f"--- {n}\n{processes.output(n)}" for n, _ in processes.started)
    pytest.fail(f"{what} did not happen within {WAIT:.0f} s\n{logs}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _alertmanager_config(receiver: HTTPServer, path: Path) -> None:
    """The shipped configuration with its webhooks on the test's receiver, no e-mail,
    and notifications sent at once."""
    config = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text("utf-8"))
    config["route"].update(group_wait="1s", group_interval="1s")
    for entry in config["receivers"]:
        entry.pop("email_configs", None)
        for hook in entry.get("webhook_configs", []):
            hook["url"] = receiver.url_for(httpx.URL(hook["url"]).path)
    path.write_text(yaml.safe_dump(config), encoding="utf-8")


def _prometheus_config(exporter: int, alertmanager: int, path: Path) -> None:
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(DEPLOY / "prometheus" / "rules.yml")],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager}"]}]}]
        },
        "scrape_configs": [
            {
                "job_name": "auditlens-exporter",
                "static_configs": [{"targets": [f"127.0.0.1:{exporter}"]}],
            }
        ],
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")


def _notifications(receiver: HTTPServer, path: str) -> list[dict[str, Any]]:
    """The Alertmanager webhook bodies posted to ``path`` so far."""
    return [json.loads(request.get_data()) for request, _ in receiver.log if request.path == path]


def _alerts(receiver: HTTPServer, path: str, status: str) -> list[dict[str, Any]]:
    return [
        alert
        for body in _notifications(receiver, path)
        for alert in body["alerts"]
        if alert["status"] == status
    ]


def test_a_dead_letter_pages_through_prometheus_and_alertmanager(
    sqlite_settings: Settings, tmp_path: Path, httpserver: HTTPServer, processes: Processes
) -> None:
    settings = sqlite_settings
    prometheus = _binary("prometheus", "prometheus")
    alertmanager = _binary("prometheus-alertmanager", "prometheus-alertmanager")
    with Store.open(settings, migrate=True) as store:
        fill(store)  # one delivery, dead-lettered
        (dead,) = store.alerts.outbox.items(statuses=("dead",))
    for path in ("/auditlens/pager", "/auditlens/team"):
        httpserver.expect_request(path, method="POST").respond_with_data("ok")
    exporter, am_port, prom_port = _free_port(), _free_port(), _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "AUDITLENS_STORE_URL": settings.store_url.get_secret_value(),
        "AUDITLENS_DATA_DIR": str(settings.data_dir),
        "AUDITLENS_CONFIG": str(tmp_path / "none.toml"),
    }
    command = [sys.executable, "-m", "auditlens.cli", "monitor", "serve"]
    processes.start("exporter", [*command, "--port", str(exporter)], env=env, cwd=tmp_path)
    _alertmanager_config(httpserver, tmp_path / "alertmanager.yml")
    processes.start(
        "alertmanager",
        [
            alertmanager,
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        ],
    )
    _prometheus_config(exporter, am_port, tmp_path / "prometheus.yml")
    processes.start(
        "prometheus",
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
    )
    _until(
        "the exporter answering",
        lambda: _answers(f"http://127.0.0.1:{exporter}/metrics"),
        processes,
    )

    _until("the page", lambda: bool(_alerts(httpserver, "/auditlens/pager", "firing")), processes)

    (page, *_) = _alerts(httpserver, "/auditlens/pager", "firing")
    assert page["labels"] == {
        "alertname": "AuditlensDeadLetters",
        "severity": "critical",
        "status": "dead",
    }
    assert page["annotations"]["description"].startswith("1 delivery(ies) gave up.")
    assert "실패 목록" in page["annotations"]["summary_ko"]
    assert _notifications(httpserver, "/auditlens/team") == []  # a warning would go there

    with Store.open(settings) as store:  # the channel is fixed: the delivery goes back
        store.alerts.outbox.requeue(dead.id, dead.created_at)
    _until(
        "the page resolved",
        lambda: bool(_alerts(httpserver, "/auditlens/pager", "resolved")),
        processes,
    )
    (resolved, *_) = _alerts(httpserver, "/auditlens/pager", "resolved")
    assert resolved["labels"]["alertname"] == "AuditlensDeadLetters"
    assert _notifications(httpserver, "/auditlens/team") == []
