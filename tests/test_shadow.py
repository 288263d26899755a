"""Shadow mode with a real registry: `run --shadow` scores with the challenger into
``shadow_scores`` and leaves the champion's scores and alerts exactly as without it;
no challenger is said and the run goes on; `model compare` in both languages; the
store's champions rows on train, promote and rollback, and `model list` and GET
/v1/models agree on the model in force."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from auditlens.api.app import create_app
from auditlens.cli import app
from auditlens.config import Settings
from auditlens.i18n import say
from auditlens.pipeline import batch_job
from auditlens.pipeline.detection import REASON_FLOOR
from auditlens.pipeline.keys import create_key
from auditlens.pipeline.models import compare, promote, rollback
from auditlens.store.db import alerts, models
from auditlens.store.repo import Store
from auditlens.views.shadow import capacity_cut
from tests.test_models import PRINCIPALS, Built, _cli, _copy, built  # noqa: F401 - fixture

runner = CliRunner()
NOW = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)


def _alerts(settings: Settings) -> list[tuple[object, ...]]:
    columns = [c for c in alerts.c if c.name not in ("created_at", "updated_at")]
    with Store.open(settings) as store, store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*columns).order_by(alerts.c.id))]


def test_shadow_run_stores_the_challenger_apart_and_leaves_the_champion_alone(
    built: Built,  # noqa: F811
    tmp_path: Path,
) -> None:
    # the same deployment (same paths, so the same config hash) without, then with shadow
    plain = _copy(built, tmp_path)
    without = batch_job(plain, clock=lambda: NOW)
    with Store.open(plain) as store:
        assert store.shadow.count() == 0
        theirs = store.scores.of_run(without.run.run_id or 0)
    alerted = _alerts(plain)
    shutil.rmtree(tmp_path / "deployment")
    shadowed = _copy(built, tmp_path)
    scored = batch_job(shadowed, clock=lambda: NOW, shadow=True).run
    assert without.run.model_version == scored.model_version == 1  # the champion
    assert without.run.shadow is None and without.run.run_id == scored.run_id
    with Store.open(shadowed) as store:
        mine = store.scores.of_run(scored.run_id or 0)
        rows = store.shadow.of_run(scored.run_id or 0)
    # the champion's scores and alerts are identical with and without shadow mode
    assert theirs.equals(mine) and mine.height == scored.rows_stored
    assert _alerts(shadowed) == alerted and len(alerted) > 0
    # the challenger scored the very windows the run stored, with its own model
    assert rows.select("user_id", "window").equals(mine.select("user_id", "window"))
    assert set(rows["model_sha256"]) == {built.sha[2]} and set(rows["model_version"]) == {2}
    assert not rows["risk"].equals(mine["decayed_risk"])
    # flagged: the challenger's review-capacity cut (20 users) of those windows
    cut = capacity_cut(rows.rename({"risk": "decayed_risk"}), shadowed.review_capacity)
    flagged = set(rows.filter(pl.col("flagged") == 1)["user_id"])
    assert flagged == set(cut.filter(pl.col("flagged"))["user_id"]) and len(flagged) == 20
    # reasons like the champion's: the windows at or above the floor, in both languages
    high = [json.loads(r) for r in rows.filter(pl.col("risk") >= REASON_FLOOR)["reasons"]]
    assert sum(bool(r) for r in high) >= 0.9 * len(high) > 0
    assert all({"en", "ko", "feature"} <= set(line) for r in high for line in r)
    report = scored.shadow
    assert report is not None and (report.version, report.rows) == (2, rows.height)
    assert any(n.startswith("그림자 채점: 도전자 모델 버전 2") for n in scored.notes)

    # model compare reads the same run: the champion's flags by the same rule
    found = compare(shadowed)
    (one,) = found.runs
    assert (one.run_id, one.challenger_version, one.champion_version) == (scored.run_id, 2, 1)
    assert one.users == rows["user_id"].n_unique()
    assert one.both + one.challenger_only == report.challenger_flagged == 20
    assert one.both + one.champion_only == report.champion_flagged == 20
    assert one.both == report.both_flagged and one.rank_correlation is not None

    # a run with nothing new stores nothing, so the challenger has nothing to score
    again = batch_job(shadowed, clock=lambda: NOW, shadow=True).run
    assert again.run_id is None and again.shadow is not None and again.shadow.rows == 0
    assert say("ko", "shadow_nothing_stored") in again.notes


def test_no_challenger_is_said_and_the_run_goes_on(
    built: Built,  # noqa: F811
    tmp_path: Path,
) -> None:
    settings = _copy(built, tmp_path)
    promote(settings, 2, who_am_i=lambda: "park")  # the challenger is champion now
    every = settings.model_copy(update={"monitoring": settings.monitoring.model_copy(
        update={"shadow": True})})  # fmt: skip
    job = batch_job(every, clock=lambda: NOW)
    assert job.run.run_id is not None and job.run.model_version == 2
    assert say("ko", "shadow_no_challenger") in job.run.notes  # the configured language
    assert job.alerts is not None  # and its alerts were raised
    with Store.open(settings) as store:
        assert store.shadow.count() == 0


def test_a_challenger_that_cannot_score_is_said_and_the_champion_run_stands(
    built: Built,  # noqa: F811
    tmp_path: Path,
) -> None:
    settings = _copy(built, tmp_path)
    with Store.open(settings) as store, store.engine.begin() as conn:  # its file is gone
        conn.execute(
            update(models).where(models.c.sha256 == built.sha[2]).values(path=str(tmp_path / "x"))
        )
    job = batch_job(settings.model_copy(update={"language": "en"}), clock=lambda: NOW, shadow=True)
    assert job.run.run_id is not None and job.run.rows_stored > 0 and job.alerts is not None
    (note,) = [n for n in job.run.notes if n.startswith("shadow:")]
    assert "challenger version 2 could not score" in note and "stored as usual" in note
    with Store.open(settings) as store:
        assert store.shadow.count() == 0
        assert store.scores.of_run(job.run.run_id).height == job.run.rows_stored


def test_champions_rows_and_model_list_agree_with_the_api(
    built: Built,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _copy(built, tmp_path)
    with Store.open(settings) as store:  # the first training became champion
        assert [(c.model_version, c.action, c.actor) for c in store.champions.history()] == [
            (1, "train", "kim")
        ]
    admin = settings.model_copy(update={"principals": PRINCIPALS | {"root": ["admin"]}})
    key = create_key(admin, "t", "viewer", who_am_i=lambda: "root").secret

    def active() -> str:
        with TestClient(create_app(admin)) as client:
            found = client.get("/v1/models", headers={"X-API-Key": key}).json()
        (sha,) = [m["sha256"] for m in found if m["active"]]
        return str(sha)

    # two trained ensembles, none promoted: the API marks the champion (not the newest)
    assert active() == built.sha[1]
    _cli(settings, tmp_path, monkeypatch, "kim")
    listed = runner.invoke(app, ["--lang", "en", "model", "list"])
    assert f"scores with version 1 ({built.sha[1][:12]})" in listed.output, listed.output
    promote(settings, 2, who_am_i=lambda: "park", clock=lambda: NOW)
    assert active() == built.sha[2]
    listed = runner.invoke(app, ["--lang", "ko", "model", "list"])
    assert f"버전 2({built.sha[2][:12]})" in listed.output, listed.output
    rollback(settings, who_am_i=lambda: "lee", clock=lambda: NOW + dt.timedelta(hours=1))
    assert active() == built.sha[1]
    with Store.open(settings) as store:
        history = store.champions.history()
        trail = store.audit.entries(actions=("model_promote", "model_rollback"))
    assert [(c.model_version, c.action, c.actor) for c in history] == [
        (1, "train", "kim"),
        (2, "promote", "park"),
        (1, "rollback", "lee"),
    ]
    # written at the moment of the trail entry
    assert [c.at for c in history[1:]] == [e.at for e in trail]


def test_run_shadow_and_model_compare_in_both_languages(
    built: Built,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = _copy(built, tmp_path)
    _cli(settings, tmp_path, monkeypatch, "kim")
    none = runner.invoke(app, ["--lang", "en", "model", "compare"])
    assert none.exit_code == 0 and "no shadow-scored run yet" in none.output, none.output
    ran = runner.invoke(app, ["--lang", "ko", "run", "--shadow"])
    assert ran.exit_code == 0, ran.output
    assert "그림자 채점: 도전자 모델 버전 2" in ran.output
    ko = runner.invoke(app, ["--lang", "ko", "model", "compare"])
    assert ko.exit_code == 0, ko.output
    assert "champion 대 도전자" in ko.output and "전체" in ko.output
    en = runner.invoke(app, ["--lang", "en", "model", "compare", "--runs", "1"])
    assert en.exit_code == 0 and "Champion vs challenger" in en.output, en.output
    as_json = runner.invoke(app, ["--lang", "en", "model", "compare", "--json"])
    figures = json.loads(as_json.output)
    assert len(figures["runs"]) == 1 and figures["overall"]["users"] == figures["runs"][0]["users"]
    assert figures["runs"][0]["challenger_version"] == 2
