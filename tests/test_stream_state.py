"""The streaming run's online features equal the batch features of a completed day, and
the River detector learns from every update (pipeline/stream_state.py, detect/online.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from auditlens.config import Settings
from auditlens.detect.online import OnlineDetector
from auditlens.features.base import KEYS, WINDOW
from auditlens.features.matrix import HISTORY_DAYS
from auditlens.fitted import FittedPipeline
from auditlens.pipeline import ingest
from auditlens.pipeline.detection import feature_context
from auditlens.pipeline.run import run
from auditlens.pipeline.stream_state import DayState, Update, local_windows
from auditlens.schema import EVENT_COLUMNS, TIMESTAMP
from auditlens.sources.files import FileSource
from auditlens.sources.synthetic import GeneratorSpec, generate
from auditlens.store.repo import Store


def _file(tmp: Path, name: str, frame: pl.DataFrame) -> FileSource:
    path = tmp / f"{name}.parquet"
    frame.write_parquet(path)
    return FileSource(path, settle_seconds=0)


@pytest.fixture
def streamed(tmp_path: Path) -> tuple[Settings, list[Update], pl.DataFrame, dt.date]:
    """Days before the last three ingested and a model fitted; the last three streamed
    in micro-batches. Returns the closing updates' lake (the events the batch sees)."""
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'store.db'}",  # type: ignore[arg-type]
        data_dir=tmp_path / "var",
        profile_days=28,
        min_history_days=2,
    )
    events = generate(GeneratorSpec(users=25, days=10, seed=3)).events
    day = events.with_columns(local_windows(pl.col(TIMESTAMP), settings.timezone).alias(WINDOW))
    days = day.get_column(WINDOW).unique().sort().to_list()
    before, live = day.filter(pl.col(WINDOW) < days[-3]), day.filter(pl.col(WINDOW) >= days[-3])
    updates: list[Update] = []
    seen: list[pl.DataFrame] = []
    with Store.open(settings, migrate=True) as store:
        ingest(_file(tmp_path, "before", before.drop(WINDOW)), settings, store=store)
    run(settings, alerts=False)
    with Store.open(settings) as store:
        record = store.models.in_force()
        assert record is not None
        model = FittedPipeline.load(Path(record.path), record.sha256)
        state = DayState(store, settings, model, feature_context(settings), OnlineDetector(seed=1))
        state.start()
        live = live.sort(TIMESTAMP)

        def on_events(_report: object, events: pl.DataFrame) -> None:
            done = state.update(events)
            for update in done:  # the lake as a day closed: what the batch would see
                if update.closing and days[-2] in update.keys.get_column(WINDOW).to_list():
                    seen.append(store.events.scan().select(EVENT_COLUMNS).collect())
            updates.extend(done)

        for i, chunk in enumerate(live.iter_slices(1_500)):
            ingest(
                _file(tmp_path, f"live{i}", chunk.drop(WINDOW)),
                settings,
                store=store,
                on_events=on_events,
            )
        assert state.loads == 3  # once at start, once per later day: never per batch
    assert len(seen) == 1  # the day streamed whole closed once, as the last day began
    return settings, updates, seen[0], days[-2]


def test_a_completed_day_equals_the_batch_features(
    streamed: tuple[Settings, list[Update], pl.DataFrame, dt.date],
) -> None:
    settings, updates, events, completed = streamed
    closing = [u for u in updates if u.closing]
    assert closing, "a later day started: the completed day must be closed"
    with Store.open(settings) as store:
        record = store.models.in_force()
        assert record is not None
        model = FittedPipeline.load(Path(record.path), record.sha256)
    batch = model.matrix(events, feature_context(settings))
    final = next(u for u in closing if completed in u.keys.get_column(WINDOW).to_list())
    assert completed in final.keys.get_column(WINDOW).to_list()
    keys = final.keys.filter(pl.col(WINDOW) == completed)
    online = final.matrix.frame.join(keys, on=list(KEYS), how="semi").sort(*KEYS)
    expected = batch.frame.filter(pl.col(WINDOW) == completed).sort(*KEYS)
    assert online.height == expected.height > 10
    assert online.equals(expected)
    got_days = final.matrix.info.join(keys, on=list(KEYS), how="semi").sort(*KEYS)
    want_days = batch.info.filter(pl.col(WINDOW) == completed).sort(*KEYS)
    assert got_days.get_column(HISTORY_DAYS).equals(want_days.get_column(HISTORY_DAYS))


def test_river_learns_from_every_update(
    streamed: tuple[Settings, list[Update], pl.DataFrame, dt.date],
) -> None:
    _, updates, _, _ = streamed
    live = [u for u in updates if not u.closing]
    learned = [u.learned for u in live]
    assert learned == sorted(learned) and learned[-1] > learned[0]
    assert all(((u.online >= 0) & (u.online <= 1)).all() for u in live)


def test_the_online_score_changes_as_it_learns() -> None:
    rng = np.random.default_rng(0)
    normal = pl.DataFrame(
        {"user_id": ["u"] * 600, "window": [dt.date(2026, 9, 1)] * 600}
    ).with_columns(
        pl.Series("logins", rng.normal(5, 1, 600)), pl.Series("deletes", rng.normal(1, 0.3, 600))
    )
    odd = pl.DataFrame(
        {"user_id": ["x"], "window": [dt.date(2026, 9, 2)], "logins": [40.0], "deletes": [25.0]}
    )
    detector = OnlineDetector(seed=2, window_size=100)
    first = detector.score(odd)[0]
    detector.learn(normal)
    after = detector.score(odd)[0]
    typical = detector.score(normal.head(50)).mean()
    assert first != after
    assert after > typical  # the unusual row stands out once normal rows are learned
    before = detector.learned_
    detector.score_learn(odd)
    assert detector.learned_ == before + 1


def test_river_is_rebuilt_the_same_on_restart(
    streamed: tuple[Settings, list[Update], pl.DataFrame, dt.date],
) -> None:
    settings, updates, _, _ = streamed
    rows = updates[-1].matrix.frame.join(updates[-1].keys, on=list(KEYS), how="semi")
    scores = []
    with Store.open(settings) as store:
        record = store.models.in_force()
        assert record is not None
        model = FittedPipeline.load(Path(record.path), record.sha256)
        for _ in range(2):  # two restarts on the same stored events
            online = OnlineDetector(seed=1)
            DayState(store, settings, model, feature_context(settings), online).start()
            assert online.learned_ > 0  # warmed on the loaded days' windows
            scores.append(online.score(rows.select(*KEYS, *model.feature_columns)))
    assert np.array_equal(scores[0], scores[1])
