"""The stream's online (River) scores: stored beside a run, read back per run and user
(SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from auditlens.config import Settings
from auditlens.store.repo import Store
from tests.store.test_repositories import _model, _rows
from tests.store.test_repositories import _run as _run_record


def _run(store: Store) -> int:
    sha = "a" * 64
    store.models.register(_model(sha))
    return store.scores.commit_run(_run_record(sha), _rows(sha))


def test_online_scores_round_trip(settings: Settings) -> None:
    with Store.open(settings, migrate=True) as store:
        run_id = _run(store)
        rows = pl.DataFrame(
            {
                "user_id": ["kim", "lee"],
                "window": [dt.date(2026, 9, 7), dt.date(2026, 9, 8)],
                "score": [0.91, 0.12],
                "learned": [5000, 5001],
                "closing": [1, 0],
                "reasons": ['[{"feature": "delete_count"}]', "[]"],
            }
        )
        assert store.online.add(run_id, rows) == 2
        assert store.online.add(run_id, rows.clear()) == 0
        back = store.online.of_run(run_id)
        assert back["user_id"].to_list() == ["kim", "lee"]
        assert back["score"].to_list() == [0.91, 0.12]
        assert back["closing"].to_list() == [1, 0]
        kim = store.online.of_user("kim")
        assert kim.height == 1 and kim["learned"].item() == 5000
        assert kim["window"].item() == dt.date(2026, 9, 7)
