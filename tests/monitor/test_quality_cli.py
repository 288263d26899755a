"""`auditlens monitor quality` and `auditlens review list | decide` in both languages, on
the constructed store of tests/views/test_quality.py."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditlens.cli import app
from auditlens.config import Settings
from auditlens.store.repo import Store
from tests.views.test_quality import _samples, fill

runner = CliRunner()
PRINCIPALS = {"kim": ["analyst"], "lee": ["analyst"], "vee": ["viewer"]}
TODAY = dt.datetime(2026, 9, 16, 3, 0, tzinfo=dt.UTC)  # Wednesday of ISO week 38


@pytest.fixture
def configured(
    sqlite_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> list[int]:
    """The store filled, a config naming it with principals; the review sample ids."""
    with Store.open(sqlite_settings, migrate=True) as store:
        fill(store)
        ids = _samples(store, dt.datetime(2026, 9, 8, 1, tzinfo=dt.UTC), 4, population=80)
    config = tmp_path / "auditlens.toml"
    principals = "\n".join(f"{k} = {json.dumps(v)}" for k, v in PRINCIPALS.items())
    config.write_text(
        f"store_url = {json.dumps(sqlite_settings.store_url.get_secret_value())}\n"
        f"data_dir = {json.dumps(str(sqlite_settings.data_dir))}\n"
        f"[principals]\n{principals}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("AUDITLENS_CONFIG", str(config))
    monkeypatch.setattr("auditlens.identity.os_user", lambda: "kim")
    monkeypatch.setattr("auditlens.pipeline.quality.utc_now", lambda: TODAY)
    return ids


def _ok(*args: str) -> str:
    done = runner.invoke(app, list(args))
    assert done.exit_code == 0, done.output
    return done.output


def test_review_list_and_decide_in_both_languages(
    configured: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, *_ = configured
    listed = _ok("--lang", "en", "review", "list", "--status", "pending")
    assert "4 of 4 samples" in listed and "R000" in listed
    said = _ok(
        "--lang", "en", "review", "decide", str(first), "--verdict", "missed",
        "--reason", "suspected_violation", "--note", "bulk export",
    )  # fmt: skip
    assert f"review sample #{first}" in said and "missed by kim" in said
    again = runner.invoke(
        app, ["--lang", "ko", "review", "decide", str(first), "--verdict", "clean",
              "--reason", "explained"],
    )  # fmt: skip
    assert again.exit_code == 1 and "이미 판정되었습니다" in again.output
    monkeypatch.setattr("auditlens.identity.os_user", lambda: "vee")
    refused = runner.invoke(
        app, ["--lang", "en", "review", "decide", str(second), "--verdict", "clean",
              "--reason", "explained"],
    )  # fmt: skip
    assert refused.exit_code == 1 and "needs the analyst role" in refused.output
    monkeypatch.setattr("auditlens.identity.os_user", lambda: "lee")
    ko = _ok(
        "--lang", "ko", "review", "decide", str(second), "--verdict", "clean",
        "--reason", "explained",
    )  # fmt: skip
    assert "문제 없음" in ko and "판정자 lee" in ko
    pending = _ok("--lang", "ko", "review", "list", "--status", "pending")
    assert "표본 2건 중 2건" in pending
    bad = runner.invoke(app, ["--lang", "en", "review", "list", "--status", "done"])
    assert bad.exit_code == 1 and "unknown review status done" in bad.output


def test_monitor_quality_prints_the_tables_and_the_estimate(configured: list[int]) -> None:
    first, second, *_ = configured
    _ok("--lang", "en", "review", "decide", str(first), "--verdict", "missed", "--reason",
        "confirmed")  # fmt: skip
    _ok("--lang", "en", "review", "decide", str(second), "--verdict", "clean", "--reason",
        "explained")  # fmt: skip
    en = _ok("--lang", "en", "monitor", "quality", "--weeks", "2")
    assert "2026-09-07 to 2026-09-20" in en
    assert "2026-W37" in en and "2026-W38" in en and "precision: 33.3%" in en
    assert "precision 50.0%" in en  # 2 confirmed of 4 decided
    assert "4 drawn, 2 reviewed, 2 pending; 1 missed" in en
    assert "miss rate 50.0% [9.5% ~ 90.5%]" in en and "of 80 unflagged users" in en
    ko = _ok("--lang", "ko", "monitor", "quality", "--weeks", "2")
    assert "정밀도 50.0%" in ko and "놓침 비율 50.0%" in ko and "추정 재현율" in ko
    data = json.loads(_ok("--lang", "en", "monitor", "quality", "--weeks", "2", "--json"))
    assert [w["week"] for w in data["weeks"]] == ["2026-W37", "2026-W38"]
    assert data["misses"]["estimated_missed"] == 40.0
    assert data["misses"]["recall"] == pytest.approx(2 / 42)
    one = json.loads(_ok("--lang", "en", "monitor", "quality", "--weeks", "1", "--json"))
    assert [w["week"] for w in one["weeks"]] == ["2026-W38"]


def test_monitor_quality_without_samples_says_how_to_draw_them(
    sqlite_settings: Settings, configured: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "auditlens.pipeline.quality.utc_now", lambda: TODAY + dt.timedelta(weeks=10)
    )
    en = _ok("--lang", "en", "monitor", "quality", "--weeks", "1")
    assert "no review samples drawn" in en and "review_sample" in en
