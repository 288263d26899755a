"""kill -9 of a busy `auditlens serve api`: nothing it answered is lost, nothing is half done.

A real server process reads people's risk (each read answered only after its audit entry
commits, in group commits) and takes triage decisions from several clients at once, and
is killed with SIGKILL in the middle. Afterwards every read that was answered 200 has its
entry, every decision that was answered has its status and its entry, the trail's chain
and table replay verify, and a restarted server answers.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from auditlens.pipeline.trail import verify_trail
from auditlens.store.repo import Store
from tests.api.matrix_fixtures import RISKY, Seeded, seed
from tests.views.conftest import open_alert

ROOT = Path(__file__).resolve().parents[2]
ALERTS = 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(seeded: Seeded, port: int, cwd: Path) -> subprocess.Popen[bytes]:
    settings = seeded.settings
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        "AUDITLENS_CONFIG": str(cwd / "none.toml"),
        "AUDITLENS_STORE_URL": settings.store_url.get_secret_value(),
        "AUDITLENS_DATA_DIR": str(settings.data_dir),
        "AUDITLENS_PRINCIPALS": json.dumps(settings.principals),
    }
    command = [sys.executable, "-m", "auditlens.cli", "serve", "api", "--port", str(port)]
    server = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError("the server did not become ready within 30 s")


@pytest.mark.slow
def test_kill_9_mid_reads_and_decisions_loses_nothing_answered(tmp_path: Path, db_url: str) -> None:
    seeded = seed(tmp_path, db_url)
    with Store.open(seeded.settings) as store:
        targets = [open_alert(store, user=f"C{n:04d}", severity="high") for n in range(ALERTS)]
    port = _free_port()
    server = _serve(seeded, port, tmp_path)
    base = f"http://127.0.0.1:{port}"
    read_ok: list[str] = []
    decided: list[tuple[int, str]] = []
    stop = threading.Event()

    def reader(n: int) -> None:
        with httpx.Client(base_url=base, headers=seeded.key_headers("viewer")) as client:
            for i in range(10_000):
                purpose = f"crash-{n}-{i}"
                try:
                    answer = client.get(f"/v1/users/{RISKY}/risk", params={"purpose": purpose})
                except httpx.TransportError:
                    return
                if answer.status_code == 200:
                    read_ok.append(purpose)

    def decider(n: int) -> None:
        with httpx.Client(base_url=base, headers=seeded.key_headers("analyst")) as client:
            for alert_id in targets[n::3]:
                for action, reason in (("ack", ""), ("escalate", "suspected_violation")):
                    if stop.is_set():
                        return
                    body = {"action": action, "note": "crash test"}
                    if reason:
                        body["reason"] = reason
                    try:
                        answer = client.post(f"/v1/alerts/{alert_id}/decisions", json=body)
                    except httpx.TransportError:
                        return
                    if answer.status_code == 201:
                        decided.append((alert_id, action))

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=decider, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    # well under way: reads in flight, some decisions taken, others not yet (a loaded
    # machine answers slowly: wait for the first answers, not a fixed time)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (len(read_ok) < 20 or len(decided) < 2):
        time.sleep(0.02)
    time.sleep(0.2)
    server.send_signal(signal.SIGKILL)
    server.wait(10)
    stop.set()
    for thread in threads:
        thread.join(30)

    assert read_ok and decided, "the server was killed before it answered anything"
    with Store.open(seeded.settings) as store:
        views = {e.note for e in store.audit.entries() if e.action == "view"}
        missing = [p for p in read_ok if p not in views]
        assert not missing, f"{len(missing)} reads answered without their audit entry"
        for alert_id, action in decided:
            status = store.alerts.get_alert(alert_id).status
            expected = {"ack": {"acknowledged", "escalated"}, "escalate": {"escalated"}}[action]
            assert status in expected, (alert_id, action, status)
            entries = store.audit.entries(target=f"alert:{alert_id}")
            named = {"ack": "acknowledge", "escalate": "escalate"}[action]
            assert any(e.action == named for e in entries), (alert_id, action)
    assert verify_trail(seeded.settings).ok
    again = _serve(seeded, port, tmp_path)
    try:
        answer = httpx.get(f"{base}/v1/users/{RISKY}/risk", headers=seeded.key_headers("viewer"))
        assert answer.status_code == 200 and answer.json()["user_id"] == RISKY
    finally:
        again.terminate()
        again.wait(15)
