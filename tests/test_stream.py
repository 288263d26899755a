"""`auditlens stream run` end to end against a real broker (Tansu): planted behaviour
becomes one alert in the outbox, a restart does not page again, and kill -9 at random
moments loses no event, stores none twice and duplicates no alert."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, select

from auditlens.config import Settings
from auditlens.pipeline import ingest, run
from auditlens.pipeline.stream_job import StreamControl, StreamReport, stream
from auditlens.pipeline.stream_state import local_windows
from auditlens.schema import EVENT_COLUMNS, TIMESTAMP
from auditlens.sources.files import FileSource
from auditlens.sources.synthetic import GeneratorSpec, generate
from auditlens.store.db import alerts, online_scores
from auditlens.store.db import deliveries as outbox
from auditlens.store.repo import Store
from tests.kafka_broker import Broker

ROOT = Path(__file__).resolve().parents[1]
PLANTED = "U0007"

CONFIG = """\
store_url = "{url}"
data_dir = "{data}"
min_history_days = 2
language = "en"

[sources.bus]
kind = "kafka"
bootstrap_servers = "{bootstrap}"
topics = ["{topic}"]
max_records = {max_records}
max_seconds = 0.3

[alert_channels.log]
kind = "file"
path = "{alerts}"

[[alert_routes]]
id = "all"
channels = ["log"]
"""


def _planted(day: dt.date) -> pl.DataFrame:
    """300 deletes and downloads of 150 resources at 3 a.m. (Seoul) by one person."""
    start = dt.datetime.combine(day, dt.time(18, 0), tzinfo=dt.UTC)  # 03:00 KST next day
    n = 300
    return pl.DataFrame(
        {
            "event_id": [f"planted-{i}" for i in range(n)],
            "user_id": [PLANTED] * n,
            TIMESTAMP: [start + dt.timedelta(seconds=5 * i) for i in range(n)],
            "action_type": ["delete" if i % 2 else "download" for i in range(n)],
            "resource_id": [f"/db/customers/{i % 150}" for i in range(n)],
            "host": ["pc-odd"] * n,
            "src_ip": ["10.9.9.9"] * n,
            "success": [True] * n,
        }
    )


@pytest.fixture
def prepared(
    tmp_path: Path, kafka_broker: Broker
) -> tuple[Settings, Path, str, list[bytes], pl.DataFrame]:
    """A store with a model fitted on the first 10 days; the last 2 days (and the planted
    night) as JSON messages for a new topic. Returns settings, config file, topic,
    messages and the live events."""
    events = generate(GeneratorSpec(users=30, days=12, seed=5, insider_rate=0.0)).events
    tz = "Asia/Seoul"
    days = events.select(local_windows(pl.col(TIMESTAMP), tz).unique().sort()).to_series()
    window = local_windows(pl.col(TIMESTAMP), tz)
    before = events.filter(window < days[-2])
    live = events.filter(window >= days[-2])
    planted = _planted(days[-2]).select(
        [
            pl.col(c).cast(events.schema[c]) if c in events.columns else pl.col(c)
            for c in _planted(days[-2]).columns
        ]
    )
    live = pl.concat([live, planted], how="diagonal_relaxed").sort(TIMESTAMP)
    topic = kafka_broker.topic(partitions=2)
    config = tmp_path / "auditlens.toml"
    config.write_text(
        CONFIG.format(
            url=f"sqlite:///{tmp_path / 'store.db'}",
            data=tmp_path / "var",
            bootstrap=kafka_broker.bootstrap,
            topic=topic,
            alerts=tmp_path / "alerts.jsonl",
            max_records=500,
        )
    )
    os.environ["AUDITLENS_CONFIG"] = str(config)
    try:
        settings = Settings()
    finally:
        del os.environ["AUDITLENS_CONFIG"]
    path = tmp_path / "before.parquet"
    before.write_parquet(path)
    with Store.open(settings, migrate=True) as store:
        ingest(FileSource(path, settle_seconds=0), settings, store=store)
    run(settings.model_copy(update={"sources": {}}), alerts=False)
    messages = live.select(EVENT_COLUMNS).write_ndjson().encode().splitlines()
    return settings, config, topic, messages, live


def _stream_until(
    settings: Settings, accepted: int, settle: float = 0.0, key: str = "accepted"
) -> StreamReport:
    """Run the stream in a thread until the lake holds ``accepted`` events (the store's
    count ``key`` reaches it); stop it."""
    control = StreamControl()
    out: list[StreamReport] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            out.append(stream(settings, control=control))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    deadline = time.monotonic() + 120
    try:
        with Store.open(settings) as store:
            while store.events.counts()[key] < accepted and thread.is_alive():
                assert time.monotonic() < deadline, "the stream did not catch up in 120 s"
                time.sleep(0.1)
        time.sleep(settle)
    finally:  # stopped however the wait ended
        control.stop()
        thread.join(60)
    assert not thread.is_alive()
    if errors:
        raise errors[0]
    return out[0]


def _alerts_of(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(alerts.c.user_id, func.count()).group_by(alerts.c.user_id))
        return {str(u): int(n) for u, n in rows}


def test_planted_behaviour_alerts_once_and_a_restart_pages_no_one_again(
    prepared: tuple[Settings, Path, str, list[bytes], pl.DataFrame], kafka_broker: Broker
) -> None:
    settings, _, topic, messages, live = prepared
    kafka_broker.produce(topic, messages, partitions=2)
    with Store.open(settings) as store:
        stored_before = store.events.counts()["accepted"]
    target = stored_before + live.height
    report = _stream_until(settings, target)
    assert report.events == live.height and report.windows > 0
    with Store.open(settings) as store:
        assert store.events.counts()["accepted"] == target
        by_user = _alerts_of(store)
        assert by_user.get(PLANTED) == 1, by_user
        assert all(n == 1 for n in by_user.values())  # one alert per person
        with store.engine.connect() as conn:
            alert_id = conn.execute(
                select(alerts.c.id).where(alerts.c.user_id == PLANTED)
            ).scalar_one()
            queued = conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.alert_id == alert_id)
            ).scalar_one()
            deliveries_before = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
            river = conn.execute(
                select(func.count()).select_from(online_scores)
                .where(online_scores.c.user_id == PLANTED)
            ).scalar_one()  # fmt: skip
        assert queued == 1  # one route, one channel: in the outbox once
        assert river > 0  # the online detector's score is stored beside the run's

    again = _stream_until(settings, target, settle=2.0)  # nothing new: catch-up only
    assert again.events == 0
    with Store.open(settings) as store:
        assert _alerts_of(store) == by_user
        with store.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
        assert total == deliveries_before  # the restart queued nothing new


def test_kill_9_then_restart_stores_every_event_once_and_alerts_once(
    prepared: tuple[Settings, Path, str, list[bytes], pl.DataFrame],
    kafka_broker: Broker,
    tmp_path: Path,
) -> None:
    settings, config, topic, messages, live = prepared
    env = {
        **os.environ,
        "AUDITLENS_CONFIG": str(config),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    command = [sys.executable, "-m", "auditlens.cli", "stream", "run"]
    rng = random.Random(3)
    children: list[subprocess.Popen[bytes]] = []
    with Store.open(settings) as store:
        try:
            target = store.events.counts()["accepted"] + live.height
            killed = 0
            third = len(messages) // 3 + 1
            for i in range(3):  # each run gets a third of the messages, killed while on them
                kafka_broker.produce(topic, messages[i * third : (i + 1) * third], partitions=2)
                with (tmp_path / "killed.log").open("w") as sink:
                    child = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=sink,
                                             stderr=subprocess.STDOUT)  # fmt: skip
                    children.append(child)
                before = store.events.counts()["batches"]
                deadline = time.monotonic() + 90
                while store.events.counts()["batches"] == before and child.poll() is None:
                    assert time.monotonic() < deadline, (tmp_path / "killed.log").read_text()
                    time.sleep(0.02)
                time.sleep(rng.uniform(0.0, 0.5))
                if child.poll() is None:
                    child.send_signal(signal.SIGKILL)
                    killed += 1
                child.wait(timeout=30)
            assert killed >= 2
            log = tmp_path / "stream.log"
            with log.open("w") as sink:
                child = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=sink,
                                         stderr=subprocess.STDOUT)  # fmt: skip
                children.append(child)
            deadline = time.monotonic() + 60
            while "streaming bus" not in log.read_text():  # SIGTERM once the handler is set
                assert time.monotonic() < deadline and child.poll() is None, log.read_text()
                time.sleep(0.05)
            deadline = time.monotonic() + 120
            while store.events.counts()["accepted"] < target and child.poll() is None:
                assert time.monotonic() < deadline, "the stream did not catch up in 120 s"
                time.sleep(0.1)
            time.sleep(1.0)
            child.send_signal(signal.SIGTERM)  # finish the micro-batch, exit cleanly
            assert child.wait(timeout=60) == 0, log.read_text()
            assert store.events.counts()["accepted"] == target  # none lost, none twice
            ids = store.events.scan().select("event_id").collect().to_series()
            assert ids.n_unique() == ids.len()
            by_user = _alerts_of(store)
            assert by_user.get(PLANTED) == 1, by_user
            assert all(n == 1 for n in by_user.values()), by_user
        finally:  # a failed assertion must not leave a stream running
            for process in children:
                if process.poll() is None:
                    process.kill()
                    process.wait(10)


def test_the_streams_small_parts_are_compacted_and_redelivered_events_still_refused(
    prepared: tuple[Settings, Path, str, list[bytes], pl.DataFrame],
    kafka_broker: Broker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import auditlens.pipeline.stream_job as stream_job

    monkeypatch.setattr(stream_job, "MIN_PARTS", 3)
    settings, _, topic, messages, live = prepared
    small = {n: c.model_copy(update={"max_records": 100}) for n, c in settings.sources.items()}
    settings = settings.model_copy(update={"sources": small})  # many micro-batches
    with Store.open(settings) as store:
        stored_before = store.events.counts()["accepted"]
        files_before = len(store.events.parts())
    kafka_broker.produce(topic, messages, partitions=2)
    target = stored_before + live.height
    report = _stream_until(settings, target, settle=1.0)
    with Store.open(settings) as store:
        batches = report.batches
        parts = len(store.events.parts())
        assert batches >= 6 and parts - files_before < batches  # compacted
        assert store.events.segments().height > 0
        assert store.events.verify_lake().ok
        ids = store.events.ids()
        assert ids.len() == ids.n_unique() == target
    # the same messages again: every one a duplicate of a stored (compacted) event
    kafka_broker.produce(topic, messages, partitions=2)
    with Store.open(settings) as store:
        read_before = store.events.counts()["ingested"]
    again = _stream_until(settings, read_before + live.height, key="ingested")
    assert again.events == 0
    with Store.open(settings) as store:
        assert store.events.counts()["accepted"] == target
