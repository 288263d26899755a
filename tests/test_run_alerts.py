"""Alerts say what the run found: the same peak (days and top reason), one alert per
person, every stored run's alerts raised exactly once (also after kill -9), config
changes applied or refused loudly, and one `auditlens run` at a time per store."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import select

from auditlens.config import Settings
from auditlens.errors import AuditlensError
from auditlens.pipeline import batch_job, explain_user, ingest, run
from auditlens.pipeline.alerting import CRASH_AT_ENV
from auditlens.pipeline.detection import ENSEMBLE_KIND, feature_context, fit_model
from auditlens.schema import EVENT_COLUMNS
from auditlens.sources.files import FileSource
from auditlens.sources.synthetic import GeneratorSpec, generate, write_sample
from auditlens.store.alerts import Alert, AlertRepository
from auditlens.store.audit_repository import AuditRepository
from auditlens.store.db import models, score_runs, scores
from auditlens.store.locks import store_lock
from auditlens.store.models import ModelRecord
from auditlens.store.repo import Store
from auditlens.vocabulary import Severity

#: A generated organisation small enough for a test (150 users x 30 days).
SPEC = GeneratorSpec(users=150, days=30, seed=11, insider_rate=0.05)
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("org")
    write_sample(generate(SPEC), out)
    return out


@pytest.fixture(scope="module")
def loud_org(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twice the insiders: incidents that reach the cap of 100 on several days (peak ties:
    3 users here; with SPEC's insiders there may be none)."""
    out = tmp_path_factory.mktemp("loud")
    write_sample(generate(replace(SPEC, insider_rate=0.1)), out)
    return out


def _settings(settings: Settings, org: Path, **extra: object) -> Settings:
    return settings.model_copy(
        update={
            "resource_catalog": org / "resource_catalog.csv",
            "peer_directory": org / "directory.csv",
            "language": "en",
            **extra,
        }
    )


def _ingest(settings: Settings, org: Path) -> None:
    store = Store.open(settings, migrate=True)
    try:
        ingest(FileSource(org / "events.parquet", name="org"), settings, store=store)
    finally:
        store.close()


def _query(settings: Settings, query: object) -> pl.DataFrame:
    store = Store.open(settings)
    try:
        return store.scores.query_frame(query)
    finally:
        store.close()


def _alerts(settings: Settings) -> list[Alert]:
    store = Store.open(settings)
    try:
        return AlertRepository(store.engine).list_alerts(limit=10_000)
    finally:
        store.close()


# --- 1. the alert names the run's peak ---------------------------------------------------


def test_every_alert_names_the_runs_peak_days_and_top_reason(
    settings: Settings, loud_org: Path
) -> None:
    # every user is alerted (no capacity, no threshold): ties at the peak happen at any
    # risk (capped 100, or the same rank in the surprise grid)
    settings = _settings(settings, loud_org, review_capacity=0, alert_min_severity=Severity.LOW)
    _ingest(settings, loud_org)
    job = batch_job(settings)
    assert job.alerts is not None and job.alerts.candidates > 0
    peaks = {row["user_id"]: row for row in job.run.peaks.iter_rows(named=True)}
    alerted = _alerts(settings)
    assert len(alerted) == job.alerts.candidates
    tied = 0
    for alert in alerted:
        peak = peaks[alert.user_id]
        assert alert.windows == tuple(peak["peak_windows"]), alert.user_id
        assert alert.window == peak["peak_window"]
        assert alert.risk == pytest.approx(peak["risk_score"])
        assert alert.severity == peak["severity"]
        run_reasons = json.loads(peak["reasons"])
        assert alert.reasons == run_reasons, alert.user_id  # same reasons, same order
        if alert.severity != "low":
            assert alert.reasons, alert.user_id
        tied += len(alert.windows) > 1
    assert tied > 0  # ties exist, and the alert lists every tied day
    # explain without a day replays the same peak
    top = job.run.top.row(0, named=True)
    replay = explain_user(settings, top["user_id"])
    assert replay.window == top["peak_window"] and replay.reproduced, replay.checks
    # what the run printed for its top users is the same incident
    for row in job.run.top.iter_rows(named=True):
        first = json.loads(peaks[row["user_id"]]["reasons"])
        if first:
            assert row["reasons"].split("; ")[0].endswith(first[0]["en"])


# --- 2. one alert per person -----------------------------------------------------------


