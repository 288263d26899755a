"""Producing to a Kafka topic: ``stream produce`` replays files, dead letters go out."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from auditlens.errors import SourceError
from auditlens.redaction import scrub

#: Seconds to wait for the brokers to acknowledge what is queued.
TIMEOUT: Final = 10.0
#: librdkafka settings whose values are secrets (scrubbed from messages).
SECRET_KEYS: Final = ("sasl.password", "ssl.key.password", "ssl.keystore.password")
HINT: Final = "check bootstrap_servers, the topics, and the security settings of the kafka source"
HINT_KO: Final = "kafka 소스의 bootstrap_servers, topics, 보안 설정을 확인하십시오"


def produce(
    bootstrap_servers: str,
    topic: str,
    messages: Iterable[bytes],
    *,
    client_config: Mapping[str, str] | None = None,
    rate: float | None = None,
    timeout: float = TIMEOUT,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Produce ``messages`` to ``topic`` (at most ``rate`` a second when given); return
    how many the brokers acknowledged. Raises SourceError when one was not delivered."""
    secrets = [v for k, v in (client_config or {}).items() if k in SECRET_KEYS and v]
    config = {"linger.ms": 20, "acks": "all", **(client_config or {})}
    failed: list[str] = []

    def delivered(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failed.append(scrub(str(error), secrets))

    try:
        producer = Producer({**config, "bootstrap.servers": bootstrap_servers})
        started = time.monotonic()
        sent = 0
        for value in messages:
            if rate is not None:  # pace: message n leaves no earlier than n / rate seconds in
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    sleep(ahead)
            while True:
                try:
                    producer.produce(topic, value, on_delivery=delivered)
                    break
                except BufferError:  # the client's queue is full: let it send some
                    producer.poll(0.1)
            producer.poll(0)
            sent += 1
        left = producer.flush(timeout)
    except KafkaException as exc:
        failed.append(scrub(str(exc), secrets))
        left = 0
    if failed or left:
        reason = failed[0] if failed else f"{left} messages still queued after {timeout:g} s"
        raise SourceError(
            f"kafka {bootstrap_servers} topic {topic}: {reason}",
            hint=HINT,
            ko=f"kafka {bootstrap_servers} 토픽 {topic}: {reason}",
            ko_hint=HINT_KO,
        )
    return sent
