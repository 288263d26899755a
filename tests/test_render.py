"""What the command line prints: in the invocation's language (issue 12), numbers agree
with their nouns, times carry their zone, tables never cut a word."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from auditlens.alerts.dispatch import DeadLetter, DispatchReport
from auditlens.alerts.intake import Criteria, IntakeReport
from auditlens.cli import render, render_trail
from auditlens.cli.tables import Column, feature_label, print_table
from auditlens.config import Settings
from auditlens.errors import ConfigError
from auditlens.localtime import local_time
from auditlens.pipeline import batch_job, explain_user, ingest, show_alert
from auditlens.pipeline.alerting import JobReport, RaiseReport, list_alerts
from auditlens.sources.files import FileSource
from auditlens.sources.synthetic import GeneratorSpec, generate, write_sample
from auditlens.store.repo import Store

UTC_1AM = dt.datetime(2026, 9, 8, 1, 0, tzinfo=dt.UTC)
HANGUL = re.compile(r"[\uac00-\ud7a3]")
REASONS = [
    "업무시간 외 로그인 비율 62% (본인 평균 4%, 동료 그룹 평균 6%) — 동료 그룹보다 3.1 "
    "표준편차 높음; 대량 반출성 행위(다운로드·내보내기·인쇄·USB) 건수가 본인 평소의 3.7배",
    "이례적 작업 순서: 로그인 → 조회(민감) → 내보내기(민감) → 조회(민감) (09:29 시작, "
    "456단계, 드문 전환 92회) — 이 사용자·동료 그룹에게 드문 순서",
    "삭제 건수 14건 (본인 평균 2건, 그날 활동한 동료 없음)",
]


def _recorder(monkeypatch: pytest.MonkeyPatch, width: int) -> Console:
    """A recording console of ``width`` columns in place of the printers' stdout."""
    console = Console(width=width, record=True, color_system=None)
    for module in (render, render_trail):
        monkeypatch.setattr(module, "console", console)
    return console


@pytest.mark.parametrize(
    ("zone", "seconds", "shown"),
    [
        ("Asia/Seoul", False, "2026-09-08 10:00 KST"),
        ("Asia/Seoul", True, "2026-09-08 10:00:00 KST"),
        ("Europe/Berlin", False, "2026-09-08 03:00 CEST"),
        ("UTC", False, "2026-09-08 01:00 UTC"),
        ("Asia/Dubai", False, "2026-09-08 05:00 UTC+04"),
    ],
)
def test_every_time_shows_its_zone(zone: str, seconds: bool, shown: str) -> None:
    assert local_time(UTC_1AM, zone, seconds=seconds) == shown
    assert local_time(UTC_1AM.replace(tzinfo=None), zone, seconds=seconds) == shown  # naive=UTC


def test_dispatch_counts_attempts_and_labels_the_due_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = DispatchReport(attempted=1, pending=1, next_due=UTC_1AM)
    report.dead.append(DeadLetter(3, 1, "ops", 1, "HTTP 400 invalid_payload"))
    render.print_dispatch(report, "Asia/Seoul", "en")
    out = " ".join(capsys.readouterr().out.split())
    assert "next due 2026-09-08 10:00 KST" in out and "UTC" not in out
    assert "to ops after 1 attempt: HTTP 400 invalid_payload" in out
    assert not HANGUL.search(out)
    report.dead[0] = DeadLetter(3, 1, "ops", 6, "HTTP 503")
    render.print_dispatch(report, "Asia/Seoul", "en")
    assert "after 6 attempts:" in capsys.readouterr().out
    render.print_dispatch(report, "Asia/Seoul", "ko")
    out = " ".join(capsys.readouterr().out.split())
    assert "시도 1건 중 0건 발송" in out and "다음 발송 2026-09-08 10:00 KST" in out
    assert "ops, 6회 시도 후: HTTP 503" in out and "attempt" not in out


def test_raise_summary_in_the_right_number_and_routes_spelled_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    criteria = Criteria(min_severity="medium", threshold_risk=50.0, capacity=20, dedup_hours=24.0)
    intake = IntakeReport(routed=1, unrouted=[1])
    render.print_raise(RaiseReport(1, criteria, 1, intake, 0), "en")
    out = " ".join(capsys.readouterr().out.split())
    assert "run 1: 1 user at or above medium" in out and "0 alerts opened" in out
    assert "1 delivery queued" in out
    assert "1 alert matches no routing rule (add an [[alert_routes]] rule" in out
    assert "configure []" not in out and "[]" not in out and not HANGUL.search(out)
    render.print_raise(RaiseReport(1, criteria, 1, intake, 0), "ko")
    out = " ".join(capsys.readouterr().out.split())
    assert "실행 1: 보통 이상" in out and "사용자 1명" in out and "알림 0건 생성" in out
    assert "발송 1건 대기" in out and "[[alert_routes]] 규칙을 추가하십시오" in out
    code = re.sub(r"auditlens(\.toml| alerts list)|alert_routes", "", out)
    assert not re.search(r"[a-z]{3,}", code), code