def test_a_new_model_finding_the_same_people_adds_evidence_instead_of_paging_again(
    settings: Settings, org: Path
) -> None:
    settings = _settings(settings, org)
    _ingest(settings, org)
    first = batch_job(settings)
    assert first.alerts is not None
    before = {a.user_id: a for a in _alerts(settings)}
    assert before
    ensemble = _register_fake_ensemble(settings)  # as `auditlens train` would
    second = batch_job(settings)
    assert second.run.model_sha256 == ensemble and second.alerts is not None
    intake = second.alerts.intake
    again = [u for u in second.run.peaks.head(second.alerts.candidates)["user_id"] if u in before]
    assert again  # the new model finds some of the same people
    assert intake.absorbed + len(intake.upgraded) == len(again)
    assert {a.user_id for a in intake.opened}.isdisjoint(before)
    after = _alerts(settings)
    assert len({a.user_id for a in after}) == len(after)  # one alert per person
    store = Store.open(settings)
    try:
        for user in again:
            evidence = AlertRepository(store.engine).evidence_of(before[user].id)
            assert [e.run_id for e in evidence] == [first.run.run_id, second.run.run_id]
            shown = next(a for a in after if a.user_id == user)
            assert shown.reasons == evidence[-1].reasons  # shows the newest finding
    finally:
        store.close()


# --- 3. a run killed between storing scores and raising alerts ---------------------------


def _cli_env(settings: Settings, org: Path, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITLENS_")}
    env.update(
        {
            "PYTHONPATH": str(SRC),
            "AUDITLENS_CONFIG": str(tmp_path / "none.toml"),
            "AUDITLENS_STORE_URL": settings.store_url.get_secret_value(),
            "AUDITLENS_DATA_DIR": str(settings.data_dir),
            "AUDITLENS_RESOURCE_CATALOG": str(org / "resource_catalog.csv"),
            "AUDITLENS_PEER_DIRECTORY": str(org / "directory.csv"),
            "AUDITLENS_LANGUAGE": "en",
            "COLUMNS": "300",  # rich wraps at the terminal width
        }
    )
    return env


def _cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "auditlens.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_a_run_killed_after_storing_scores_has_its_alerts_raised_once_by_the_next(
    settings: Settings, org: Path, tmp_path: Path
) -> None:
    settings = _settings(settings, org)
    _ingest(settings, org)
    env = _cli_env(settings, org, tmp_path)
    killed = _cli(env | {CRASH_AT_ENV: "after_scores"}, "run")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    runs = _query(settings, select(score_runs))
    assert runs.height == 1 and runs["alerts_state"].to_list() == ["pending"]
    assert _alerts(settings) == []

    again = _cli(env, "run")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "stored 0 rows (run -)" in again.stdout
    assert "finished raising the alerts of earlier run(s) 1" in again.stdout
    raised = _alerts(settings)
    assert 0 < len(raised) <= settings.review_capacity
    assert _query(settings, select(score_runs))["alerts_state"].to_list() == ["raised"]

    third = _cli(env, "run")
    assert third.returncode == 0 and "alerts opened" not in third.stdout
    assert len(_alerts(settings)) == len(raised)
    store = Store.open(settings)
    try:
        detected = AuditRepository(store.engine).entries(actions=("detect",), limit=10_000)
    finally:
        store.close()
    assert len(detected) == len(raised)  # each detection handled exactly once


# --- 4. configuration changes are applied or refused, never silently ignored --------------


def test_a_watchlist_added_after_a_run_rescores_and_says_so(settings: Settings, org: Path) -> None:
    settings = _settings(settings, org)
    _ingest(settings, org)
    first = batch_job(settings)
    assert first.run.rows_stored > 0 and not first.run.notes
    assert batch_job(settings).run.rows_stored == 0  # nothing new, nothing changed
    watched = settings.model_copy(update={"watchlist": {"wipe": "view>delete within 10m"}})
    second = batch_job(watched)
    assert second.run.model_sha256 == first.run.model_sha256
    assert second.run.rows_stored == second.run.windows_scored
    assert second.run.run_id is not None and second.alerts is not None
    assert any("watchlist" in note and "rescored" in note for note in second.run.notes)
    assert any("fit it again: `auditlens run --refit`" in note for note in second.run.notes)
    ko = batch_job(watched.model_copy(update={"watchlist": {"w": "edit>delete"}, "language": "ko"}))
    assert any("다시 점수화" in note for note in ko.run.notes)


