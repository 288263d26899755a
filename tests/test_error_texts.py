"""Every error a person can hit in store/, sources/ and the core modules reads in Korean too.

Two kinds of check: a representative error from each area is raised for real and read in
both languages (Korean with Hangul, English without); and a static walk over the source
finds every construction of an AuditlensError subclass and fails on one without ``ko=``.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import text

from auditlens import errors
from auditlens.config import Settings, load_settings
from auditlens.errors import AuditlensError, ConfigError, SourceError, StoreError
from auditlens.identity import Directory, IdentityError
from auditlens.schema import LOCATION
from auditlens.sources.files import FileSource
from auditlens.sources.labels import read_labels
from auditlens.store.migrate import connect
from auditlens.store.repo import Store
from auditlens.tamper import FINDING_LABELS, finding_label
from auditlens.validate import quarantine_reason, validate

SRC = Path(__file__).resolve().parents[1] / "src" / "auditlens"
HANGUL = re.compile(r"[\uac00-\ud7a3]")

#: The files whose errors this test owns (issue 12, l-errors-a).
OWNED = [
    *sorted((SRC / "store").rglob("*.py")),
    *sorted((SRC / "sources").rglob("*.py")),
    *(
        SRC / f"{name}.py"
        for name in (
            "coercion duplicates validate config calendar identity schema timestamps "
            "vocabulary localtime redaction configfile tamper"
        ).split()
    ),
]
#: Constructions allowed without ``ko=``: "path:function" -> why. Empty today.
ALLOWED: dict[str, str] = {}


def _bilingual(error: AuditlensError) -> None:
    """Korean text has Hangul and differs from the English; English has none."""
    ko, en = error.text("ko"), error.text("en")
    assert HANGUL.search(ko), ko
    assert not HANGUL.search(en), en
    assert error.ko and error.ko != error.message


# --- representative errors, raised for real ------------------------------------------------


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        store_url=f"sqlite:///{tmp_path / 'store.db'}",  # type: ignore[arg-type]
        data_dir=tmp_path / "var",
    )


def test_a_store_not_at_this_auditlens_schema_reads_in_korean(tmp_path: Path) -> None:
    with Store.open(_settings(tmp_path)) as store, store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError) as caught:
        Store.open(_settings(tmp_path))
    _bilingual(caught.value)
    assert "9999" in caught.value.text("ko") and "스키마 리비전" in caught.value.text("ko")
    assert "새 auditlens를 설치하십시오" in caught.value.text("ko")


def test_a_store_url_that_is_not_a_url_reads_in_korean() -> None:
    with pytest.raises(StoreError) as caught:
        connect("not a url at all")
    _bilingual(caught.value)
    assert caught.value.text("ko").startswith("store_url 값이 데이터베이스 URL이 아닙니다")


def test_a_missing_file_reads_in_korean(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as caught:
        list(FileSource(tmp_path / "nowhere.csv", name="bank").read())
    _bilingual(caught.value)
    assert caught.value.text("ko").startswith(f"파일이 없습니다: {tmp_path / 'nowhere.csv'}")


def test_a_bad_config_value_reads_in_korean() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(timezone="Mars/Base", weekend_days=["someday"], language="fr")
    error = caught.value
    _bilingual(error)
    ko = error.text("ko")
    assert ko.startswith("설정 값이 올바르지 않습니다: ")
    assert "timezone: 알 수 없는 시간대 'Mars/Base'입니다" in ko  # our validator's Korean
    assert "weekend_days: 알 수 없는 요일 ['someday']입니다" in ko
    assert "language: 'ko', 'en' 중 하나여야 합니다" in ko  # pydantic's, translated
    assert "auditlens.toml 또는 AUDITLENS_* 환경 변수를 고치십시오" in ko  # the class hint


def test_a_toml_syntax_error_reads_in_korean_with_file_line_and_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "auditlens.toml"
    config.write_text('language = "ko"\ntimezone = Asia/Seoul\n', encoding="utf-8")
    monkeypatch.setenv("AUDITLENS_CONFIG", str(config))
    with pytest.raises(ConfigError) as caught:
        load_settings()
    ko, en = caught.value.text("ko"), caught.value.text("en")
    assert ko.startswith(f"{config}:2:12: TOML 문법 오류입니다 (2행 12열): `timezone = Asia/Seoul`")
    assert "따옴표로 감싸십시오" in ko
    # the English hint's one Korean word is the example key a Korean export really has
    assert not HANGUL.search(en.replace('"사번"', "")), en


def test_an_unknown_principal_reads_in_korean() -> None:
    directory = Directory({"kim": ["analyst"]})
    with pytest.raises(IdentityError) as caught:
        directory.get("park")
    _bilingual(caught.value)
    assert caught.value.text("ko").startswith("등록되지 않은 사용자입니다: 'park'")
    acting = directory.acting("kim")
    with pytest.raises(IdentityError) as denied:
        acting.require("admin", "reconcile the tables", "테이블 대조")
    _bilingual(denied.value)
    assert "kim 사용자는 admin 역할이 없어 이 작업을 할 수 없습니다: 테이블 대조" in (
        denied.value.text("ko")
    )


def test_a_bad_date_in_a_row_reads_in_korean(tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "user_id,start,end,scenario\nkim,2026-09-01 09:00,someday,exfil\n", encoding="utf-8"
    )
    with pytest.raises(SourceError) as caught:
        read_labels(labels, "Asia/Seoul")
    _bilingual(caught.value)
    assert caught.value.text("ko").startswith(f"{labels}:2: end 값 'someday'은 ISO 8601 시각이")


def test_a_day_first_date_in_a_batch_reads_in_korean() -> None:
    raw = pl.DataFrame(
        {
            "timestamp": ["01/02/2026 09:00:00"],
            "event_id": ["e1"],
            "user_id": ["kim"],
            "action_type": ["login"],
            LOCATION: ["in.csv:2"],
        }
    )
    with pytest.raises(errors.ValidationFailed) as caught:
        validate(raw, timezone="Asia/Seoul", now=dt.datetime(2026, 9, 2, tzinfo=dt.UTC))
    _bilingual(caught.value)
    assert "이 배치는 하나도 저장하지 않았습니다" in caught.value.text("ko")


def test_quarantine_reasons_read_in_korean_and_stay_english_when_stored() -> None:
    raw = pl.DataFrame(
        {
            "timestamp": ["2026-09-01 09:00:00", "yesterday", "2026-09-01 09:00:00"],
            "event_id": ["e1", "e2", "e1"],
            "user_id": ["kim", None, "kim"],
            "action_type": ["login", "weird", "login"],
            "success": ["true", "maybe", "true"],
            LOCATION: ["in.csv:2", "in.csv:3", "in.csv:4"],
        }
    )
    result = validate(raw, timezone="Asia/Seoul", now=dt.datetime(2026, 9, 2, tzinfo=dt.UTC))
    stored = dict(result.quarantined.select(LOCATION, "reason").rows())
    for reason in stored.values():  # the stored form is English, as before
        assert not HANGUL.search(reason)
        assert quarantine_reason(reason, "en") == reason
    bad = quarantine_reason(stored["in.csv:3"], "ko").split("; ")
    assert bad[0].startswith("timestamp: 읽을 수 없는 값 'yesterday' (ISO 8601(예:")
    assert bad[1].startswith("action_type: 어휘에 없는 작업 'weird' (이 배치에서 알 수 없는 ")
    assert "'weird' 1건" in bad[1]
    assert "success: 읽을 수 없는 값 'maybe' (true 또는 false여야 함)" in bad
    assert "user_id: 값 없음 (필수)" in bad
    assert quarantine_reason(stored["in.csv:4"], "ko") == "중복된 event_id e1 (처음 위치 in.csv:2)"
    # every part of these reasons was known: nothing English is left but names and values
    for reason in stored.values():
        words = re.sub(r"'[^']*'|\[[^]]*\]|\([^)]*ISO[^)]*\)", "", quarantine_reason(reason, "ko"))
        assert not re.search(r"\b(cannot|is|the|missing|duplicate|unknown)\b", words), words
    assert quarantine_reason("some future reason", "ko") == "some future reason"


def test_every_tamper_finding_kind_has_a_label_in_both_languages() -> None:
    for kind, (en, ko) in FINDING_LABELS.items():
        assert finding_label(kind, "en") == en and not HANGUL.search(en)
        assert finding_label(kind, "ko") == ko and HANGUL.search(ko)
    assert finding_label("new_kind", "ko") == "new_kind"


# --- static: every construction carries ko= ------------------------------------------------


def _error_names() -> set[str]:
    """AuditlensError and its subclasses, in errors.py and in the owned files."""
    names = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, AuditlensError)
    }
    changed = True
    while changed:  # subclasses of subclasses, wherever they are defined
        changed = False
        for path in OWNED:
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef) and node.name not in names:
                    if any(isinstance(b, ast.Name) and b.id in names for b in node.bases):
                        names.add(node.name)
                        changed = True
    return names


def _constructions(path: Path, names: set[str]) -> list[tuple[int, str, ast.Call]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Call):
                callee = node.func
                name = callee.id if isinstance(callee, ast.Name) else getattr(callee, "attr", "")
                if name in names:
                    found.append((node.lineno, function.name, node))
    return found


def test_the_static_walk_finds_the_errors_it_is_meant_to() -> None:
    names = _error_names()
    assert {"StoreError", "SourceError", "RoleError", "LakeMismatch", "IdentityError"} <= names
    found = [c for path in OWNED for c in _constructions(path, names)]
    assert len(found) > 80  # the walk sees the raises (it would pass vacuously otherwise)


def test_every_error_in_the_owned_files_has_korean() -> None:
    names = _error_names()
    missing = []
    for path in OWNED:
        for line, function, call in _constructions(path, names):
            key = f"{path.relative_to(SRC)}:{function}"
            keywords = {k.arg for k in call.keywords}
            if "ko" not in keywords and key not in ALLOWED:
                missing.append(f"{path.relative_to(SRC)}:{line} ({function})")
            if "hint" in keywords and "ko_hint" not in keywords and key not in ALLOWED:
                missing.append(f"{path.relative_to(SRC)}:{line} ({function}): hint without ko_hint")
    assert not missing, "errors without Korean (ko=/ko_hint=):\n" + "\n".join(missing)


def test_every_class_level_hint_has_a_korean_one() -> None:
    names = _error_names()
    missing = []
    for path in [SRC / "errors.py", *OWNED]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name in names:
                assigned = {
                    t.id
                    for statement in node.body
                    if isinstance(statement, ast.Assign)
                    for t in statement.targets
                    if isinstance(t, ast.Name)
                }
                if "hint" in assigned and "ko_hint" not in assigned:
                    missing.append(f"{path.relative_to(SRC)}: {node.name}")
    assert not missing, missing
