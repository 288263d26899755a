"""The streaming run's online features equal the batch features of a completed day, and
the River detector learns from every update (pipeline/stream_state.py, detect/online.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from auditlens.config import Settings
from auditlens.detect.online import OnlineDetector
from auditlens.features.base import KEYS, WINDOW
from auditlens.features.matrix import HISTORY_DAYS
from auditlens.fitted import FittedPipeline
from auditlens.pipeline import ingest, stream_state
from auditlens.pipeline.detection import feature_context
from auditlens.pipeline.run import run
from auditlens.pipeline.stream_state import DayState, Update, local_windows
from auditlens.schema import EVENT_COLUMNS, TIMESTAMP, departments_of_counts, user_departments
from auditlens.sources.files import FileSource
from auditlens.sources.synthetic import GeneratorSpec, generate
from auditlens.store.repo import Store


def _file(tmp: Path, name: str, frame: pl.DataFrame) -> FileSource:
    path = tmp / f"{name}.parquet"
    frame.write_parquet(path)
    return FileSource(path, settle_seconds=0)


def _started(store: Store, settings: Settings) -> DayState:
    """The stream's state over ``store`` with the model in force, started."""
    record = store.models.in_force()
    assert record is not None
    model = FittedPipeline.load(Path(record.path), record.sha256)
    state = DayState(store, settings, model, feature_context(settings), OnlineDetector(seed=1))
    state.start()
    return state


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
        state = _started(store, settings)
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
    assert_frame_equal(online, expected, check_exact=True)
    got = final.matrix.info.join(keys, on=list(KEYS), how="semi").sort(*KEYS)
    want = batch.info.filter(pl.col(WINDOW) == completed).sort(*KEYS)
    assert_frame_equal(got.select(want.columns), want, check_exact=True)  # reasons' figures
    assert got.get_column(HISTORY_DAYS).equals(want.get_column(HISTORY_DAYS))


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


def _settings(tmp: Path) -> Settings:
    return Settings(
        store_url=f"sqlite:///{tmp / 'store.db'}",  # type: ignore[arg-type]
        data_dir=tmp / "var",
        profile_days=28,
        min_history_days=2,
    )


def _days(settings: Settings) -> tuple[pl.DataFrame, list[dt.date]]:
    events = generate(GeneratorSpec(users=25, days=10, seed=3)).events
    day = events.with_columns(local_windows(pl.col(TIMESTAMP), settings.timezone).alias(WINDOW))
    return day, day.get_column(WINDOW).unique().sort().to_list()


def _state(store: Store, settings: Settings, sha: bool = True) -> DayState:
    record = store.models.in_force()
    assert record is not None
    model = FittedPipeline.load(Path(record.path), record.sha256)
    ctx = feature_context(settings)
    return DayState(
        store, settings, model, ctx, OnlineDetector(seed=1), record.sha256 if sha else None
    )


def test_a_stored_run_history_gives_the_state_the_lake_gives(tmp_path: Path) -> None:
    """Started from the daily run's history (advanced over the day after it), the state
    equals the one computed from the lake: today's rows, decay carry and peaks."""
    settings = _settings(tmp_path)
    day, days = _days(settings)
    with Store.open(settings, migrate=True) as store:
        ingest(_file(tmp_path, "a", day.filter(pl.col(WINDOW) < days[-4]).drop(WINDOW)),
               settings, store=store)  # fmt: skip
    run(settings, alerts=False)  # fits the model (a fitted model leaves no history)
    with Store.open(settings) as store:
        ingest(_file(tmp_path, "b", day.filter(pl.col(WINDOW) == days[-4]).drop(WINDOW)),
               settings, store=store)  # fmt: skip
    run(settings, alerts=False)  # scores with the stored model: leaves its history
    later = day.filter(pl.col(WINDOW).is_between(days[-3], days[-2])).drop(WINDOW)
    with Store.open(settings) as store:
        ingest(_file(tmp_path, "c", later), settings, store=store)
        stored, lake = _state(store, settings), _state(store, settings, sha=False)
        stored.start(), lake.start()
        assert stored.stored and not lake.stored
        assert stored.day == lake.day == days[-2]
        assert stored.yesterday.last_window == days[-3]
        a, b = stored.close(), lake.close()
        assert a is not None and b is not None and a.matrix.frame.height > 10
        assert_frame_equal(a.matrix.frame, b.matrix.frame, check_exact=True)
        assert_frame_equal(a.matrix.info, b.matrix.info, check_exact=True)
        assert_frame_equal(stored.risk.carry, lake.risk.carry, check_exact=True)
        assert_frame_equal(stored.risk.peaks, lake.risk.peaks, check_exact=True)


