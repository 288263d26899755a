"""`auditlens evaluate --folds users`: person-grouped folds from the command line, in
both languages, with the report saying how it split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditlens.cli import app
from auditlens.sources.synthetic import GeneratorSpec, generate, write_sample

SPEC = GeneratorSpec(users=80, days=24, seed=5, insider_rate=0.12)


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("org")
    write_sample(generate(SPEC), out)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_evaluate_by_person_from_the_command_line(
    lang: str, org: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUDITLENS_LANGUAGE", lang)
    monkeypatch.setenv("AUDITLENS_RESOURCE_CATALOG", str(org / "resource_catalog.csv"))
    monkeypatch.setenv("AUDITLENS_PEER_DIRECTORY", str(org / "directory.csv"))
    args = ["evaluate", "--labels", str(org / "labels.csv"), "--input", str(org / "events.parquet")]
    result = CliRunner().invoke(app, [*args, "--folds", "users", "--fold-count", "3", "--out", "r"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r" / "evaluation.json").read_text(encoding="utf-8"))
    assert report["fold_kind"] == "users" and len(report["folds"]) == 3
    assert (
        sum(f["test_users"] for f in report["folds"])
        == report["user_level"]["unsupervised"]["rows"]
    )
    for name, m in report["user_level"].items():
        ci = report["intervals_95"]["user_level"][name]
        assert ci["roc_auc"][0] <= m["roc_auc"] + 1e-9 and m["roc_auc"] <= ci["roc_auc"][1] + 1e-9
    markdown = (tmp_path / "r" / "evaluation.md").read_text(encoding="utf-8")
    said = "Person-grouped cross-validation" if lang == "en" else "사람 단위 교차 검증"
    assert said in markdown

    bad = CliRunner().invoke(app, [*args, "--folds", "people"])
    assert bad.exit_code == 2
    assert ("is not time, users" if lang == "en" else "폴드 수가 아닙니다") in bad.output
