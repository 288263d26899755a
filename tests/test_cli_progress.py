"""Long commands report their stages: a live display on a terminal, timestamped log
lines elsewhere (cron, Airflow, a pipe); issue 12."""

from __future__ import annotations

import io
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console
from typer.testing import CliRunner

from auditlens.cli import app
from auditlens.cli import progress as progress_module
from auditlens.cli.common import held_stdout
from auditlens.cli.progress import StageBars, StageLog, stages
from auditlens.config import Settings
from auditlens.detect.supervised import GRIDS, KINDS
from auditlens.pipeline import InputOptions, train
from auditlens.pipeline.stages import DONE, Stage, Steps
from auditlens.sources.synthetic import GeneratorSpec, generate, write_sample

runner = CliRunner()
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d KST"  # in the configured zone (Asia/Seoul)


def test_run_not_on_a_terminal_logs_each_stage_with_a_timestamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUDITLENS_LANGUAGE", "en")
    generated = runner.invoke(app, ["generate", "--users", "30", "--days", "20"])
    assert generated.exit_code == 0, generated.output
    (tmp_path / "auditlens.toml").write_text(
        '[sources.sample]\nkind = "file"\npath = "var/sample/events.parquet"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("AUDITLENS_CONFIG", str(tmp_path / "auditlens.toml"))
    result = runner.invoke(app, ["run"])  # CliRunner's streams are not terminals
    assert result.exit_code == 0, result.output
    lines = re.findall(rf"^{STAMP} auditlens run: (.+?) (started|done)", result.output, re.M)
    stages_seen = [name for name, what in lines if what == "started"]
    assert stages_seen == [
        "ingest sample",
        "features and model",
        "score",
        "reasons",
        "store",
        "alerts",
    ]
    assert [name for name, what in lines if what == "done"] == stages_seen
    assert re.search(
        rf"^{STAMP} auditlens run: ingest sample done: [\d,]+ rows \(", result.output, re.M
    )
    # the results still follow, after the log lines
    assert result.output.index("alerts done") < result.output.index("run 1:")


def test_the_log_gives_an_estimate_now_and_then(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    out = io.StringIO()
    log = StageLog("evaluate", Console(file=out, width=200), "en")
    log(Stage("cross-validation", 0, 10, "fits"))
    now[0] += 3.0
    log(Stage("cross-validation", 1, 10, "fits"))  # too soon for another line
    now[0] += 17.0
    log(Stage("cross-validation", 4, 10, "fits"))
    now[0] += 10.0
    log(Stage("metrics and report"))
    text = out.getvalue()
    assert re.search(
        rf"^{STAMP} auditlens evaluate: cross-validation started \(10 fits\)$", text, re.M
    )
    assert "cross-validation: 1 of 10" not in text
    assert "cross-validation: 4 of 10 fits, about 30 s left" in text
    assert "cross-validation done: 4 of 10 fits (30 s)" in text
    assert text.count("\n") == 4


def test_the_log_speaks_korean(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    out = io.StringIO()
    log = StageLog("run", Console(file=out, width=200), "ko")
    log(Stage("ingest sample", 0, None, "rows"))
    now[0] += 2.0
    log(Stage("store", 0, 1000, "rows"))
    now[0] += 20.0
    log(Stage("store", 400, 1000, "rows"))
    now[0] += 185.0
    log(Stage(DONE))
    text = out.getvalue()
    assert re.search(rf"^{STAMP} auditlens run: sample 수집 시작$", text, re.M)
    assert "sample 수집 완료: 0행 (2.0초)" in text
    assert "저장 시작 (1,000행)" in text
    assert "저장: 전체 1,000행 중 400행, 약 30초 남음" in text
    assert "저장 완료: 전체 1,000행 중 400행 (3분 25초)" in text
    assert not re.search(r"\b(started|done|rows|left|about)\b", text)


def test_on_a_terminal_each_stage_gets_a_bar() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with stages("train", console) as on_stage:
        assert isinstance(on_stage, StageBars)
        steps = Steps(on_stage)
        steps.start("grid search", total=4, unit="fits")
        make = steps.counted(lambda: "model")
        assert [make() for _ in range(4)] == ["model"] * 4
        steps.start("fit")
    shown = on_stage.bars.tasks
    assert [t.description for t in shown] == ["하이퍼파라미터 탐색", "학습"]  # Korean by default
    assert all(t.finished for t in shown)
    assert (
        shown[0].completed == 4
        and "하이퍼파라미터 탐색" in out.getvalue()
        and "4 회" in out.getvalue()
    )


def test_steps_without_a_callback_do_nothing() -> None:
    steps = Steps(None)
    steps.start("score", total=2, unit="rows")
    steps.advance(2)
    assert steps.counted(lambda: 7)() == 7


def test_demo_piped_prints_alert_lines_in_their_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUDITLENS_LANGUAGE", "en")
    result = runner.invoke(app, ["demo", "--users", "30", "--days", "20"])
    assert result.exit_code == 0, result.output
    out = result.output
    alerts = [m.start() for m in re.finditer(r"^ALERT ", out, re.M)]
    assert alerts, out  # the console channel printed its lines
    header = out.index("auditlens demo")
    raised = re.search(r"^run \d+: ", out, re.M)
    assert raised is not None
    delivered = out.index("delivered ")
    assert header < raised.start() < min(alerts) and max(alerts) < delivered
    assert out.index("(and printed above)") > max(alerts)


def test_held_stdout_is_written_out_when_the_job_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(RuntimeError), held_stdout():
        print("ALERT before the failure")
        raise RuntimeError("job failed")
    assert capsys.readouterr().out == "ALERT before the failure\n"


@pytest.mark.slow
def test_train_reports_every_grid_search_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = tmp_path / "org"
    write_sample(generate(GeneratorSpec(users=150, days=32, seed=8, insider_rate=0.1)), org)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUDITLENS_RESOURCE_CATALOG", str(org / "resource_catalog.csv"))
    monkeypatch.setenv("AUDITLENS_PEER_DIRECTORY", str(org / "directory.csv"))
    seen: list[Stage] = []
    given = InputOptions(path=org / "events.parquet")
    report = train(Settings(), org / "labels.csv", inputs=given, n_folds=2, on_stage=seen.append)
    assert report.trained
    assert list(dict.fromkeys(s.name for s in seen)) == [
        "features",
        "grid search",
        "fit",
        "save",
        "register",
    ]
    grid = [s for s in seen if s.name == "grid search"]
    fits = sum(len(GRIDS[k]) for k in KINDS) * 2
    assert grid[0].total == fits and grid[-1].done == fits
    assert [s.done for s in grid] == list(range(fits + 1))


def test_a_stage_name_is_printed_as_is() -> None:
    out = io.StringIO()
    log = StageLog("ingest", Console(file=out, width=200), "en")
    log(Stage("files:[bold]x.csv", 0, None, "rows"))
    assert "files:[bold]x.csv started" in out.getvalue()
