"""The API's hot path (user_risk) is an index seek with no sort, on SQLite and PostgreSQL
(timings: bench/bench_views.py; no timed assertions here)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from auditlens.store.repo import Store
from auditlens.views.risk import latest_score_query
from tests.views.conftest import model, scores


def _plan(store: Store, user_id: str) -> str:
    dialect = store.engine.dialect
    sql = str(
        latest_score_query(user_id).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    )
    prefix = "EXPLAIN QUERY PLAN " if dialect.name == "sqlite" else "EXPLAIN "
    with store.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
        return "\n".join(str(r[-1]) for r in conn.execute(text(prefix + sql)))


def test_the_latest_score_of_a_user_is_one_index_seek(store: Store) -> None:
    model(store, "a" * 64)
    days = [dt.date(2026, 9, 1) + dt.timedelta(days=d) for d in range(25)]
    for run_days in (days[:12], days[12:]):
        scores(store, [(f"U{u:03d}", day, 10.0, "low", []) for day in run_days for u in range(200)])
    plan = _plan(store, "U007")
    assert "ix_scores_user_window_run" in plan, plan
    assert "TEMP B-TREE" not in plan.upper() and "Sort" not in plan, plan  # no sort step
    assert "SCAN scores" not in plan and "Seq Scan on scores" not in plan, plan
