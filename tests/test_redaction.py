"""Secrets in URL query strings are masked; killed model saves leave no temp files behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditlens.cli import app
from auditlens.config import load_settings, mask_url
from auditlens.detect.base import load_artifact, remove_stale_temp_files, save_artifact
from auditlens.errors import StoreError
from auditlens.store.repo import Store

ROOT = Path(__file__).resolve().parents[1]


def test_password_in_the_query_string_is_masked_in_config_show(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = "postgresql+psycopg://app@db.example:5432/audit?password=hunter2-q&sslmode=require"
    monkeypatch.setenv("AUDITLENS_STORE_URL", url)
    monkeypatch.setenv("AUDITLENS_SOURCES__HR__KIND", "sql")
    monkeypatch.setenv("AUDITLENS_SOURCES__HR__URL", "postgresql://u@h/db?sslpassword=pw-in-q")
    shown = CliRunner().invoke(app, ["config", "show"])
    assert shown.exit_code == 0, shown.output
    assert "hunter2-q" not in shown.output and "pw-in-q" not in shown.output
    data = json.loads(shown.output)
    assert data["store_url"] == (
        "postgresql+psycopg://app@db.example:5432/audit?password=***&sslmode=require"
    )
    assert "hunter2-q" not in str(load_settings().masked())
    assert mask_url("postgresql://u:pw@h/db?api_key=k3y&x=1") == (
        "postgresql://u:***@h/db?api_key=***&x=1"
    )


def test_store_errors_never_show_a_query_string_password() -> None:
    for url in (
        "postgresql+psycopg://nobody@127.0.0.1:1/x?password=hunter2-q",
        "postgresql+psycopg://nobody@127.0.0.1:notaport/x?password=hunter2-q",
    ):
        with pytest.raises(StoreError) as failure:
            Store.open(load_settings(store_url=url))
        assert "hunter2-q" not in str(failure.value)
        assert "password=***" in str(failure.value) or "store_url *** is not a" in str(
            failure.value
        )


def test_a_save_killed_midway_leaves_a_temp_file_the_next_save_removes(tmp_path: Path) -> None:
    target = tmp_path / "models" / "m.joblib"
    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, pathlib, sys\n"
            "from auditlens.detect.base import save_artifact\n"
            "pathlib.Path.replace = lambda self, other: os._exit(9)  # killed before the rename\n"
            "save_artifact({'weights': list(range(1000))}, pathlib.Path(sys.argv[1]))\n",
            str(target),
        ],
        env=os.environ | {"PYTHONPATH": str(ROOT / "src")},
        check=False,
    )
    assert killed.returncode == 9
    (left,) = list(target.parent.iterdir())
    assert left.name.startswith(".m.joblib.tmp-") and not target.exists()
    legacy = target.parent / ".old.joblib.tmp"  # what earlier versions left behind
    legacy.write_bytes(b"x")
    os.utime(legacy, (time.time() - 3600, time.time() - 3600))
    # a concurrent save of a process that still runs is left alone
    busy = target.parent / f".n.joblib.tmp-{os.getppid()}-abcd1234"
    busy.write_bytes(b"y")

    digest = save_artifact({"weights": [1, 2]}, target)
    assert sorted(p.name for p in target.parent.iterdir()) == sorted(["m.joblib", busy.name])
    assert load_artifact(target, digest) == {"weights": [1, 2]}


def test_opening_a_model_removes_stale_temp_files_too(tmp_path: Path) -> None:
    target = tmp_path / "m.joblib"
    save_artifact([1], target)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f".x.joblib.tmp-{int(dead.stdout)}-0badc0de"
    stale.write_bytes(b"half")
    assert load_artifact(target) == [1]
    assert not stale.exists()
    assert remove_stale_temp_files(tmp_path) == []
