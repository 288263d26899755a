"""The typed repositories reached from the Store: own transactions or the caller's."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import polars as pl
import pytest

from auditlens.config import Settings
from auditlens.store.models import ModelRecord
from auditlens.store.repo import Store
from auditlens.store.scores import SCORE_COLUMNS, RunRecord, ScoreRun

T0 = dt.datetime(2026, 9, 1, 8, tzinfo=dt.UTC)


def _model(sha: str) -> ModelRecord:
    return ModelRecord(
        sha256=sha,
        kind="ensemble",
        path=f"/models/{sha}.joblib",
        feature_columns=["a", "b"],
        params={"seed": 7},
        n_train=10,
        data_batch_id=None,
        config_hash="c" * 64,
        created_at=T0,
    )


def _run(sha: str) -> RunRecord:
    return RunRecord(
        started_at=T0,
        finished_at=T0 + dt.timedelta(minutes=1),
        model_sha256=sha,
        config_hash="c" * 64,
        data_batch_id=3,
        events=100,
        windows=1,
        reason_method="shap",
        capacity=5,
        capacity_cutoff=None,
    )


def _rows(sha: str) -> pl.DataFrame:
    row = {
        "user_id": "U1",
        "window": dt.date(2026, 9, 1),
        "raw_score": 0.5,
        "surprise": 1.0,
        "risk": 80.0,
        "decayed_risk": 80.0,
        "severity": "high",
        "reasons": "[]",
        "feature_hash": "f" * 64,
        "model_sha256": sha,
        "config_hash": "c" * 64,
        "data_batch_id": 3,
    }
    return pl.DataFrame([row]).select(SCORE_COLUMNS)


def test_the_store_closes_when_its_block_ends_even_on_error(settings: Settings) -> None:
    closed: list[bool] = []
    with pytest.raises(RuntimeError, match="boom"), Store.open(settings, migrate=True) as store:
        real = store.close
        store.close = lambda: (closed.append(True), real())[-1]  # type: ignore[method-assign]
        raise RuntimeError("boom")
    assert closed == [True]


def test_a_repository_within_a_transaction_commits_and_rolls_back_with_it(
    settings: Settings,
) -> None:
    sha = "a" * 64
    with Store.open(settings, migrate=True) as store:
        with pytest.raises(RuntimeError, match="undo"), store.engine.begin() as conn:
            store.models.within(conn).register(_model(sha))
            store.scores.within(conn).commit_run(_run(sha), _rows(sha))
            raise RuntimeError("undo")
        assert store.models.by_sha(sha) is None and store.scores.last_run() is None

        with store.engine.begin() as conn:
            store.models.within(conn).register(_model(sha))
            run_id = store.scores.within(conn).commit_run(_run(sha), _rows(sha))
        last = store.scores.last_run()
        assert isinstance(last, ScoreRun) and last == store.scores.run(run_id)
        assert (last.id, last.model_sha256, last.data_batch_id) == (run_id, sha, 3)
        assert last.started_at == T0 and last.alerts_state == "pending"
        assert store.scores.pending_runs() == [run_id]
        assert store.scores.of_run(run_id).get_column("user_id").to_list() == ["U1"]


def test_a_repository_on_the_engine_commits_each_call(settings: Settings) -> None:
    sha = "b" * 64
    with Store.open(settings, migrate=True) as store:
        store.models.register(_model(sha))
        store.models.register(_model(sha))  # idempotent for the same sha256
        found = store.models.latest("ensemble")
        assert found is not None and found.sha256 == sha and found.params == {"seed": 7}
        run_id = store.scores.commit_run(_run(sha), _rows(sha))
        store.scores.mark_alerts_raised(run_id, T0)
        raised = store.scores.run(run_id)
        assert raised is not None and raised.alerts_state == "raised"
        assert raised.alerts_raised_at == T0 and store.scores.pending_runs() == []
    with Store.open(settings) as again:
        assert again.scores.last_run() == raised


def test_a_model_registered_again_is_the_newest_with_its_new_params(settings: Settings) -> None:
    """A refit on the same data gives the same bytes, so the same sha256: registering it
    again makes it the newest of its kind, with what the new registration says (here:
    the ensemble it replaces), so the model in force is the one just fitted."""
    plain = [replace(_model(c * 64), kind="unsupervised") for c in "de"]
    ensemble = _model("f" * 64)
    with Store.open(settings, migrate=True) as store:
        for record in (*plain, ensemble):
            store.models.register(record)
        assert store.models.in_force().sha256 == ensemble.sha256  # type: ignore[union-attr]
        again = replace(
            plain[0], params={"replaces": ensemble.sha256}, data_batch_id=4, path="/elsewhere"
        )
        store.models.register(again)  # the bytes of the first model, fitted again
        found = store.models.in_force()
        assert found is not None and found.sha256 == plain[0].sha256
        assert found.params == {"replaces": ensemble.sha256} and found.data_batch_id == 4
        assert found.path == plain[0].path  # the row and its file kept
        assert [m.sha256 for m in store.models.all()] == [
            plain[0].sha256, ensemble.sha256, plain[1].sha256,
        ]  # fmt: skip
        assert len(store.models.all()) == 3
