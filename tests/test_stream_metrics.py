"""The streaming run's Prometheus families, scraped from --metrics-port."""

from __future__ import annotations

import urllib.request

from auditlens.pipeline.stream_metrics import StreamMetrics
from tests.kafka_broker import free_port


def test_the_stream_metrics_are_served_on_the_port() -> None:
    port = free_port()
    metrics = StreamMetrics("bus", port)
    try:
        metrics.batch(read=120, quarantined=3, lag=42)
        metrics.batch(read=80, quarantined=0, lag=0)
        metrics.scored(0.4, [0.2, 0.3, 1.5], [0.05, 0.1, 0.3])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    finally:
        metrics.close()
    assert 'auditlens_stream_events_total{source="bus"} 200.0' in text
    assert 'auditlens_stream_quarantined_total{source="bus"} 3.0' in text
    assert 'auditlens_stream_batches_total{source="bus"} 2.0' in text
    assert 'auditlens_stream_lag_messages{source="bus"} 0.0' in text
    assert 'auditlens_stream_event_latency_seconds_count{source="bus"} 3.0' in text
    assert 'auditlens_stream_event_latency_seconds_bucket{le="1.0",source="bus"} 2.0' in text
    assert 'auditlens_stream_batch_seconds_sum{source="bus"} 0.4' in text
    assert 'auditlens_stream_stored_latency_seconds_count{source="bus"} 3.0' in text
    assert 'auditlens_stream_stored_latency_seconds_bucket{le="0.1",source="bus"} 2.0' in text


def test_without_a_port_nothing_is_served() -> None:
    metrics = StreamMetrics("bus")
    metrics.batch(read=1, quarantined=0, lag=0)
    assert (
        metrics.registry.get_sample_value("auditlens_stream_events_total", {"source": "bus"}) == 1
    )
    metrics.close()
