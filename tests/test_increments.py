"""The daily increment: a run that continues from the last run's history stores what a
full run over every event stores (tests/features/test_history.py shows the features)."""

from __future__ import annotations

import datetime as dt
import importlib
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from auditlens.config import Settings
from auditlens.pipeline import ingest, run
from auditlens.pipeline.increments import history_path
from auditlens.pipeline.run import RunReport
from auditlens.pipeline.stages import Stage
from auditlens.sources.files import FileSource
from auditlens.sources.synthetic import GeneratorSpec, generate, write_sample
from auditlens.store.repo import Store
from auditlens.store.scores import ScoreRepository

SPEC = GeneratorSpec(users=100, days=24, seed=9, insider_rate=0.06)
KST = dt.timezone(dt.timedelta(hours=9))
COMPARED = ["user_id", "window", "raw_score", "surprise", "risk", "decayed_risk", "severity",
            "feature_hash", "reasons", "model_sha256", "config_hash"]  # fmt: skip


def _day(events: pl.DataFrame) -> pl.Expr:
    return pl.col("timestamp").dt.convert_time_zone("Asia/Seoul").dt.date()


@pytest.fixture(scope="module")
def chunks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """The sample in chunks of days: 16 days, then 1, 1, 2, and a late event."""
    out = tmp_path_factory.mktemp("days")
    data = generate(SPEC)
    write_sample(data, out)
    events = data.events.with_columns(_day(data.events).alias("_d"))
    days = events.get_column("_d").unique().sort().to_list()
    cuts = [(days[0], days[15]), (days[16], days[16]), (days[17], days[17]),
            (days[18], days[19])]  # fmt: skip
    paths = []
    for i, (lo, hi) in enumerate(cuts):
        path = out / f"chunk{i}.parquet"
        events.filter(pl.col("_d").is_between(lo, hi)).drop("_d").write_parquet(path)
        paths.append(path)
    late = events.filter(pl.col("_d") > days[19]).drop("_d")
    earlier = events.filter(pl.col("_d") == days[18]).drop("_d").head(1)
    earlier = earlier.with_columns(pl.col("event_id") + "-late")
    path = out / "chunk4.parquet"
    pl.concat([late, earlier]).write_parquet(path)  # the rest, and one event of a past day
    paths.append(path)
    return out, paths


def _settings(root: Path, sample: Path) -> Settings:
    return Settings(
        store_url=f"sqlite:///{root / 'store.db'}",  # type: ignore[arg-type]
        data_dir=root / "var",
        resource_catalog=sample / "resource_catalog.csv",
        peer_directory=sample / "directory.csv",
    )


def _ingest(settings: Settings, path: Path) -> None:
    with Store.open(settings, migrate=True) as store:
        ingest(FileSource(path, name="daily"), settings, store=store)


def _rows(settings: Settings, report: RunReport) -> pl.DataFrame:
    with Store.open(settings) as store:
        rows = store.scores.of_run(report.run_id or -1)
    return rows.select(COMPARED).sort("user_id", "window")


def test_each_days_run_stores_what_a_full_run_stores(
    chunks: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample, paths = chunks
    daily, full = _settings(tmp_path / "daily", sample), _settings(tmp_path / "full", sample)
    job = importlib.import_module("auditlens.pipeline.run")
    read_all = job._stored_events
    reads: list[int] = []

    def counting(store: Store, settings: Settings) -> object:
        reads.append(1)
        return read_all(store, settings)

    monkeypatch.setattr(job, "_stored_events", counting)
    looked_up: list[int] = []  # (user, day)s whose stored rows were read from the store
    newest_rows = ScoreRepository.newest_rows

    def counting_rows(self: ScoreRepository, sha: str, keys: pl.DataFrame) -> pl.DataFrame:
        looked_up.append(keys.height)
        return newest_rows(self, sha, keys)

    monkeypatch.setattr(ScoreRepository, "newest_rows", counting_rows)
    increments = 0
    _ingest(daily, paths[0])
    fitted = run(daily, clock=lambda: dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    assert fitted.refitted
    # the same store twice from here: one continues from histories, one never does
    shutil.copytree(tmp_path / "daily", tmp_path / "full")
    for i, path in enumerate(paths[1:], start=1):
        _ingest(daily, path)
        _ingest(full, path)
        with Store.open(daily) as store:  # the daily store's parts compacted as they come:
            store.events.compact(  # its increments read a slice of a compacted part
                now=dt.datetime(2026, 10, 1, tzinfo=dt.UTC),
                small_rows=10**9,
                min_parts=2,
                target_rows=10**9,
            )
        history_path(full, "x").parent.mkdir(parents=True, exist_ok=True)
        for old in history_path(full, "x").parent.iterdir():
            old.unlink()  # the full store never continues from a history
        before = len(reads)
        looked_up.clear()
        heard: list[Stage] = []
        a = run(daily, clock=lambda: dt.datetime(2026, 10, 1, tzinfo=dt.UTC), on_stage=heard.append)
        incremental = len(reads) == before
        # the store stage counts what it stores: with the earlier peak days it copies
        stored = [stage for stage in heard if stage.name == "store"][-1]
        assert stored.done == stored.total == a.rows_stored, (stored, a.rows_stored)
        if i in (2, 3):  # the earlier peak days' rows came from the history, not the
            # store: the full run that left the first one put every user's in it
            assert sum(looked_up) == 0, looked_up
        b = run(full, clock=lambda: dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
        assert a.model_sha256 == b.model_sha256
        # the first builds a history, the late event needs a full run
        assert incremental == (i in (2, 3)), i
        increments += incremental
        mine, theirs = _rows(daily, a), _rows(full, b)
        assert mine.height > 0
        assert_frame_equal(mine, theirs, check_exact=True)
        shown = ["user_id", "risk_score", "peak_window", "peak_windows", "reasons"]
        assert_frame_equal(a.peaks.select(shown), b.peaks.select(shown), check_exact=True)
        assert (a.capacity.cutoff, a.events) == (b.capacity.cutoff, b.events)
        if incremental:  # only the new days were scored
            assert a.windows_scored < b.windows_scored
    assert increments == 2
    with Store.open(daily) as store:
        # batches 1-2 and 3-4 were compacted, the last waits for a second
        assert store.events.segments().height == 4 and len(store.events.parts()) == 3
    # nothing new: the peaks come from the last run's history, as that run found them
    before = len(reads)
    quiet = run(daily, clock=lambda: dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    assert quiet.windows_scored == 0 and quiet.run_id is None and len(reads) == before
    assert_frame_equal(quiet.top.select(shown), a.top.select(shown), check_exact=True)
    assert quiet.capacity.cutoff == a.capacity.cutoff


def test_a_history_that_cannot_be_written_fails_the_run_after_its_rows_are_stored(
    chunks: tuple[Path, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next run's history is written on a second thread while the run finishes: its
    error is still the run's (raised, not lost), and the rows stored before it stay."""
    sample, paths = chunks
    settings = _settings(tmp_path, sample)
    _ingest(settings, paths[0])
    run(settings, clock=lambda: dt.datetime(2026, 10, 1, tzinfo=dt.UTC))  # fits: no history
    _ingest(settings, paths[1])
    job = importlib.import_module("auditlens.pipeline.run")

    def full_disk(settings: Settings, history: object) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(job, "save_history", full_disk)
    with pytest.raises(OSError, match="No space left"):
        run(settings, clock=lambda: dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    with Store.open(settings) as store:
        stored = store.scores.last_run()
        assert stored is not None
        assert store.scores.of_run(stored.id).height > 0
