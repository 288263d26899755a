"""Streaming jobs: replay an events file into a Kafka topic (demos, benchmarks).

Example::

    report = produce_events(settings, InputOptions(path=Path("events.csv")),
                            topic="access-events", bootstrap="127.0.0.1:9092")
    report.produced, report.skipped  # (1200, 0)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from auditlens.config import KafkaSourceConfig, Settings
from auditlens.errors import ConfigError
from auditlens.pipeline.inputs import InputOptions, input_source, kafka_client_config

#: Brokers of ``stream produce`` when neither --bootstrap nor a kafka source names them.
DEFAULT_BOOTSTRAP = "localhost:9092"


@dataclass(frozen=True)
class ProduceReport:
    """What ``stream produce`` sent."""

    topic: str
    bootstrap: str
    #: Events produced as JSON messages (acknowledged by the brokers).
    produced: int
    #: Rows the file reader itself could not read (not produced).
    skipped: int
    seconds: float


def produce_events(
    settings: Settings,
    options: InputOptions,
    *,
    topic: str,
    bootstrap: str | None = None,
    rate: float | None = None,
    kafka_source: str | None = None,
) -> ProduceReport:
    """Replay the events ``options`` name (any file auditlens reads) into ``topic``, one
    JSON object per event (canonical column names, values as the file has them), at most
    ``rate`` events a second when given.

    The brokers and client settings (security) come from ``bootstrap``, else from the
    configured kafka source ``kafka_source`` (or the only one configured), else
    ``localhost:9092``. Raises ConfigError for a kafka source that is not configured,
    SourceError when the brokers cannot be reached or do not acknowledge every message.
    """
    from auditlens.sources.kafka_producer import produce

    config = _kafka_config(settings, kafka_source)
    servers = bootstrap or (config.bootstrap_servers if config else DEFAULT_BOOTSTRAP)
    client = kafka_client_config(config) if config is not None else {}
    source = input_source(settings, options)
    skipped = 0

    def messages() -> Iterator[bytes]:
        nonlocal skipped
        for batch in source.read():
            if batch.rejected is not None:
                skipped += batch.rejected.height
            rows = batch.events.select([c for c in batch.events.columns if not c.startswith("_")])
            if rows.height:
                yield from rows.write_ndjson().encode().splitlines()

    started = time.monotonic()
    sent = produce(servers, topic, messages(), client_config=client, rate=rate)
    return ProduceReport(topic, servers, sent, skipped, time.monotonic() - started)


def _kafka_config(settings: Settings, name: str | None) -> KafkaSourceConfig | None:
    kafka = {k: v for k, v in settings.sources.items() if isinstance(v, KafkaSourceConfig)}
    if name is None:
        return next(iter(kafka.values())) if len(kafka) == 1 else None
    if name not in kafka:
        known = ", ".join(sorted(kafka)) or "none configured"
        raise ConfigError(
            f"--source {name!r} is not a configured kafka source ({known})",
            hint='define it as [sources.NAME] kind = "kafka" in auditlens.toml',
            ko=f"--source {name!r}은(는) 설정된 kafka 소스가 아닙니다 "
            f"({known if kafka else '설정된 kafka 소스 없음'})",
            ko_hint='auditlens.toml에 [sources.NAME] kind = "kafka"로 정의하십시오',
        )
    return kafka[name]
