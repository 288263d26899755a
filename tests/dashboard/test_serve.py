"""`auditlens serve dashboard`: Streamlit's server in a real process, headless, without
usage statistics, reading the configuration file of the directory it was started in."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from auditlens.config import Settings
from auditlens.dashboard.server import pin_settings, streamlit_options
from tests.dashboard.conftest import Deployment, write_config

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_options_switch_off_telemetry_and_the_browser() -> None:
    options = streamlit_options("10.0.0.5", 8600)
    assert options["browser.gatherUsageStats"] is False
    assert options["server.headless"] is True
    assert (options["server.address"], options["server.port"]) == ("10.0.0.5", 8600)
    assert options["server.fileWatcherType"] == "none"
    assert options["global.disableWidgetStateDuplicationWarning"] is True  # links set widgets


def test_the_app_is_pinned_to_the_commands_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUDITLENS_CONFIG", "auditlens.toml")  # relative to where it started
    pin_settings(Settings(language="en"))
    assert os.environ["AUDITLENS_CONFIG"] == str(tmp_path / "auditlens.toml")
    assert os.environ["AUDITLENS_LANGUAGE"] == "en"


def test_serve_dashboard_answers_health_and_serves_the_app(
    deployment: Deployment, tmp_path: Path
) -> None:
    port = _free_port()
    write_config(tmp_path / "auditlens.toml", deployment.settings)
    env = {k: v for k, v in os.environ.items() if k != "AUDITLENS_CONFIG"}
    env["PYTHONPATH"] = f"{ROOT / 'src'}{os.pathsep}{ROOT}"
    command = [sys.executable, "-m", "auditlens.cli", "serve", "dashboard", "--port", str(port)]
    server = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                health = httpx.get(f"{base}/_stcore/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert health is not None, "the dashboard did not answer within 60 s"
        assert health.text == "ok"
        page = httpx.get(f"{base}/person?user=U0001", timeout=5)
        assert page.status_code == 200 and "<noscript>" in page.text
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=15)
    text = output.decode()
    assert "gatherUsageStats" not in text and "Collecting usage statistics" not in text
