"""The streaming run's Prometheus metrics: events, micro-batch latency, event-to-scored
latency (from each message's Kafka timestamp) and consumer lag, served on
``--metrics-port`` (prometheus_client's own HTTP server; none without a port).

Families (label ``source``): ``auditlens_stream_events_total``,
``auditlens_stream_quarantined_total``, ``auditlens_stream_batches_total``,
``auditlens_stream_batch_seconds`` (histogram: one scoring — features, both detectors,
store, alerts — of the micro-batches committed since the last),
``auditlens_stream_event_latency_seconds`` (histogram: Kafka timestamp → scored and
alerted), ``auditlens_stream_stored_latency_seconds`` (histogram: Kafka timestamp →
committed to the store, the reading side's part of it), ``auditlens_stream_lag_messages``
(gauge).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class StreamMetrics:
    """The metric families of one stream run, in their own registry."""

    def __init__(self, source: str, port: int | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "auditlens_stream_events", "Messages read by the stream.", ["source"], registry=r
        ).labels(source)
        self.quarantined = Counter(
            "auditlens_stream_quarantined", "Messages quarantined.", ["source"], registry=r
        ).labels(source)
        self.batches = Counter(
            "auditlens_stream_batches", "Micro-batches committed.", ["source"], registry=r
        ).labels(source)
        self.batch_seconds = Histogram(
            "auditlens_stream_batch_seconds",
            "Seconds of one scoring of the micro-batches committed since the last.",
            ["source"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        ).labels(source)
        self.latency = Histogram(
            "auditlens_stream_event_latency_seconds",
            "Seconds from a message's Kafka timestamp to its window scored and alerted.",
            ["source"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        ).labels(source)
        self.stored = Histogram(
            "auditlens_stream_stored_latency_seconds",
            "Seconds from a message's Kafka timestamp to its micro-batch committed to the store.",
            ["source"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        ).labels(source)
        self.lag = Gauge(
            "auditlens_stream_lag_messages",
            "Messages on the brokers not yet read.",
            ["source"],
            registry=r,
        ).labels(source)
        self._server: Any = None
        if port is not None:
            from prometheus_client import start_http_server

            self._server, _ = start_http_server(port, registry=r)

    def batch(self, read: int, quarantined: int, lag: int) -> None:
        """Record one committed micro-batch."""
        self.events.inc(read)
        self.quarantined.inc(quarantined)
        self.batches.inc()
        self.lag.set(lag)

    def scored(
        self, seconds: float, latencies: Sequence[float], stored: Sequence[float] = ()
    ) -> None:
        """Record one scoring (of the micro-batches committed since the last): its
        seconds, and per message the latency to scored and to stored."""
        self.batch_seconds.observe(seconds)
        for histogram, values in ((self.latency, latencies), (self.stored, stored)):
            step = max(len(values) // 1000, 1)  # a sample: observing costs ~1 µs each
            for value in values[::step]:
                histogram.observe(value)

    def close(self) -> None:
        """Stop the HTTP server (if any)."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None
