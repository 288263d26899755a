"""Read-model latency on a large store: ``user_risk`` (the API's hot path), ``user_history``,
``top_risks`` and ``kpis`` over >= 1M score rows, on SQLite and PostgreSQL, with the query
plan of ``user_risk``. Prints figures, not a test (the goal: user_risk p99 < 20 ms).

    .venv/bin/python bench/bench_views.py [--rows 1000000] [--backend sqlite|postgresql|both]

PostgreSQL: a throw-away database on AUDITLENS_TEST_PG_URL's server (default the local
test server), dropped afterwards. ``fill_scores`` is reusable (bench/bench_api.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, insert, text

from auditlens.config import Settings
from auditlens.store.db import score_runs, scores
from auditlens.store.models import ModelRecord
from auditlens.store.repo import Store
from auditlens.views import Page, RiskFilters, kpis, top_risks, user_history, user_risk

PG_ADMIN = os.environ.get(
    "AUDITLENS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
T0 = dt.datetime(2026, 9, 8, 1, tzinfo=dt.UTC)
FIRST_DAY = dt.date(2026, 1, 1)
SHA = "e" * 64
REASONS = json.dumps(
    [
        {
            "feature": "delete_count",
            "value": 14.0,
            "own_average": 1.0,
            "peer_average": 2.0,
            "contribution": 0.4,
            "ko": "삭제 건수 14건 (본인 평균 1건, 동료 그룹 평균 2건)",
            "en": "deletions 14 (own average 1, peer-group average 2)",
        }
    ],
    ensure_ascii=False,
)


def fill_scores(store: Store, rows: int, *, days: int = 200, run_days: int = 20) -> list[str]:
    """Store ``rows`` score rows: rows/days users x ``days`` days, one run per
    ``run_days`` days (as incremental runs store them); return the user ids."""
    store.models.register(
        ModelRecord(SHA, "unsupervised", "/m.joblib", ["delete_count"], {}, 1, None, "c", T0)
    )
    users = [f"U{i:06d}" for i in range(max(1, rows // days))]
    rng = random.Random(7)
    with store.engine.begin() as conn:
        for start in range(0, days, run_days):
            run = {
                "started_at": T0, "finished_at": T0, "model_sha256": SHA, "config_hash": "c",
                "data_batch_id": 1, "events": 0, "windows": 0, "reason_method": "surprise",
                "capacity": 20, "capacity_cutoff": None, "alerts_state": "raised",
            }  # fmt: skip
            run_id = conn.execute(insert(score_runs).values(**run)).inserted_primary_key[0]  # type: ignore[index]
            chunk = []
            for offset in range(start, min(start + run_days, days)):
                day = FIRST_DAY + dt.timedelta(days=offset)
                for user in users:
                    risk = min(100.0, rng.expovariate(1 / 15))
                    chunk.append(_row(run_id, user, day, risk))
            for i in range(0, len(chunk), 50_000):
                conn.execute(insert(scores), chunk[i : i + 50_000])
    with store.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return users


def _row(run_id: int, user: str, day: dt.date, risk: float) -> dict[str, object]:
    severity = (
        "critical" if risk >= 90 else "high" if risk >= 70 else "medium" if risk >= 50 else "low"
    )
    return {
        "run_id": run_id, "user_id": user, "window": day, "raw_score": 0.1, "surprise": 1.0,
        "risk": risk, "decayed_risk": risk, "severity": severity,
        "reasons": REASONS if risk >= 50 else "[]", "feature_hash": "f" * 64,
        "model_sha256": SHA, "config_hash": "c", "data_batch_id": 1,
    }  # fmt: skip


def _times(call: Callable[[], object], n: int) -> tuple[float, float]:
    spent = []
    for _ in range(n):
        began = time.perf_counter()
        call()
        spent.append((time.perf_counter() - began) * 1000)
    cuts = statistics.quantiles(spent, n=100)
    return cuts[49], cuts[98]


def _plan(store: Store) -> str:
    query = (
        "SELECT * FROM scores WHERE user_id = 'U000001' "
        'ORDER BY "window" DESC, run_id DESC LIMIT 1'
    )
    prefix = "EXPLAIN QUERY PLAN " if store.engine.dialect.name == "sqlite" else "EXPLAIN "
    with store.engine.connect() as conn:
        return " | ".join(str(r[-1]) for r in conn.execute(text(prefix + query)))


def bench(store: Store, rows: int) -> None:
    """Fill ``store`` and print the figures."""
    began = time.perf_counter()
    users = fill_scores(store, rows)
    spent = time.perf_counter() - began
    print(f"  filled {rows:,} score rows ({len(users):,} users) in {spent:.0f} s")
    print(f"  user_risk plan: {_plan(store)}")
    rng = random.Random(1)
    pick = lambda: rng.choice(users)  # noqa: E731
    p50, p99 = _times(lambda: user_risk(store, pick()), 2_000)
    print(f"  user_risk        p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  (goal p99 < 20 ms)")
    month = (dt.date(2026, 6, 1), dt.date(2026, 6, 30))
    p50, p99 = _times(lambda: user_history(store, pick(), *month), 500)
    print(f"  user_history 30d p50 {p50:6.2f} ms  p99 {p99:6.2f} ms")
    week = RiskFilters(start=dt.date(2026, 6, 1), end=dt.date(2026, 6, 7))
    p50, p99 = _times(lambda: top_risks(store, week, Page(limit=50)), 5)
    print(f"  top_risks 7 days p50 {p50:6.0f} ms  p99 {p99:6.0f} ms")
    p50, p99 = _times(lambda: kpis(store, dt.date(2026, 9, 1), dt.date(2026, 9, 30)), 5)
    print(f"  kpis (no alerts) p50 {p50:6.1f} ms")


@contextmanager
def _database(backend: str, tmp: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    name = f"auditlens_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        print(backend)
        with tempfile.TemporaryDirectory() as tmp, _database(backend, Path(tmp)) as url:
            settings = Settings(store_url=url, data_dir=Path(tmp) / "var")  # type: ignore[arg-type]
            with Store.open(settings, migrate=True) as store:
                bench(store, args.rows)


if __name__ == "__main__":
    main()