def _register_fake_ensemble(settings: Settings, columns: list[str] | None = None) -> str:
    """Register a model under the ensemble kind (fitted with another seed: another sha)."""
    store = Store.open(settings)
    try:
        events = store.events.upto(10**9).select(EVENT_COLUMNS).collect()
        other = settings.model_copy(update={"model_seed": 99})
        model, _ = fit_model(events, feature_context(other), other)
        path = settings.data_dir / "models" / "ensemble-test.joblib"
        sha = model.save(path)
        store.models.register(
            ModelRecord(
                sha256=sha,
                kind=ENSEMBLE_KIND,
                path=str(path),
                feature_columns=columns or model.feature_columns,
                params={},
                n_train=model.n_train_,
                data_batch_id=None,
                config_hash=settings.fingerprint(),
                created_at=dt.datetime.now(dt.UTC),
            ),
        )
        return sha
    finally:
        store.close()


def test_refit_keeps_a_trained_ensemble_unless_told_and_says_what_it_replaced(
    settings: Settings, org: Path
) -> None:
    settings = _settings(settings, org)
    _ingest(settings, org)
    first = run(settings)
    ensemble = _register_fake_ensemble(settings)
    kept = run(settings, refit=True)
    assert kept.model_sha256 == ensemble and not kept.refitted
    assert any("keeping the trained ensemble" in n for n in kept.notes)
    replaced = run(settings, refit=True, unsupervised=True)
    assert replaced.refitted and replaced.model_sha256 != ensemble
    assert any(f"replaced the trained ensemble {ensemble[:12]}" in n for n in replaced.notes)
    assert run(settings).model_sha256 == replaced.model_sha256  # the replacement stays
    # the refit on the same events may give the first model's bytes: then that model is
    # registered again (the newest, replacing the ensemble), not a third one
    reproduced = replaced.model_sha256 == first.model_sha256
    assert _query(settings, select(models.c.kind)).height == (2 if reproduced else 3)


def test_an_ensemble_fitted_on_other_features_is_refused_with_the_commands(
    settings: Settings, org: Path
) -> None:
    settings = _settings(settings, org)
    _ingest(settings, org)
    run(settings)
    store = Store.open(settings)
    columns = json.loads(store.scores.query_frame(select(models.c.feature_columns))[0, 0])
    store.close()
    _register_fake_ensemble(settings, columns=[*columns, "dropped_feature"])
    with pytest.raises(AuditlensError, match="auditlens train --labels") as caught:
        run(settings)
    assert "-dropped_feature" in str(caught.value)
    assert "--refit --unsupervised" in str(caught.value)


# --- 5. one run at a time per store --------------------------------------------------------


def test_two_concurrent_runs_do_the_work_once(
    settings: Settings, org: Path, tmp_path: Path
) -> None:
    settings = _settings(settings, org)
    _ingest(settings, org)
    env = _cli_env(settings, org, tmp_path)
    command = [sys.executable, "-m", "auditlens.cli", "run", "--wait", "240"]
    procs = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=400) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert _query(settings, select(models.c.id)).height == 1
    runs = _query(settings, select(score_runs))
    assert runs.height == 1
    rows = _query(settings, select(scores.c.user_id, scores.c.window))
    assert rows.height == rows.unique().height  # no window stored twice
    assert sum("stored 0 rows (run -)" in out for out, _ in outputs) == 1


def test_a_run_finding_the_store_busy_exits_6_with_a_clear_message(
    settings: Settings, org: Path, tmp_path: Path
) -> None:
    settings = _settings(settings, org)
    _ingest(settings, org)
    env = _cli_env(settings, org, tmp_path)
    store = Store.open(settings, migrate=True)
    try:
        with store_lock(store.engine, "run", what="test"):
            began = time.monotonic()
            busy = _cli(env, "run", "--wait", "1")
            waited = time.monotonic() - began
            busy_ko = _cli(env | {"AUDITLENS_LANGUAGE": "ko"}, "run", "--wait", "0")
    finally:
        store.close()
    assert busy.returncode == 6, busy.stdout + busy.stderr
    assert "another `auditlens run` is working on this store (waited 1 s)" in busy.stderr
    assert "exit code 6" in busy.stderr and waited >= 1.0
    assert busy_ko.returncode == 6 and "다른 `auditlens run`이" in busy_ko.stderr
    assert _query(settings, select(score_runs)).height == 0
