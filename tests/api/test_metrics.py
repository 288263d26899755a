"""``GET /metrics``: a principal needed; the store's figures and the API's own request
latency and counts by route template; with ``serve api --workers 2`` every worker's
requests add up in any worker's answer."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from auditlens.config import Settings
from auditlens.pipeline.keys import create_key
from auditlens.store.repo import Store
from tests.api.conftest import NOW, with_principals
from tests.api.test_serve import ROOT, _free_port
from tests.monitor.test_metrics import STORE_FAMILIES, families, samples

Labels = tuple[tuple[str, str], ...]


def _labels(**values: str) -> Labels:
    return tuple(sorted(values.items()))


def test_metrics_need_a_principal_and_count_requests_by_route(
    client: TestClient, issue: Callable[..., str]
) -> None:
    viewer = {"Authorization": f"Bearer {issue('prometheus', 'viewer')}"}
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    for _ in range(3):
        assert client.get("/healthz").status_code == 200
    assert client.get("/v1/users/U0001/risk", headers=viewer).status_code == 404
    assert client.get("/no/such/path").status_code == 404
    assert client.request("BREW", "/no/such/pot").status_code == 404  # made-up method
    answer = client.get("/metrics", headers=viewer)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(answer.text)
    assert families(answer.text) >= STORE_FAMILIES
    assert got[("auditlens_store_up", ())] == 1
    count = "auditlens_api_request_duration_seconds_count"
    assert got[(count, _labels(method="GET", route="/healthz"))] == 3
    risk = "/v1/users/{user_id}/risk"  # the template, never the user id
    assert got[(count, _labels(method="GET", route=risk))] == 1
    assert got[(count, _labels(method="GET", route="unmatched"))] == 1
    assert got[(count, _labels(method="other", route="unmatched"))] == 1
    requests = "auditlens_api_requests_total"
    assert got[(requests, _labels(method="GET", route="/healthz", code="200"))] == 3
    assert got[(requests, _labels(method="GET", route=risk, code="404"))] == 1
    assert got[(requests, _labels(method="GET", route="/metrics", code="401"))] == 1
    assert not any("U0001" in value for _, labels in got for _, value in labels)
    # every request lands in a bucket: the +Inf bucket holds them all
    bucket = "auditlens_api_request_duration_seconds_bucket"
    assert got[(bucket, _labels(method="GET", route="/healthz", le="+Inf"))] == 3
    assert got[(bucket, _labels(method="GET", route="/healthz", le="0.02"))] <= 3
    assert got[("process_resident_memory_bytes", ())] > 0


def test_a_request_that_raises_is_counted_as_a_500(
    client: TestClient, issue: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    viewer = {"X-API-Key": issue("prometheus", "viewer")}

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("auditlens.api.routes.risk.user_risk", broken)
    assert client.get("/v1/users/U0001/risk", headers=viewer).status_code == 500
    got = samples(client.get("/metrics", headers=viewer).text)
    labels = _labels(method="GET", route="/v1/users/{user_id}/risk", code="500")
    assert got[("auditlens_api_requests_total", labels)] == 1


@pytest.mark.slow
def test_every_worker_counts_into_one_answer(tmp_path: Path, sqlite_settings: Settings) -> None:
    """Two uvicorn workers: whichever answers /metrics, it reports all requests."""
    settings = with_principals(sqlite_settings)
    Store.open(settings, migrate=True).close()
    secret = create_key(
        settings, "prometheus", "viewer", who_am_i=lambda: "park", clock=lambda: NOW
    ).secret
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "AUDITLENS_STORE_URL": settings.store_url.get_secret_value(),
        "AUDITLENS_DATA_DIR": str(settings.data_dir),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "auditlens.cli", "serve", "api", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--workers", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        time.sleep(1)  # both workers listening
        for _ in range(29):  # new connections: the kernel spreads them over the workers
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
        viewer = {"Authorization": f"Bearer {secret}"}
        seen = set()
        for _ in range(6):
            got = samples(httpx.get(f"{base}/metrics", headers=viewer, timeout=10).text)
            labels = _labels(method="GET", route="/healthz", code="200")
            seen.add(got[("auditlens_api_requests_total", labels)])
        assert seen == {30.0}
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=15)
    assert output.decode().count("Application startup complete") == 2
