"""Kafka ingestion against a real broker (Tansu): exactly once into the store, even when killed.

Messages are produced round robin over the partitions, so message n (from 0) is at
partition ``n % P``, offset ``n // P``: the tests know each bad message's location.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition
from typer.testing import CliRunner

from auditlens.cli import app
from auditlens.config import KafkaSourceConfig, Settings, load_settings
from auditlens.errors import ConfigError, SourceError
from auditlens.pipeline import ingest
from auditlens.pipeline.inputs import make_source
from auditlens.sources.kafka import KafkaSource
from auditlens.sources.kafka_messages import MessageReader
from auditlens.sources.kafka_offsets import location
from auditlens.sources.kafka_producer import TICK, produce
from auditlens.store.repo import Store
from tests.kafka_broker import Broker

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def good(i: int) -> dict[str, str]:
    return {
        "event_id": f"EV{i}",
        "timestamp": f"2026-09-01T09:{i % 60:02d}:00",
        "user_id": f"E{i % 13}",
        "action_type": "view",
        "resource_id": f"/r/{i}",
    }


#: Messages the source or the validation must quarantine, with what the reason says.
BAD: list[tuple[bytes, str]] = [
    (b'{"event_id": "B1", "timestamp": ', "invalid JSON"),
    (b'["not", "an", "object"]', "not a JSON object"),
    (b"\xff\xfe not utf-8", "not UTF-8"),
    (json.dumps({**good(0), "event_id": "B4", "timestamp": "31/02/2026 25:61"}).encode(), ""),
    (json.dumps({**good(0), "event_id": "B5", "user_id": None}).encode(), "user_id"),
]


def mixed(n: int, every: int = 20) -> tuple[list[bytes], list[int], list[str]]:
    """``n`` messages, every ``every``-th one bad: (values, bad positions, good ids)."""
    values: list[bytes] = []
    bad: list[int] = []
    ids: list[str] = []
    for i in range(n):
        if i % every == every - 1:
            values.append(BAD[(i // every) % len(BAD)][0])
            bad.append(i)
        else:
            values.append(json.dumps(good(i)).encode())
            ids.append(f"EV{i}")
    return values, bad, ids


def kafka_settings(settings: Settings, broker: Broker, topic: str, **extra: object) -> Settings:
    config = KafkaSourceConfig(bootstrap_servers=broker.bootstrap, topics=[topic], **extra)  # type: ignore[arg-type]
    return settings.model_copy(update={"sources": {"stream": config}})


def lake_ids(store: Store) -> list[str]:
    return list(store.events.scan().select("event_id").collect()["event_id"].to_list())


def test_good_events_reach_the_lake_once_and_bad_ones_are_quarantined_where_they_were(
    settings: Settings, kafka_broker: Broker
) -> None:
    topic = kafka_broker.topic(partitions=3)
    values, bad, ids = mixed(300)
    kafka_broker.produce(topic, values, partitions=3)
    cfg = kafka_settings(settings, kafka_broker, topic, max_records=40, group_id="audit-t1")
    source = make_source("stream", cfg.sources["stream"], cfg)
    with Store.open(cfg, migrate=True) as store:
        report = ingest(source, cfg, store=store)
        assert (report.ingested, report.accepted, report.quarantined) == (300, 285, 15)
        assert len(report.batches) >= 8  # micro-batches of at most 40 messages
        assert sorted(lake_ids(store)) == sorted(ids)
        rows = store.events.quarantined(limit=100)
        assert sorted(rows["location"].to_list()) == sorted(
            location(topic, i % 3, i // 3) for i in bad
        )
        reasons = " | ".join(rows["reason"].to_list())
        for _, words in BAD:
            assert words in reasons
        mark = json.loads(str(store.events.watermark("stream").value))  # type: ignore[union-attr]
        assert mark == {"offsets": {topic: {"0": 100, "1": 100, "2": 100}}}

        again = ingest(source, cfg, store=store)  # nothing new: nothing read, nothing stored
        assert (again.ingested, len(again.batches)) == (0, 0)
        more = [json.dumps(good(i)).encode() for i in range(300, 330)]
        kafka_broker.produce(topic, more, partitions=3)
        later = ingest(source, cfg, store=store)
        assert (later.ingested, later.accepted) == (30, 30)
        assert sorted(lake_ids(store)) == sorted([*ids, *(f"EV{i}" for i in range(300, 330))])
        assert store.events.counts()["quarantined"] == 15

    # Kafka's own committed offsets follow the store's (informational, for lag dashboards)
    consumer = Consumer({"bootstrap.servers": kafka_broker.bootstrap, "group.id": "audit-t1"})
    committed = consumer.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
    consumer.close()
    assert [tp.offset for tp in committed] == [110, 110, 110]


def test_a_micro_batch_of_only_bad_messages_is_quarantined_and_the_stream_goes_on(
    sqlite_settings: Settings, kafka_broker: Broker
) -> None:
    topic = kafka_broker.topic()
    dead = kafka_broker.topic(prefix="dead")
    kafka_broker.produce(topic, [value for value, _ in BAD])
    cfg = kafka_settings(sqlite_settings, kafka_broker, topic, dead_letter_topic=dead)
    source = make_source("stream", cfg.sources["stream"], cfg)
    with Store.open(cfg, migrate=True) as store:
        report = ingest(source, cfg, store=store)  # no ValidationFailed: nothing is stuck
        assert (report.accepted, report.quarantined) == (0, len(BAD))
        assert ingest(source, cfg, store=store).ingested == 0
    letters = kafka_broker.read_all(dead)
    assert [m.value() for m in letters] == [value for value, _ in BAD]  # as received
    headers = [dict(m.headers()) for m in letters]
    assert [h["auditlens.location"].decode() for h in headers] == [
        location(topic, 0, i) for i in range(len(BAD))
    ]
    assert "invalid JSON" in headers[0]["auditlens.reason"].decode()


def test_a_batch_parsed_at_once_equals_one_parsed_message_by_message() -> None:
    reader = MessageReader(column_map={"emp": "user_id", "n": "event_id"})
    raws = [
        json.dumps({"n": 7, "emp": "kim", "timestamp": "2026-09-01T09:00:00", "x": [1]}),
        json.dumps({"emp": "lee", "success": True, "host": {"name": "pc-1"}, "src_ip": None}),
        json.dumps({"emp": "한", "action_type": "조회", "resource_id": 3.5}, ensure_ascii=False),
    ]
    raws_b = [r.encode() for r in raws]
    places = [location("t", 0, i) for i in range(3)]
    fast = reader._json_frame(raws_b, places)
    slow, bad = reader._decoded_frame(raws_b, places)
    assert fast is not None and not bad
    assert fast.equals(slow), (fast, slow)
    assert fast["event_id"].to_list() == ["7", "kafka:t/0/1", "kafka:t/0/2"]
    assert fast["success"].to_list() == [None, "true", None]
    assert reader._json_frame([*raws_b, b"[1]"], [*places, "t/0/3"]) is None  # then one by one


def test_csv_lines_with_column_and_value_maps(
    sqlite_settings: Settings, kafka_broker: Broker
) -> None:
    topic = kafka_broker.topic()
    kafka_broker.produce(
        topic,
        ["A1,kim,2026-09-01 09:00:00,조회,/hr", "A2,lee,2026-09-01 10:00:00,열람,/fx", "A3,x"],
    )
    cfg = kafka_settings(
        sqlite_settings,
        kafka_broker,
        topic,
        format="csv",
        csv_columns=["no", "emp", "at", "act", "menu"],
        column_map={
            "no": "event_id",
            "emp": "user_id",
            "at": "timestamp",
            "act": "action_type",
            "menu": "resource_id",
        },
        value_map={"action_type": {"열람": "view"}},
    )
    source = make_source("stream", cfg.sources["stream"], cfg)
    with Store.open(cfg, migrate=True) as store:
        report = ingest(source, cfg, store=store)
        assert (report.accepted, report.quarantined) == (2, 1)
        events = store.events.scan().sort("event_id").collect()
        assert events["user_id"].to_list() == ["kim", "lee"]
        assert events["action_type"].to_list() == ["view", "view"]
        assert "CSV line has 2 fields, expected 5" in store.events.quarantined()["reason"][0]


def test_start_from_latest_skips_what_was_there_and_keeps_its_place(
    sqlite_settings: Settings, kafka_broker: Broker
) -> None:
    topic = kafka_broker.topic()
    for i in range(5):  # one produce each: the broker's end offset is then exact
        kafka_broker.produce(topic, [json.dumps(good(i))])
    cfg = kafka_settings(sqlite_settings, kafka_broker, topic, start_from="latest")
    source = make_source("stream", cfg.sources["stream"], cfg)
    with Store.open(cfg, migrate=True) as store:
        assert ingest(source, cfg, store=store).accepted == 0
        assert store.events.watermark("stream") is not None  # the start is kept...
        kafka_broker.produce(topic, [json.dumps(good(i)) for i in range(5, 8)])
        assert ingest(source, cfg, store=store).accepted == 3  # ...so nothing new is skipped
        assert sorted(lake_ids(store)) == ["EV5", "EV6", "EV7"]


def test_the_consumer_fetches_ahead_without_librdkafkas_one_second_stall(
    kafka_broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """librdkafka postpones a fetch by ``fetch.queue.backoff.ms`` (default 1 s) once it holds
    ``queued.min.messages``: the source sets 20 ms, and a source's options may set another.
    A backlog over a tiny queue threshold is read whole at either setting."""
    import auditlens.sources.kafka as kafka_module

    seen: list[dict[str, object]] = []

    def recording(config: dict[str, object]) -> Consumer:
        seen.append(config)
        return Consumer(config)

    monkeypatch.setattr(kafka_module, "Consumer", recording)
    topic = kafka_broker.topic()
    kafka_broker.produce(topic, [json.dumps(good(i)) for i in range(3000)])
    for options, expected in (({}, 20), ({"fetch.queue.backoff.ms": "5"}, 5)):
        config = {"queued.min.messages": "100", **options}
        source = KafkaSource(kafka_broker.bootstrap, [topic], max_records=500, client_config=config)
        assert sum(batch.events.height for batch in source.read()) == 3000
        assert int(str(seen[-1]["fetch.queue.backoff.ms"])) == expected


def test_a_missing_topic_and_a_foreign_watermark_are_errors_that_say_so(
    kafka_broker: Broker,
) -> None:
    with pytest.raises(SourceError, match="kafka topic 'no-such-topic'"):
        list(KafkaSource(kafka_broker.bootstrap, ["no-such-topic"]).read())


def test_secrets_are_masked_in_config_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "auditlens.toml"
    config.write_text(
        '[sources.bus]\nkind = "kafka"\nbootstrap_servers = "kafka.internal:9093"\n'
        'topics = ["access"]\nsecurity_protocol = "SASL_SSL"\nsasl_mechanism = "SCRAM-SHA-512"\n'
        'sasl_username = "auditlens"\nssl_key_password = "k3y-pa55"\n'
        'options = { "fetch.max.bytes" = "1048576" }\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("AUDITLENS_CONFIG", str(config))
    monkeypatch.setenv("AUDITLENS_SOURCES__BUS__SASL_PASSWORD", "s3cr3t-sasl")
    settings = load_settings()
    source = settings.sources["bus"]
    assert isinstance(source, KafkaSourceConfig)
    assert source.sasl_password is not None
    assert source.sasl_password.get_secret_value() == "s3cr3t-sasl"
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    shown = result.output + json.dumps(settings.masked()) + repr(settings)
    assert "kafka.internal:9093" in result.output and "1048576" in result.output
    for secret in ("s3cr3t-sasl", "k3y-pa55"):
        assert secret not in shown
    monkeypatch.setenv("AUDITLENS_SOURCES__BUS__FORMAT", "csv")
    with pytest.raises(ConfigError, match="csv_columns"):
        load_settings()
    monkeypatch.delenv("AUDITLENS_SOURCES__BUS__FORMAT")
    monkeypatch.setenv("AUDITLENS_SOURCES__BUS__OPTIONS", '{"sasl.password": "x"}')
    with pytest.raises(ConfigError, match="secret in plain text"):
        load_settings()


def test_a_wrong_password_is_an_error_without_the_password(kafka_broker: Broker) -> None:
    source = KafkaSource(
        kafka_broker.bootstrap,
        ["access"],
        client_config={
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN",
            "sasl.username": "auditlens",
            "sasl.password": "s3cr3t-sasl",
            "socket.timeout.ms": "3000",
        },
        timeout=3,
    )
    with pytest.raises(SourceError) as caught:
        list(source.read())
    text = caught.value.text("en") + caught.value.text("ko")
    assert "SASL" in text and "s3cr3t-sasl" not in text  # the handshake's reason, no secret


def test_ingest_source_reads_a_kafka_source_and_refuses_a_path_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kafka_broker: Broker
) -> None:
    topic = kafka_broker.topic()
    kafka_broker.produce(topic, [json.dumps(good(i)) for i in range(5)] + ["{oops"])
    config = tmp_path / "auditlens.toml"
    config.write_text(
        CONFIG.format(
            url=f"sqlite:///{tmp_path / 's.db'}",
            data=tmp_path / "var",
            bootstrap=kafka_broker.bootstrap,
            topic=topic,
        )
    )
    monkeypatch.setenv("AUDITLENS_CONFIG", str(config))
    monkeypatch.setenv("AUDITLENS_LANGUAGE", "en")
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    done = runner.invoke(app, ["ingest", "--source", "stream"])
    assert done.exit_code == 3, done.output  # a message was quarantined
    assert "ingested 6 = accepted 5 + quarantined 1" in done.output
    quarantine = runner.invoke(app, ["quarantine"])
    assert f"{topic}/0/5" in quarantine.output
    again = runner.invoke(app, ["ingest", "--source", "stream"])
    assert again.exit_code == 0 and "nothing new" in again.output
    refused = runner.invoke(app, ["ingest", "x.csv", "--source", "stream"])
    assert refused.exit_code == 1 and "is a Kafka source" in refused.output


CONFIG = """\
store_url = "{url}"
data_dir = "{data}"

