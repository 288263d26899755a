"""Miss-rate sampling: the run's draw (off by default, only unflagged users, replayable
from the trail's seed) and verdicts (once, by an analyst, each a trail entry)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from auditlens.config import Settings
from auditlens.identity import Directory, IdentityError
from auditlens.monitor.review import (
    ReviewConflict,
    ReviewError,
    decide_sample,
    draw,
    population_digest,
    record_draw,
)
from auditlens.pipeline import ingest, run
from auditlens.sources.files import FileSource
from auditlens.sources.synthetic import GeneratorSpec, generate, write_sample
from auditlens.store.db import alerts as alerts_table
from auditlens.store.repo import Store
from auditlens.store.reviews import ReviewNotFound
from tests.alerts.conftest import T0
from tests.views.conftest import SHA_A, model, open_alert, scores

PEOPLE = Directory({"kim": ["analyst"], "lee": ["analyst"], "vee": ["viewer"], "ann": ["approver"]})
DAY = dt.date(2026, 9, 7)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """A migrated, empty store (SQLite and PostgreSQL)."""
    with Store.open(settings, migrate=True) as opened:
        yield opened


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    data = generate(GeneratorSpec(users=60, days=10, seed=11, insider_rate=0.05))
    write_sample(data, out)
    data.events.write_parquet(out / "events.parquet")
    return out


def _run(settings: Settings, sample: Path, review_sample: int) -> tuple[Settings, int]:
    settings = settings.model_copy(
        update={
            "resource_catalog": sample / "resource_catalog.csv",
            "peer_directory": sample / "directory.csv",
            "monitoring": settings.monitoring.model_copy(update={"review_sample": review_sample}),
            "review_capacity": 10,
        }
    )
    with Store.open(settings, migrate=True) as store:
        ingest(FileSource(sample / "events.parquet", name="events"), settings, store=store)
    report = run(settings, alerts=False)
    assert report.run_id is not None
    return settings, report.run_id


def test_sampling_is_off_by_default(sqlite_settings: Settings, sample: Path) -> None:
    assert Settings().monitoring.review_sample == 0
    settings, _ = _run(sqlite_settings, sample, 0)
    with Store.open(settings) as store:
        assert store.reviews.counts() == {"pending": 0, "missed": 0, "clean": 0}
        assert not store.audit.entries(actions=("review_draw",))


def test_a_run_draws_unflagged_users_and_the_trail_replays_the_draw(
    settings: Settings, sample: Path
) -> None:
    settings, run_id = _run(settings, sample, 5)
    with Store.open(settings) as store:
        found, total = store.reviews.listing()
        (entry,) = store.audit.entries(actions=("review_draw",))
        rows = store.scores.of_run(run_id)
        last = store.scores.run(run_id)
    assert last is not None and last.capacity_cutoff is not None
    assert total == 5 and {s.status for s in found} == {"pending"}
    # every run user's peak, and the capacity cut as the run made it
    peaks = rows.group_by("user_id").agg(pl.col("decayed_risk").max().alias("risk"))
    ranked = peaks.sort("risk", "user_id", descending=[True, False])
    flagged = set(ranked.head(10)["user_id"])
    population = sorted(set(peaks["user_id"]) - flagged)
    assert {s.user_id for s in found} <= set(population)
    assert not {s.user_id for s in found} & flagged
    assert {s.population for s in found} == {len(population)} == {peaks.height - 10}
    for s in found:  # the stored row is the user's peak in that run
        assert s.run_id == run_id and s.risk == pytest.approx(
            peaks.filter(pl.col("user_id") == s.user_id)["risk"][0]
        )
    c = entry.criteria
    assert (entry.actor, entry.target) == ("auditlens", f"run:{run_id}")
    assert (c["requested"], c["drawn"], c["population"]) == (5, 5, len(population))
    assert c["population_sha256"] == population_digest(population)
    assert sorted(c["samples"]) == sorted(s.id for s in found)
    # an auditor rebuilds the population and replays the draw with the recorded seed
    assert set(draw(population, 5, c["seed"])) == {s.user_id for s in found}


def _small_run(store: Store, users: list[str]) -> tuple[int, pl.DataFrame]:
    model(store, SHA_A)
    run_id = scores(store, [(u, DAY, 10.0 + i, "low", []) for i, u in enumerate(users)])
    peaks = pl.DataFrame({"user_id": users, "peak_window": [DAY] * len(users)})
    return run_id, peaks


def test_users_with_an_open_alert_are_not_drawn_and_n_may_exceed_them(store: Store) -> None:
    users = [f"U{i}" for i in range(8)]
    run_id, peaks = _small_run(store, users)
    open_alert(store, T0, user="U1")  # open: flagged already
    closed = open_alert(store, T0, user="U2")
    with store.engine.begin() as conn:  # a closed alert does not hold the user
        conn.execute(
            alerts_table.update().where(alerts_table.c.id == closed).values(status="closed")
        )
    flagged = pl.DataFrame({"user_id": ["U0", "U7"]})
    made = record_draw(store, run_id, peaks, peaks, flagged, 50, now=T0, seed=3)
    assert made is not None
    assert sorted(made.users) == ["U2", "U3", "U4", "U5", "U6"]  # every unflagged user
    assert made.population == 5 and made.entry.criteria["drawn"] == 5
    assert made.entry.criteria["requested"] == 50
    assert record_draw(store, run_id, peaks, peaks, flagged, 0, now=T0) is None


def test_the_same_seed_draws_the_same_users() -> None:
    people = [f"U{i:03d}" for i in range(500)]
    first = draw(people, 10, seed=12345)
    assert first == draw(list(reversed(people)), 10, seed=12345)
    assert first != draw(people, 10, seed=12346)
    assert len(set(first)) == 10


def _pending(store: Store, n: int = 3) -> list[int]:
    users = [f"U{i}" for i in range(n)]
    run_id, peaks = _small_run(store, users)
    made = record_draw(store, run_id, peaks, peaks, peaks.clear(), n, now=T0, seed=1)
    assert made is not None
    return list(made.sample_ids)


def test_a_verdict_is_recorded_once_with_its_principal(store: Store) -> None:
    first, *_ = _pending(store)
    done = decide_sample(
        store, first, "missed", by=PEOPLE.acting("kim"), reason="suspected_violation",
        note="copied the customer list", now=T0,
    )  # fmt: skip
    assert (done.sample.status, done.sample.decided_by) == ("missed", "kim")
    assert done.sample.reason_code == "suspected_violation"
    e = done.entry
    assert (e.actor, e.action, e.target, e.subject) == (
        "kim",
        "review_verdict",
        f"review:{first}",
        done.sample.user_id,
    )
    assert e.criteria["verdict"] == "missed" and e.criteria["population"] == 3
    with pytest.raises(ReviewConflict, match="already decided"):
        decide_sample(store, first, "clean", by=PEOPLE.acting("lee"), reason="explained", now=T0)
    assert store.reviews.get(first).status == "missed"
    assert len(store.audit.entries(actions=("review_verdict",))) == 1
    assert store.audit.verify().ok


def test_verdicts_need_an_analyst_a_verdict_and_a_reason(store: Store) -> None:
    first, *_ = _pending(store)
    for who in ("vee", "ann"):
        with pytest.raises(IdentityError, match="analyst"):
            decide_sample(store, first, "clean", by=PEOPLE.acting(who), reason="explained", now=T0)
    with pytest.raises(ReviewError, match="verdict"):
        decide_sample(store, first, "fine", by=PEOPLE.acting("kim"), reason="explained", now=T0)
    with pytest.raises(ReviewError, match="not one of"):
        decide_sample(store, first, "clean", by=PEOPLE.acting("kim"), reason="meh", now=T0)
    with pytest.raises(ReviewError, match="needs a note"):
        decide_sample(store, first, "clean", by=PEOPLE.acting("kim"), reason="other", now=T0)
    with pytest.raises(ReviewNotFound):
        decide_sample(store, 999, "clean", by=PEOPLE.acting("kim"), reason="explained", now=T0)
    assert store.reviews.get(first).status == "pending"
    assert not store.audit.entries(actions=("review_verdict",))


def test_two_reviewers_at_once_one_verdict(store: Store) -> None:
    ids = _pending(store, 4)
    for sample_id in ids:
        barrier = threading.Barrier(2)
        outcomes: dict[str, str] = {}

        def decide(
            who: str,
            verdict: str,
            sample_id: int = sample_id,
            barrier: threading.Barrier = barrier,
            outcomes: dict[str, str] = outcomes,
        ) -> None:
            barrier.wait()
            try:
                decide_sample(
                    store, sample_id, verdict, by=PEOPLE.acting(who), reason="explained", now=T0
                )
                outcomes[who] = "ok"
            except ReviewConflict:
                outcomes[who] = "conflict"

        threads = [
            threading.Thread(target=decide, args=("kim", "missed")),
            threading.Thread(target=decide, args=("lee", "clean")),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes.values()) == ["conflict", "ok"], outcomes
        winner = next(w for w, o in outcomes.items() if o == "ok")
        assert store.reviews.get(sample_id).decided_by == winner
    entries = store.audit.entries(actions=("review_verdict",))
    assert len(entries) == len(ids)
    assert store.audit.verify().ok
