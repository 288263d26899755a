"""`auditlens reidentify` from the command line, in Korean and English."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditlens.cli import app
from auditlens.config import Settings
from auditlens.pipeline import reidentify_decide
from auditlens.store.repo import Store
from tests.privacy.conftest import open_alert

runner = CliRunner()


def _run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())


def test_request_decide_show_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUDITLENS_STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    principals = {"me": ["analyst", "admin"], "lee": ["approver"]}
    monkeypatch.setenv("AUDITLENS_PRINCIPALS", json.dumps(principals))
    monkeypatch.setattr("auditlens.identity.os_user", lambda: "me")
    with Store.open(Settings(), migrate=True) as store:
        alert = open_alert(store)
    out = _run("--lang", "en", "reidentify", "request", str(alert.id), "--reason", "case 7")
    assert f"re-identification request #1 for alert #{alert.id} recorded" in out
    out = _run("--lang", "ko", "reidentify", "request", str(alert.id), code=2)  # no --reason
    # the requester (an admin too) cannot grant it, not even on the approver's behalf
    out = _run("--lang", "ko", "reidentify", "decide", "1", "--grant", "--as", "lee", code=1)
    assert "이중 승인" in out and "Traceback" not in out
    out = _run("--lang", "en", "reidentify", "show", str(alert.id), code=1)
    assert "no live re-identification grant" in out and "U0042" not in out
    listed = _run("--lang", "ko", "reidentify", "list")
    assert "승인 대기" in listed and "case 7" in listed and "U0042" not in listed
    reidentify_decide(Settings(), 1, grant=True, note="ok", who_am_i=lambda: "lee")
    out = _run("--lang", "ko", "reidentify", "show", str(alert.id))
    assert "U0042" in out and "감사 로그에 기록됨" in out
    listed = _run("--lang", "en", "reidentify", "list", "--status", "granted")
    assert "granted" in listed and "lee" in listed and "U0042" not in listed
    out = _run("--lang", "en", "reidentify", "decide", "1", "--deny", "--as", "lee", code=1)
    assert "took part" in out
    helps = _run("reidentify", "--help")
    assert "request" in helps and "재식별" in helps