[sources.stream]
kind = "kafka"
bootstrap_servers = "{bootstrap}"
topics = ["{topic}"]
max_records = 300
max_seconds = 0.5
"""


def test_killed_at_random_points_then_restarted_stores_each_good_event_exactly_once(
    settings: Settings, kafka_broker: Broker, tmp_path: Path
) -> None:
    topic = kafka_broker.topic(partitions=3)
    values, bad, ids = mixed(12_000, every=50)
    kafka_broker.produce(topic, values, partitions=3)
    config = tmp_path / "auditlens.toml"
    url = settings.store_url.get_secret_value()
    config.write_text(
        CONFIG.format(
            url=url, data=settings.data_dir, bootstrap=kafka_broker.bootstrap, topic=topic
        )
    )
    env = {
        **os.environ,
        "AUDITLENS_CONFIG": str(config),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    }
    command = [sys.executable, "-m", "auditlens.cli", "ingest", "--allow-quarantine"]
    Store.open(settings, migrate=True).close()
    rng = random.Random(19)
    killed = 0
    progress: list[int] = []
    with Store.open(settings) as store:
        for _ in range(6):
            child = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)  # fmt: skip
            # once the first batch of this run is committed, kill at a random moment
            before = store.events.counts()["batches"]
            deadline = time.monotonic() + 60
            while store.events.counts()["batches"] == before and child.poll() is None:
                assert time.monotonic() < deadline, "no batch committed within 60 s"
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.4))
            if child.poll() is None:
                child.send_signal(signal.SIGKILL)
                killed += 1
            child.wait(timeout=60)
            progress.append(store.events.counts()["accepted"])
        assert killed >= 3, progress  # most runs were killed mid-ingest
        assert progress[0] < len(ids)
        final = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert final.returncode == 0, final.stdout + final.stderr
        stored = lake_ids(store)
        assert len(stored) == len(set(stored)) == len(ids)  # none lost, none twice
        assert sorted(stored) == sorted(ids)
        places = store.events.quarantined(limit=10_000)["location"].to_list()
        assert sorted(places) == sorted(location(topic, i % 3, i // 3) for i in bad)


def test_a_paced_producer_sends_nothing_early_and_wakes_once_a_tick(kafka_broker: Broker) -> None:
    topic = kafka_broker.topic()
    rate, n = 2000.0, 300
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        time.sleep(seconds)

    started = time.monotonic()
    values = (json.dumps(good(i)).encode() for i in range(n))
    assert produce(kafka_broker.bootstrap, topic, values, rate=rate, sleep=sleep) == n
    assert time.monotonic() - started >= (n - 1) / rate
    assert naps and min(naps) >= TICK  # no busy wake-up per message...
    assert len(naps) <= (n - 1) / rate / TICK + 1  # ...one per tick at most
    consumer = Consumer({"bootstrap.servers": kafka_broker.bootstrap, "group.id": "pace"})
    consumer.assign([TopicPartition(topic, 0, 0)])
    stamps: list[int] = []
    while len(stamps) < n:
        stamps += [m.timestamp()[1] for m in consumer.consume(n, 5) if m.error() is None]
    consumer.close()
    for i, stamp in enumerate(stamps):  # message i left no earlier than i / rate seconds in
        assert stamp - stamps[0] >= int(i / rate * 1000) - 1, i
