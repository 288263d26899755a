"""`auditlens stream produce`: a file replayed into a topic reads back as the same events."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditlens.cli import app
from auditlens.config import KafkaSourceConfig, Settings
from auditlens.pipeline import ingest
from auditlens.pipeline.inputs import make_source
from auditlens.sources.files import FileSource
from auditlens.store.repo import Store
from tests.kafka_broker import Broker

runner = CliRunner()
HEADER = "timestamp,user_id,action_type,resource_id,host"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUDITLENS_LANGUAGE", "en")
    return tmp_path


def test_a_replayed_file_ingests_from_kafka_as_the_same_events(
    workdir: Path, kafka_broker: Broker
) -> None:
    rows = [
        f"2026-09-01T09:{i % 60:02d}:{i % 7:02d},E{i % 9},view,/r/{i},pc-{i % 4}"
        for i in range(240)
    ]
    rows += ["2026-09-01T10:00:00,E1,view,/r/x,pc-1"] * 2  # twins: two events, two derived ids
    rows.append("not a date,E2,view,/r/y,pc-2")  # quarantined by either path
    path = workdir / "events.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    topic = kafka_broker.topic(partitions=2)

    result = runner.invoke(
        app,
        [
            "stream",
            "produce",
            "--from",
            str(path),
            "--topic",
            topic,
            "--bootstrap",
            kafka_broker.bootstrap,
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"{topic}: produced 243 events" in result.output
    messages = kafka_broker.read_all(topic, partitions=2)
    assert len(messages) == 243
    first = json.loads(messages[0].value())
    assert set(first) == {"event_id", "timestamp", "user_id", "action_type", "resource_id", "host"}

    direct = Settings(store_url=f"sqlite:///{workdir / 'a.db'}", data_dir=workdir / "a")  # type: ignore[arg-type]
    streamed = Settings(
        store_url=f"sqlite:///{workdir / 'b.db'}",  # type: ignore[arg-type]
        data_dir=workdir / "b",
        sources={
            "bus": KafkaSourceConfig(bootstrap_servers=kafka_broker.bootstrap, topics=[topic])
        },
    )
    with Store.open(direct, migrate=True) as a, Store.open(streamed, migrate=True) as b:
        ingest(FileSource(path, settle_seconds=0), direct, store=a)
        report = ingest(make_source("bus", streamed.sources["bus"], streamed), streamed, store=b)
        assert (report.accepted, report.quarantined) == (242, 1)
        columns = ["event_id", "timestamp", "user_id", "action_type", "resource_id", "host"]
        left = a.events.scan().select(columns).sort("event_id").collect()
        right = b.events.scan().select(columns).sort("event_id").collect()
        assert left.equals(right)


def test_rate_paces_the_replay_and_an_unknown_kafka_source_is_refused(
    workdir: Path, kafka_broker: Broker
) -> None:
    path = workdir / "events.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {"timestamp": f"2026-09-01T09:00:{i:02d}", "user_id": "E1", "action_type": "login"}
            )
            + "\n"
            for i in range(30)
        ),
        encoding="utf-8",
    )
    topic = kafka_broker.topic()
    started = time.monotonic()
    args = ["stream", "produce", "--from", str(path), "--topic", topic, "--rate", "60"]
    result = runner.invoke(app, [*args, "--bootstrap", kafka_broker.bootstrap])
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started >= 29 / 60
    assert len(kafka_broker.read_all(topic)) == 30

    unknown = runner.invoke(app, [*args, "--source", "nowhere"])
    assert unknown.exit_code != 0
    assert "not a configured kafka source" in unknown.output
