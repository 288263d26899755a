# size: the stream loop, its background scorer, the store-and-alert step and its start share a run.
"""`auditlens stream`: Kafka micro-batches validated, stored, scored and alerted
continuously until stopped (SIGTERM/SIGINT: the current micro-batch is finished first).

Per micro-batch: the kafka source's batch is validated and committed with its offsets
(pipeline/ingestion.py, exactly once), then the updated (user, day) windows are scored
(pipeline/stream_state.py) by the fitted pipeline in force and by the online River
detector (detect/online.py), stored as one score run (its River scores in
``online_scores``) and alerted through the batch run's intake (pipeline/alerting.py
``raise_run``: same outbox, dedup and routing; an alert already open absorbs the same
person's later windows, so nobody is paged twice). Scoring runs in a thread of its own
and takes every micro-batch committed while it worked at once (``_Background``): reading
and committing never wait for it, and today's feature matrix is built once per scoring
(each micro-batch merged into today's per-user aggregations as it arrives, the rows
finished over the history up to yesterday: features/today.py).

The lake's small parts (one per micro-batch) are compacted in a third thread every
``MIN_PARTS`` micro-batches (``_Compactor``, store/compaction.py).

A clean stop scores the current day once more over all its events before it exits.
Restart: runs whose alerts were not raised (a kill between the run and its alerts) are
raised first; then the current day is scored once over the lake (windows a kill left
unscored), River is rebuilt from the days before today (not saved), and reading resumes at
the stored offsets.

Example::

    report = stream(settings, source="access")   # until SIGTERM / stop()
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import polars as pl

from auditlens.config import KafkaSourceConfig, Settings
from auditlens.detect.explain import method_of
from auditlens.detect.online import OnlineDetector
from auditlens.errors import AuditlensError, ConfigError
from auditlens.features.base import KEYS
from auditlens.fitted import FittedPipeline
from auditlens.pipeline.alerting import raise_run
from auditlens.pipeline.defaults import DEFAULT_RUN_WAIT
from auditlens.pipeline.detection import Clock, feature_context, score_matrix
from auditlens.pipeline.ingestion import BatchReport, ingest, utc_now
from auditlens.pipeline.inputs import make_source
from auditlens.pipeline.run import _current, _reasons_by_key, _with_evidence, run_lock
from auditlens.pipeline.stream_metrics import StreamMetrics
from auditlens.pipeline.stream_state import DayState, Update
from auditlens.scoring import user_peaks
from auditlens.store.compaction import MIN_PARTS
from auditlens.store.models import ModelRecord
from auditlens.store.repo import Store
from auditlens.store.scores import RunRecord

log = logging.getLogger("auditlens.stream")
#: Python's thread switch interval while streaming (its default: 5 ms). The reading thread
#: and the scoring thread each give up the GIL at every Polars call and must take it back
#: from the other; at 5 ms a wait, a micro-batch's few hundred calls added tenths of a
#: second to its latency (bench/bench_stream.py).
SWITCH_INTERVAL: Final = 0.001


@dataclass
class StreamReport:
    """What a stream run did until it stopped."""

    source: str
    batches: int = 0
    events: int = 0
    runs: int = 0
    windows: int = 0
    alerts: int = 0
    seconds: float = 0.0
    #: Event-to-scored latencies (s) from each message's Kafka timestamp, last 100k.
    latencies: list[float] = field(default_factory=list)
    #: The part of those latencies until the event was committed to the store, last 100k.
    stored: list[float] = field(default_factory=list)


@dataclass
class StreamControl:
    """How a caller stops a stream run from another thread (``stop``), and hears of
    each micro-batch (``on_batch``: report, events this batch, windows scored)."""

    stop_event: threading.Event = field(default_factory=threading.Event)
    on_batch: Callable[[StreamReport], None] | None = None
    _stoppers: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        """Finish the current micro-batch, then return."""
        self.stop_event.set()
        for stopper in self._stoppers:
            stopper()


def stream(
    settings: Settings,
    *,
    source: str | None = None,
    metrics_port: int | None = None,
    control: StreamControl | None = None,
    clock: Clock = utc_now,
    wait: float = DEFAULT_RUN_WAIT,
) -> StreamReport:
    """Run the stream of kafka source ``source`` (None: the only one) until stopped.

    Raises:
        ConfigError: no such kafka source, or none configured.
        AuditlensError: no model in force (run `auditlens run` or `train` first).
    """
    from auditlens.sources.kafka import KafkaSource

    name, config = _kafka(settings, source)
    control = control or StreamControl()
    report = StreamReport(source=name)
    metrics = StreamMetrics(name, metrics_port)
    began = time.perf_counter()
    with _signals(control), _switch_interval(), Store.open(settings, migrate=True) as store:
        state, scorer = _start(store, settings, report, clock, wait)
        kafka = make_source(name, config, settings)
        assert isinstance(kafka, KafkaSource)  # noqa: S101 - _kafka chose a kafka config
        kafka.follow = True
        control._stoppers.append(kafka.stop)
        if control.stop_event.is_set():
            kafka.stop()

        def score(done: list[_Committed]) -> None:
            """Score what was committed since the last call (one update per user-day)."""
            started = time.perf_counter()
            events = pl.concat([c.events for c in done], how="vertical_relaxed")
            windows = 0
            for update in state.update(events):
                windows += scorer.commit(update, done[-1].batch_id, events.height)
            now_ms = time.time() * 1000.0
            latencies = [(now_ms - t) / 1000.0 for c in done for t in c.produced_ms if t > 0]
            stored = [(c.at_ms - t) / 1000.0 for c in done for t in c.produced_ms if t > 0]
            report.batches += len(done)
            report.events += sum(c.report.accepted for c in done)
            report.windows += windows
            report.latencies = (report.latencies + latencies)[-100_000:]
            report.stored = (report.stored + stored)[-100_000:]
            seconds = time.perf_counter() - started
            for c in done:
                metrics.batch(c.report.ingested, c.report.quarantined, c.lag)
            metrics.scored(seconds, latencies, stored)
            log.info(
                "batches %s..%s: %d events (%d quarantined), %d windows scored in %.3f s, "
                "lag %d, p99 latency %.3f s",
                done[0].batch_id,
                done[-1].batch_id,
                sum(c.report.accepted for c in done),
                sum(c.report.quarantined for c in done),
                windows,
                seconds,
                done[-1].lag,
                float(np.percentile(latencies, 99)) if latencies else 0.0,
            )
            if control.on_batch is not None:
                control.on_batch(report)

        background = _Background(score, on_error=kafka.stop)
        compactor = _Compactor(store, clock)

        def handle(batch: BatchReport, events: pl.DataFrame) -> None:
            now_ms = time.time() * 1000.0
            background.put(_Committed(batch, events, list(kafka.produced_ms), kafka.lag, now_ms))
            compactor.committed()

        log.info("streaming %s (%s) from the stored offsets", name, ", ".join(config.topics))
        try:
            done = ingest(kafka, settings, store=store, clock=clock, on_events=handle)
        finally:
            compactor.close()
            background.close()  # scores what is queued; raises what the scorer raised
        final = state.close() if done.batches else None
        if final is not None:  # the day as it stands over everything: a restart's first
            scorer.commit(final, store.events.last_batch_id(), 0)  # scores equal these
    metrics.close()
    report.seconds = time.perf_counter() - began
    return report


@dataclass(frozen=True)
class _Committed:
    """A committed micro-batch waiting to be scored."""

    report: BatchReport
    events: pl.DataFrame
    produced_ms: list[int]
    lag: int
    at_ms: float  # when it was committed (epoch ms, as the Kafka timestamps)

    @property
    def batch_id(self) -> int:
        return self.report.batch_id


class _Background:
    """Scores committed micro-batches in a thread of its own, all that arrived while it
    worked at once: reading and committing go on meanwhile (today's feature matrix is
    built once per scoring, not once per micro-batch), and at most ``limit`` events wait."""

    def __init__(
        self,
        work: Callable[[list[_Committed]], None],
        *,
        on_error: Callable[[], None],
        limit: int = 2_000_000,
    ) -> None:
        self._work, self._on_error, self._limit = work, on_error, limit
        self._cond = threading.Condition()
        self._queue: list[_Committed] = []
        self._closing = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="auditlens-stream-score")
        self._thread.start()

    def put(self, item: _Committed) -> None:
        """Queue ``item`` (waits while ``limit`` events are queued: backpressure)."""
        with self._cond:
            while (
                self._error is None
                and self._queue
                and sum(c.events.height for c in self._queue) >= self._limit
            ):
                self._cond.wait(0.1)
            if self._error is not None:
                raise self._error
            self._queue.append(item)
            self._cond.notify_all()

    def close(self) -> None:
        """Score what is queued, stop the thread; raise what the work raised."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                items, self._queue = self._queue, []
                self._cond.notify_all()
            try:
                self._work(items)
            except BaseException as exc:  # handed to the reading thread
                with self._cond:
                    self._error = exc
                    self._cond.notify_all()
                self._on_error()
                return


