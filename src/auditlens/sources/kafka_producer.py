"""Producing to a Kafka topic: ``stream produce`` replays files, dead letters go out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from auditlens.errors import SourceError
from auditlens.redaction import scrub

#: Seconds to wait for the brokers to acknowledge what is queued.
TIMEOUT: Final = 10.0
#: A paced producer sleeps at least this long (s) and then sends every message due by then:
#: messages leave up to a tick late, never early, and a rate of 10k/s costs 200 wake-ups a
#: second, not 10,000 (each wake-up also takes the GIL from the process's other threads).
TICK: Final = 0.005
#: librdkafka settings whose values are secrets (scrubbed from messages).
SECRET_KEYS: Final = ("sasl.password", "ssl.key.password", "ssl.keystore.password")
HINT: Final = "check bootstrap_servers, the topics, and the security settings of the kafka source"
HINT_KO: Final = "kafka 소스의 bootstrap_servers, topics, 보안 설정을 확인하십시오"
#: librdkafka's own log lines (connection retries...) go here, not to the terminal: what a
#: person must know reaches them as a SourceError.
LOG: Final = logging.getLogger("auditlens.kafka")
LOG.addHandler(logging.NullHandler())


class ClientLog:
    """The ``logger`` a client is given: forwards its lines to ``LOG`` and keeps the last
    error (e.g. why the SASL handshake failed), which a SourceError then names."""

    def __init__(self) -> None:
        self.last_error = ""

    def log(self, level: int, fmt: str, *args: object) -> None:
        message = fmt % args if args else fmt
        if level >= logging.ERROR:
            self.last_error = message
        LOG.log(level, message)


def client_reason(exc: BaseException, secrets: list[str], log: ClientLog | None = None) -> str:
    """The client's message of ``exc`` (not its repr) and its last logged error, secrets
    scrubbed."""
    first = exc.args[0] if exc.args else None
    text = first.str() if isinstance(first, KafkaError) else str(exc)
    if log is not None and log.last_error:
        text = f"{text} ({log.last_error.split(': ', 1)[-1]})"
    return scrub(text, secrets)


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
    log = ClientLog()

    def delivered(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failed.append(scrub(str(error), secrets))

    try:
        producer = Producer({**config, "bootstrap.servers": bootstrap_servers, "logger": log})
        started = time.monotonic()
        sent = 0
        for value in messages:
            if rate is not None:  # pace: message n leaves no earlier than n / rate seconds in
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    sleep(max(ahead, TICK))
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
        failed.append(client_reason(exc, secrets, log))
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
