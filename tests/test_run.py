"""`auditlens run`, `score` and `explain`: stored evidence, incremental runs, replay."""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import re
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from auditlens.cli import app
from auditlens.config import Settings
from auditlens.detect.base import ModelError
from auditlens.detect.explain import SHAP_METHOD
from auditlens.errors import AuditlensError
from auditlens.pipeline import explain_user, ingest, run, train
from auditlens.scoring import peak_keys
from auditlens.sources.files import FileSource
from auditlens.sources.synthetic import GeneratorSpec, generate, write_sample
from auditlens.store.db import alerts, score_runs
from auditlens.store.repo import Store

SPEC = GeneratorSpec(users=120, days=24, seed=5, insider_rate=0.05)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample split in two: the first 17 days, then the rest."""
    out = tmp_path_factory.mktemp("sample")
    data = generate(SPEC)
    write_sample(data, out)
    cut = dt.datetime(2026, 9, 17, 15, tzinfo=dt.UTC)  # 2026-09-18 00:00 KST
    data.events.filter(pl.col("timestamp") < cut).write_parquet(out / "part1.parquet")
    data.events.filter(pl.col("timestamp") >= cut).write_parquet(out / "part2.parquet")
    return out


def _settings(settings: Settings, sample: Path) -> Settings:
    return settings.model_copy(
        update={
            "resource_catalog": sample / "resource_catalog.csv",
            "peer_directory": sample / "directory.csv",
        }
    )


def _ingest(settings: Settings, path: Path) -> None:
    store = Store.open(settings, migrate=True)
    try:
        ingest(FileSource(path, name=path.stem), settings, store=store)
    finally:
        store.close()


def test_run_stores_evidence_then_only_new_windows_and_replays(
    settings: Settings, sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(settings, sample)
    _ingest(settings, sample / "part1.parquet")
    first = run(settings)
    assert first.refitted and first.run_id is not None
    assert first.rows_stored == first.windows_scored > 0
    store = Store.open(settings)
    rows = store.scores.of_run(first.run_id)
    store.close()
    assert rows.height == first.rows_stored
    assert rows["model_sha256"].unique().to_list() == [first.model_sha256]
    assert rows["config_hash"].unique().to_list() == [settings.fingerprint()]
    assert rows["data_batch_id"].unique().to_list() == [first.data_batch_id]
    assert rows["feature_hash"].str.len_chars().unique().to_list() == [64]
    assert rows["risk"].is_between(0, 100).all()
    # every user's peak window carries its reasons
    peaks = first.top.select("user_id", pl.col("peak_window").alias("window"))
    with_reasons = rows.join(peaks, on=["user_id", "window"]).filter(pl.col("reasons") != "[]")
    assert with_reasons.height == peaks.height

    # nothing new: same model, same data; the events are not even read
    with monkeypatch.context() as patched:
        job = importlib.import_module("auditlens.pipeline.run")
        patched.setattr(job, "_stored_events", lambda *a: pytest.fail("events read"))
        again = run(settings)
    assert not again.refitted and again.rows_stored == 0 and again.run_id is None
    assert again.windows_scored == 0 and again.model_sha256 == first.model_sha256
    assert again.capacity.cutoff == first.capacity.cutoff
    assert again.capacity.flagged.height == first.capacity.flagged.height
    # the peaks and their reasons read back from the store are those the run found
    shown = ["user_id", "risk_score", "peak_window", "peak_windows", "reasons"]
    assert again.top.select(shown).equals(first.top.select(shown))

    _ingest(settings, sample / "part2.parquet")
    third = run(settings)
    assert not third.refitted and third.model_sha256 == first.model_sha256
    store = Store.open(settings)
    new_rows = store.scores.of_run(third.run_id or -1)
    store.close()
    # days with new events, plus the earlier peak days of the users in the run
    older = new_rows.filter(pl.col("window") < dt.date(2026, 9, 18)).select("user_id", "window")
    assert older.join(peak_keys(third.peaks), on=["user_id", "window"], how="anti").height == 0
    assert new_rows.filter(pl.col("window") >= dt.date(2026, 9, 18)).height > 0
    assert third.windows_scored > new_rows.height > 0

    top = first.top.row(0, named=True)
    replay = explain_user(settings, top["user_id"], top["peak_window"])
    assert replay.reproduced, replay.checks
    assert replay.stored["run_id"] == first.run_id
    assert replay.reasons and replay.reasons[0].ko

    changed = settings.model_copy(update={"decay_half_life_days": 2.0})
    assert not explain_user(changed, top["user_id"], top["peak_window"]).checks["config"]


def test_explain_refuses_a_replaced_model_file(sqlite_settings: Settings, sample: Path) -> None:
    settings = _settings(sqlite_settings, sample)
    _ingest(settings, sample / "events.parquet")
    report = run(settings)
    model_file = next((settings.data_dir / "models").glob("*.joblib"))
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    top = report.top.row(0, named=True)
    with pytest.raises(ModelError, match="changed or replaced"):
        explain_user(settings, top["user_id"], top["peak_window"])


def test_score_command_writes_the_contract_and_prints_quality(
    tmp_path: Path, sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(
        app,
        ["score", "--input", str(sample / "events.parquet"), "--format", "parquet",
         "--labels", str(sample / "labels.csv"), "--output", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scores = pl.read_csv(out)
    assert scores.columns == ["user_id", "risk_score", "severity", "top_reasons"]
    assert scores.height == SPEC.users
    assert scores["risk_score"].is_sorted(descending=True)
    # Korean by default: the metrics' labels and the reasons
    for metric in (
        "ROC-AUC",
        "PR-AUC",
        "오탐률 5%에서 탐지율",
        "오탐률 10%에서 탐지율",
        "명 정밀도",
    ):
        assert metric in result.output
    top = scores.row(0, named=True)
    assert top["severity"] in ("medium", "high", "critical") and "본인 평균" in top["top_reasons"]


def test_run_without_events_says_what_to_do(sqlite_settings: Settings) -> None:
    with pytest.raises(AuditlensError) as raised:
        run(sqlite_settings)
    assert type(raised.value) is AuditlensError  # not a subclass such as NoEvents
    assert str(raised.value) == (
        "the store holds no events yet — configure [sources.NAME] in auditlens.toml "
        "or run `auditlens ingest PATH`"
    )


def test_train_registers_the_ensemble_and_run_explains_with_shap(
    sqlite_settings: Settings, tmp_path: Path
) -> None:
    data = generate(GeneratorSpec(users=300, days=40, seed=8, insider_rate=0.1))
    out = tmp_path / "org"
    write_sample(data, out)
    settings = _settings(sqlite_settings, out)
    _ingest(settings, out / "events.parquet")
    report = train(settings, out / "labels.csv", n_folds=2)
    assert report.trained and report.sha256 and report.positives >= 10
    assert set(report.chosen) == {"random_forest", "xgboost", "lightgbm"}
    scored = run(settings)
    assert scored.model_sha256 == report.sha256 and not scored.refitted
    store = Store.open(settings)
    try:
        runs = store.scores.query_frame(select(score_runs))
    finally:
        store.close()
    assert runs["reason_method"].to_list() == [SHAP_METHOD]
    top = scored.top.row(0, named=True)
    replay = explain_user(settings, top["user_id"], top["peak_window"])
    assert replay.reproduced, replay.checks
    assert replay.reasons and all(r.contribution > 0 for r in replay.reasons)
    # explain shows the SHAP contributions the reasons come from, signed, largest first
    assert replay.contribution_unit == "log_odds" and replay.contributions
    sizes = [abs(c.contribution) for c in replay.contributions]
    assert sizes == sorted(sizes, reverse=True)
    shown = {c.feature: c.contribution for c in replay.contributions}
    assert any(shown.get(r.feature) == r.contribution for r in replay.reasons)


def test_train_with_too_few_labels_keeps_the_unsupervised_model(
    sqlite_settings: Settings, sample: Path, tmp_path: Path
) -> None:
    settings = _settings(sqlite_settings, sample)
    _ingest(settings, sample / "events.parquet")
    few = tmp_path / "few.csv"
    few.write_text(
        "user_id,scenario,start,end\nU0003,x,2026-09-20T00:00:00+09:00,2026-09-21T00:00:00+09:00\n"
    )
    report = train(settings, few)
    # the refusal is in the settings' language: Korean by default, English when asked
    assert not report.trained and "비지도 모델을 계속 사용합니다" in report.message
    english = train(settings.model_copy(update={"language": "en"}), few)
    assert not english.trained and "keeping the unsupervised model" in english.message


def test_run_command_records_detections_and_opens_alerts(
    tmp_path: Path, sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUDITLENS_RESOURCE_CATALOG", str(sample / "resource_catalog.csv"))
    monkeypatch.setenv("AUDITLENS_PEER_DIRECTORY", str(sample / "directory.csv"))
    monkeypatch.setenv("AUDITLENS_LANGUAGE", "en")  # the assertions read English output
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["ingest", str(sample / "events.parquet")]).exit_code == 0
    first = runner.invoke(app, ["run"])
    assert first.exit_code == 0, first.output
    opened = re.search(r"(\d+) alerts opened", " ".join(first.output.split()))
    assert opened is not None, first.output
    with Store.open(Settings()) as store:
        stored = store.alerts.query_frame(select(alerts))
    # the planted insiders are found: some alerts open, and the count printed is the count stored
    assert int(opened.group(1)) == stored.height > 0
    second = runner.invoke(app, ["run"])  # nothing new: no run, no new alerts
    assert second.exit_code == 0 and "alerts opened" not in second.output
    trail = runner.invoke(app, ["audit", "verify"])
    assert trail.exit_code == 0 and "audit trail verified" in trail.output


def test_a_feature_row_hashes_the_same_whatever_the_sign_of_its_zeros() -> None:
    """Polars' ``int - float`` gave ``0 - 0.0`` as -0.0 for some buffers and 0.0 for
    others (a peer z-score of a day's run against the same day in a full run): the
    evidence hash, which replay compares, must not tell them apart; any other change
    of a value still changes it."""
    from auditlens.pipeline.detection import feature_hashes

    day = dt.date(2026, 10, 5)
    row = {"user_id": ["a"], "window": [day], "z": [0.0], "n": [3]}
    plain = feature_hashes(pl.DataFrame(row))
    assert feature_hashes(pl.DataFrame(row | {"z": [-0.0]})) == plain
    assert feature_hashes(pl.DataFrame(row | {"z": [1e-300]})) != plain
    assert feature_hashes(pl.DataFrame(row | {"n": [4]})) != plain
    assert feature_hashes(pl.DataFrame(row | {"z": [-1.5]})) != feature_hashes(
        pl.DataFrame(row | {"z": [1.5]})
    )


def test_a_row_hashed_with_a_negative_zero_before_is_still_recognised_by_replay() -> None:
    """Rows stored before the fix above may carry -0.0 in a zero peer z-score: replay
    accepts the hash of the same features with any sign on those zeros — and only that
    (another zero column's sign, or any other value, still does not match)."""
    from auditlens.pipeline.detection import feature_hashes, signed_zero_hashes

    day = dt.date(2026, 10, 5)
    row = pl.DataFrame(
        {
            "user_id": ["a"],
            "window": [day],
            "login_count": [0],
            "peer_z_delete_count": [0.0],
            "peer_z_bulk_action_count": [0.0],
            "peer_z_failed_access_count": [1.5],
            "off_hours_login_ratio": [0.0],
        }
    )

    def old_hash(frame: pl.DataFrame) -> str:  # the text before the fix: the sign as computed
        columns = sorted(c for c in frame.columns if c not in ("user_id", "window"))
        parts = [f"{c}={frame[c].cast(pl.Float64).round_sig_figs(9).cast(pl.String)[0]}"
                 for c in columns]  # fmt: skip
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    accepted = signed_zero_hashes(row)
    assert len(accepted) == 4 and feature_hashes(row)[0] in accepted
    assert old_hash(row) == feature_hashes(row)[0]
    negative = row.with_columns(pl.lit(-0.0).alias("peer_z_delete_count"))
    assert old_hash(negative) in accepted and feature_hashes(negative)[0] in accepted
    both = negative.with_columns(pl.lit(-0.0).alias("peer_z_bulk_action_count"))
    assert old_hash(both) in accepted
    not_peer = row.with_columns(pl.lit(-0.0).alias("off_hours_login_ratio"))
    assert old_hash(not_peer) not in accepted
    other = negative.with_columns(pl.lit(1.6).alias("peer_z_failed_access_count"))
    assert old_hash(other) not in accepted
