"""Prometheus metrics of a deployment, read from the store when Prometheus scrapes.

:class:`StoreCollector` turns :func:`auditlens.views.operations.operations` (runs,
ingestion, scores, alerts, deliveries, outbox, the model in force, the newest run's drift)
and, where an exporter verifies the trail, the last :class:`TrailCheck`, into metric
families on every scrape: the numbers are the store's, so a restart resets nothing and the API's
``/metrics`` and ``auditlens monitor serve`` agree. docs/monitoring.md lists every metric;
``deploy/prometheus/rules.yml`` alerts on them.

Example::

    registry = CollectorRegistry()
    registry.register(StoreCollector(store))
    print(generate_latest(registry).decode())   # auditlens_runs{alerts_state="raised"} 3.0
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from auditlens.store.repo import Store
from auditlens.views.audit import audit_status
from auditlens.views.operations import Operations, operations

log = logging.getLogger("auditlens.monitor")
Clock = Callable[[], dt.datetime]
Family = CounterMetricFamily | GaugeMetricFamily


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class TrailVerification:
    """One verification of the audit trail by this exporter."""

    at: dt.datetime
    ok: bool
    entries: int
    seconds: float


class TrailCheck:
    """Verifies the audit trail (hash chain and table replay, as ``/v1/audit/verify``
    and :func:`~auditlens.views.audit.audit_status` do) and keeps the last result.

    Verifying reads the whole trail, so it is not done per scrape: ``monitor serve``
    calls :meth:`run` every ``--verify-every`` seconds on a thread of its own,
    ``monitor textfile`` once per file.
    """

    def __init__(self, store: Store, clock: Clock = _utc_now) -> None:
        self.store = store
        self.clock = clock
        self._last: TrailVerification | None = None
        self._lock = threading.Lock()

    def run(self) -> TrailVerification:
        """Verify now; a trail that cannot be read counts as not verified (ok False)."""
        began = time.perf_counter()
        try:
            status = audit_status(self.store, now=self.clock())
            ok, entries = status.ok and not status.table_missing, status.entries
        except Exception as exc:  # an unreachable store is a failed check, not a crash
            log.warning("audit trail not verified: %s", type(exc).__name__)
            ok, entries = False, 0
        result = TrailVerification(self.clock(), ok, entries, time.perf_counter() - began)
        with self._lock:
            self._last = result
        return result

    def last(self) -> TrailVerification | None:
        """The newest result (None before the first)."""
        with self._lock:
            return self._last


class StoreCollector(Collector):
    """The store's figures as Prometheus metric families, read at each scrape.

    When the store cannot be read, only ``auditlens_store_up 0`` is reported (and the
    trail's last check, if any): an alert rule sees that, a scrape never fails.
    """

    def __init__(
        self, store: Store, trail: TrailCheck | None = None, clock: Clock = _utc_now
    ) -> None:
        self.store = store
        self.trail = trail
        self.clock = clock

    def collect(self) -> Iterator[Family]:
        """Every metric family, read now."""
        began = time.perf_counter()
        try:
            now = operations(self.store, now=self.clock())
        except Exception as exc:  # a scrape reports the store down rather than failing
            log.warning("store not readable for metrics: %s", type(exc).__name__)
            now = None
        yield _gauge(
            "auditlens_store_up",
            "1 when the store answered this scrape. / 저장소가 응답하면 1.",
            now is not None,
        )
        if now is not None:
            yield _gauge(
                "auditlens_store_read_duration_seconds",
                "Seconds reading the store's figures took. / 저장소 수치를 읽은 시간(초).",
                time.perf_counter() - began,
            )
            yield from store_families(now)
        if self.trail is not None:
            yield from trail_families(self.trail.last())


def store_families(now: Operations) -> Iterator[Family]:
    """The metric families of one :class:`Operations` reading."""
    yield from _runs(now)
    yield from _intake(now)
    yield from _alerting(now)
    yield from _quality(now)
    model = now.model
    info = GaugeMetricFamily(
        "auditlens_model_info",
        "The model auditlens run scores with (value 1). / 현재 점수 모델.",
        labels=["sha256", "kind"],
    )
    if model is not None:
        info.add_metric([model.sha256, model.kind], 1)
    yield info
    yield _gauge(
        "auditlens_model_age_seconds",
        "Seconds since the model in force was fitted (absent: no model). / 현재 모델의 나이(초).",
        None if model is None else model.age_seconds,
    )
    yield from _drift(now)


def _drift(now: Operations) -> Iterator[Family]:
    """Drift of the newest run with drift rows (views/drift.py); absent values: no run
    measured (or the newest was not: ``auditlens_drift_measured`` 0)."""
    drift = now.drift
    measured = drift is not None and drift.measured
    features = [m for m in drift.measures if m.kind == "feature"] if drift is not None else []
    yield _gauge(
        "auditlens_drift_run_id",
        "The run the drift figures are of (absent: none yet). / 드리프트 수치의 실행 ID.",
        None if drift is None else drift.run_id,
    )
    yield _gauge(
        "auditlens_drift_measured",
        "1 when that run's drift was measured, 0 when not (model without a training "
        "reference, too few windows). / 드리프트를 측정했으면 1.",
        None if drift is None else measured,
    )
    for name, text, field in (
        ("psi", "Population stability index per feature. / 특성별 PSI.", "psi"),
        ("ks", "Kolmogorov-Smirnov statistic per feature. / 특성별 KS 통계량.", "ks"),
    ):
        family = GaugeMetricFamily(f"auditlens_drift_{name}", text, labels=["feature"])
        for m in features:
            value = getattr(m, field)
            if value is not None:
                family.add_metric([m.name], value)
        yield family
    yield _gauge(
        "auditlens_drift_features_drifted",
        "Features that drifted past the configured thresholds. / 드리프트된 특성 수.",
        sum(m.drifted for m in features) if measured else None,
    )
    yield _gauge(
        "auditlens_drift_features_measured",
        "Features whose drift was measured. / 드리프트를 측정한 특성 수.",
        len(features) if measured else None,
    )
    by_kind = GaugeMetricFamily(
        "auditlens_drift_drifted",
        "Measures past the thresholds by kind (feature, score, alert_rate). "
        "/ 종류별 드리프트 지표 수.",
        labels=["kind"],
    )
    if drift is not None and measured:
        for kind in ("feature", "score", "alert_rate"):
            by_kind.add_metric([kind], sum(m.drifted for m in drift.measures if m.kind == kind))
    yield by_kind
    score = None if drift is None else drift.score
    rate = None if drift is None else drift.alert_rate
    yield _gauge(
        "auditlens_score_psi",
        "PSI of the risk score against the training reference. / 위험 점수의 PSI.",
        None if score is None else score.psi,
    )
    yield _gauge(
        "auditlens_score_ks",
        "KS statistic of the risk score against the training reference. / 위험 점수의 KS.",
        None if score is None else score.ks,
    )
    yield _gauge(
        "auditlens_alert_rate_ratio",
        "Share of windows at or above the alert line over the training share. "
        "/ 학습 대비 경보 비율의 배율.",
        None if rate is None else rate.ratio,
    )


def _runs(now: Operations) -> Iterator[Family]:
    runs = GaugeMetricFamily(  # a gauge: a run moves from pending to raised
        "auditlens_runs",
        "Stored score runs, by the state of their alerts (raised, pending, skipped). "
        "/ 저장된 점수 실행 수(경보 상태별).",
        labels=["alerts_state"],
    )
    for state, n in now.runs.items():
        runs.add_metric([state], n)
    yield runs
    finished = now.last_run_finished_at
    yield _gauge(
        "auditlens_run_last_success_timestamp_seconds",
        "Unix time the newest stored run finished (0: none yet). / 마지막 성공 실행 완료 시각.",
        0 if finished is None else finished.timestamp(),
    )
    yield _gauge(
        "auditlens_run_last_duration_seconds",
        "Seconds the newest stored run took (absent: none yet). / 마지막 실행 소요 시간(초).",
        now.last_run_seconds,
    )
    yield _counter(
        "auditlens_scores_stored",
        "Score rows stored by every run. / 저장된 점수 행 수.",
        now.scores_stored,
    )


def _intake(now: Operations) -> Iterator[Family]:
    per_source = {
        "ingested": "Rows read per source (accepted + quarantined). / 소스별로 읽은 행 수.",
        "accepted": "Rows stored per source. / 소스별로 저장된 행 수.",
        "quarantined": "Rows quarantined per source. / 소스별 격리 행 수.",
    }
    for what, text in per_source.items():
        family = CounterMetricFamily(f"auditlens_events_{what}", text, labels=["source"])
        for source in now.sources:
            family.add_metric([source.source], getattr(source, what))
        yield family
    last = GaugeMetricFamily(
        "auditlens_ingest_last_commit_timestamp_seconds",
        "Unix time of the newest batch committed per source. / 소스별 마지막 적재 시각.",
        labels=["source"],
    )
    for source in now.sources:
        last.add_metric([source.source], source.last_committed_at.timestamp())
    yield last
    yield _by(
        "auditlens_events_quarantined_by_kind",
        "Quarantined rows per kind of reason (a row once under each of its kinds). "
        "/ 사유 종류별 격리 행 수.",
        "kind",
        now.quarantine_by_kind,
    )
    yield _by(
        "auditlens_tamper_findings",
        "Possible log-tampering findings per kind. / 종류별 로그 변조 의심 건수.",
        "kind",
        now.tamper_by_kind,
    )


def _alerting(now: Operations) -> Iterator[Family]:
    counts = GaugeMetricFamily(
        "auditlens_alerts",
        "Alerts now in each status, by severity. / 심각도·상태별 경보 수.",
        labels=["severity", "status"],
    )
    for count in now.alerts:
        counts.add_metric([count.severity, count.status], count.alerts)
    yield counts
    yield _by(
        "auditlens_deliveries",
        "Deliveries now in each outbox status (dead: dead-lettered). / 상태별 발송 건수.",
        "status",
        now.deliveries_by_status,
        gauge=True,
    )
    yield _by(
        "auditlens_delivery_attempts",
        "Delivery attempts by outcome (ok, failed). / 결과별 발송 시도 수.",
        "outcome",
        now.attempts,
    )
    yield _gauge(
        "auditlens_outbox_oldest_pending_age_seconds",
        "Age of the oldest pending delivery (0: none pending). / 가장 오래 대기 중인 발송의 나이.",
        now.outbox_oldest_pending_seconds or 0.0,
    )
    yield _gauge(
        "auditlens_outbox_oldest_due_age_seconds",
        "How long the longest-overdue pending delivery has been due (0: none overdue; quiet "
        "hours and retry back-off are not due). / 발송 예정 시각이 지난 가장 오래된 건의 지연.",
        now.outbox_oldest_due_seconds or 0.0,
    )


def _quality(now: Operations) -> Iterator[Family]:
    q = now.quality
    precision = GaugeMetricFamily(
        "auditlens_alert_precision",
        "Confirmed / (confirmed + dismissed) of the alerts opened in the last 28 days, per "
        "scenario (absent while none is decided). / 최근 28일 유형별 정밀도.",
        labels=["scenario"],
    )
    for scenario, value in q.precision_by_scenario.items():
        if value is not None:
            precision.add_metric([scenario], value)
    yield precision
    yield _by(
        "auditlens_review_samples",
        "Miss-rate review samples now in each status (pending, missed, clean). / 상태별 "
        "검토 표본 수.",
        "status",
        q.reviews_by_status,
        gauge=True,
    )
    yield _gauge(
        "auditlens_miss_rate",
        "Missed / reviewed of the review samples drawn in the last 28 days (absent: none "
        "reviewed). / 최근 28일 검토 표본의 놓침 비율.",
        q.miss_rate,
    )


def trail_families(last: TrailVerification | None) -> Iterator[Family]:
    """The audit trail's last verification (absent before the first)."""
    if last is None:
        return
    yield _gauge(
        "auditlens_audit_trail_last_verification_timestamp_seconds",
        "Unix time this exporter last verified the audit trail. / 감사 기록 마지막 검증 시각.",
        last.at.timestamp(),
    )
    yield _gauge(
        "auditlens_audit_trail_verification_ok",
        "1 when the last verification found the hash chain and the tables intact. "
        "/ 마지막 검증 결과(1: 정상).",
        last.ok,
    )
    yield _gauge(
        "auditlens_audit_trail_entries",
        "Entries whose links held at the last verification. / 검증된 감사 기록 항목 수.",
        last.entries,
    )
    yield _gauge(
        "auditlens_audit_trail_verification_duration_seconds",
        "Seconds the last verification took. / 마지막 검증 소요 시간(초).",
        last.seconds,
    )


def _gauge(name: str, text: str, value: float | bool | None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, text)
    if value is not None:
        family.samples.append(Sample(name, {}, float(value)))
    return family


def _counter(name: str, text: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, text, value=value)


def _by(name: str, text: str, label: str, values: dict[str, int], *, gauge: bool = False) -> Family:
    family: Family = (
        GaugeMetricFamily(name, text, labels=[label])
        if gauge
        else CounterMetricFamily(name, text, labels=[label])
    )
    for key, n in values.items():
        family.add_metric([key], n)
    return family