class _Compactor:
    """Compacts the lake's small parts in a thread of its own once ``every`` micro-batches
    were committed since the last time (store/compaction.py): a part per micro-batch would
    make every later read of the lake pay per file. A failed compaction changes nothing;
    it is logged and tried again later."""

    def __init__(self, store: Store, clock: Clock, every: int | None = None) -> None:
        self._store, self._clock, self._every = store, clock, every or MIN_PARTS
        self._count = 0
        self._wake = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="auditlens-stream-compact")
        self._thread.start()

    def committed(self) -> None:
        """One more micro-batch is in the lake."""
        self._count += 1
        if self._count >= self._every:
            self._count = 0
            self._wake.set()

    def close(self) -> None:
        """Finish a compaction under way; start no other."""
        self._closing = True
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closing:
                return
            try:
                report = self._store.events.compact(now=self._clock(), min_parts=self._every)
            except Exception as exc:  # nothing changed; the next try may do it
                log.warning("lake compaction failed (tried again later): %s", exc)
                continue
            for done in report.compacted:
                log.info("lake: %d parts compacted (%d events)", done.batches, done.rows)
            if report.refused:
                log.warning("lake parts missing or changed, not compacted: %s", report.refused)


class _Scorer:
    """Stores an update as a score run with its online scores, then raises its alerts."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        model: FittedPipeline,
        record: ModelRecord,
        version: int | None,
        clock: Clock,
        wait: float,
        report: StreamReport,
        state: DayState,
    ) -> None:
        self.store, self.settings, self.model, self.record = store, settings, model, record
        self.version, self.clock, self.wait, self.report = version, clock, wait, report
        self.state = state

    def commit(self, update: Update, batch_id: int, events: int) -> int:
        """Store ``update``'s windows past warm-up; return how many."""
        settings, model = self.settings, self.model
        try:
            scoring = score_matrix(update.matrix, model, settings, history=update.risk)
        except AuditlensError:  # every updated user still in warm-up (no risk history)
            return 0
        rows = scoring.windows.join(update.keys, on=list(KEYS), how="semi")
        if rows.height == 0:
            return 0
        # the peaks alerts are raised from are those of this run's rows (raise_run): only
        # their days need reasons, not each user's past peak again at every scoring
        shown = user_peaks(rows)
        none = rows.clear().select(*KEYS, pl.lit(None, pl.String).alias("reasons"))
        by_key = _reasons_by_key(scoring, model, rows, shown, none)  # no earlier peak days
        rows = _with_evidence(rows, by_key, scoring, self.record.sha256, settings, batch_id)
        started = self.clock()
        run = RunRecord(
            started_at=started,
            finished_at=self.clock(),
            model_sha256=self.record.sha256,
            config_hash=settings.fingerprint(),
            data_batch_id=batch_id,
            events=events,
            windows=rows.height,
            reason_method=method_of(model.detector),
            capacity=settings.review_capacity,
            capacity_cutoff=None,
            alerts_state="pending",
            config=json.dumps(settings.scoring_config(), sort_keys=True, default=str),
            model_version=self.version,
        )
        online = update.keys.with_columns(
            pl.Series("score", update.online, dtype=pl.Float64),
            pl.lit(update.learned).alias("learned"),
            pl.lit(int(update.closing)).alias("closing"),
            pl.Series("reasons", update.online_reasons, dtype=pl.String),
        ).join(rows.select(*KEYS), on=list(KEYS), how="semi")
        counts = self.state.department_counts()  # (the lake is not read per scoring)
        with run_lock(self.store, settings, self.wait):
            run_id = self.store.scores.commit_run(run, rows)
            self.store.online.add(run_id, online)
            raised = raise_run(
                self.store, settings, run_id, clock=self.clock, department_counts=counts
            )
        self.report.runs += 1
        self.report.alerts += len(raised.intake.opened)
        return rows.height


