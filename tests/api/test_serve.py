"""`auditlens serve api`: a real uvicorn process on a free port answers /healthz."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(("workers", "access_log"), [(1, False), (2, False), (1, True)])
def test_serve_api_starts_uvicorn_and_answers_health(
    tmp_path: Path, workers: int, access_log: bool
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "AUDITLENS_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "AUDITLENS_DATA_DIR": str(tmp_path / "var"),
        "AUDITLENS_API__ACCESS_LOG": str(access_log).lower(),
    }
    command = [sys.executable, "-m", "auditlens.cli", "serve", "api", "--port", str(port)]
    command += ["--workers", str(workers)]
    server = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        answer = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer is not None, "the server did not answer within 30 s"
        assert answer.json() == {"status": "ok"}
        assert "server" not in answer.headers  # uvicorn does not advertise itself
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.json() == {"status": "ok"}
        refused = httpx.get(f"http://127.0.0.1:{port}/v1/whoami", timeout=5)
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        # a request naming a person: only the trail may say who was looked at
        httpx.get(f"http://127.0.0.1:{port}/v1/users/KIM-MINJI-0042/risk", timeout=5)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=15)
    assert f"127.0.0.1:{port}" in output.decode()
    # the access log (off unless api.access_log) would name the person in its request line
    assert ("KIM-MINJI-0042" in output.decode()) is access_log
    if workers > 1:  # each worker process started and built the app from the settings
        assert output.decode().count("Application startup complete") == workers
