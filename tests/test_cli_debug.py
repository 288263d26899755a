"""--debug belongs to one command line: it shows the traceback there and nowhere else."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditlens.cli import app
from auditlens.errors import AuditlensError

runner = CliRunner()


def test_debug_shows_the_error_itself_only_for_its_own_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUDITLENS_STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    debug = runner.invoke(app, ["--debug", "alerts", "show", "1"])
    assert isinstance(debug.exception, AuditlensError)

    plain = runner.invoke(app, ["alerts", "show", "1"])
    assert not isinstance(plain.exception, AuditlensError)
    assert plain.exit_code == 1
    assert plain.output.startswith(("error: ", "오류: "))  # in the invocation's language
    assert len(plain.output.strip().splitlines()) == 1
