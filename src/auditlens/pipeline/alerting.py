# size: raising, dispatching and deciding alerts: the alert jobs the CLI calls, side by side.
"""Alerting jobs as plain functions: raise alerts from a run's scores, dispatch the outbox,
triage decisions, and the audit trail's verify and log (what the CLI calls)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import polars as pl

from auditlens.alerts.channels import Channel
from auditlens.alerts.dispatch import DispatchReport, RetryPolicy, dispatch
from auditlens.alerts.factory import build_channels
from auditlens.alerts.intake import Criteria, Detection, IntakeReport, admit
from auditlens.alerts.routing import rules_from_settings
from auditlens.alerts.triage import Decision, TriagePolicy, decide
from auditlens.alerts.webhooks import PagerDutyChannel
from auditlens.config import PagerDutyChannelConfig, Settings
from auditlens.errors import AuditlensError, check_choices
from auditlens.features.base import WINDOW
from auditlens.identity import Directory, cli_acting
from auditlens.pipeline.defaults import DEFAULT_RUN_WAIT
from auditlens.pipeline.detection import incidents
from auditlens.pipeline.heap import job_heap
from auditlens.pipeline.ingestion import Clock, utc_now
from auditlens.pipeline.run import RunReport, run_lock, score_run
from auditlens.pipeline.stages import OnStage, Steps
from auditlens.privacy.pseudonyms import alert_disguise
from auditlens.schema import USER_ID, departments_of_counts, user_departments
from auditlens.scoring import SEVERITY_CUTOFFS, peak_keys, user_peaks
from auditlens.store.alerts import ALERT_STATUSES, Alert, Evidence
from auditlens.store.audit import NewEntry
from auditlens.store.outbox import Attempt, OutboxItem
from auditlens.store.repo import Store


@dataclass(frozen=True)
class RaiseReport:
    """What raising alerts for one run did."""

    run_id: int | None
    criteria: Criteria
    candidates: int
    intake: IntakeReport
    rules: int


def alert_criteria(settings: Settings) -> Criteria:
    """The alerting criteria in force: threshold in scoring.py's severity terms."""
    threshold = SEVERITY_CUTOFFS.get(settings.alert_min_severity, 0.0)
    return Criteria(
        min_severity=settings.alert_min_severity,
        threshold_risk=float(threshold),
        capacity=settings.review_capacity,
        dedup_hours=settings.alert_dedup_hours,
    )


def raise_alerts(
    settings: Settings,
    *,
    run_id: int | None = None,
    wait: float = DEFAULT_RUN_WAIT,
    clock: Clock = utc_now,
) -> RaiseReport:
    """Open alerts for a score run's users whose peak crossed the threshold (under the
    store's run lock; ``run_id`` None: the newest run). See :func:`raise_run`.

    Raises:
        AuditlensError: no score run is stored (or ``run_id`` does not exist).
        RunInProgress: another run holds the store's run lock after ``wait`` seconds.
    """
    with Store.open(settings) as store, run_lock(store, settings, wait):
        if run_id is None:
            latest = store.scores.last_run()
            if latest is None:
                raise AuditlensError(
                    "no score run is stored yet",
                    hint="run `auditlens run` first",
                    ko="저장된 점수 실행이 아직 없습니다",
                    ko_hint="먼저 `auditlens run`을 실행하십시오",
                )
            run_id = latest.id
        return raise_run(store, settings, run_id, clock=clock)


