"""The catalogue: every text in both languages, the same placeholders, the right script."""

from __future__ import annotations

import re
import string

import pytest

from auditlens.errors import AuditlensError, ConfigError
from auditlens.i18n import CATALOGUE, choose_language, language, say

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_every_text_has_both_languages_and_the_same_placeholders(key: str) -> None:
    entry = CATALOGUE[key]
    assert set(entry) == {"ko", "en"}, key
    assert _fields(entry["ko"]) == _fields(entry["en"]), key
    assert not HANGUL.search(entry["en"]), f"{key}: Hangul in the English text"
    assert HANGUL.search(entry["ko"]), f"{key}: no Hangul in the Korean text"


def test_say_falls_back_to_english_for_other_languages() -> None:
    assert say("en", "tied_days", n=2) == "+2 tied days"
    assert say("ko", "tied_days", n=2) == "외 2일 동일"


def test_error_text_in_each_language_and_class_hints() -> None:
    error = ConfigError("bad key", ko="잘못된 키")
    assert error.text("en").startswith("bad key — fix auditlens.toml")
    assert error.text("ko").startswith("잘못된 키 — auditlens.toml 또는")
    assert str(error) == error.text("en")
    # a hint given at the raise site replaces the class hint in both languages
    own = ConfigError("bad key", ko="잘못된 키", hint="quote it", ko_hint="따옴표로 감싸십시오")
    assert own.text("ko") == "잘못된 키 — 따옴표로 감싸십시오"
    assert AuditlensError("plain").text("ko") == "plain"


def test_language_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    config = tmp_path / "auditlens.toml"
    config.write_text('language = "en"\n', encoding="utf-8")
    monkeypatch.setenv("AUDITLENS_CONFIG", str(config))
    monkeypatch.delenv("AUDITLENS_LANGUAGE", raising=False)
    choose_language(None)  # no --lang (an earlier CLI test in this process may have set one)
    assert language() == "en"
    monkeypatch.setenv("AUDITLENS_LANGUAGE", "ko")
    assert language() == "ko"
    assert language("en") == "en"
    choose_language("en")  # --lang beats the environment
    assert language() == "en"
    choose_language(None)
    config.write_text("language = [broken", encoding="utf-8")
    monkeypatch.delenv("AUDITLENS_LANGUAGE")
    assert language() == "ko"  # a broken file is reported by the command that loads it