def test_an_unknown_status_is_named_without_python_lists(tmp_path: Path) -> None:
    settings = Settings(store_url=f"sqlite:///{tmp_path / 's.db'}", data_dir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as failure:
        list_alerts(settings, statuses=("opened", "shut"))
    said = str(failure.value)
    assert said.startswith("unknown alert statuses opened, shut")
    assert "use one of open, " in said and "[" not in said and "(" not in said


@pytest.mark.parametrize("width", [80, 120, 200])
def test_a_table_never_cuts_a_word(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    console = _recorder(monkeypatch, width)
    columns = [Column("사용자"), Column("위험 점수", justify="right"), Column("사유", text=True)]
    rows = [[f"U{i:04d}", f"{90 - i:.1f}", text] for i, text in enumerate(REASONS)]
    print_table(console, columns, rows, title="위험 상위 사용자", lang="ko")
    out = console.export_text()
    assert "…" not in out
    for text in REASONS:
        for word in text.split():
            assert word in out, (width, word)
    assert max(len(line) for line in out.splitlines()) <= width


def test_too_narrow_a_table_lists_its_reasons_below(monkeypatch: pytest.MonkeyPatch) -> None:
    console = _recorder(monkeypatch, 30)
    columns = [Column("user"), Column("risk"), Column("reasons", text=True)]
    rows = [["U0001", "99.0", "a-very-long-unbreakable-reason " * 2]]
    print_table(console, columns, rows, lang="en")
    out = console.export_text()
    assert "[1]" in out and "reasons, by their number in the table" in " ".join(out.split())
    assert out.count("a-very-long-unbreakable-reason") == 2 and "…" not in out


def test_feature_ids_read_as_labels() -> None:
    assert feature_label("peer_z_delete_count", "ko") == "삭제 건수 (동료 그룹 대비)"
    assert feature_label("peer_z_delete_count", "en") == "deletions (vs peer group)"
    assert feature_label("unexplained", "ko") == "사유 없음"
    assert feature_label("some_new_column", "en") == "some_new_column"


@dataclass(frozen=True)
class Scored:
    """A small organisation scored with alerts raised, in one language."""

    settings: Settings
    job: JobReport


@pytest.fixture(scope="module", params=["ko", "en"])
def scored(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scored]:
    lang = request.param
    tmp = tmp_path_factory.mktemp(f"org-{lang}")
    write_sample(generate(GeneratorSpec(users=40, days=20, seed=3, insider_rate=0.1)), tmp)
    settings = Settings(
        store_url=f"sqlite:///{tmp / 'store.db'}",  # type: ignore[arg-type]
        data_dir=tmp / "var",
        resource_catalog=tmp / "resource_catalog.csv",
        peer_directory=tmp / "directory.csv",
        language=lang,
    )
    with Store.open(settings, migrate=True) as store:
        ingest(FileSource(tmp / "events.parquet", name="sample"), settings, store=store)
    yield Scored(settings, batch_job(settings))


def _data_free(out: str) -> str:
    """``out`` without the data values that may be in either script (none here but ids)."""
    return re.sub(r"U\d{4}", "", out)


@pytest.mark.parametrize("width", [80, 120, 200])
def test_run_alerts_and_explain_print_in_the_language(
    scored: Scored, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    lang = scored.settings.language
    console = _recorder(monkeypatch, width)
    render.print_batch_job(scored.job, lang)
    listing = list_alerts(scored.settings)
    assert listing.alerts, "the small organisation raised no alert"
    render_trail.print_alerts(listing, lang)
    render_trail.print_alert(show_alert(scored.settings, listing.alerts[0].id), lang)
    top = scored.job.run.top.row(0, named=True)
    result = explain_user(scored.settings, top["user_id"], top["peak_window"])
    render.print_explanation(result, top["user_id"], lang)
    out = console.export_text()
    reasons = "; ".join(scored.job.run.top["reasons"].to_list())
    # only a long session's own "→ …" (which a narrow console may wrap after the arrow)
    assert not re.search(r"(?<!→\s)…", out)
    for reason in reasons.split("; "):
        for word in reason.split():
            assert word in out, (width, word)
    assert "peer_z_" not in out  # scenarios read as labels, never as feature ids
    for alert in listing.alerts:
        assert all(word in out for word in feature_label(alert.scenario, lang).split())
    # explain shows the contributions, signed, of the features it replayed
    assert result.contributions
    assert f"{result.contributions[0].contribution:+.2f}" in out
    if lang == "ko":
        assert "위험 상위 사용자" in out and "심각도" in out and "기여도" in out
        assert "일치  점수" in out
    else:
        assert not HANGUL.search(_data_free(out)), out
        assert "top users by risk" in out and "contribution" in out and "same  score" in out