def _start(
    store: Store, settings: Settings, report: StreamReport, clock: Clock, wait: float
) -> tuple[DayState, _Scorer]:
    """Load the model in force, raise runs a kill left pending, load the day (River
    rebuilt) and score it once over the lake (windows a kill left unscored).

    Raises:
        AuditlensError: no model in force.
    """
    record, version = _current(store, settings)
    if record is None:
        raise AuditlensError(
            "no model in force to score the stream with",
            hint="run `auditlens run` (or `auditlens train --labels FILE`) once first",
            ko="스트림에 점수를 매길 사용 중인 모델이 없습니다",
            ko_hint="먼저 `auditlens run`(또는 `auditlens train --labels 파일`)을 한 번 "
            "실행하십시오",
        )
    model = FittedPipeline.load(Path(record.path), record.sha256)
    online = OnlineDetector(seed=settings.model_seed)
    state = DayState(store, settings, model, feature_context(settings), online, record.sha256)
    scorer = _Scorer(store, settings, model, record, version, clock, wait, report, state)
    for pending in store.scores.pending_runs():
        with run_lock(store, settings, wait):
            report.alerts += len(raise_run(store, settings, pending, clock=clock).intake.opened)
    state.start()
    if state.day is not None:  # windows a kill may have left unscored
        catch_up = state.close()
        if catch_up is not None:
            scorer.commit(catch_up, store.events.last_batch_id(), 0)
    return state, scorer


