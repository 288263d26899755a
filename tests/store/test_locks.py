"""Store locks: held across processes and working directories, released when a holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from auditlens.store.db import make_engine
from auditlens.store.locks import LockTimeout, advisory_key, store_lock

HOLDER = """
import sys, time
from auditlens.store.db import make_engine
from auditlens.store.locks import store_lock
with store_lock(make_engine(sys.argv[1]), "ingest", timeout=5):
    print("held", flush=True)
    time.sleep(60)
"""


def _hold_in_child(url: str, cwd: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url], cwd=cwd, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    return child


def test_second_holder_is_refused_from_another_directory(db_url: str, tmp_path: Path) -> None:
    elsewhere = tmp_path / "other-working-dir"
    elsewhere.mkdir()
    child = _hold_in_child(db_url, elsewhere)
    try:
        engine = make_engine(db_url)
        started = time.monotonic()
        with (
            pytest.raises(LockTimeout, match="another ingestion is running"),
            store_lock(engine, "ingest", timeout=0.5, what="ingestion"),
        ):
            pass
        assert time.monotonic() - started >= 0.4
        # another name is another lock
        with store_lock(engine, "run", timeout=0):
            pass
        engine.dispose()
    finally:
        child.kill()
        child.wait()


def test_lock_is_released_when_the_holder_is_killed(db_url: str, tmp_path: Path) -> None:
    child = _hold_in_child(db_url, tmp_path)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    engine = make_engine(db_url)
    with store_lock(engine, "ingest", timeout=10):
        pass
    engine.dispose()


def test_lock_is_reentrant_after_release(db_url: str) -> None:
    engine = make_engine(db_url)
    for _ in range(3):
        with store_lock(engine, "run", timeout=0):
            pass
    engine.dispose()


def test_advisory_keys_are_stable_and_distinct() -> None:
    assert advisory_key("ingest") == advisory_key("ingest")
    assert advisory_key("ingest") != advisory_key("run")
    assert -(2**63) <= advisory_key("ingest") < 2**63
