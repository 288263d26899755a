"""Overview render time on a large store: the dashboard's Overview page over >= 1M score
rows (and a few thousand alerts, some decided), as a logged-in session renders it —
the whole Streamlit script run (login, every read-model call, every chart and table),
through ``streamlit.testing.v1.AppTest``. Prints figures; the goal (issue 14) is < 2 s.
Not a test: the machine is shared and noisy.

    .venv/bin/python bench/bench_dashboard.py [--rows 1000000] [--alerts 3000]
        [--backend sqlite|postgresql|both]

Scores are filled by ``bench_views.fill_scores`` (200 days from 2026-01-01, 20 days a
run); the Overview is timed over the data's last 30 days, against the 30 before.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import insert, select

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "bench")]

from auditlens.alerts.triage import TriagePolicy, decide  # noqa: E402
from auditlens.config import Settings  # noqa: E402
from auditlens.identity import Directory  # noqa: E402
from auditlens.store.db import alerts, scores  # noqa: E402
from auditlens.store.repo import Store  # noqa: E402
from auditlens.views import (  # noqa: E402
    AlertScope,
    Page,
    RiskFilters,
    activity,
    alert_trend,
    coverage,
    kpis,
    top_risks,
)
from auditlens.views.common import utc  # noqa: E402
from bench_views import FIRST_DAY, SHA, _database, fill_scores  # noqa: E402

DAYS = 200
END = FIRST_DAY + dt.timedelta(days=DAYS - 1)
START = END - dt.timedelta(days=29)
DEPARTMENTS = ("sales", "it", "finance", "hr", "risk", "trading", "marketing")
SCENARIOS = ("delete_count", "usb_connect_count", "off_hours_login_ratio", "bulk_action_count")
ENTRY = "from auditlens.dashboard.app import main\n\nmain()\n"


def fill_alerts(store: Store, n: int, decided: int) -> None:
    """``n`` alerts on the riskiest scores of the last 60 days; ``decided`` of them
    acknowledged and then closed or dismissed through triage (the trail records it)."""
    rng = random.Random(3)
    since = END - dt.timedelta(days=59)
    with store.engine.connect() as conn:
        picked = conn.execute(
            select(scores.c.id, scores.c.user_id, scores.c.window, scores.c.decayed_risk)
            .where(scores.c.window >= since)
            .order_by(scores.c.decayed_risk.desc())
            .limit(n)
        ).all()
    rows = []
    for score_id, user, day, risk in picked:
        opened = dt.datetime.combine(day, dt.time(1), tzinfo=dt.UTC)
        severity = "critical" if risk >= 90 else "high" if risk >= 70 else "medium"
        rows.append({
            "dedup_key": f"{user}:{day}", "user_id": user, "department": rng.choice(DEPARTMENTS),
            "window": day, "score_id": score_id, "run_id": 1, "risk": risk, "severity": severity,
            "scenario": rng.choice(SCENARIOS), "reasons": "[]", "model_sha256": SHA,
            "status": "open", "created_at": opened, "updated_at": opened,
            "windows": json.dumps([day.isoformat()]),
        })  # fmt: skip
    with store.engine.begin() as conn:
        conn.execute(insert(alerts), rows)
    who = Directory({"kim": ["analyst"], "lee": ["analyst", "approver"]})
    policy = TriagePolicy(four_eyes=frozenset())
    with store.engine.connect() as conn:
        ids = conn.execute(select(alerts.c.id, alerts.c.created_at).limit(decided)).all()
    for alert_id, opened in ids:
        at = utc(opened) + dt.timedelta(hours=1)
        act = who.acting("kim")
        decide(store.engine, alert_id, "acknowledge", by=act, now=at, policy=policy)
        if alert_id % 2:
            decide(store.engine, alert_id, "close", by=act, reason="confirmed",
                   now=at + dt.timedelta(hours=rng.randint(1, 30)), policy=policy)  # fmt: skip
        else:
            decide(store.engine, alert_id, "dismiss", by=act, reason="false_positive",
                   now=at + dt.timedelta(hours=rng.randint(1, 30)), policy=policy)  # fmt: skip


def _ms(call: Callable[[], object]) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


def breakdown(store: Store) -> None:
    """Each read-model call of one Overview render, timed alone."""
    earlier = (START - dt.timedelta(days=30), START - dt.timedelta(days=1))
    period = RiskFilters(start=START, end=END)
    calls: dict[str, Callable[[], object]] = {
        "kpis (filter choices)": lambda: kpis(store, START, END),
        "kpis x2 (period, previous)": lambda: (kpis(store, START, END), kpis(store, *earlier)),
        "activity, coverage (previous)": lambda: (
            activity(store, START, END),
            coverage(store, *earlier),
        ),
        "alert_trend": lambda: alert_trend(store, START, END, scope=AlertScope()),
        "top_risks (20)": lambda: top_risks(store, period, Page(limit=20)),
    }
    for name, call in calls.items():
        print(f"    {name:28s} {_ms(call):7.0f} ms")


def render_times(settings: Settings, key: str, tmp: Path, runs: int) -> list[float]:
    """Seconds of each Overview run (a logged-in session, the period already chosen)."""
    from streamlit.testing.v1 import AppTest

    config = tmp / "auditlens.toml"
    config.write_text(
        f'store_url = "{settings.store_url.get_secret_value()}"\ndata_dir = "{settings.data_dir}"\n'
    )
    os.environ["AUDITLENS_CONFIG"] = str(config)
    entry = tmp / "entry.py"  # not beside dashboard/pages/ (tests/dashboard/entry.py says why)
    entry.write_text(ENTRY)
    at = AppTest.from_file(str(entry), default_timeout=120)
    at.session_state["api_key"] = key
    at.session_state["lang"] = "ko"
    at.run()  # the first run: imports, login
    began = time.perf_counter()
    at.date_input(key="overview_period").set_value((START, END)).run()
    spent = [time.perf_counter() - began]
    assert not at.exception, at.exception
    for _ in range(runs - 1):
        began = time.perf_counter()
        at.run()
        spent.append(time.perf_counter() - began)
    assert len(at.metric) == 11 and at.metric[2].value != "0건", [m.value for m in at.metric]
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--alerts", type=int, default=3_000)
    parser.add_argument("--decided", type=int, default=600)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for backend in backends:
        print(backend)
        with tempfile.TemporaryDirectory() as tmp, _database(backend, Path(tmp)) as url:
            settings = Settings(store_url=url, data_dir=Path(tmp) / "var")  # type: ignore[arg-type]
            with Store.open(settings, migrate=True) as store:
                began = time.perf_counter()
                users = fill_scores(store, args.rows, days=DAYS)
                fill_alerts(store, args.alerts, args.decided)
                key = store.keys.create("bench", "viewer", created_by="bench",
                                        now=dt.datetime.now(dt.UTC)).secret  # fmt: skip
                print(f"  filled {args.rows:,} score rows ({len(users):,} users), "
                      f"{args.alerts:,} alerts ({args.decided:,} decided) "
                      f"in {time.perf_counter() - began:.0f} s")  # fmt: skip
                print(f"  read model, one Overview's calls ({START} to {END}):")
                breakdown(store)
            spent = render_times(settings, key, Path(tmp), args.runs)
            middle = statistics.median(spent)
            print(f"  Overview render: first {spent[0]:.2f} s, median {middle:.2f} s, "
                  f"max {max(spent):.2f} s over {len(spent)} runs (goal < 2 s)")  # fmt: skip


if __name__ == "__main__":
    main()
