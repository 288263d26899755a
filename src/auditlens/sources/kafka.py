# size: one client per read: drain, follow mode, commit hook and errors share its state.
"""Kafka topics read in micro-batches, exactly once into the store.

Exactly once. The offsets consumed are this source's watermark
(``{"offsets": {"topic": {"partition": next offset}}}``): each micro-batch is committed
to the store in one transaction together with the offsets after it, and on start the
consumer is *assigned* every partition of its topics at the stored offsets (no group
rebalance decides where to read). Kafka's own committed offsets (under ``group_id``) are
only written for lag dashboards, after the store's commit. So a crash at any point
neither loses a message nor stores one twice: the next run reads again exactly what the
store had not committed.

A read is a bounded drain (what ``auditlens ingest`` needs): each partition is read until
its end as the broker reported it with the first messages fetched, or until the broker
says the partition is at its end (partition EOF). Messages produced meanwhile beyond that
are left for the next run.

Messages: ``json`` (one JSON object per message; scalar values as their JSON text, nested
values as JSON text) or ``csv`` (one CSV line per message, fields named by
``csv_columns``). Keys are renamed by ``column_map``; keys that are not canonical columns
are ignored. A message without an ``event_id`` gets ``kafka:topic/partition/offset`` (a
producer's retry that wrote a message twice is then two events: give messages an
``event_id`` to have the store drop the repeat). Every row's ``_location`` is
``topic/partition/offset``; messages that cannot be read become ``Batch.rejected`` with
that location, and with ``dead_letter_topic`` every quarantined message is also produced
there (original bytes, reason in the headers) once its batch is committed.

Example::

    source = KafkaSource("127.0.0.1:9092", ["access-events"], max_records=5000)
    for batch in source.read(since=None):
        print(batch.label, batch.events.height, batch.watermark.value)
    # access-events 0:0..4999 5000 {"offsets": {"access-events": {"0": 5000}}}
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from typing import Any, Final, Literal, TypeVar

import polars as pl
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from auditlens import schema
from auditlens.errors import SourceError
from auditlens.sources.base import STREAM, Batch, Source, Watermark, rejected_frame
from auditlens.sources.kafka_messages import MessageFormat, MessageReader
from auditlens.sources.kafka_offsets import (
    Offsets,
    location,
    location_expr,
    offsets_watermark,
    parse_offsets,
)
from auditlens.sources.kafka_producer import HINT as _HINT
from auditlens.sources.kafka_producer import HINT_KO as _HINT_KO
from auditlens.sources.kafka_producer import SECRET_KEYS, TIMEOUT, ClientLog, client_reason
from auditlens.vocabulary import ValueRules

StartFrom = Literal["earliest", "latest"]
T = TypeVar("T")

#: librdkafka's ``fetch.wait.max.ms`` of a following read (its default: 500); a source's
#: ``options`` may set another.
FOLLOW_FETCH_WAIT_MS: Final = 100
#: librdkafka's ``fetch.queue.backoff.ms`` (its default: 1000). Once the client holds
#: ``queued.min.messages`` (100,000) fetched messages it postpones the next fetch by this
#: long: under a backlog, micro-batches of 100,000 stalled up to a second each (the
#: stream read 186k messages/s from the broker; at 20 ms 620k). A source's ``options`` may
#: set another.
FETCH_QUEUE_BACKOFF_MS: Final = 20
#: A drain gives up waiting when no message nor end-of-partition arrives for this long.
IDLE_SECONDS: Final = 10.0


class KafkaSource(Source):
    """Read Kafka topics in micro-batches of at most ``max_records`` messages or
    ``max_seconds`` seconds, from the offsets the store holds (module docstring).

    ``client_config`` holds further librdkafka settings (security, timeouts); secrets in
    it never appear in errors. ``name`` is the key of this source's watermark.
    ``start_from`` says where a partition without a stored offset starts. ``timeout``
    bounds each metadata request; ``idle_seconds`` how long a drain waits for news.
    With ``follow`` a read does not end at the partitions' ends: it yields micro-batches
    until :meth:`stop` (``auditlens stream``); a micro-batch is yielded early once every
    partition is caught up.

    Raises ``SourceError`` (from ``read``) when the brokers cannot be reached, a topic
    does not exist, or the watermark is not a set of Kafka offsets.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topics: Sequence[str],
        *,
        group_id: str = "auditlens",
        format: MessageFormat = "json",
        csv_columns: Sequence[str] = (),
        column_map: Mapping[str, str] | None = None,
        max_records: int = 10_000,
        max_seconds: float = 1.0,
        start_from: StartFrom = "earliest",
        dead_letter_topic: str | None = None,
        client_config: Mapping[str, str] | None = None,
        name: str | None = None,
        rules: ValueRules | None = None,
        idle_seconds: float = IDLE_SECONDS,
        timeout: float = TIMEOUT,
        follow: bool = False,
    ) -> None:
        if max_records < 1:
            raise ValueError(f"max_records must be at least 1, got {max_records}")
        if format == "csv" and not csv_columns:
            raise ValueError("format 'csv' needs csv_columns")
        unknown = sorted(set((column_map or {}).values()) - set(schema.EVENT_COLUMNS))
        if unknown:
            raise SourceError(
                f"column_map maps to unknown column(s) {unknown}",
                hint=f"map to the canonical columns {list(schema.EVENT_COLUMNS)}",
                ko=f"column_map에 알 수 없는 대상 열이 있습니다: {unknown}",
                ko_hint=f"표준 열({list(schema.EVENT_COLUMNS)}) 중 하나로 매핑하십시오",
            )
        self.bootstrap_servers = bootstrap_servers
        self.topics = list(topics)
        self.group_id = group_id
        self.format: MessageFormat = format
        self.csv_columns = list(csv_columns)
        self.column_map = dict(column_map or {})
        self.max_records = max_records
        self.max_seconds = max_seconds
        self.start_from: StartFrom = start_from
        self.dead_letter_topic = dead_letter_topic
        self.client_config = dict(client_config or {})
        self.name = name or f"kafka:{','.join(self.topics)}"
        self.rules = rules or ValueRules()
        self.idle_seconds = idle_seconds
        self.timeout = timeout
        self.follow = follow
        self._stopping = threading.Event()
        #: The produce (or log-append) timestamps, in ms, of the last batch's messages.
        self.produced_ms: list[int] = []
        #: Messages on the brokers after the last batch (as the consumer last heard).
        self.lag = 0
        self._consumer: Consumer | None = None
        self._raw: tuple[Sequence[str] | pl.Series, list[bytes]] = ((), [])  # last batch
        self._log = ClientLog()
        self._reader = MessageReader(self.format, tuple(self.csv_columns), self.column_map)

    # --- reading --------------------------------------------------------------------

    def read(self, since: Watermark | None = None) -> Iterator[Batch]:
        """Yield micro-batches of what the topics hold after ``since`` (a bounded drain)."""
        offsets = parse_offsets(since)
        consumer = self._guard(Consumer, self._consumer_config())
        self._consumer = consumer
        try:
            partitions = self._partitions(consumer)
            notices: list[tuple[str, str]] = []
            assign = []
            pinned = False  # a partition started at "latest": that start must be stored
            for topic, partition in partitions:
                stored = offsets.get(topic, {}).get(partition)
                low, high = self._guard(
                    consumer.get_watermark_offsets, TopicPartition(topic, partition), self.timeout
                )
                if stored is None:
                    stored = low if self.start_from == "earliest" else high
                    pinned = pinned or self.start_from == "latest"
                elif stored < low:  # retention deleted messages this store never read
                    notices.append(
                        (
                            f"{location(topic, partition, stored)}: offsets {stored}..{low - 1} "
                            "were deleted by retention before they were read",
                            f"{location(topic, partition, stored)}: 오프셋 {stored}..{low - 1}은 "
                            "읽기 전에 보존 기간이 지나 삭제되었습니다",
                        )
                    )
                offsets.setdefault(topic, {})[partition] = stored
                assign.append(TopicPartition(topic, partition, max(stored, low)))
            self._guard(consumer.incremental_assign, assign)
            if self.follow:
                yield from self._follow(consumer, offsets, set(partitions), notices)
                return
            read = yield from self._drain(consumer, offsets, set(partitions), notices)
            if not read and pinned:  # else the next run starts at a later "latest"
                yield self._batch([], offsets, [])
        finally:
            self._consumer = None
            consumer.close()

    def _drain(
        self,
        consumer: Consumer,
        offsets: Offsets,
        pending: set[tuple[str, int]],
        notices: list[tuple[str, str]],
    ) -> Generator[Batch, None, int]:
        """Yield the micro-batches of the drain; return how many."""
        ends: dict[tuple[str, int], int] = {}
        yielded = 0
        last_news = time.monotonic()
        while pending:
            messages: list[Message] = []
            started = time.monotonic()
            while pending and len(messages) < self.max_records:
                left = self.max_seconds - (time.monotonic() - started)
                if left <= 0:
                    break
                wanted = min(self.max_records - len(messages), 10_000)
                got = self._guard(consumer.consume, wanted, min(left, 0.5))
                if got:
                    last_news = time.monotonic()
                for message in got:
                    tp = (str(message.topic()), int(message.partition() or 0))
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            pending.discard(tp)
                            continue
                        if error.fatal() or not error.retriable():
                            raise self._error(KafkaException(error))
                        continue
                    if tp not in pending:  # beyond the end of the drain: next run's
                        continue
                    messages.append(message)
                    offset = int(message.offset() or 0)
                    if tp not in ends:  # the end as the fetch reported it (ListOffsets
                        # may lag on some brokers); unknown yet: rely on partition EOF
                        end = consumer.get_watermark_offsets(TopicPartition(*tp), cached=True)[1]
                        if end > offset:
                            ends[tp] = int(end)
                    if offset + 1 >= ends.get(tp, offset + 2):
                        pending.discard(tp)
                        consumer.incremental_unassign([TopicPartition(*tp)])
            if not messages:
                if pending and time.monotonic() - last_news > self.idle_seconds:
                    waiting = ", ".join(f"{t}/{p}" for t, p in sorted(pending))
                    notices.append(
                        (
                            f"stopped waiting for {waiting}: nothing arrived for "
                            f"{self.idle_seconds:g} s (the rest is read by the next run)",
                            f"{waiting}: {self.idle_seconds:g}초 동안 아무것도 오지 않아 "
                            "기다리지 않고 멈췄습니다 (나머지는 다음 실행에서 읽습니다)",
                        )
                    )
                    pending.clear()
                if notices and not pending:
                    yield self._batch([], offsets, notices)
                    yielded += 1
                continue
            yield self._batch(messages, offsets, notices)
            yielded += 1
            notices = []
        return yielded

    def stop(self) -> None:
        """Ask a ``follow`` read to end after the micro-batch it is filling (thread- and
        signal-safe: it only sets a flag the read checks between polls)."""
        self._stopping.set()

    def _follow(
        self,
        consumer: Consumer,
        offsets: Offsets,
        partitions: set[tuple[str, int]],
        notices: list[tuple[str, str]],
    ) -> Iterator[Batch]:
        """Micro-batches until :meth:`stop`. A micro-batch is yielded as soon as the
        client has nothing more queued locally (it fetches ahead in the background), or
        every partition reports its end, or at ``max_records`` / ``max_seconds``: low
        latency under light load, full batches under a backlog. While it holds no message
        it waits for the first one (at most 0.2 s a wait, so a stop is heard)."""
        while not self._stopping.is_set():
            messages: list[Message] = []
            caught_up: set[tuple[str, int]] = set()
            started = time.monotonic()
            while len(messages) < self.max_records and not self._stopping.is_set():
                left = self.max_seconds - (time.monotonic() - started)
                if left <= 0 or (messages and caught_up >= partitions):
                    break
                if messages:  # what the client has queued, without waiting
                    wanted = min(self.max_records - len(messages), 10_000)
                    readable = self._readable(self._guard(consumer.consume, wanted, 0), caught_up)
                    if not readable:
                        break  # nothing more queued: this batch goes now
                else:  # wait for the first message
                    first = self._guard(consumer.poll, min(left, 0.2))
                    readable = self._readable([] if first is None else [first], caught_up)
                messages += readable
            if messages or notices:
                batch = self._batch(messages, offsets, notices)
                self.lag = self._lag(consumer, offsets, partitions)
                yield batch
                notices = []

    def _readable(self, got: list[Message], caught_up: set[tuple[str, int]]) -> list[Message]:
        """The readable messages of ``got``; partition ends are added to ``caught_up``
        (a later message of that partition takes it out again); fatal errors raise."""
        readable: list[Message] = []
        for message in got:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    caught_up.add((str(message.topic()), int(message.partition() or 0)))
                elif error.fatal() or not error.retriable():
                    raise self._error(KafkaException(error))
                continue
            if caught_up:  # (the common case, nothing caught up yet: no lookup)
                caught_up.discard((str(message.topic()), int(message.partition() or 0)))
            readable.append(message)
        return readable

    @staticmethod
    def _lag(consumer: Consumer, offsets: Offsets, partitions: set[tuple[str, int]]) -> int:
        lag = 0
        for topic, partition in partitions:
            high = consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)[1]
            lag += max(int(high) - offsets.get(topic, {}).get(partition, int(high)), 0)
        return lag

    def _batch(
        self, messages: list[Message], offsets: Offsets, notices: list[tuple[str, str]]
    ) -> Batch:
        """One micro-batch: readable messages as events, the others rejected.

        Per message only the client's accessors run in Python (one comprehension each);
        locations, spans and next offsets are worked out by Polars over those columns
        (at 100,000 messages a Python loop doing it all cost ~0.3 s)."""
        raws: list[bytes] = [m.value() or b"" for m in messages]
        where = pl.DataFrame(
            {
                "t": [m.topic() for m in messages],
                "p": [m.partition() for m in messages],
                "o": [m.offset() for m in messages],
            },
            schema={"t": pl.String, "p": pl.Int64, "o": pl.Int64},
        ).with_columns(pl.col("p", "o").fill_null(0))
        places = where.select(location_expr("t", "p", "o")).to_series()
        spans = where.group_by("t", "p").agg(pl.col("o").min().alias("a"), pl.col("o").max())
        for topic, partition, _, last in spans.iter_rows():
            offsets.setdefault(topic, {})[partition] = last + 1
        self._raw = (places, raws)
        self.produced_ms = [m.timestamp()[1] for m in messages]
        events, bad = self._reader.frame(raws, places)
        label = " ".join(f"{t} {p}:{a}..{b}" for t, p, a, b in sorted(spans.iter_rows()))
        metadata = {STREAM: "1", "messages": str(len(messages))}
        if notices:
            metadata["notice"] = "\n".join(en for en, _ in notices)
            metadata["notice_ko"] = "\n".join(ko for _, ko in notices)
        return Batch(
            events=events,
            watermark=offsets_watermark(offsets),
            label=label or ",".join(self.topics),
            rejected=rejected_frame(bad) if bad else None,
            metadata=metadata,
        )

    # --- after the store's commit ---------------------------------------------------

    def committed(self, batch: Batch, quarantined: pl.DataFrame) -> None:
        """Tell Kafka (informational) the offsets the store now holds; produce the batch's
        quarantined messages to the dead-letter topic."""
        if self.dead_letter_topic and quarantined.height:
            self._dead_letters(quarantined)
        consumer = self._consumer
        if consumer is None:
            return
        done = [
            TopicPartition(topic, partition, offset)
            for topic, parts in parse_offsets(batch.watermark).items()
            for partition, offset in parts.items()
        ]
        try:  # only for lag dashboards: the store's watermark is what counts
            consumer.commit(offsets=done, asynchronous=True)
        except KafkaException:
            pass

    def _dead_letters(self, quarantined: pl.DataFrame) -> None:
        producer = self._guard(Producer, self._client_config())
        topic = str(self.dead_letter_topic)
        places, raws = self._raw
        wanted = set(quarantined.get_column(schema.LOCATION).drop_nulls().to_list())
        raw = {w: r for w, r in zip(places, raws, strict=True) if w in wanted}
        for row in quarantined.iter_rows(named=True):
            where = str(row[schema.LOCATION] or "")
            value = raw.get(where, str(row.get("raw") or "").encode())
            headers = [
                ("auditlens.location", where.encode()),
                ("auditlens.reason", str(row["reason"]).encode()),
                ("auditlens.source", self.name.encode()),
            ]
            self._guard(producer.produce, topic, value, headers=headers)
        if producer.flush(self.timeout):
            raise SourceError(
                f"dead-letter topic {topic}: not every message was delivered",
                hint=_HINT,
                ko=f"데드레터 토픽 {topic}: 일부 메시지를 보내지 못했습니다",
                ko_hint=_HINT_KO,
            )

    # --- the client -----------------------------------------------------------------

    def _client_config(self) -> dict[str, Any]:
        return {
            **self.client_config,
            "bootstrap.servers": self.bootstrap_servers,
            "logger": self._log,
        }

    def _consumer_config(self) -> dict[str, Any]:
        # following: a broker that answers a fetch only when its wait is over (Tansu does,
        # Kafka answers as soon as a message is there) costs at most this much latency
        wait = {"fetch.wait.max.ms": FOLLOW_FETCH_WAIT_MS} if self.follow else {}
        return {
            "session.timeout.ms": 6000,
            "max.poll.interval.ms": 300_000,
            "fetch.queue.backoff.ms": FETCH_QUEUE_BACKOFF_MS,
            **wait,
            **self._client_config(),
            "group.id": self.group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "auto.offset.reset": self.start_from,
        }

    def _partitions(self, consumer: Consumer) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        for topic in self.topics:
            meta = self._guard(consumer.list_topics, topic, self.timeout)
            info = meta.topics.get(topic)
            if info is None or info.error is not None or not info.partitions:
                reason = str(info.error) if info is not None and info.error else "no partitions"
                raise SourceError(
                    f"kafka topic {topic!r} on {self.bootstrap_servers}: {reason}",
                    hint="create the topic, or fix topics of the kafka source",
                    ko=f"{self.bootstrap_servers}의 kafka 토픽 {topic!r}: {reason}",
                    ko_hint="토픽을 만들거나 kafka 소스의 topics를 고치십시오",
                )
            found.extend((topic, p) for p in sorted(info.partitions))
        return found

    def _guard(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``call(*args, **kwargs)`` with the client's errors as SourceError."""
        try:
            return call(*args, **kwargs)
        except (KafkaException, ValueError, TypeError) as exc:
            if self._consumer is not None:  # serve the client's queued log lines: the
                with contextlib.suppress(Exception):  # reason behind e.g. "transport failure"
                    self._consumer.poll(0)  # (read aborts: nothing polled here is stored)
            raise self._error(exc) from None

    def _error(self, exc: BaseException) -> SourceError:
        secrets = [v for k, v in self.client_config.items() if k in SECRET_KEYS and v]
        reason = client_reason(exc, secrets, self._log)
        return SourceError(
            f"cannot read kafka {self.bootstrap_servers} ({', '.join(self.topics)}): {reason}",
            hint=_HINT,
            ko=f"kafka {self.bootstrap_servers} ({', '.join(self.topics)})을(를) 읽을 수 "
            f"없습니다: {reason}",
            ko_hint=_HINT_KO,
        )