def test_late_events_rebuild_the_history_from_the_lake(tmp_path: Path) -> None:
    """A batch of a day before the current one: the days before today are computed again
    from the lake and the late windows' rows equal the batch features."""
    settings = _settings(tmp_path)
    day, days = _days(settings)
    with Store.open(settings, migrate=True) as store:
        ingest(_file(tmp_path, "a", day.filter(pl.col(WINDOW) < days[-1]).drop(WINDOW)),
               settings, store=store)  # fmt: skip
    run(settings, alerts=False)
    late = day.filter(pl.col(WINDOW) == days[-3]).head(200)
    late = late.with_columns((pl.col("event_id") + "-late").alias("event_id")).drop(WINDOW)
    updates: list[Update] = []
    with Store.open(settings) as store:
        state = _state(store, settings)
        state.start()
        assert state.day == days[-2]
        ingest(_file(tmp_path, "late", late), settings, store=store,
               on_events=lambda _r, events: updates.extend(state.update(events)))  # fmt: skip
        assert state.rebuilds == 1 and state.day == days[-2]
        lake = store.events.scan().select(EVENT_COLUMNS).collect()
        model = state.model
    (update,) = updates
    assert days[-3] in update.keys.get_column(WINDOW).to_list()
    batch = model.matrix(lake, feature_context(settings))
    got = update.matrix.frame.join(update.keys, on=list(KEYS), how="semi").sort(*KEYS)
    want = batch.frame.join(update.keys, on=list(KEYS), how="semi").sort(*KEYS)
    assert got.height == update.keys.height > 5
    assert_frame_equal(got, want, check_exact=True)