def raise_run(
    store: Store,
    settings: Settings,
    run_id: int,
    *,
    clock: Clock = utc_now,
    department_counts: pl.DataFrame | None = None,
) -> RaiseReport:
    """Raise the alerts of one stored run (the caller holds the run lock).

    Per user the run's peak counts — :func:`auditlens.scoring.user_peaks` over the run's
    score rows, the same definition the run's output uses, every tied day included (a
    run stores each of its users' peak days) — with the incident's reasons strongest
    first (detection.incidents). Users at or above ``alert_min_severity`` are taken,
    riskiest first, at most ``review_capacity`` (when > 0). Each becomes a detection in
    the audit trail and, unless absorbed, deduplicated or suppressed, an alert with its
    deliveries in the outbox (alerts/intake.py). The run is marked raised in the
    transaction of its last alert; raising it again changes nothing.

    A user's department (schema.user_departments) comes from the lake's events, or from
    ``department_counts`` (``user_id, department, _n`` over every stored event) when the
    caller keeps them: the stream does, and would otherwise read the lake at every scoring.

    Raises:
        AuditlensError: ``run_id`` does not exist or stored no rows.
    """
    criteria = alert_criteria(settings)
    rules = rules_from_settings(settings)
    scores = store.scores.of_run(run_id)
    if scores.height == 0:
        raise AuditlensError(
            f"score run {run_id} does not exist or stored no rows",
            ko=f"점수 실행 {run_id}이(가) 없거나 저장된 행이 없습니다",
        )
    peaks = user_peaks(scores).filter(pl.col("risk_score") >= criteria.threshold_risk)
    if criteria.capacity > 0:
        peaks = peaks.head(criteria.capacity)
    found = incidents(peaks, scores.join(peak_keys(peaks), on=[USER_ID, WINDOW], how="semi"))
    first = {
        row[USER_ID]: row
        for row in scores.join(
            found.select(USER_ID, pl.col("peak_window").alias(WINDOW)), on=[USER_ID, WINDOW]
        ).iter_rows(named=True)
    }
    users = found.get_column(USER_ID).to_list()
    departments = _departments(settings, store, users, department_counts)
    detections = [
        Detection(
            score_id=int(first[row[USER_ID]]["id"]),
            run_id=run_id,
            user_id=row[USER_ID],
            department=departments.get(row[USER_ID]),
            window=row["peak_window"],
            risk=float(row["risk_score"]),
            severity=row["severity"],
            reasons=json.loads(row["reasons"]),
            model_sha256=first[row[USER_ID]]["model_sha256"],
            config_hash=first[row[USER_ID]]["config_hash"],
            windows=tuple(row["peak_windows"]),
        )
        for row in found.iter_rows(named=True)
    ]
    now = clock()
    intake = admit(
        store.engine,
        detections,
        rules,
        criteria,
        now,
        complete=lambda conn: store.scores.within(conn).mark_alerts_raised(run_id, now),
        trail=store.trail,
    )
    return RaiseReport(run_id, criteria, len(detections), intake, len(rules))


@dataclass(frozen=True)
class JobReport:
    """The batch job: the score run, then the alerts of every run still pending."""

    run: RunReport
    alerts: RaiseReport | None
    #: Earlier runs whose alerts had not all been raised (e.g. a killed run), raised now.
    earlier: list[RaiseReport] = field(default_factory=list)


#: Test hook: ``AUDITLENS_TEST_CRASH_AT=after_scores`` makes `auditlens run` kill itself
#: (SIGKILL) right after storing its scores, before raising alerts. Read only here.
CRASH_AT_ENV: Final = "AUDITLENS_TEST_CRASH_AT"


def _crash_point(name: str) -> None:
    if os.environ.get(CRASH_AT_ENV) == name:  # pragma: no cover - the process dies here
        os.kill(os.getpid(), signal.SIGKILL)


