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


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_api_starts_uvicorn_and_answers_health(tmp_path: Path, workers: int) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "AUDITLENS_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "AUDITLENS_DATA_DIR": str(tmp_path / "var"),
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
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=15)
    assert f"127.0.0.1:{port}" in output.decode()
    if workers > 1:  # each worker process started and built the app from the settings
        assert output.decode().count("Application startup complete") == workers
