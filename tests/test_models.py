"""The MLflow registry: `train` logs and registers, `model list | promote | rollback |
verify`, four eyes on promotion, audit entries, `run` scoring with the champion."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from auditlens.cli import app
from auditlens.config import Settings
from auditlens.identity import IdentityError
from auditlens.pipeline import ingest, run, train, verify_trail
from auditlens.pipeline.models import list_versions, promote, rollback, verify
from auditlens.registry import RegistryError, tracking_uri
from auditlens.sources.files import FileSource
from auditlens.sources.synthetic import GeneratorSpec, generate, write_sample
from auditlens.store.repo import Store

PRINCIPALS = {"kim": ["analyst"], "lee": ["analyst", "approver"], "park": ["approver"]}
runner = CliRunner()


@dataclass(frozen=True)
class Built:
    """A store with two trained versions: 1 by kim (champion), 2 by lee (challenger)."""

    root: Path
    sha: dict[int, str]


def _settings(root: Path) -> Settings:
    org = root / "org"
    return Settings(
        store_url=f"sqlite:///{root / 'store.db'}",  # type: ignore[arg-type]
        data_dir=root / "var",
        resource_catalog=org / "resource_catalog.csv",
        peer_directory=org / "directory.csv",
        principals=PRINCIPALS,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("models") / "deployment"
    write_sample(
        generate(GeneratorSpec(users=150, days=30, seed=8, insider_rate=0.12)), root / "org"
    )
    settings = _settings(root)
    with Store.open(settings, migrate=True) as store:
        ingest(FileSource(root / "org" / "events.parquet", name="events"), settings, store=store)
    labels = root / "org" / "labels.csv"
    first = train(settings, labels, n_folds=2, who_am_i=lambda: "KIM")
    second = train(
        settings.model_copy(update={"model_seed": 8}), labels, n_folds=2, who_am_i=lambda: "lee"
    )
    assert (first.version, first.alias) == (1, "champion")
    assert (second.version, second.alias) == (2, "challenger")
    assert first.sha256 and second.sha256 and first.sha256 != second.sha256
    return Built(root, {1: first.sha256, 2: second.sha256})


def _copy(built: Built, tmp_path: Path) -> Settings:
    """A copy of the deployment (the registry's artifacts stay the original's, read only)."""
    root = tmp_path / "deployment"
    shutil.copytree(built.root, root)
    return _settings(root)


def test_train_logs_a_run_and_registers_the_saved_pipeline(built: Built) -> None:
    settings = _settings(built.root)
    versions = list_versions(settings)
    assert [(v.number, v.aliases, v.trainer) for v in versions] == [
        (2, ["challenger"], "lee"),
        (1, ["champion"], "kim"),  # principals normalised: KIM is kim
    ]
    with Store.open(settings) as store:
        for version in versions:
            # the registry's sha256 tag names the file the store's models table records
            assert version.sha256 == built.sha[version.number]
            assert store.models.by_sha(version.sha256) is not None
        lake_hashes = {p: store.events.lake.sha256(p) for p in store.events.parts()}
    one = versions[1]
    assert set(one.metrics) == {f"cv_pr_auc_{k}" for k in ("random_forest", "xgboost", "lightgbm")}
    assert all(0 < m <= 1 for m in one.metrics.values())
    assert json.loads(one.params["seed"]) == 7 and json.loads(one.params["n_folds"]) == 2
    client = MlflowClient(tracking_uri(settings))
    logged = {a.path for a in client.list_artifacts(one.run_id)}
    assert {"reports", "labels", "model", "fingerprint.json"} <= logged
    reports = {Path(a.path).name for a in client.list_artifacts(one.run_id, "reports")}
    assert {"cross_validation.json", "shap_summary.png"} <= reports
    models = [Path(a.path).name for a in client.list_artifacts(one.run_id, "model")]
    assert len(models) == 1 and models[0].endswith(".joblib")
    # the data fingerprint is the run's dataset input: batches, lake hashes, watermarks
    inputs = client.get_run(one.run_id).inputs.dataset_inputs
    assert [i.dataset.name for i in inputs] == ["lake"]
    profile = json.loads(inputs[0].dataset.profile)
    assert profile["batches"] and profile["watermarks"]["events"]
    assert {b["lake_part"]: b["sha256"] for b in profile["batches"]} == lake_hashes
    assert profile["seed"] == 7


def test_promotion_needs_another_approver_and_is_audited(built: Built, tmp_path: Path) -> None:
    settings = _copy(built, tmp_path)
    # lee trained version 2: four eyes refuse lee's own promotion, in both languages
    with pytest.raises(IdentityError) as own:
        promote(settings, 2, who_am_i=lambda: "LEE")
    assert "four eyes" in own.value.text("en") and "4안 원칙" in own.value.text("ko")
    with pytest.raises(IdentityError) as analyst:
        promote(settings, 1, who_am_i=lambda: "kim")
    assert "approver" in analyst.value.text("en")
    with pytest.raises(RegistryError, match="not registered"):
        promote(settings, 9, who_am_i=lambda: "park")
    promoted = promote(settings, 2, who_am_i=lambda: "park")
    assert promoted.aliases == ["champion"]
    assert {v.number: v.aliases for v in list_versions(settings)} == {
        2: ["champion"],
        1: ["previous"],
    }
    # `run` now scores with the champion, version 2, and records the version
    scored = run(settings)
    assert (scored.model_sha256, scored.model_version) == (built.sha[2], 2)
    with Store.open(settings) as store:
        last = store.scores.last_run()
    assert last is not None and (last.model_sha256, last.model_version) == (built.sha[2], 2)
    restored = rollback(settings, who_am_i=lambda: "lee")
    assert restored.number == 1 and restored.aliases == ["champion"]
    with pytest.raises(RegistryError) as again:
        rollback(settings, who_am_i=lambda: "lee")
    assert "no previous champion" in again.value.text("en")
    assert "이전 champion이 없습니다" in again.value.text("ko")
    with Store.open(settings) as store:
        entries = store.audit.entries(actions=("model_promote", "model_rollback"))
    assert [(e.action, e.actor, e.target) for e in entries] == [
        ("model_promote", "park", "model:2"),
        ("model_rollback", "lee", "model:1"),
    ]
    assert entries[0].criteria["replaced_version"] == 1
    assert entries[0].criteria["trainer"] == "lee"
    assert entries[1].criteria["sha256"] == built.sha[1]
    # the chain holds and the replay of the trail tolerates the new actions
    checked = verify_trail(settings)
    assert checked.ok, checked


def _cli(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, who: str) -> None:
    config = tmp_path / "auditlens.toml"
    principals = "\n".join(f"{k} = {json.dumps(v)}" for k, v in PRINCIPALS.items())
    config.write_text(
        f"store_url = {json.dumps(str(settings.store_url.get_secret_value()))}\n"
        f"data_dir = {json.dumps(str(settings.data_dir))}\n"
        f"resource_catalog = {json.dumps(str(settings.resource_catalog))}\n"
        f"peer_directory = {json.dumps(str(settings.peer_directory))}\n"
        f"[principals]\n{principals}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("AUDITLENS_CONFIG", str(config))
    monkeypatch.setattr("auditlens.identity.os_user", lambda: who)


def test_model_commands_in_both_languages(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _copy(built, tmp_path)
    _cli(settings, tmp_path, monkeypatch, "lee")
    listed = runner.invoke(app, ["--lang", "en", "model", "list"])
    assert listed.exit_code == 0, listed.output
    assert "champion" in listed.output and built.sha[2][:12] in listed.output
    champion = next(v for v in list_versions(settings) if v.number == 1)
    assert f"{champion.metrics['cv_pr_auc_xgboost']:.3f}" in listed.output
    refused = runner.invoke(app, ["--lang", "ko", "model", "promote", "2"])
    assert refused.exit_code == 1 and "4안 원칙" in refused.output, refused.output
    monkeypatch.setattr("auditlens.identity.os_user", lambda: "park")
    done = runner.invoke(app, ["--lang", "ko", "model", "promote", "2"])
    assert done.exit_code == 0 and "champion이 되었습니다" in done.output, done.output
    back = runner.invoke(app, ["--lang", "en", "model", "rollback"])
    assert back.exit_code == 0 and "version 1" in back.output, back.output
    none = runner.invoke(app, ["--lang", "en", "model", "rollback"])
    assert none.exit_code == 1 and "no previous champion" in none.output
    audited = runner.invoke(app, ["--lang", "en", "audit", "verify"])
    assert audited.exit_code == 0, audited.output


def test_verify_reproduces_a_version_and_detects_a_change(
    built: Built, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _copy(built, tmp_path)
    same = verify(settings, 1)
    assert same.identical and same.windows > 100
    # another configuration builds other features: the retrained scores differ
    changed = verify(settings.model_copy(update={"min_history_days": 3}), 1)
    assert not changed.identical and changed.max_difference > 0
    # the CLI says so and exits 1
    _cli(settings, tmp_path, monkeypatch, "kim")
    (tmp_path / "auditlens.toml").write_text(
        (tmp_path / "auditlens.toml")
        .read_text()
        .replace("[principals]", "min_history_days = 3\n[principals]")
    )
    said = runner.invoke(app, ["--lang", "en", "model", "verify", "1"])
    assert said.exit_code == 1 and "NOT reproduced" in said.output, said.output
    # a lake part rewritten since the training: refused before retraining
    with Store.open(settings) as store:
        part = store.events.parts()[0]
    path = settings.data_dir / "lake" / part
    pl.read_parquet(path).head(10).write_parquet(path)
    with pytest.raises(RegistryError) as moved:
        verify(settings, 1)
    assert "changed" in moved.value.text("en") and "바뀌었습니다" in moved.value.text("ko")