def test_the_history_is_the_same_whatever_the_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Days advanced one at a time or a week at a time: the same state (memory is one
    chunk's events, the result is not)."""
    settings = _settings(tmp_path)
    day, days = _days(settings)
    with Store.open(settings, migrate=True) as store:
        ingest(_file(tmp_path, "a", day.drop(WINDOW)), settings, store=store)
    run(settings, alerts=False)
    with Store.open(settings) as store:
        week = _state(store, settings, sha=False)
        week.start()
        monkeypatch.setattr(stream_state, "CHUNK_DAYS", 1)
        daily = _state(store, settings, sha=False)
        daily.start()
    assert week.day == daily.day == days[-1]
    a, b = week.close(), daily.close()
    assert a is not None and b is not None
    assert_frame_equal(a.matrix.frame, b.matrix.frame, check_exact=True)
    assert_frame_equal(week.risk.carry, daily.risk.carry, check_exact=True)
    assert_frame_equal(week.risk.peaks, daily.risk.peaks, check_exact=True)
    assert week.online.learned_ == daily.online.learned_ > 0


def test_the_streams_departments_are_the_ones_the_lake_gives(tmp_path: Path) -> None:
    """Alerts name a user's most frequent department over every stored event; the stream
    takes it from its peer history and today's events instead of reading the lake."""
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'store.db'}",  # type: ignore[arg-type]
        data_dir=tmp_path / "var",
        min_history_days=2,
    )
    events = generate(GeneratorSpec(users=20, days=8, seed=4)).events.sort(TIMESTAMP)
    users = events.get_column("user_id").unique().sort().to_list()
    mover, nobody = users[0], users[1]
    row = pl.int_range(pl.len()).over("user_id")
    events = events.with_columns(
        # the mover: every other event in 감사팀 until the last day (one short of a tie),
        # all of them then (the mode flips as the day streams); nobody: no department
        pl.when(pl.col("user_id") == nobody)
        .then(None)
        .when((pl.col("user_id") == mover) & (row % 2 == 1))
        .then(pl.lit("감사팀"))
        .otherwise(pl.col("department"))
        .alias("department")
    )
    window = local_windows(pl.col(TIMESTAMP), settings.timezone)
    last = events.select(window.max()).item()
    before, live = events.filter(window < last), events.filter(window == last)
    live = live.with_columns(
        pl.when(pl.col("user_id") == mover).then(pl.lit("감사팀")).otherwise("department")
        .alias("department")
    )  # fmt: skip
    with Store.open(settings, migrate=True) as store:
        ingest(_file(tmp_path, "before", before), settings, store=store)
    run(settings, alerts=False)
    answers: list[dict[str, str]] = []
    with Store.open(settings) as store:
        state = _started(store, settings)
        answers.append(departments_of_counts(state.department_counts()))
        assert answers[0] == user_departments(store.events.scan())

        def on_events(_report: object, batch: pl.DataFrame) -> None:
            state.update(batch)
            lake = user_departments(store.events.scan())
            answers.append(departments_of_counts(state.department_counts()))
            assert answers[-1] == lake

        for i, chunk in enumerate(live.iter_slices(max(live.height // 4, 1))):
            ingest(_file(tmp_path, f"live{i}", chunk), settings, store=store, on_events=on_events)
    assert len(answers) >= 5
    assert nobody not in answers[-1]
    assert answers[0][mover] != "감사팀"
    assert answers[-1][mover] == "감사팀"


def test_a_batch_that_spans_days_closes_each_as_the_batch_features(tmp_path: Path) -> None:
    """One batch holds the rest of the current day, a whole day and the start of the next:
    the current day is closed from the running day, the whole day advanced after it, and
    both equal the batch features; the next day carries on from the history after them."""
    settings = _settings(tmp_path)
    day, days = _days(settings)
    with Store.open(settings, migrate=True) as store:
        ingest(_file(tmp_path, "a", day.filter(pl.col(WINDOW) < days[-3]).drop(WINDOW)),
               settings, store=store)  # fmt: skip
    run(settings, alerts=False)
    current = day.filter(pl.col(WINDOW) == days[-3]).sort(TIMESTAMP)
    half = current.height // 2
    updates: list[Update] = []
    with Store.open(settings) as store:
        ingest(_file(tmp_path, "b", current.head(half).drop(WINDOW)), settings, store=store)
        state = _state(store, settings)
        state.start()
        assert state.day == days[-3]
        rest = pl.concat([current.slice(half), day.filter(pl.col(WINDOW) > days[-3])])
        ingest(_file(tmp_path, "c", rest.drop(WINDOW)), settings, store=store,
               on_events=lambda _r, events: updates.extend(state.update(events)))  # fmt: skip
        assert state.day == days[-1] and state.rebuilds == 0
        lake = store.events.scan().select(EVENT_COLUMNS).collect()
        model = state.model
        last = state.close()
    closing, today = updates
    assert closing.closing and not today.closing and last is not None
    assert set(closing.keys.get_column(WINDOW).unique().to_list()) == {days[-3], days[-2]}
    batch = model.matrix(lake, feature_context(settings))
    for update in (closing, last):
        got = update.matrix.frame.join(update.keys, on=list(KEYS), how="semi").sort(*KEYS)
        want = batch.frame.join(update.keys, on=list(KEYS), how="semi").sort(*KEYS)
        assert got.height == update.keys.height > 5
        assert_frame_equal(got, want, check_exact=True)
