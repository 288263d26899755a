"""A mistake in auditlens.toml is named by file, line and column, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditlens.cli import app
from auditlens.config import load_settings
from auditlens.errors import ConfigError


def test_an_unquoted_korean_key_names_the_file_line_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "auditlens.toml"
    config.write_text(
        '[sources.bank]\nkind = "file"\npath = "a.csv"\ncolumn_map = { 사번 = "user_id" }\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("AUDITLENS_CONFIG", str(config))
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert message.startswith(f"{config}:4:16: not valid TOML: Invalid initial character")
    assert 'in `column_map = { 사번 = "user_id" }`' in message
    assert '"Employee No." = "user_id"' in err.value.hint
    assert '"사번" = "user_id"' in err.value.ko_hint
    assert "(4행 16열)" in err.value.text("ko")
    assert "키의 첫 글자가 올바르지 않음" in err.value.text("ko")  # the parser's reason too
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 1
    assert f"{config}:4:16" in result.output and "Traceback" not in result.output


def test_a_missing_quote_on_a_value_is_named_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "other.toml"
    config.write_text("timezone = Asia/Seoul\n", encoding="utf-8")
    monkeypatch.setenv("AUDITLENS_CONFIG", str(config))
    with pytest.raises(ConfigError, match=r"other\.toml:1:\d+: not valid TOML") as err:
        load_settings()
    assert "in `timezone = Asia/Seoul`" in str(err.value)