def batch_job(
    settings: Settings,
    *,
    refit: bool = False,
    unsupervised: bool = False,
    alerts: bool = True,
    wait: float = DEFAULT_RUN_WAIT,
    clock: Clock = utc_now,
    on_stage: OnStage | None = None,
    shadow: bool = False,
) -> JobReport:
    """`auditlens run`: one at a time per store (waits up to ``wait`` s for another run),
    score what is new, then raise the alerts of every stored run whose alerts are not
    fully raised — this one and any earlier run that stopped before finishing (dispatch
    is separate: `auditlens alerts dispatch`). ``on_stage`` hears of each stage;
    ``shadow`` also scores with the challenger (pipeline/shadow.py).

    Raises:
        RunInProgress: another run still holds the store after ``wait`` seconds.
    """
    with job_heap(), Store.open(settings, migrate=True) as store, run_lock(store, settings, wait):
        steps = Steps(on_stage)
        scored = score_run(
            store,
            settings,
            refit=refit,
            unsupervised=unsupervised,
            alerts=alerts,
            clock=clock,
            steps=steps,
            shadow=shadow,
        )
        _crash_point("after_scores")
        raised, earlier = None, []
        if alerts:
            steps.start("alerts")
            for pending in store.scores.pending_runs():
                report = raise_run(store, settings, pending, clock=clock)
                if pending == scored.run_id:
                    raised = report
                else:
                    earlier.append(report)
    return JobReport(scored, raised, earlier)


def _departments(
    settings: Settings, store: Store, users: list[str], counts: pl.DataFrame | None = None
) -> dict[str, str]:
    """Each user's department (schema.user_departments) with the configured peer_directory,
    from ``counts`` when given (schema.departments_of_counts), else from the lake."""
    if not users:
        return {}
    path = settings.peer_directory
    directory = (
        pl.read_csv(path, infer_schema=False) if path is not None and path.exists() else None
    )
    if counts is not None:
        return departments_of_counts(counts, directory, users)
    return user_departments(store.events.scan(), directory, users)


def retry_policy(settings: Settings) -> RetryPolicy:
    """The configured retry policy (leases outlast a send's timeout several times)."""
    return RetryPolicy(
        max_attempts=settings.alert_max_attempts,
        backoff_seconds=settings.alert_backoff_seconds,
        max_backoff_seconds=settings.alert_backoff_max_seconds,
        lease_seconds=max(60.0, 6 * settings.alert_timeout_seconds),
    )


def dispatch_alerts(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    wait_seconds: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
    channels: Mapping[str, Channel] | None = None,
) -> DispatchReport:
    """Send what is due in the outbox; with ``wait_seconds`` keep going that long.

    Without waiting, one pass: retries and held deliveries stay in the outbox for the
    next call (run it from cron or the scheduler). With ``wait_seconds`` it sleeps until
    the next delivery is due, as long as that is within the wait.
    """
    disguise = alert_disguise(settings)  # pseudonymised without a key: refuse to start
    owned = channels is None
    active = build_channels(settings) if channels is None else channels
    try:
        with Store.open(settings) as store:
            deadline = clock() + dt.timedelta(seconds=wait_seconds)
            policy = retry_policy(settings)
            report = dispatch(
                store.engine,
                active,
                clock=clock,
                policy=policy,
                trail=store.trail,
                disguise=disguise,
            )
            while report.next_due is not None and report.next_due <= deadline:
                pause = (report.next_due - clock()).total_seconds()
                if pause > 0:
                    sleep(pause)
                report.add(
                    dispatch(
                        store.engine,
                        active,
                        clock=clock,
                        policy=policy,
                        trail=store.trail,
                        disguise=disguise,
                    )
                )
            return report
    finally:
        if owned:
            for channel in active.values():
                channel.close()


def triage_policy(settings: Settings) -> TriagePolicy:
    """Four-eyes severities, default suppression and channels that can resolve."""
    return TriagePolicy(
        four_eyes=frozenset(settings.alert_four_eyes),
        suppress_days=settings.alert_fp_suppress_days,
        resolvable_channels=frozenset(
            name
            for name, cfg in settings.alert_channels.items()
            if isinstance(cfg, PagerDutyChannelConfig) and PagerDutyChannel.supports_resolve
        ),
    )