def _kafka(settings: Settings, name: str | None) -> tuple[str, KafkaSourceConfig]:
    kafka = {k: v for k, v in settings.sources.items() if isinstance(v, KafkaSourceConfig)}
    if name is None and len(kafka) == 1:
        return next(iter(kafka.items()))
    if name is not None and name in kafka:
        return name, kafka[name]
    known = ", ".join(sorted(kafka)) or "none configured"
    raise ConfigError(
        f"no kafka source {name or ''} to stream ({known})".replace("  ", " "),
        hint='define [sources.NAME] kind = "kafka" in auditlens.toml and name it with --source',
        ko=f"스트리밍할 kafka 소스 {name or ''}이(가) 없습니다 ({known})".replace("  ", " "),
        ko_hint='auditlens.toml에 [sources.NAME] kind = "kafka"를 정의하고 --source로 지정하십시오',
    )


@contextmanager
def _switch_interval(seconds: float = SWITCH_INTERVAL) -> Iterator[None]:
    """Python's thread switch interval at ``seconds`` while streaming (then as before)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@contextmanager
def _signals(control: StreamControl) -> Iterator[None]:
    """SIGTERM and SIGINT stop the stream after the current micro-batch (main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        log.info("signal %d: finishing the current micro-batch", signum)
        control.stop()

    before = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