def decide_alert(
    settings: Settings,
    alert_id: int,
    action: str,
    *,
    as_name: str | None = None,
    reason: str = "",
    note: str = "",
    suppress_days: float | None = None,
    clock: Clock = utc_now,
    who_am_i: Callable[[], str] | None = None,
) -> Decision:
    """Apply a human decision (acknowledge, escalate, dismiss, close, approve, reopen).

    The acting principal is the OS account (``who_am_i``) looked up in ``[principals]``;
    ``as_name`` lets an admin act on someone's behalf (recorded as such).
    """
    acting = cli_acting(Directory.from_settings(settings), as_name, who_am_i=who_am_i)
    with Store.open(settings) as store:
        return decide(
            store.engine,
            alert_id,
            action,
            by=acting,
            reason=reason,
            note=note,
            now=clock(),
            policy=triage_policy(settings),
            suppress_days=suppress_days,
            trail=store.trail,
        )


@dataclass(frozen=True)
class AlertListing:
    """Alerts with their deliveries' states, and the outbox totals."""

    alerts: list[Alert]
    deliveries: dict[int, list[OutboxItem]]
    outbox: dict[str, int]


def list_alerts(
    settings: Settings, *, statuses: tuple[str, ...] = (), limit: int = 50
) -> AlertListing:
    """Newest alerts first (optionally only some statuses), with their deliveries."""
    check_choices(statuses, ALERT_STATUSES, what="alert status", what_ko="경보 상태")
    with Store.open(settings) as store:
        found = store.alerts.list_alerts(statuses=statuses, limit=limit)
        per_alert = {a.id: store.alerts.outbox.items(alert_id=a.id) for a in found}
        return AlertListing(found, per_alert, store.alerts.outbox.counts())


@dataclass(frozen=True)
class AlertDetail:
    """One alert, the detections it absorbed (oldest first) and its deliveries."""

    alert: Alert
    #: As mappings until cli.py reads Evidence attributes (issue 11: the cli split).
    evidence: list[dict[str, Any]]
    deliveries: list[OutboxItem]


def show_alert(settings: Settings, alert_id: int) -> AlertDetail:
    """An alert with its evidence (raises AlertNotFound for an unknown id)."""
    with Store.open(settings) as store:
        return AlertDetail(
            store.alerts.get_alert(alert_id),
            [_mapping(e) for e in store.alerts.evidence_of(alert_id)],
            store.alerts.outbox.items(alert_id=alert_id),
        )


def _mapping(evidence: Evidence) -> dict[str, Any]:
    return {f.name: getattr(evidence, f.name) for f in dataclasses.fields(evidence)}


def list_deliveries(
    settings: Settings, *, statuses: tuple[str, ...] = (), limit: int = 100
) -> list[tuple[OutboxItem, list[Attempt]]]:
    """Outbox items (e.g. the dead letters) with every attempt."""
    with Store.open(settings) as store:
        outbox = store.alerts.outbox
        found = outbox.items(statuses=statuses, limit=limit)
        return [(item, outbox.attempts_of(item.id)) for item in found]


def requeue_delivery(
    settings: Settings,
    delivery_id: int,
    *,
    as_name: str | None = None,
    note: str = "",
    clock: Clock = utc_now,
    who_am_i: Callable[[], str] | None = None,
) -> OutboxItem:
    """Put a dead-lettered delivery back in the outbox (recorded in the trail)."""
    acting = cli_acting(Directory.from_settings(settings), as_name, who_am_i=who_am_i)
    acting.require("analyst", "requeue")
    now = clock()
    with Store.open(settings) as store, store.engine.begin() as conn:
        alerts = store.alerts.within(conn)
        item = alerts.outbox.requeue(delivery_id, now)
        alert = alerts.get_alert(item.alert_id)
        store.trail.append(
            conn,
            NewEntry(
                actor=acting.actor.id,
                action="requeue",
                target=f"delivery:{delivery_id}",
                subject=alert.user_id,
                reason_code="requeue",
                note=note,
                criteria={"alert_id": alert.id, "channel": item.channel}
                | ({"on_behalf_of": acting.on_behalf_of.id} if acting.on_behalf_of else {}),
            ),
            now,
        )
    return item
